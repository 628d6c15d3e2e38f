"""Brands that answer: seeded replies of a brand's official accounts to its complaints.

A *complaint* (as ``detectors.response`` defines it, from the simulator's intended labels): a
negative original post labelled for the brand that names one of its handles or official
accounts. Each is answered with probability ``answer_share``, after a lognormal delay (median
``median_s``, shape ``sigma``: most answers in minutes, a long tail of hours), by a post of the
brand's first official account on the simulated platform (``official: {simulated: [...]}`` in
the watchlist) whose ``reply_to`` is the complaint. A reply that would fall in one of the
brand's ``silent`` windows is never sent: the brand has gone silent.

The ground truth (``truth()``) lists every complaint with its first reply time (or None), so
the response figures of the pipeline and the report can be checked against it.

>>> from datetime import datetime, UTC
>>> from crisis_radar.simulate.watchlist import SimBrand
>>> b = SimBrand("acme", "Acme", ("acme",), (), ("acme",), (), "g", "t", ("acme_care",))
>>> posts = [{"post_id": "p1", "created_at": "2026-11-23T10:00:05Z", "repost_of": None,
...           "mentions": ["acme"], "author": {"handle": "ann"}}]
>>> br = BrandReplies([b], {"p1": ("acme", "negative", -1, "baseline")},
...                   {"acme": ReplyPolicy(answer_share=1.0)}, seed=1)
>>> out = list(br.run(posts))
>>> [p["author"]["handle"] for p in out], out[1]["reply_to"]
(['ann', 'acme_care'], 'p1')
>>> br.truth()["complaints"][0]["first_reply_at"] == out[1]["created_at"]
True
"""

from __future__ import annotations

import heapq
import math
import random
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from crisis_radar.simulate.watchlist import SimBrand

PostDict = dict[str, Any]
_AT = re.compile(r"@(\w+)")
REPLIES = (
    "@{u} sorry to hear that! please DM us your details and we'll look into it",
    "@{u} we're on it. can you send us a DM with more details?",
    "@{u} thanks for flagging, our team is investigating",
    "@{u} we're sorry for the trouble, a fix is on its way",
)


@dataclass(frozen=True)
class ReplyPolicy:
    """How one brand answers."""

    answer_share: float = 0.7
    median_s: float = 480.0  # 8 min
    sigma: float = 0.9
    max_delay_s: float = 6 * 3600.0
    silent: tuple[tuple[datetime, datetime], ...] = ()  # [from, to): no reply is sent


def policies_for(
    brands: Iterable[SimBrand],
    events: Iterable[Any],
    answer_share: float = 0.7,
    median_s: float = 480.0,
    silent_after_min: float | None = None,
) -> dict[str, ReplyPolicy]:
    """One policy per brand with a simulated official account (``crisis-radar simulate
    --replies``). With ``silent_after_min``, a brand goes silent that many minutes into each of
    its crisis events (``TruthEvent`` with ``is_crisis``) until the event ends."""
    if not 0.0 <= answer_share <= 1.0:
        raise ValueError(f"reply share {answer_share} is not within 0..1")
    if median_s <= 0:
        raise ValueError(f"reply median {median_s} s must be > 0")
    if silent_after_min is not None and silent_after_min < 0:
        raise ValueError(f"silent after {silent_after_min} min must be >= 0")
    events = list(events)
    out = {}
    for b in brands:
        if not b.official:
            continue
        silent: tuple[tuple[datetime, datetime], ...] = ()
        if silent_after_min is not None:
            silent = tuple(
                (e.start + timedelta(minutes=silent_after_min), e.end)
                for e in events
                if e.brand == b.id and e.is_crisis
                and e.start + timedelta(minutes=silent_after_min) < e.end
            )  # fmt: skip
        out[b.id] = ReplyPolicy(answer_share=answer_share, median_s=median_s, silent=silent)
    return out


def _parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).astimezone(UTC)


