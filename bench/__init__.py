"""Benchmarks: ``python -m bench [name] [args]``; each module has ``main(argv) -> int``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"  # ignored by git


def save(name: str, result: Any) -> Path:
    """Write a benchmark's figures to ``bench/results/<name>.json``; returns the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path


def machine_ms(seconds: float = 2.0) -> float:
    """Mean CPU milliseconds of a fixed pure-Python workload (dict, str and int operations, as
    the pipeline's are), repeated for ``seconds``: how fast this machine runs Python right now.
    The development box's host shares its cores: the same work takes 22-25 ms in its fast
    phases and 40-53 ms in its slow ones, which come and go within a second (measured with our
    second core idle), so CPU-seconds per post drift with them. Printed before and after the
    history and pipeline benchmarks: runs whose figures differ as their ``machine_ms`` does did
    not differ in code; alternated A/B runs remain the yardstick."""
    samples: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end or not samples:
        t = time.process_time()
        counts: dict[str, int] = {}
        for i in range(100_000):
            key = f"k{i % 997}"
            counts[key] = counts.get(key, 0) + len(key.split("k"))
        samples.append(time.process_time() - t)
    return round(1000 * sum(samples) / len(samples), 1)
