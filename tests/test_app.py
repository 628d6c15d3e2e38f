"""``streams.app`` as a factory: each ``build_worker`` makes its own app, stages and state (no
module-level state), with every agent and timer; and the snapshot spacing rule."""

from __future__ import annotations

import doctest
from pathlib import Path

from radar_base.settings import Settings
from schemas import stages
from streams import app as app_mod


def test_doctests() -> None:
    assert doctest.testmod(app_mod).failed == 0


def test_build_worker_is_self_contained(tmp_path: Path) -> None:
    s = Settings(stack_dir=tmp_path, topic_prefix="t1-", enrich_subprocess=False)
    w1 = app_mod.Worker(s)  # build_worker also tunes the process: not in the test session
    w2 = app_mod.Worker(s.model_copy(update={"topic_prefix": "t2-"}))
    agents = {stages.POSTS_DLQ, stages.POSTS_SCORED, stages.BRAND_MINUTES, stages.CRISIS_ALERTS}
    for w, prefix in ((w1, "t1-"), (w2, "t2-")):
        assert set(w.app.agents) == agents
        assert w.app.conf.id == f"{prefix}{s.worker_id}"
        assert (tmp_path / "faust" / w.app.conf.id).is_dir()
        assert w.topics[stages.POSTS_RAW].get_topic_name() == f"{prefix}posts.raw"
    assert w1.app is not w2.app and w1.runner is not w2.runner
    assert w1.aggregate.core is not w2.aggregate.core and w1.crisis.core is not w2.crisis.core
    assert w1.context is w1.aggregate.core.context is w1.crisis.core.context
    assert w1.context is not w2.context


def test_snapshot_clock_spaces_by_cost_over_all_partitions() -> None:
    c = app_mod.SnapshotClock(10.0)
    c.start(0, at=float("-inf"))  # aggregate: the first batch after a restore saves
    c.start(1, at=0.0)  # enrich: counted from the restore
    assert c.due(0, now=0.0) and not c.due(1, now=5.0) and c.due(1, now=10.0)
    c.saved(1, at=10.0, cost_s=1.0)  # 20 x 1 s x 2 partitions = 40 s apart
    assert not c.due(1, now=49.0) and c.due(1, now=50.0)
    c.asked(1, at=50.0)  # requested: not due again meanwhile, cost kept
    assert not c.due(1, now=89.0) and c.due(1, now=90.0)
    c.drop(0)  # one partition left: 20 s apart
    assert c.due(1, now=70.0)
