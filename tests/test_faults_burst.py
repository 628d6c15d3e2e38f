"""Short version of bench/burst.py: a 10x burst over the sustained rate through one worker; lag
grows, then drains; no crash, no post lost or duplicated (FINAL)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench/: not installed
burst = importlib.import_module("bench.burst")

pytestmark = [
    pytest.mark.faults,
    pytest.mark.stack,
    pytest.mark.slow,
    pytest.mark.filterwarnings(r"ignore:.*Use files\(\) instead:DeprecationWarning"),
]


def test_short_burst_drains_without_loss(stack: Any) -> None:
    args = burst._parser().parse_args(
        ["--rate", "100", "--warm-s", "2", "--burst-s", "10", "--cool-s", "3", "--timeout", "120"]
    )
    result = burst.run(args)
    assert result["posts"] == 100 * 2 + 1000 * 10 + 100 * 3
    assert result["lost"] == 0 and result["duplicated"] == 0
    assert result["peak_lag"] > 0  # the burst did queue up
    assert result["lag_drain_s"] is not None  # and drained back to the sustained level
