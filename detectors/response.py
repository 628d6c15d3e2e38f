"""How a brand answers its complaints: per-minute response figures on event time.

A *complaint* is a negative crowd post addressed to the brand: it names one of its handles or
official accounts (``ScoredPost.addressed``) or replies to one of the brand's own posts. A
*brand reply* is a post of one of its official accounts (``ScoredPost.brand_reply``); it
*answers* a complaint when its ``reply_to`` is the complaint's post id (same platform). The
first such reply is the complaint's first response.

Deterministic on event time, whatever the arrival order: the posts of a minute are held until
the minute closes (``close``, called by ``detectors.aggregate.MinuteAggregator`` in minute
order), then applied in a fixed order (the brand's own posts, then complaints, then replies),
and a reply that comes before its complaint waits for it (``_orphans``). So a replay gives the
same figures. Posts too late for their minute are applied on arrival: they change the figures
of the minutes that close after them, not those already emitted.

Deadlines, not amendments: whether a complaint was answered within 15 min is only known 15 min
later, so the minute that reports it is the one its deadline falls in (``due_15m``: complaints
posted 15 min before; ``answered_15m``: those answered by then). When that minute closes every
reply in time has been seen, so the figure is final and needs no amendment.

Bounded: complaints and the brand's post ids are kept for ``horizon`` (24 h of event time) and
at most ``max_items`` each.

>>> from datetime import datetime, timedelta, UTC
>>> t0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
>>> tr = ResponseTracker()
>>> tr.add(t0 + timedelta(seconds=5), "x:1", None, complaint=True)
>>> tr.add(t0 + timedelta(minutes=2), "x:2", "x:9")  # negative reply to a post not the brand's
>>> tr.add(t0 + timedelta(minutes=4), "x:r1", "x:1", reply=True)
>>> [tr.close(t0 + timedelta(minutes=k)).complaints for k in range(5)]
[1, 0, 0, 0, 0]
>>> c = [tr.close(t0 + timedelta(minutes=k)) for k in range(5, 16)][-1]
>>> c.due_15m, c.answered_15m, c.responses_1h, c.response_median_s, c.unanswered_1h
(1, 1, 1, 235.0, 0)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import median
from typing import Any

MINUTE = timedelta(minutes=1)
DEADLINES = (15, 60)  # minutes: the answered-within figures
WINDOW_MIN = 60  # rolling window of the median first-response time and of unanswered_1h
MAX_SILENT_MIN = 24 * 60


@dataclass(slots=True)
class Counts:
    """The response figures of one closed minute (fields of ``schemas.models.BrandMinute``)."""

    complaints: int = 0
    due_15m: int = 0
    answered_15m: int = 0
    due_1h: int = 0
    answered_1h: int = 0
    responses_1h: int = 0
    response_median_s: float = 0.0
    unanswered_1h: int = 0
    silent_min: int = 0


@dataclass(slots=True)
class _Complaint:
    created: datetime
    first_reply: datetime | None = None


@dataclass
class ResponseTracker:
    """One brand's open complaints and replies (picklable, in the aggregation snapshots)."""

    horizon: timedelta = timedelta(hours=24)
    max_items: int = 100_000
    complaints: dict[str, _Complaint] = field(default_factory=dict)  # key -> complaint
    by_minute: dict[datetime, list[str]] = field(default_factory=dict)  # complaints per minute
    own_posts: dict[str, datetime] = field(default_factory=dict)  # the brand's post keys
    orphans: dict[str, datetime] = field(default_factory=dict)  # reply_to -> earliest reply
    firsts: dict[datetime, list[float]] = field(default_factory=dict)  # minute -> delays (s)
    pending: dict[datetime, list[tuple[int, datetime, str, str | None]]] = field(
        default_factory=dict
    )  # open minutes: (kind, created, key, reply_to)
    last_reply: datetime | None = None

    # kinds, in the order a closing minute applies them
    _OWN, _COMPLAINT, _CANDIDATE = 0, 1, 2

    def add(
        self,
        created: datetime,
        key: str,
        reply_to: str | None,
        *,
        reply: bool = False,
        complaint: bool = False,
        closed: bool = False,
    ) -> bool | None:
        """One relevant post: a brand ``reply``, a ``complaint`` (addressed, negative) or, with
        neither, a negative crowd reply that is a complaint if ``reply_to`` is a brand post.
        Held until its minute closes; a post for a ``closed`` minute (the aggregator's word) is
        applied now and the result says whether it was a complaint (the amended minute counts
        it)."""
        kind = self._OWN if reply else (self._COMPLAINT if complaint else self._CANDIDATE)
        minute = created.replace(second=0, microsecond=0)
        if not closed:
            self.pending.setdefault(minute, []).append((kind, created, key, reply_to))
            return None
        return self._apply(kind, created, key, reply_to, minute)

    def _apply(
        self, kind: int, created: datetime, key: str, reply_to: str | None, minute: datetime
    ) -> bool:
        if kind == self._OWN:
            self.own_posts[key] = created
            _cap(self.own_posts, self.max_items)
            if self.last_reply is None or created > self.last_reply:
                self.last_reply = created
            if reply_to is not None:
                c = self.complaints.get(reply_to)
                if c is None:
                    first = self.orphans.get(reply_to)
                    if first is None or created < first:
                        self.orphans[reply_to] = created
                        _cap(self.orphans, self.max_items)
                elif created >= c.created and (c.first_reply is None or created < c.first_reply):
                    self._first(c, created)
            return False
        if kind == self._CANDIDATE and (reply_to is None or reply_to not in self.own_posts):
            return False
        if key in self.complaints:
            return False  # the same post delivered twice
        c = self.complaints[key] = _Complaint(created)
        _cap(self.complaints, self.max_items)
        self.by_minute.setdefault(minute, []).append(key)
        early = self.orphans.pop(key, None)
        if early is not None and early >= created:
            self._first(c, early)
        return True

    def _first(self, c: _Complaint, at: datetime) -> None:
        if c.first_reply is not None:  # an earlier reply arrived late: move its delay
            old = self.firsts.get(c.first_reply.replace(second=0, microsecond=0), [])
            delay = (c.first_reply - c.created).total_seconds()
            if delay in old:
                old.remove(delay)
        c.first_reply = at
        self.firsts.setdefault(at.replace(second=0, microsecond=0), []).append(
            (at - c.created).total_seconds()
        )

    def close(self, minute: datetime) -> Counts:
        """Minute ``minute`` closed (called once per minute, in order): apply its posts and
        return its figures."""
        out = Counts()
        held = self.pending.pop(minute, [])
        for m in sorted(m for m in self.pending if m < minute):  # never closed for this brand
            for kind, created, key, reply_to in self.pending.pop(m):
                self._apply(kind, created, key, reply_to, m)
        own = sorted((e for e in held if e[0] == self._OWN), key=lambda e: (e[1], e[2]))
        for _, created, key, _ in own:  # first: a crowd reply of this minute may answer one
            self.own_posts[key] = created
        crowd = sorted((e for e in held if e[0] != self._OWN), key=lambda e: (e[0], e[1], e[2]))
        for kind, created, key, reply_to in crowd:
            out.complaints += self._apply(kind, created, key, reply_to, minute)
        for kind, created, key, reply_to in own:  # then: a reply may answer this minute's
            self._apply(kind, created, key, reply_to, minute)
        end = minute + MINUTE
        for limit in DEADLINES:
            due, answered = 0, 0
            for key in self.by_minute.get(minute - limit * MINUTE, ()):
                c = self.complaints.get(key)
                if c is None:
                    continue  # evicted (cap)
                due += 1
                if c.first_reply is not None and c.first_reply - c.created <= limit * MINUTE:
                    answered += 1
            if limit == 15:
                out.due_15m, out.answered_15m = due, answered
            else:
                out.due_1h, out.answered_1h = due, answered
        # The window's minutes held (keys are whole minutes, so the range is the WINDOW_MIN
        # minutes up to this one): a pass over the few held, not WINDOW_MIN lookups per
        # close; counts and the median do not depend on the order.
        lo = minute - (WINDOW_MIN - 1) * MINUTE
        delays = [d for m, ds in self.firsts.items() if lo <= m <= minute for d in ds]
        out.responses_1h = len(delays)
        out.response_median_s = float(median(delays)) if delays else 0.0
        complaints = self.complaints
        for m, keys in self.by_minute.items():
            if lo <= m <= minute:
                for key in keys:
                    c = complaints.get(key)
                    if c is not None and (c.first_reply is None or c.first_reply >= end):
                        out.unanswered_1h += 1
        if self.last_reply is not None:
            silent = (end - self.last_reply) // MINUTE
            out.silent_min = max(0, min(MAX_SILENT_MIN, silent))
        self._evict(end)
        return out

    def _evict(self, end: datetime) -> None:
        keep = end - (max(DEADLINES) + 1) * MINUTE
        for m in [m for m in self.by_minute if m < keep]:
            del self.by_minute[m]
        window_start = end - WINDOW_MIN * MINUTE
        for m in [m for m in self.firsts if m < window_start]:
            del self.firsts[m]
        old = end - self.horizon
        # dicts in insertion order, about event-time order: pop from the front (O(evicted))
        for d in (self.own_posts, self.orphans):
            while d and next(iter(d.values())) < old:
                del d[next(iter(d))]
        while self.complaints and next(iter(self.complaints.values())).created < old:
            del self.complaints[next(iter(self.complaints))]

    def open_minutes(self) -> int:
        return len(self.pending)


def _cap(d: dict[str, Any], n: int) -> None:
    while len(d) > n:  # insertion order: the oldest first
        del d[next(iter(d))]
