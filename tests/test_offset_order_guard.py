"""streams/faust_runtime bookkeeping: what offset_order_guard hands over after seeks, and when the
stall_watchdog calls a partition stalled. The patch itself runs in tests/test_two_workers.py."""

from __future__ import annotations

from streams.faust_runtime.offset_order_guard import OffsetGuard, Verdict
from streams.faust_runtime.stall_watchdog import StallWatch

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
    # never sought since assigned (Faust seeks every partition before its streams resume):
    # fetched too early, dropped; the seek re-reads it
    assert g.check("b", 5) is X
    g.sought("b", 0)
    assert run(g, "b", [0, 1, 3]) == [D, D, R]
    assert g.next["a"] == 9
    g.forget(["a"])  # revoked
    assert "a" not in g.next and g.check("a", 100) is X


def test_stall_needs_the_same_commit_for_stall_s_and_idle_for_idle_s() -> None:
    w = StallWatch(stall_s=10, idle_s=4)
    assert not w.observe("p", 5, lag=3, idle=True, now=0)
    assert not w.observe("p", 5, lag=3, idle=True, now=2)  # idle from here
    assert not w.observe("p", 5, lag=3, idle=True, now=9.9)
    assert w.stuck_for("p", 9.9) == 9.9
    assert w.observe("p", 5, lag=3, idle=True, now=10)
    # after the seek back both clocks start again
    assert not w.observe("p", 5, lag=3, idle=True, now=15)
    assert w.observe("p", 5, lag=3, idle=True, now=20)


def test_a_busy_agent_delays_the_stall_until_it_is_idle_for_idle_s() -> None:
    w = StallWatch(stall_s=10, idle_s=4)
    assert not w.observe("p", 5, lag=3, idle=True, now=0)
    assert not w.observe("p", 5, lag=3, idle=False, now=8)  # queued or unacked events
    assert not w.observe("p", 5, lag=3, idle=True, now=12)  # stuck 12 s, idle 0 s
    assert w.stuck_for("p", 12) == 12
    assert w.observe("p", 5, lag=3, idle=True, now=16)


def test_no_stall_while_committing_or_caught_up() -> None:
    w = StallWatch(stall_s=10, idle_s=4)
    for now, committed, lag in [(0, 5, 3), (8, 6, 2), (16, 6, 0), (20, 6, 0)]:
        assert not w.observe("p", committed, lag, True, now), now
        assert w.stuck_for("p", now) == 0
    assert not w.observe("p", 6, 1, True, 22)  # lag again: stuck since the last lag 0 (20)
    assert not w.observe("p", 6, 1, True, 29)
    assert w.observe("p", 6, 1, True, 30)
    w.forget(["p"])
    assert not w.observe("p", 6, 1, True, 100) and w.stuck_for("q", 100) == 0
