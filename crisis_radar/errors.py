"""The command line's error boundary: ``radar_base.errors`` plus the errors of the layers above
it (a malformed watchlist from ``detectors``/``schemas``)."""

from __future__ import annotations

from radar_base.errors import ConfigError, OperatorError
from radar_base.errors import describe as describe_base

WATCHLIST_FIX = "edit the watchlist (CRISIS_RADAR_WATCHLIST_PATH or --watchlist)"


def describe(exc: BaseException) -> OperatorError | None:
    from schemas.watchlist import WatchlistError

    if isinstance(exc, WatchlistError):
        return watchlist_error(exc)
    return describe_base(exc)


def watchlist_error(exc: BaseException) -> ConfigError:
    where = getattr(exc, "where", "")
    what = getattr(exc, "what", str(exc))
    return ConfigError(what, where, WATCHLIST_FIX)
