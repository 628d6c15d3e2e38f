"""Errors an operator can fix, and the boundary that prints them instead of a traceback.

An ``OperatorError`` says what went wrong, where (``file:line``, the environment variable or
``host:port``) and how to fix it; the command line prints it as one or two lines on stderr and
exits with its ``exit_code``: 2 for usage and configuration errors (``ConfigError``), 1 for
runtime failures (``ServiceUnreachable``). Code raises them where the problem is known;
``describe`` translates the third-party errors we know (a settings ``ValidationError``, YAML
syntax errors, ClickHouse and Kafka connection errors) at the boundary. ``--debug`` or
``CRISIS_RADAR_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import os
import re
import socket
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

DEBUG_ENV = "CRISIS_RADAR_DEBUG"


class OperatorError(Exception):
    """A problem the operator can fix; ``str()`` is the one-line form."""

    exit_code: ClassVar[int] = 1

    def __init__(self, what: str, where: str = "", fix: str = "") -> None:
        self.what, self.where, self.fix = what, where, fix
        super().__init__(self.headline())

    def headline(self) -> str:
        """``where: what``, or just ``what`` when it names the place already."""
        if self.where and self.where not in self.what:
            return f"{self.where}: {self.what}"
        return self.what

    def lines(self, prog: str) -> list[str]:
        out = [f"{prog}: {self.headline()}"]
        if self.fix:
            out.append(f"  fix: {self.fix}")
        return out


class ConfigError(OperatorError):
    """Bad configuration: settings, watchlist, database schema. Exit status 2."""

    exit_code = 2


class MissingMigration(ConfigError):
    """The ClickHouse database lacks a migration this code needs."""


class ServiceUnreachable(OperatorError):
    """Kafka or ClickHouse does not answer. Exit status 1 (it may come back)."""

    exit_code = 1


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


# --- the services -------------------------------------------------------------------------


def clickhouse_unreachable(where: str, detail: str) -> ServiceUnreachable:
    return ServiceUnreachable(
        f"ClickHouse at {where or '?'} is unreachable ({detail})",
        where,
        "is ClickHouse running? `crisis-radar stack up`; "
        "else check CRISIS_RADAR_CLICKHOUSE_HOST/_PORT",
    )


def kafka_unreachable(bootstrap: str, detail: str) -> ServiceUnreachable:
    return ServiceUnreachable(
        f"Kafka at {bootstrap or '?'} is unreachable ({detail})",
        bootstrap,
        "is Kafka running? `crisis-radar stack up`, or check CRISIS_RADAR_KAFKA_BOOTSTRAP",
    )


def _host_port(address: str) -> tuple[str, int] | None:
    host, sep, port = address.strip().rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def probe_kafka(bootstrap: str, timeout: float = 3.0) -> None:
    """Fail fast when no bootstrap server accepts a TCP connection: the Kafka clients would
    retry for 30 s before saying so. Any server that accepts is enough (the client takes over).
    """
    reasons = []
    for address in bootstrap.split(","):
        hp = _host_port(address)
        if hp is None:
            raise ConfigError(
                f"bad bootstrap server {address.strip()!r}",
                "CRISIS_RADAR_KAFKA_BOOTSTRAP",
                "use host:port[,host:port...], e.g. 127.0.0.1:9092",
            )
        try:
            socket.create_connection(hp, timeout=timeout).close()
            return
        except OSError as exc:
            reasons.append(exc.strerror or type(exc).__name__)
    raise kafka_unreachable(bootstrap, ", ".join(dict.fromkeys(r.lower() for r in reasons)))


# --- translation of known third-party errors ------------------------------------------------


def _settings_error(exc: Any) -> ConfigError:
    """A pydantic-settings ValidationError of ``Settings``: name the environment variable."""
    from radar_base.settings import Settings

    errors = exc.errors()
    first = errors[0]
    field = str(first["loc"][0]) if first.get("loc") else ""
    var = f"CRISIS_RADAR_{field.upper()}"
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    info = Settings.model_fields.get(field)
    default = "" if info is None or info.default is None else f" (default {info.default})"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return ConfigError(
        f"{msg}, got {first.get('input')!r}{more}",
        var,
        f"set {var} to a valid value, or unset it{default}",
    )


def _yaml_where(exc: Any) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        return ""
    name = "" if str(mark.name).startswith("<") else f"{mark.name}:"
    return f"{name}{mark.line + 1}"


def yaml_error(exc: Any, path: object = None) -> ConfigError:
    """A YAML syntax error as ``file:line: problem``."""
    where = _yaml_where(exc)
    if path is not None:
        line = where.rsplit(":", 1)[-1] if where else ""
        where = f"{path}:{line}" if line else str(path)
    problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
    return ConfigError(f"invalid YAML: {problem}", where, "correct the YAML syntax at that line")


_PAREN_ADDR = re.compile(r"\(([^()\s]+:\d+)\)")


def _clickhouse(exc: Any) -> OperatorError | None:
    from clickhouse_driver import errors as ch

    if isinstance(exc, ch.NetworkError | ch.SocketTimeoutError):
        return clickhouse_network_error(exc)
    if isinstance(exc, ch.ServerException) and exc.code in (
        ch.ErrorCodes.UNKNOWN_DATABASE,
        ch.ErrorCodes.UNKNOWN_TABLE,
    ):
        first = " ".join(str(exc.message).split("Stack trace:")[0].split())
        return MissingMigration(
            first, _settings_where("clickhouse"), "run `crisis-radar migrate` (with --database)"
        )
    return None


def clickhouse_network_error(exc: BaseException, where: str = "") -> ServiceUnreachable:
    """clickhouse-driver's "Code: 210. Connection refused (host:port)" as ServiceUnreachable."""
    text = str(exc)
    m = _PAREN_ADDR.search(text)
    where = where or (m.group(1) if m else _settings_where("clickhouse"))
    detail = text.split(". ", 1)[-1] if text.startswith("Code:") else text
    detail = _PAREN_ADDR.sub("", detail).strip().rstrip(".").lower() or "no answer"
    return clickhouse_unreachable(where, detail)


