"""Every patch of Faust and aiokafka internals, fenced: one module per patch, one entry point.

The rest of the code calls ``apply(settings)`` once per process, before the Faust app is made
(``streams.app.tune_process``). Each patch module names what it guards and the upstream issue,
and declares (``PATCH``) the faust-streaming and aiokafka versions it was written for, the
private names it touches and the upstream source it copies or mirrors; ``apply`` checks all of
that for every enabled patch before patching anything (``gate.check``), so a worker never runs
half-patched or patched against code the patch was not written for: it refuses with
``FaustPatchError`` (one line naming the package, the versions and the switch).

========================  =================================  ============================
patch                     guards                             switch (Settings field)
========================  =================================  ============================
direct_delivery           per-message task overhead          CRISIS_RADAR_FAUST_FASTPATH
raw_topic_handler         decode cost, fetcher blocked by    CRISIS_RADAR_FAUST_FASTPATH
                          one full stream buffer
offset_order_guard        records out of order / lost        CRISIS_RADAR_FAUST_SEEK_FIX
                          after a rebalance seek
stall_watchdog            a partition whose commit stalls    CRISIS_RADAR_FAUST_SEEK_FIX
fetch_giveback            changelog recovery stall           CRISIS_RADAR_FAUST_SEEK_FIX
========================  =================================  ============================

docs/faust-runtime.md has the why, the upstream issues and the patches-off test results.
"""

from __future__ import annotations

from typing import Any

from streams.faust_runtime import (
    direct_delivery,
    fetch_giveback,
    offset_order_guard,
    raw_topic_handler,
    stall_watchdog,
)
from streams.faust_runtime.gate import FaustPatchError, Patch, check

__all__ = ["PATCHES", "FaustPatchError", "applied", "apply", "enabled"]

# In install order: stall_watchdog wraps the guard's getmany.
PATCHES: tuple[Patch, ...] = (
    direct_delivery.PATCH,
    raw_topic_handler.PATCH,
    offset_order_guard.PATCH,
    stall_watchdog.PATCH,
    fetch_giveback.PATCH,
)
_applied: list[str] = []


def enabled(settings: Any) -> list[Patch]:
    """The patches whose switch is on in ``settings``."""
    return [p for p in PATCHES if getattr(settings, p.switch)]


def applied() -> tuple[str, ...]:
    """Names of the patches applied in this process, in order."""
    return tuple(_applied)


def apply(settings: Any) -> tuple[str, ...]:
    """Apply the enabled patches, each at most once per process (a patch cannot be taken back:
    a process that ran with a switch on keeps the patch). Every enabled patch is checked before
    any is applied. Returns the names applied so far."""
    wanted = enabled(settings)
    names = {p.name for p in wanted}
    for p in wanted:
        missing = [r for r in p.requires if r not in names]
        if missing:  # switches and requirements are declared together: a programming error
            raise FaustPatchError(f"Faust patch {p.name} needs {', '.join(missing)}")
        if p.name not in _applied:
            check(p)
    for p in wanted:
        if p.name not in _applied:
            p.install()
            _applied.append(p.name)
    return applied()
