"""Benchmarks: ``python -m bench [name] [args]``; each module has ``main(argv) -> int``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"  # ignored by git


def save(name: str, result: Any) -> Path:
    """Write a benchmark's figures to ``bench/results/<name>.json``; returns the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
