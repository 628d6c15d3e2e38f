"""Command-line options the history commands (backfill, backtest) share with ``ingest``."""

from __future__ import annotations

import argparse
from pathlib import Path

from crisis_radar.ingest.normalise import FORMATS


def add_input_arguments(p: argparse.ArgumentParser) -> None:
    """FILES, ``--format``, ``--map`` (as ``ingest``) and ``--watchlist``."""
    p.add_argument(
        "inputs", nargs="+", help="JSONL/CSV/TSV/JSON (.gz ok) or .xlsx files, or folders"
    )
    p.add_argument("--format", default="auto", choices=["auto", "csv", "jsonl", *FORMATS])
    p.add_argument("--map", dest="mapping", help="generic columns, e.g. text=body,created_at=ts")
    p.add_argument("--watchlist", type=Path, help="brands YAML (default: settings)")
