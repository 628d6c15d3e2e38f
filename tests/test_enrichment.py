"""The enrich stage apart from Faust (streams/enrichment.py): per-partition state that survives
a snapshot round trip, and the child process that runs it (a real process, killed for real)."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import sys
import time
import types
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crisis_radar.settings import PROJECT_ROOT
from streams import enrichment, state

WATCHLIST = PROJECT_ROOT / "deploy" / "watchlist.yaml"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TEXTS = [
    "telvana network down again in the whole city, no signal since morning",
    "telvana network down again in the whole city, no signal since morning!!",  # near dup
    "love the new orbitel plan, fast and cheap",
    "RT @x: telvana network down again in the whole city, no signal since morning",
    "nothing about any watched brand here",
]


def raw(i: int) -> bytes:
    created = (NOW - timedelta(seconds=100 - i)).isoformat()
    text = TEXTS[i % len(TEXTS)] + ("" if i < len(TEXTS) else f" #{i % 3}")
    return (
        f'{{"platform":"simulated","post_id":"p{i}","author":{{"id":"u{i % 7}","followers":{i}}},'
        f'"text":"{text}","created_at":"{created}"}}'
    ).encode()


def records(start: int, stop: int) -> list[enrichment.Record]:
    return [(i, [], raw(i)) for i in range(start, stop)]


def fresh() -> enrichment.EnrichPartitions:
    return enrichment.EnrichPartitions(WATCHLIST, 3600, 10_000, 1)


def outputs(result: enrichment.EnrichResult) -> list[Any]:
    return [(k, v, h) for k, v, h in result.items]


def test_snapshot_round_trip_continues_like_an_undisturbed_run() -> None:
    whole = fresh()
    whole.restore(0, None)
    a = whole.process([(0, records(0, 30))], NOW, frozenset())
    b = whole.process([(0, records(30, 60))], NOW, frozenset())
    assert a.n_valid == 30 and a.items and not a.dead
    assert any(b'is_duplicate":true' in v for _, v, _ in a.items + b.items)

    first = fresh()
    first.restore(0, None)
    a2 = first.process([(0, records(0, 30))], NOW, frozenset({0}))
    payload, seconds = a2.snapshots[0]
    assert seconds >= 0 and outputs(a2) == outputs(a)
    second = fresh()  # another process, say: only the payload crosses
    assert second.restore(0, payload) == 29
    # The restored state skips what it holds (a replay of 20..59) and continues identically.
    b2 = second.process([(0, records(20, 60))], NOW, frozenset())
    assert outputs(b2) == outputs(b)
    assert b2.rows == b.rows


def test_bad_records_become_dead_letters_with_their_stage() -> None:
    e = fresh()
    e.restore(0, None)
    out = e.process([(0, [(0, [], b"{not json"), (1, [], raw(1))])], NOW, frozenset())
    assert [(s, r) for s, r, _ in out.dead] == [("posts.valid", "bad_json")]
    assert out.n_valid == 1 and len(out.items) == 1


def test_replayed_upstream_records_are_dropped_by_source_tag() -> None:
    e = fresh()
    e.restore(0, None)
    tagged = [(i, state.tag(5, 100 + i), raw(i)) for i in range(3)]
    first = e.process([(0, tagged)], NOW, frozenset())
    again = [(i + 3, h, v) for i, h, v in tagged]  # same source tags, new offsets
    assert first.n_valid == 3
    assert e.process([(0, again)], NOW, frozenset()).n_valid == 0


def test_snapshots_written_by_older_workers_still_load(monkeypatch: Any) -> None:
    """Before streams/enrichment.py the state class was streams.app._EnrichState: loading such
    a snapshot must neither fail nor import streams.app (a whole Faust app)."""
    e = fresh()
    e.restore(0, None)
    e.process([(0, records(0, 10))], NOW, frozenset())
    old_app = types.ModuleType("streams.app")
    legacy_cls = type("_EnrichState", (enrichment.EnrichState,), {"__module__": "streams.app"})
    old_app._EnrichState = legacy_cls  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "streams.app", old_app)
    st = e.states[0]
    st.__class__ = legacy_cls
    payload = pickle.dumps(state.Snapshot(st.offset, st))
    assert b"streams.app" in payload and b"_EnrichState" in payload
    monkeypatch.delitem(sys.modules, "streams.app")
    restored = fresh()
    assert restored.restore(0, payload) == 9
    assert type(restored.states[0]) is enrichment.EnrichState
    assert "streams.app" not in sys.modules


def test_child_process_runs_the_stage_and_is_replaced_when_killed() -> None:
    async def scenario() -> None:
        runner = enrichment.EnrichRunner(WATCHLIST, 3600, 10_000, 1, subprocess=True)
        runner.start()
        try:
            assert await runner.call("restore", 0, None) == -1
            out = await runner.call("process", [(0, records(0, 20))], NOW, frozenset({0}))
            assert out.n_valid == 20 and 0 in out.snapshots
            pids = [p for p in runner._pool._processes]  # type: ignore[union-attr]
            os.kill(pids[0], signal.SIGKILL)
            with pytest.raises(enrichment.BrokenProcessPool):
                await runner.call("process", [(0, records(20, 30))], NOW, frozenset())
            for _ in range(50):  # the pool's manager thread marks it broken
                if runner.broken():
                    break
                await asyncio.sleep(0.1)
            assert runner.broken()
            generation = runner.generation
            runner.restart()
            assert runner.generation == generation + 1 and not runner.broken()
            # The new child starts empty: the worker restores the partition from its snapshot.
            assert await runner.call("restore", 0, out.snapshots[0][0]) == 19
            again = await runner.call("process", [(0, records(20, 30))], NOW, frozenset())
            assert again.n_valid == 10
        finally:
            runner.close()

    asyncio.run(scenario())


def test_a_child_killed_while_writing_a_result_is_noticed() -> None:
    """CPython's pool thread blocks for good on a result cut short by the child's death (our
    copy of the pipe's write end keeps EOF away); ``broken()`` wakes it, so the pool is marked
    broken and the pending batch fails (BrokenProcessPool) instead of hanging the worker."""
    import struct

    runner = enrichment.EnrichRunner(WATCHLIST, 3600, 10_000, 1, subprocess=True)
    runner.start()
    try:
        pool: Any = runner._pool
        pid = next(iter(pool._processes))
        # as when the child died mid-result: a length header and no payload
        os.write(pool._result_queue._writer.fileno(), struct.pack("!i", 1 << 20))
        pending = runner.submit_now("ready")
        os.kill(pid, signal.SIGKILL)
        for _ in range(100):
            if runner.broken():
                break
            time.sleep(0.05)
        assert runner.broken()
        with pytest.raises(enrichment.BrokenProcessPool):
            pending.result(timeout=5)
    finally:
        runner.close()


def test_a_child_that_cannot_load_its_models_fails_with_their_error(tmp_path: Any) -> None:
    runner = enrichment.EnrichRunner(tmp_path / "missing.yaml", 3600, 10_000, 1, subprocess=True)
    try:
        with pytest.raises(ValueError, match=r"missing\.yaml"):
            runner.start()
    finally:
        runner.close()


def test_a_post_read_again_counts_once() -> None:
    """The same post (platform and id) in one batch, or in a later one: one output, counted as
    repeated; a repost or a copy of its text under another id still counts. What matched no
    brand is neither output nor counted, and the count does not depend on batching."""
    e = fresh()
    e.restore(0, None)
    first = e.process([(0, [*records(0, 5), (5, [], raw(0))])], NOW, frozenset())
    assert first.n_valid == 6 and first.n_repeated == 1
    keys = [v.split(b'"post_id":"')[1].split(b'"')[0] for _, v, _ in first.items]
    assert keys.count(b"p0") == 1 and b"p1" in keys  # p1: p0's near-duplicate, another id
    later = e.process([(0, [(6 + i, [], raw(i)) for i in range(5)])], NOW, frozenset())
    assert later.items == [] and later.n_repeated == 4  # p4 matched no brand: not counted
    one_by_one = fresh()
    one_by_one.restore(0, None)
    counts = [one_by_one.process([(0, [r])], NOW, frozenset()).n_repeated
              for r in [*records(0, 5), (5, [], raw(0))]]  # fmt: skip
    assert sum(counts) == 1


def test_a_batch_retried_post_by_post_loses_no_post(monkeypatch: Any) -> None:
    """A detector bug mid-batch: the posts before it were enriched, then the batch is retried
    one by one; they must not count as read already (keys are noted once a batch went
    through), and only the failing post is dead-lettered."""
    from streams import processing

    e = fresh()
    e.restore(0, None)
    real = processing.post_terms

    def flaky(text: str, *args: Any) -> Any:
        if "orbitel" in text:
            raise RuntimeError("detector bug")
        return real(text, *args)

    monkeypatch.setattr(processing, "post_terms", flaky)
    out = e.process([(0, records(0, 5))], NOW, frozenset())
    assert [r for _, r, _ in out.dead] == ["internal"] and out.n_repeated == 0
    ids = {v.split(b'"post_id":"')[1].split(b'"')[0] for _, v, _ in out.items}
    assert ids == {b"p0", b"p1", b"p3"}
