"""The end-to-end and SIGKILL tests with the Faust patches off (streams/faust_runtime), so the
switches are known to work: CRISIS_RADAR_FAUST_FASTPATH=0, CRISIS_RADAR_FAUST_SEEK_FIX=0, and
both. Same tests, same assertions, run on a worker subprocess started with the switch off.
Results and the reasons of any xfail: docs/faust-runtime.md "Patches off"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import test_faults_sigkill as sigkill
import test_pipeline_e2e as e2e

from streams.faust_runtime import PATCHES

pytestmark = [
    pytest.mark.stack,
    pytest.mark.slow,
    pytest.mark.filterwarnings(r"ignore:.*Use files\(\) instead:DeprecationWarning"),
]

OFF: dict[str, dict[str, bool]] = {
    "fastpath_off": {"faust_fastpath": False},
    "seek_fix_off": {"faust_seek_fix": False},
    "all_off": {"faust_fastpath": False, "faust_seek_fix": False},
}
MAX_LOST_ROWS = 5  # posts or minute rows (of ~160) a seek-fix-off SIGKILL replay may lose


def _ran_without(tmp_path: Path, off: str) -> None:
    """Every worker of the test said it ran without the patches of the switch turned off."""
    logs = sorted(tmp_path.glob("*.log"))
    assert logs
    switched = {p.name for p in PATCHES if p.switch in OFF[off]}
    for log in logs:
        line = next(ln for ln in log.read_text().splitlines() if ln.startswith("Faust patches:"))
        on = set(line.split(":", 1)[1].split()) - {"none"}
        assert on == {p.name for p in PATCHES} - switched, (log, line)


@pytest.mark.parametrize("off", sorted(OFF))
def test_end_to_end_with_patches_off(settings: Any, clickhouse: Any, tmp_path: Path, off: str):
    e2e.test_simulated_crisis_end_to_end(settings.model_copy(update=OFF[off]), clickhouse, tmp_path)
    _ran_without(tmp_path, off)


@pytest.mark.faults
@pytest.mark.parametrize("off", sorted(OFF))
def test_sigkill_replay_with_patches_off(settings: Any, stack: Any, tmp_path: Path, off: str):
    """The worker victim only: the enrich-child victim keeps the same Faust consumer running
    (nothing is sought or rebalanced), so the patches play no part there."""
    # Without the seek fix, the restarted worker's consumer can drop records it re-reads after
    # its seek (the Faust race the fix exists for; seen in about 1 run in 10: one minute lost
    # its one post while the post itself was stored). Those runs may lose a few, no more.
    lost = 0 if OFF[off].get("faust_seek_fix", True) else MAX_LOST_ROWS
    sigkill.test_sigkill_replay_equals_undisturbed_run(
        settings.model_copy(update=OFF[off]), stack, tmp_path, "worker", lost
    )
    _ran_without(tmp_path, off)
