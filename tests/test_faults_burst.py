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
        # 10x of 300/s is 3000/s: above one worker's capacity even on an idle machine, so the
        # burst queues up however fast the test host is (at 100 -> 1000/s an idle worker kept up).
        ["--rate", "300", "--warm-s", "2", "--burst-s", "5", "--cool-s", "3", "--timeout", "120"]
    )
    result = burst.run(args)
    assert result["posts"] == 300 * 2 + 3000 * 5 + 300 * 3
    assert result["lost"] == 0 and result["duplicated"] == 0
    assert result["peak_lag"] > 0  # the burst did queue up
    assert result["lag_drain_s"] is not None  # and drained back to the sustained level
