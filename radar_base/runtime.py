"""Process-wide runtime settings shared by every process that runs the pipeline core: the
worker, its enrich child, and the offline commands (backtest, backfill, evaluate scenarios)."""

from __future__ import annotations

import gc

# (gen0, gen1, gen2) thresholds: see tune_gc.
GC_THRESHOLDS = (50_000, 20, 20)
# Offline (backtest, backfill, evaluate): no latency to keep, so young collections run 10x
# more rarely still. A young collection scans what is alive at that moment, mostly a batch's
# records in flight: on 80k posts of bench.backtest the collector took 0.70 CPU-s at 50k,
# 0.16 at 200k, 0.06 at 500k, peak RSS unchanged (374-376 MB).
OFFLINE_GC_THRESHOLDS = (500_000, 20, 20)


def tune_gc(freeze: bool = False, offline: bool = False) -> None:
    """Collect young objects far less often than CPython's default (700, 10, 10).

    The core allocates dozens of short-lived containers per post while the dedup indexes and
    windows hold millions of long-lived objects: with the default threshold the collector ran
    every few posts and, every few thousand, scanned the whole heap (bench.backtest on one core:
    4.2k posts/s with the defaults, ~6.5k with these). Cycles are rare here (plain records), so
    memory does not grow for it (the benchmarks' RSS figures). ``freeze``: also move every
    object alive now (loaded models, the watchlist) out of the collector's sight for good:
    for a process that has just finished loading. ``offline``: a command that replays history
    (``OFFLINE_GC_THRESHOLDS``), not the live worker.
    """
    gc.set_threshold(*(OFFLINE_GC_THRESHOLDS if offline else GC_THRESHOLDS))
    if freeze:
        gc.freeze()
