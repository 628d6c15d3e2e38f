"""Event time that does not depend on arrival order (issue 16): the aggregation watermark aligned
on the slowest posts.raw partition, with watermark markers and idle/silent partitions."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.models import Author, Post, ScoredPost
from streams import state
from streams.core import AggregateStage
from streams.processing import IDLE_AFTER, SILENT_AFTER, PartitionWindow

T0 = datetime(2015, 2, 17, 8, 0, tzinfo=UTC)
WALL = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SOURCES = 4


def scored(i: int, t: datetime, brand: str = "acme") -> ScoredPost:
    post = Post(platform="x", post_id=f"p{i}", author=Author(id=f"a{i % 13}"),
                text=f"{brand} post {i}", created_at=t)  # fmt: skip
    return ScoredPost(post=post, brand=brand, sentiment_label="neutral", sentiment_score=0.0,
                      cluster_id=f"c{i}", is_duplicate=False, scored_at=WALL)  # fmt: skip


def history(n: int = 3000, days: float = 2.0) -> list[tuple[int, ScoredPost]]:
    """(source partition, post) in event-time order: a multi-day stream over 4 partitions."""
    rng = random.Random(16)
    times = sorted(T0 + timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(n))
    return [(rng.randrange(SOURCES), scored(i, t)) for i, t in enumerate(times)]


def fast_replay(posts: list[tuple[int, ScoredPost]], lead: int) -> list[tuple[int, ScoredPost]]:
    """Arrival order of a fast replay: each source in its own order, source k running ``lead``
    x k posts ahead of source 0 (partitions drained at different speeds)."""
    per = [[sp for s, sp in posts if s == k] for k in range(SOURCES)]
    arrivals, pos = [], [0] * SOURCES
    step = 0
    while any(pos[k] < len(per[k]) for k in range(SOURCES)):
        for k in range(SOURCES):
            want = step + lead * k  # how far source k has got
            while pos[k] < len(per[k]) and pos[k] <= want:
                arrivals.append((k, per[k][pos[k]]))
                pos[k] += 1
        step += 1
    return arrivals


def run(arrivals: list[tuple[int, ScoredPost]], sources: int) -> tuple[list[Any], int]:
    """Minutes out of one window fed in arrival order; then the partitions fall idle."""
    win, out = PartitionWindow(120, sources=sources), []
    for i, (src, sp) in enumerate(arrivals):
        win.add(sp, WALL + timedelta(milliseconds=i), src)
        out += win.advance(WALL + timedelta(milliseconds=i))
    for src in range(sources):
        win.mark(src, None, True, WALL + timedelta(seconds=5))
    out += win.advance(WALL + timedelta(minutes=10))
    counted = sum(m.posts for m in out if m.version == 1)
    return [(m.minute, m.version, m.posts) for m in out], counted


def test_unaligned_window_loses_a_fast_replay_to_lateness() -> None:
    """The bug users saw: one partition's max event time closes the others' minutes."""
    arrivals = fast_replay(history(), lead=200)
    _, counted = run(arrivals, sources=0)
    assert counted < 0.9 * len(arrivals)


def test_aligned_window_counts_everything_in_any_interleaving() -> None:
    posts = history()
    minutes, counted = run(fast_replay(posts, lead=0), SOURCES)
    assert counted == len(posts)
    assert all(v == 1 for _, v, _ in minutes)  # nothing late, nothing amended
    for lead in (1, 50, 700):
        assert run(fast_replay(posts, lead), SOURCES)[0] == minutes


def test_a_silent_partition_stops_holding_the_watermark() -> None:
    """A source that never speaks (nobody owns it) blocks only for SILENT_AFTER."""
    win = PartitionWindow(60, sources=2)
    for i in range(10):
        win.add(scored(i, T0 + timedelta(minutes=i)), WALL, 0)
    assert win.advance(WALL + timedelta(seconds=1)) == []  # source 1 not heard yet
    later = WALL + SILENT_AFTER + timedelta(seconds=1)
    win.add(scored(11, T0 + timedelta(minutes=10)), later, 0)
    assert [m.posts for m in win.advance(later)][:3] == [1, 1, 1]


def test_markers_move_the_watermark_for_partitions_without_posts() -> None:
    """Source 1 sends no post to this partition (its posts were other brands'), but its
    marker says how far it got: the minutes close on the slower of the two."""
    win = PartitionWindow(60, sources=2)
    for i in range(5):
        win.add(scored(i, T0 + timedelta(minutes=i)), WALL, 0)
    assert win.advance(WALL) == []
    win.mark(1, T0 + timedelta(minutes=2, seconds=30), False, WALL)
    assert [m.minute for m in win.advance(WALL)] == [T0]  # 2:30 - 60 s lateness closes 0:00
    win.mark(1, None, True, WALL)  # source 1 is idle: its next post is not older than 2:30
    assert win.advance(WALL) == []
    # ... nor older than 2:30 plus the wall time since (its posts came years behind the clock)
    later = WALL + timedelta(minutes=3)
    win.mark(0, T0 + timedelta(minutes=4), False, later)  # source 0 busy, still at 4:00
    assert len(win.advance(later)) == 2  # source 1 may be at 5:30 by now: source 0's 4:00 decides


def test_old_snapshot_without_alignment_loads_and_aligns() -> None:
    win = PartitionWindow(60)
    win.add(scored(0, T0), WALL)
    old = pickle.loads(pickle.dumps(win))
    del old.__dict__["progress"]  # as pickled before alignment existed
    blob = pickle.dumps(old)
    agg = AggregateStage(60, SOURCES)
    agg.restore(0, state.Snapshot(5, (pickle.loads(blob), state.Seen())), WALL)
    assert agg.windows[0].sources == SOURCES and agg.windows[0].progress == {}


def test_stage_reads_markers_and_tags_from_records() -> None:
    """AggregateStage on Kafka-shaped records: markers (empty value) and tagged posts."""
    agg = AggregateStage(60, 2)
    agg.restore(0, None, WALL)
    recs: list[tuple[int, int, Any, bytes]] = []
    for i in range(6):
        sp = scored(i, T0 + timedelta(minutes=i))
        recs.append((0, i, state.tag(0, i), sp.to_json()))
    recs.append((0, 6, state.marker(1, T0 + timedelta(minutes=3), False), b""))
    out = agg.process(recs, WALL)
    assert [m.minute for _, m in out.minutes] == [T0, T0 + timedelta(minutes=1)]
    assert out.per_brand["acme"] == 6 and out.last == {0: 6}
    again = agg.process(recs, WALL)  # replayed offsets: nothing counted twice
    assert again.per_brand == {} and again.minutes == []
    assert len(agg.flush()) == 4  # the rest, up to the last post's minute


def test_a_stalled_window_runs_its_clock_from_the_slowest_active_source() -> None:
    """No record reaches this partition for IDLE_AFTER while source 0 is still busy (its worker
    stalled, CPU starvation): the wall-speed clock starts from source 0's event time, not from
    source 1's last post an hour ahead, so source 0's next posts still make their minutes."""
    win = PartitionWindow(120, sources=2)
    win.add(scored(0, T0), WALL, 0)
    win.add(scored(1, T0 + timedelta(hours=1)), WALL, 1)
    stalled = WALL + IDLE_AFTER + timedelta(seconds=5)  # < SILENT_AFTER: source 0 still active
    assert win.advance(stalled) == []
    assert win.add(scored(2, T0 + timedelta(seconds=30)), stalled, 0) is False  # not late
    for src in range(2):  # both caught up: everything read closes
        win.mark(src, None, True, stalled)
    closed = win.advance(stalled + IDLE_AFTER)
    assert [m.posts for m in closed if m.minute == T0] == [2]


def test_a_caught_up_partition_in_a_replay_does_not_let_the_others_run_ahead() -> None:
    """A fast replay: source 0 catches up with the ingest for a second (idle) while source 1
    reads hours ahead; source 0's next posts are from where it stopped. They make their minutes
    (the flake of test_history_e2e under load: 104 late posts, 72 past max lateness)."""
    win = PartitionWindow(120, sources=2)
    t, wall = T0, WALL
    for i in range(10):
        win.add(scored(i, t + timedelta(minutes=i)), wall, i % 2)
    win.mark(0, None, True, wall + timedelta(seconds=1))  # caught up for a moment
    for i in range(10, 400):  # source 1 runs ~6 h of event time ahead in 2 s of wall time
        win.add(scored(i, t + timedelta(minutes=i)), wall + timedelta(seconds=2), 1)
    assert win.add(scored(400, t + timedelta(minutes=10)), wall + timedelta(seconds=3), 0) is False
    assert win.advance(wall + timedelta(seconds=3)) != []  # the old minutes did close


def test_an_idle_partition_live_does_not_hold_the_busy_ones() -> None:
    """Live, posts come seconds behind the clock: an idle source holds nobody back."""
    win = PartitionWindow(60, sources=2)
    now = T0 + timedelta(minutes=10)
    win.add(scored(0, T0 + timedelta(minutes=1)), T0 + timedelta(minutes=1, seconds=2), 0)
    win.mark(0, None, True, T0 + timedelta(minutes=1, seconds=3))  # quiet since
    for i in range(1, 10):
        win.add(scored(i, T0 + timedelta(minutes=i)), T0 + timedelta(minutes=i, seconds=2), 1)
    closed = [m.minute for m in win.advance(now)]
    assert closed[-1] == T0 + timedelta(minutes=7)  # source 1's 9:00 less the 60 s lateness


def test_a_window_reading_a_backlog_does_not_take_stretched_gaps_for_silence() -> None:
    """The window reads a backlog 4x slower than upstream produced it: source 0's markers, sent
    10 s apart, arrive 41 s apart while source 1's posts stream in. On the arrival clock source
    0 looks silent (a dead worker) and source 1 would run the watermark hours ahead of it; its
    markers' send times show it spoke 10 s of upstream time later, so its next post is not
    late (a replay at load ~14 lost 32-309 posts so)."""
    win = PartitionWindow(60, sources=2)
    sent0 = WALL - timedelta(minutes=5)  # the backlog was produced earlier
    win.mark(0, T0, False, WALL, sent0)
    for i in range(1, 9):  # 40 s of arrival, 10 s of upstream time: source 1 runs ahead
        at = WALL + timedelta(seconds=5 * i)
        win.add(scored(i, T0 + timedelta(hours=i)), at, 1)
        win.mark(1, T0 + timedelta(hours=i), False, at, sent0 + timedelta(seconds=1.25 * i))
    arrive = WALL + timedelta(seconds=41)
    win.mark(0, T0 + timedelta(seconds=20), False, arrive, sent0 + timedelta(seconds=10))
    win.advance(arrive)
    assert win.aligned is not None and win.aligned <= T0 + timedelta(seconds=20)
    assert win.add(scored(20, T0 + timedelta(seconds=30)), arrive, 0) is False  # not late


def test_a_dead_upstream_worker_is_silent_on_the_upstream_clock_too() -> None:
    """Source 0's worker died: 35 s of wall time and of upstream time (source 1's markers) pass
    without a word from it, so it stops holding the watermark, as without send times."""
    win = PartitionWindow(60, sources=2)
    win.mark(0, T0, False, WALL, WALL)
    for i in range(1, 8):
        at = WALL + timedelta(seconds=5 * i)
        win.add(scored(i, T0 + timedelta(minutes=i)), at, 1)
        win.mark(1, T0 + timedelta(minutes=i), False, at, at)
        assert win.aligned == (T0 if 5 * i < 30 else T0 + timedelta(minutes=i))


def test_markers_carry_their_send_time_and_old_ones_read_without() -> None:
    sent = WALL + timedelta(microseconds=7)
    assert state.read_marker(state.marker(3, T0, True, sent)) == (3, T0, True, sent)
    assert state.read_marker(state.marker(2, None, False)) == (2, None, False, None)
