"""streams/faustfix.py bookkeeping: what the consumer patch hands over after seeks, and when the
watchdog calls a partition stalled. The patch itself runs in tests/test_two_workers.py."""

from __future__ import annotations

from streams.faustfix import OffsetGuard, StallWatch, Verdict

D, X, R = Verdict.DELIVER, Verdict.DROP, Verdict.RESEEK


def run(g: OffsetGuard, tp: str, offsets: list[int]) -> list[Verdict]:
    return [g.check(tp, o) for o in offsets]


def test_stale_fetch_replayed_after_seek_is_delivered_once() -> None:
    # A fetch drained before the seek to 300 hands over 300..302; the fetch after the seek
    # starts at 300 again: the copies are dropped, the stream goes on at 303.
    g = OffsetGuard()
    g.sought("p2", 300)
    assert run(g, "p2", [300, 301, 302, 300, 301, 302, 303]) == [D, D, D, X, X, X, D]
    assert g.next["p2"] == 304 and g.dropped == 3


def test_records_ahead_of_the_seek_are_a_hole_then_reread() -> None:
    # Issue 6: records fetched at the old position (449) arrive after the seek to 300. They
    # must not be handed over (Faust would file 301..448 as a compaction gap and commit it).
    g = OffsetGuard()
    g.sought("p2", 300)
    assert g.check("p2", 449) is R
    assert g.next["p2"] == 300  # unchanged: the caller seeks back to it
    g.sought("p2", 300)
    assert run(g, "p2", [300, 301]) == [D, D]


def test_a_hole_still_there_after_two_seeks_back_is_real() -> None:
    # e.g. retention deleted the records: after two seeks back the same jump is passed on,
    # so the consumer never loops; a later hole elsewhere is questioned again.
    g = OffsetGuard()
    g.sought("p", 10)
    assert g.check("p", 20) is R
    g.sought("p", 10)
    assert g.check("p", 20) is R
    g.sought("p", 10)
    assert run(g, "p", [20, 21, 30]) == [D, D, R]
    assert g.holes == 3


def test_unknown_position_accepts_the_first_record_and_partitions_are_independent() -> None:
    g = OffsetGuard()
    g.sought("a", None)
    assert run(g, "a", [7, 8]) == [D, D]
    assert g.check("b", 5) is D  # never sought: nothing known yet
    g.sought("b", 0)
    assert run(g, "b", [0, 1, 3]) == [D, D, R]
    assert g.next["a"] == 9
    g.forget(["a"])
    assert "a" not in g.next and g.check("a", 100) is D


def test_stall_needs_lag_idle_and_the_same_commit_for_the_whole_period() -> None:
    w = StallWatch(stall_s=10)
    assert not w.observe("p", 5, lag=3, idle=True, now=0)
    assert not w.observe("p", 5, lag=3, idle=True, now=9.9)
    assert w.observe("p", 5, lag=3, idle=True, now=10)
    # after a seek the period starts again
    assert not w.observe("p", 5, lag=3, idle=True, now=15)
    assert w.observe("p", 5, lag=3, idle=True, now=20)


def test_no_stall_while_busy_caught_up_or_committing() -> None:
    w = StallWatch(stall_s=10)
    for now, committed, lag, idle in [
        (0, 5, 3, True),
        (8, 5, 3, False),  # agent busy (queued or unacked events): restart the clock
        (16, 5, 3, True),
        (24, 6, 2, True),  # commit moved
        (32, 6, 0, True),  # caught up
        (40, 6, 0, True),
    ]:
        assert not w.observe("p", committed, lag, idle, now), now
    assert not w.observe("p", 6, 1, True, 45)
    assert w.observe("p", 6, 1, True, 55)
    w.forget(["p"])
    assert not w.observe("p", 6, 1, True, 100)