def _iso(t: datetime) -> str:
    """As pydantic serialises a UTC datetime (the simulator's post JSON is canonical)."""
    if t.microsecond:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class BrandReplies:
    """Adds the replies of the brands of ``policies`` to a post stream, in event-time order."""

    def __init__(
        self,
        brands: Iterable[SimBrand],
        labels: Mapping[str, tuple[str, str, int, str]],
        policies: Mapping[str, ReplyPolicy],
        seed: int = 0,
    ) -> None:
        self.brands = {b.id: b for b in brands if b.id in policies and b.official}
        self.labels = labels
        self.policies = dict(policies)
        self.rng = random.Random(f"replies:{seed}")
        self.complaints: list[dict[str, Any]] = []
        self._n = 0
        self._names = {
            bid: {h.casefold() for h in (*b.handles, *b.official)} for bid, b in self.brands.items()
        }

    def _complaint(self, post: PostDict) -> str | None:
        lab = self.labels.get(post["post_id"])
        if lab is None or lab[1] != "negative" or post.get("repost_of") is not None:
            return None
        names = self._names.get(lab[0])
        mentioned = {m.casefold() for m in post.get("mentions") or ()}
        mentioned |= {m.casefold() for m in _AT.findall(post.get("text", ""))}
        return lab[0] if names and names & mentioned else None

    def _reply(self, brand: SimBrand, post: PostDict, at: datetime) -> PostDict:
        self._n += 1
        pid = f"r{self._n}-{post['post_id']}"
        user = post["author"].get("handle") or post["author"].get("id", "")
        account = brand.official[0]
        return {
            "schema_version": 1,
            "platform": "simulated",
            "post_id": pid,
            "author": {"id": f"sim:official:{brand.id}", "handle": account,
                       "followers": 250_000, "verified": True},
            "text": self.rng.choice(REPLIES).format(u=user),
            "lang": "en",
            "created_at": _iso(at),
            "url": f"https://sim.example/{account}/{pid}",
            "reply_to": post["post_id"],
            "repost_of": None,
            "quote_of": None,
            "hashtags": [],
            "mentions": [user] if user else [],
            "engagement": {"likes": 0, "reposts": 0, "replies": 0, "quotes": 0},
            "source": "simulate",
        }  # fmt: skip

    def run(self, posts: Iterable[PostDict]) -> Iterator[PostDict]:
        held: list[tuple[datetime, int, PostDict]] = []
        for post in posts:
            t = _parse(post["created_at"])
            while held and held[0][0] <= t:
                yield heapq.heappop(held)[2]
            # decided before the post is handed on: the consumer may drop its label then
            bid = self._complaint(post) if self.brands else None
            yield post
            if bid is None:
                continue
            pol = self.policies[bid]
            entry: dict[str, Any] = {
                "brand": bid,
                "post_id": post["post_id"],
                "created_at": post["created_at"],
                "first_reply_at": None,
            }
            self.complaints.append(entry)
            answered = self.rng.random() < pol.answer_share
            delay = math.exp(math.log(pol.median_s) + pol.sigma * self.rng.gauss(0.0, 1.0))
            at = t + timedelta(milliseconds=int(1000 * min(max(delay, 20.0), pol.max_delay_s)))
            if not answered or any(a <= at < b for a, b in pol.silent):
                continue
            reply = self._reply(self.brands[bid], post, at)
            entry["first_reply_at"] = reply["created_at"]
            heapq.heappush(held, (at, self._n, reply))
        while held:
            yield heapq.heappop(held)[2]

    def truth(self) -> dict[str, Any]:
        return {
            "policies": {
                b: {"answer_share": p.answer_share, "median_s": p.median_s, "sigma": p.sigma,
                    "silent": [[_iso(a), _iso(z)] for a, z in p.silent]}
                for b, p in sorted(self.policies.items())
            },
            "complaints": self.complaints,
        }  # fmt: skip