def _settings_where(service: str) -> str:
    try:
        from radar_base.settings import get_settings

        s = get_settings()
    except Exception:  # broken settings are reported on their own
        return ""
    return s.kafka_bootstrap if service == "kafka" else f"{s.clickhouse_host}:{s.clickhouse_port}"


def _kafka(exc: BaseException) -> OperatorError | None:
    names = {c.__module__.split(".")[0] + "." + c.__name__ for c in type(exc).__mro__}
    known = {
        "kafka.KafkaTimeoutError",
        "kafka.KafkaConnectionError",
        "kafka.NoBrokersAvailable",  # kafka-python < 3
        "aiokafka.KafkaConnectionError",
        "aiokafka.NoBrokersAvailable",
    }
    if not names & known:
        return None
    text = " ".join(str(exc).split()) or type(exc).__name__
    if "kafka.KafkaTimeoutError" in names and "bootstrap" not in text.lower():
        return None  # a timeout of a running cluster is not "unreachable"
    return kafka_unreachable(_settings_where("kafka"), text)


def describe(exc: BaseException) -> OperatorError | None:
    """The operator's version of ``exc``, or None when it is not a known configuration or
    connection error (a bug: the traceback is the useful output then)."""
    if isinstance(exc, OperatorError):
        return exc
    mod = type(exc).__module__.split(".")[0]
    if mod in ("pydantic", "pydantic_core") and getattr(exc, "title", None) == "Settings":
        return _settings_error(exc)
    if mod == "yaml":
        return yaml_error(exc)
    if mod == "clickhouse_driver":
        return _clickhouse(exc)
    if mod in ("kafka", "aiokafka"):
        return _kafka(exc)
    return None


def run_boundary(
    prog: str,
    main: Callable[[list[str]], int],
    argv: Sequence[str],
    translate: Callable[[BaseException], OperatorError | None] = describe,
) -> int:
    """Run ``main(argv)``; a known error becomes its lines on stderr and its exit status,
    unless debugging (then the traceback, as before)."""
    if not debug_enabled():
        _quiet_library_tracebacks()
    try:
        return main(list(argv))
    except Exception as exc:
        err = translate(exc)
        if err is None:
            raise
        if debug_enabled():
            traceback.print_exc()
        else:
            print("\n".join(err.lines(prog)), file=sys.stderr)
        return err.exit_code


def _quiet_library_tracebacks() -> None:
    """clickhouse-driver logs every failed connect with its traceback; with no logging set up
    Python prints it on stderr before our one line. A NullHandler keeps those records for
    whatever logging a command sets up later (propagation is unchanged)."""
    import logging

    for name in ("clickhouse_driver", "kafka", "aiokafka"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
