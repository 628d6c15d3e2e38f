"""Seeded scenario generator: ``Scenario`` -> posts (event-time order) + ground truth.

Baseline per brand: base rate x daily rhythm (local time) x weekend factor x slowly drifting
level (OU on log scale), Poisson counts per minute. Events add posts on top (see ``events``).
Posts are built as plain dicts in ``Post.model_dump_json()`` field order, so ``post_json`` is
byte-identical to pydantic's output without paying for a model per post.

>>> from datetime import datetime, timezone
>>> from crisis_radar.simulate.watchlist import load_brands
>>> from crisis_radar.settings import PROJECT_ROOT
>>> brands = load_brands(PROJECT_ROOT / "deploy" / "watchlist.yaml")[:2]
>>> t0 = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
>>> sc = Scenario(start=t0, minutes=5, brands=brands, seed=1)
>>> sim = Simulator(sc)
>>> posts = list(sim.posts())
>>> len(posts) > 0 and posts == sorted(posts, key=lambda p: p["created_at"])
True
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
import random
import re
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from crisis_radar.simulate import events as ev
from crisis_radar.simulate import langs as lg
from crisis_radar.simulate import text as tx
from crisis_radar.simulate.events import EventSpec, TruthEvent
from crisis_radar.simulate.watchlist import SimBrand

PostDict = dict[str, Any]
Label = tuple[str, str, int, str]  # brand id ("" = none), sentiment, event index, role
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_TAG = re.compile(r"#(\w+)")
_AT = re.compile(r"@(\w+)")
_BOTWORDS = ["truth", "news", "real", "patriot", "daily", "fan"]
_SYLL = [
    "ka",
    "lo",
    "mi",
    "ra",
    "ten",
    "zu",
    "bel",
    "dan",
    "ori",
    "sam",
    "vex",
    "jo",
    "lin",
    "mar",
    "pix",
    "qui",
    "ste",
    "ny",
    "fox",
    "ash",
    "eli",
    "kim",
    "ron",
    "sky",
    "tay",
]


@dataclass
class Scenario:
    start: datetime
    minutes: int
    brands: list[SimBrand]
    seed: int = 0
    events: list[EventSpec] = field(default_factory=list)
    rate_scale: float = 1.0  # multiplies every brand's base rate
    authors: int = 50_000  # size of the regular author population
    offtopic_rate: float = 0.03  # excluded-phrase posts per minute per brand with excludes
    benign_bursts_per_day: float = 1.0  # per brand; unlabelled harmless volume bumps
    late_share: float = 0.0  # posts delivered 1-30 min late (out of event-time order)
    foreign_share: float = 0.02  # baseline posts in es/de/fr (labelled brand "": not to match)
    announce: bool = False  # launches are planned: truth lists them as expected_events
    # Multilingual crowds (simulate.langs): brand id, or "*" for every brand -> language mix
    # of its everyday posts; None/empty = English (plus the foreign_share posts).
    crowd_langs: dict[str, dict[str, float]] = field(default_factory=dict)
    # Language mix of the posts events add (a crisis in Portuguese...); None = English.
    # Recorded per event as params["langs"]; an EventSpec's own params["langs"] wins.
    event_langs: dict[str, float] | None = None
    lang_tags: bool = True  # posts carry the platform's language tag; False: lang null

    def to_dict(self) -> dict[str, Any]:
        langs: dict[str, Any] = {}  # only when asked for: English scenarios' truth unchanged
        if self.crowd_langs:
            langs["crowd_langs"] = self.crowd_langs
        if self.event_langs:
            langs["event_langs"] = self.event_langs
        if not self.lang_tags:
            langs["lang_tags"] = False
        return {
            "start": _iso(self.start),
            "minutes": self.minutes,
            "seed": self.seed,
            "brands": [b.id for b in self.brands],
            "rate_scale": self.rate_scale,
            "authors": self.authors,
            "offtopic_rate": self.offtopic_rate,
            "foreign_share": self.foreign_share,
            "late_share": self.late_share,
            "benign_bursts_per_day": self.benign_bursts_per_day,
            "events": [
                {"kind": e.kind, "brand": e.brand, "start": _iso(e.start), "params": e.params}
                for e in self.events
            ],
        } | langs


@dataclass(frozen=True)
class BrandProfile:
    """Stable per brand id (independent of the seed): the brand's 'personality'."""

    base_rate: float  # posts/min at the daily mean
    tz_hours: int  # where most of its audience lives
    weekend_factor: float
    neg_share: float
    pos_share: float

    @classmethod
    def for_brand(cls, brand_id: str) -> BrandProfile:
        r = random.Random(zlib.crc32(brand_id.encode()))
        return cls(
            base_rate=round(math.exp(r.uniform(math.log(1.5), math.log(14))), 2),
            tz_hours=r.choice([-8, -6, -5, -5, 0, 0, 1]),
            weekend_factor=round(r.uniform(0.6, 1.3), 2),
            neg_share=round(r.uniform(0.12, 0.3), 2),
            pos_share=round(r.uniform(0.15, 0.35), 2),
        )


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def daily_curve() -> np.ndarray:
    """1440 multipliers with mean 1: night trough, morning rise, midday and evening peaks."""
    h = np.arange(1440) / 60.0

    def bump(mu: float, sd: float) -> np.ndarray:
        d = np.minimum(np.abs(h - mu), 24 - np.abs(h - mu))
        return np.asarray(np.exp(-0.5 * (d / sd) ** 2))

    c = 0.1 + 0.35 * bump(8.5, 1.5) + 0.9 * bump(12.5, 2.5) + 1.0 * bump(20.5, 2.0)
    return np.asarray(c / c.mean())


class Simulator:
    """Everything random is drawn from ``scenario.seed``; iterate ``posts()`` once."""

    def __init__(self, scenario: Scenario, record_labels: bool = False) -> None:
        self.sc = scenario
        self.rng = random.Random(scenario.seed)
        self.np_rng = np.random.default_rng(scenario.seed)
        self.brands = {b.id: b for b in scenario.brands}
        self.index = {b.id: i for i, b in enumerate(scenario.brands)}
        self.profiles = [BrandProfile.for_brand(b.id) for b in scenario.brands]
        self.lam = self._rates()
        self.benign = self._benign_bursts()
        # Day-to-day wobble of each brand's negative share (x0.8-1.25 typical): some days are
        # grumpier than others, so a fixed negative-share threshold is not enough.
        days = scenario.minutes // 1440 + 1
        wobble = np.random.default_rng([scenario.seed, 7]).lognormal(
            0, 0.15, (len(self.profiles), days)
        )
        self.neg_day = wobble.tolist()
        self._authors()
        self.truth = [
            self._resolve(e, random.Random(f"{scenario.seed}:{i}"))
            for i, e in enumerate(scenario.events)
        ]
        self._counter = 0
        # Recent complaints per brand (post id, handle, minute): targets for replies.
        self._recent_neg: list[deque[tuple[str, str, int]]] = [
            deque(maxlen=50) for _ in scenario.brands
        ]
        self._t0 = int(scenario.start.timestamp()) // 60 * 60
        self._prefix = (-1, "")
        self._rivals = [
            [c for c in scenario.brands if c.group == b.group and c.id != b.id]
            for b in scenario.brands
        ]
        # Per-post intended labels (brand, sentiment, event index or -1, role), if asked for.
        self.labels: dict[str, Label] | None = {} if record_labels else None
        # Multilingual crowds draw from their own stream after the English text was drawn, so
        # a scenario's posts, authors, times and sentiments are those of its English version.
        self.lang_rng = random.Random(f"lang:{scenario.seed}")
        every = scenario.crowd_langs.get("*")
        self.crowd_mix = [scenario.crowd_langs.get(b.id, every) for b in scenario.brands]
        # Intended language of the posts not in English (with labels: the labels' "lang").
        self.post_langs: dict[str, str] | None = {} if record_labels else None

    # -- baseline -------------------------------------------------------------------------
    def _rates(self) -> np.ndarray:
        sc, n = self.sc, self.sc.minutes
        curve = daily_curve()
        t_min = int(sc.start.timestamp()) // 60 + np.arange(n)
        lam = np.empty((len(sc.brands), n))
        for i, prof in enumerate(self.profiles):
            local = t_min + prof.tz_hours * 60
            daily = curve[local % 1440]
            dow = (local // 1440 + 3) % 7  # 1970-01-01 was a Thursday; 5, 6 = Sat, Sun
            weekly = np.where(dow >= 5, prof.weekend_factor, 1.0)
            # OU drift on the log level: time constant 2 days, stationary sd 0.15.
            tau, sd = 2880.0, 0.15
            noise = self.np_rng.normal(0, sd * math.sqrt(2 / tau), n)
            x = np.empty(n)
            cur = self.np_rng.normal(0, sd)
            for k in range(n):
                cur += -cur / tau + noise[k]
                x[k] = cur
            lam[i] = prof.base_rate * sc.rate_scale * daily * weekly * np.exp(x - sd * sd / 2)
        return lam

    def _benign_bursts(self) -> list[dict[str, Any]]:
        """Unlabelled harmless bursts (a TV spot, a news mention): the hard negatives.

        Volume x1.5-3.5 for 10-45 minutes with the brand's usual sentiment mix; alerting on them
        is a false alarm. Listed in the truth file under ``benign_bursts``."""
        r = random.Random(f"benign:{self.sc.seed}")
        self.burst_lam = np.zeros_like(self.lam)
        bursts = []
        for bi, b in enumerate(self.sc.brands):
            n = int(
                np.random.default_rng(r.randrange(2**32)).poisson(
                    self.sc.benign_bursts_per_day * self.sc.minutes / 1440
                )
            )
            for _ in range(n):
                s, dur, mult = r.randrange(self.sc.minutes), r.randint(10, 45), r.uniform(1.5, 3.5)
                e = min(s + dur, self.sc.minutes)
                self.burst_lam[bi, s:e] += (mult - 1) * self.lam[bi, s:e]
                t = self.sc.start.astimezone(UTC).replace(second=0, microsecond=0)
                bursts.append(
                    {
                        "brand": b.id,
                        "start": _iso(t + timedelta(minutes=s)),
                        "end": _iso(t + timedelta(minutes=e)),
                        "multiple": round(mult, 2),
                    }
                )
        return sorted(bursts, key=lambda x: (x["start"], x["brand"]))

    def expected_rate(self, brand_id: str, minute: int) -> float:
        """Expected baseline posts in minute ``minute`` (index from the start), no events."""
        return float(self.lam[self.index[brand_id], minute])

    def _authors(self) -> None:
        n, r = self.sc.authors, self.rng
        self.a_handle = [
            f"{r.choice(_SYLL)}{r.choice(_SYLL)}{r.choice(['', '_', '__'])}{r.randrange(10_000)}"
            for _ in range(n)
        ]
        followers = np.minimum(self.np_rng.lognormal(4.5, 2.0, n), 5e7).astype(np.int64)
        self.a_followers = followers.tolist()
        p_ver = np.where(followers > 100_000, 0.35, np.where(followers > 10_000, 0.05, 0.003))
        self.a_verified = (self.np_rng.random(n) < p_ver).tolist()
        w = 1.0 / (np.arange(n) + 5.0) ** 1.1  # Zipf-like activity: a few very chatty authors
        self.a_cum = np.cumsum(w).tolist()
        self.brand_offset = [zlib.crc32(b.id.encode()) % n for b in self.sc.brands]

    def _author(self, i: int) -> dict[str, Any]:
        return {
            "id": f"sim:u{i}",
            "handle": self.a_handle[i],
            "followers": self.a_followers[i],
            "verified": self.a_verified[i],
        }

    def _regular(self, bi: int) -> int:
        k = bisect.bisect(self.a_cum, self.rng.random() * self.a_cum[-1])
        return (min(k, self.sc.authors - 1) + self.brand_offset[bi]) % self.sc.authors

    # -- events ---------------------------------------------------------------------------
    def _resolve(self, spec: EventSpec, r: random.Random) -> TruthEvent:
        if spec.brand not in self.brands:
            raise ValueError(
                f"event {spec.kind}@{spec.brand}: brand not in scenario ({', '.join(self.brands)})"
            )
        brand = self.brands[spec.brand]
        params = ev.draw_params(spec.kind, r, brand.group)
        params.update(spec.params)
        target = spec.brand
        if spec.kind == "competitor_crisis":
            if "competitor" not in params:
                rivals = [
                    b.id for b in self.sc.brands if b.group == brand.group and b.id != brand.id
                ]
                if not rivals:
                    raise ValueError(
                        f"competitor_crisis@{spec.brand}: no other brand of group "
                        f"{brand.group!r} in the scenario"
                    )
                params["competitor"] = r.choice(rivals)
            target, params["spillover_brand"] = params.pop("competitor"), spec.brand
        if spec.kind == "viral_complaint":
            params["seed_text"] = tx.viral_text(r, brand)
        if spec.kind == "copy_paste_campaign":
            params["text"] = tx.fill(
                r, tx.CAMPAIGN[int(params["template"]) % len(tx.CAMPAIGN)], brand, "negative"
            )
        if self.sc.event_langs and "langs" not in params:
            params["langs"] = dict(self.sc.event_langs)
        start = spec.start.astimezone(UTC).replace(second=0, microsecond=0)
        return TruthEvent(
            brand=target,
            kind=spec.kind,
            start=start,
            end=ev.end_of(start, spec.kind, params),
            is_crisis=ev.IS_CRISIS[spec.kind],
            severity=ev.SEVERITY[spec.kind],
            params=params,
        )

    # -- post building --------------------------------------------------------------------
    def _post(
        self,
        out: list[tuple[int, int, PostDict]],
        minute: int,
        author: dict[str, Any],
        text: str,
        *,
        ts_ms: int | None = None,
        repost_of: str | None = None,
        quote_of: str | None = None,
        reply_to: str | None = None,
        lab: Label = ("", "neutral", -1, "baseline"),
        lang: str = "en",
    ) -> str:
        self._counter += 1
        pid = f"s{self.sc.seed}-{self._counter}"
        if self.labels is not None:
            self.labels[pid] = lab
            if lang != "en" and self.post_langs is not None:
                self.post_langs[pid] = lang
        if ts_ms is None:
            ts_ms = int(self.rng.random() * 60_000)
        if ts_ms % 1000 == 0:  # keep a fraction: then created_at strings sort like times
            ts_ms += 1
        sec, ms = divmod(ts_ms, 1000)
        if minute != self._prefix[0]:
            self._prefix = (
                minute,
                datetime.fromtimestamp(self._t0 + 60 * minute, UTC).strftime("%Y-%m-%dT%H:%M:"),
            )
        base = self._prefix[1]
        created = f"{base}{sec:02d}.{ms:03d}000Z" if ms else f"{base}{sec:02d}Z"
        likes = int(self.rng.expovariate(1.0) * (author["followers"] ** 0.35))
        post = {
            "schema_version": 1,
            "platform": "simulated",
            "post_id": pid,
            "author": author,
            "text": text,
            "lang": lang if self.sc.lang_tags else None,
            "created_at": created,
            "url": f"https://sim.example/{author['handle']}/{pid}",
            "reply_to": reply_to,
            "repost_of": repost_of,
            "quote_of": quote_of,
            "hashtags": _TAG.findall(text)[:100],
            "mentions": _AT.findall(text)[:100],
            "engagement": {"likes": likes, "reposts": 0, "replies": 0, "quotes": 0},
            "source": "simulate",
        }
        out.append((ts_ms, self._counter, post))
        return pid

    def _sentiment(self, bi: int, neg: float | None = None, pos: float | None = None) -> str:
        prof = self.profiles[bi]
        r = self.rng.random()
        neg = prof.neg_share if neg is None else neg
        pos = prof.pos_share if pos is None else pos
        return "negative" if r < neg else ("positive" if r < neg + pos else "neutral")

    def _background(self, out: list[tuple[int, int, PostDict]], minute: int, bi: int) -> None:
        brand, r = self.sc.brands[bi], self.rng
        rivals = self._rivals[bi]
        comp = (
            r.choice(rivals) if rivals and r.random() < 0.08 else None
        )  # some posts name two brands
        sentiment = self._sentiment(
            bi, neg=self.profiles[bi].neg_share * self.neg_day[bi][minute // 1440]
        )
        ai = self._regular(bi)
        author = self._author(ai)
        recent = self._recent_neg[bi]
        # Replies only target posts of earlier minutes, so they come after them in the output.
        if recent and recent[0][2] < minute and r.random() < 0.04:  # support answers
            target_id, handle, _ = recent.popleft()
            sup = brand.handles[-1] if brand.handles else brand.id
            author = {
                "id": f"sim:brand:{brand.id}",
                "handle": sup,
                "followers": 250_000,
                "verified": True,
            }
            self._post(
                out,
                minute,
                author,
                tx.support_reply(r, handle),
                reply_to=target_id,
                lab=(brand.id, "neutral", -1, "support"),
            )
            return
        if recent and sentiment == "negative" and r.random() < 0.1:  # "me too" replies
            target_id, handle, tm = recent[int(r.random() * len(recent))]
            if handle != author["handle"] and tm < minute:
                text = tx.user_reply(r, brand, handle)
                lang = self._crowd_lang(bi)
                if lang != "en":  # "me too" in the crowd's language
                    text = lg.background_text(self.lang_rng, lang, brand, "negative")
                lab = (brand.id, "negative", -1, "reply")
                self._post(out, minute, author, text, reply_to=target_id, lab=lab, lang=lang)
                return
        if r.random() < self.sc.foreign_share:
            lang, text = tx.foreign_text(r, brand)
            self._post(out, minute, author, text, lang=lang, lab=("", sentiment, -1, "foreign"))
            return
        text = tx.background_text(r, brand, sentiment, comp)
        lang = self._crowd_lang(bi)
        if lang != "en":
            text = lg.background_text(self.lang_rng, lang, brand, sentiment, comp)
        lab = (brand.id, sentiment, -1, "baseline")
        pid = self._post(out, minute, author, text, lab=lab, lang=lang)
        if sentiment == "negative":
            recent.append((pid, author["handle"], minute))

    def _crowd_lang(self, bi: int) -> str:
        mix = self.crowd_mix[bi]
        return "en" if mix is None else lg.pick(self.lang_rng, mix)

    def _event_text(
        self, te: TruthEvent, text: str, senti: str, brand: SimBrand
    ) -> tuple[str, str]:
        """(text, language) of an event's crowd post: ``text`` (English, already drawn) or
        its counterpart in a language of the event's ``langs`` mix."""
        mix = te.params.get("langs")
        if not mix:
            return text, "en"
        lang = lg.pick(self.lang_rng, mix)
        if lang == "en":
            return text, lang
        lr, k, p = self.lang_rng, te.kind, te.params
        if k in ("launch_spike", "launch_rush") and senti == "positive":
            return lg.launch_text(lr, lang, brand, p["product"]), lang
        if k == "launch_rush" and senti == "negative":
            return lg.launch_rush_text(lr, lang, brand, p["product"]), lang
        if senti == "negative" and k in ("product_defect", "competitor_crisis"):
            return lg.crisis_text(lr, lang, brand, p["narrative"]), lang
        return lg.background_text(lr, lang, brand, senti), lang

    def _new_account(self, tag: str, r: random.Random, max_followers: int) -> dict[str, Any]:
        sep, word = r.choice(["_", "", "x"]), r.choice(_BOTWORDS)
        handle = f"{r.choice(_SYLL)}{sep}{word}{r.randrange(100_000)}"
        return {
            "id": f"sim:new:{tag}:{handle}",
            "handle": handle,
            "followers": r.randrange(max_followers + 1),
            "verified": False,
        }

    def _emit_event(
        self,
        out: list[tuple[int, int, PostDict]],
        minute: int,
        te: TruthEvent,
        idx: int,
        state: dict[str, Any],
    ) -> None:
        p, r, k = te.params, self.rng, te.kind
        tau = minute - (
            te.start - self.sc.start.astimezone(UTC).replace(second=0, microsecond=0)
        ) / timedelta(minutes=1)
        s = ev.shape(k, p, tau)
        if s <= 0:
            return
        bi = self.index[te.brand]
        brand = self.sc.brands[bi]
        poisson: Callable[[float], int] = lambda x: int(self.np_rng.poisson(max(x, 0.0)))  # noqa: E731
        if k in ("product_defect", "competitor_crisis", "launch_spike", "launch_rush"):
            base = max(
                float(self.lam[bi, minute]), 0.5 * self.profiles[bi].base_rate * self.sc.rate_scale
            )
            for _ in range(poisson((p["peak_multiple"] - 1) * base * s)):
                author = self._author(self._regular(bi))
                if k == "launch_spike":
                    senti = self._sentiment(bi, neg=0.05, pos=p["positive_share"])
                    text = (
                        tx.launch_text(r, brand, p["product"])
                        if senti == "positive"
                        else tx.background_text(r, brand, senti)
                    )
                elif k == "launch_rush":
                    senti = self._sentiment(bi, neg=p["negative_share"], pos=p["positive_share"])
                    text = (
                        tx.launch_text(r, brand, p["product"]) if senti == "positive"
                        else tx.launch_rush_text(r, brand, p["product"]) if senti == "negative"
                        else tx.background_text(r, brand, senti)
                    )  # fmt: skip
                else:
                    senti = self._sentiment(bi, neg=p["negative_share"], pos=0.03)
                    text = (
                        tx.crisis_text(r, brand, p["narrative"])
                        if senti == "negative"
                        else tx.background_text(r, brand, senti)
                    )
                text, lang = self._event_text(te, text, senti, brand)
                lab = (te.brand, senti, idx, k)
                pid = self._post(out, minute, author, text, lab=lab, lang=lang)
                if senti == "negative":
                    self._recent_neg[bi].append((pid, author["handle"], minute))
            if k == "competitor_crisis":  # the named brand sees comparison chatter, not a crisis
                si = self.index[p["spillover_brand"]]
                extra = p["spillover_multiple"] * float(self.lam[si, minute]) * s
                for _ in range(poisson(extra)):
                    text = tx.comparison_text(r, self.sc.brands[si], brand)
                    lab = (self.sc.brands[si].id, "neutral", idx, "spillover")
                    self._post(out, minute, self._author(self._regular(si)), text, lab=lab)
        elif k == "viral_complaint":
            vl: Label = (te.brand, "negative", idx, k)
            if "origin" not in state:
                sample = [r.randrange(self.sc.authors) for _ in range(300)]
                star = max(sample, key=lambda i: self.a_followers[i])  # an account with reach
                state["origin_author"] = self._author(star)
                state["origin"] = self._post(
                    out, minute, state["origin_author"], p["seed_text"], ts_ms=0, lab=vl
                )
                return
            if "total" not in state:
                state["total"] = sum(ev.shape(k, p, t) for t in range(ev.duration_min(k, p)))
            origin, oa = state["origin"], state["origin_author"]
            for _ in range(poisson(p["reposts"] * s / state["total"])):
                author = self._author(r.randrange(self.sc.authors))
                u = r.random()
                if u < p["rt_text_share"]:
                    self._post(out, minute, author, f"RT @{oa['handle']}: {p['seed_text']}", lab=vl)
                elif u < p["rt_text_share"] + p["quote_share"]:
                    self._post(
                        out,
                        minute,
                        author,
                        tx.background_text(r, brand, "negative"),
                        quote_of=origin,
                        lab=vl,
                    )
                else:
                    self._post(out, minute, author, p["seed_text"], repost_of=origin, lab=vl)
            base = float(self.lam[bi, minute])
            for _ in range(poisson(p["chatter_multiple"] * base * s)):
                author = self._author(self._regular(bi))
                text = (
                    tx.crisis_text(r, brand, "defect")
                    if r.random() < 0.3
                    else tx.background_text(r, brand, "negative")
                )
                text, lang = self._event_text(te, text, "negative", brand)  # the chatter only
                self._post(out, minute, author, text, lab=vl, lang=lang)
        elif k == "copy_paste_campaign":
            if "pool" not in state:
                n_new = int(p["authors"] * p["new_account_share"])
                pool = [self._new_account(f"c{idx}", r, 200) for _ in range(n_new)]
                pool += [
                    self._author(r.randrange(self.sc.authors))
                    for _ in range(int(p["authors"]) - n_new)
                ]
                state["pool"], state["next"] = pool, 0
            pool = state["pool"]
            rate = p["authors"] * p["posts_per_author"] / p["duration_min"]
            for _ in range(poisson(rate)):
                if state["next"] < len(pool):  # every account posts once before any repeats
                    author, state["next"] = pool[state["next"]], state["next"] + 1
                else:
                    author = r.choice(pool)
                self._post(
                    out,
                    minute,
                    author,
                    tx.campaign_variant(r, p["text"], brand),
                    lab=(te.brand, "negative", idx, k),
                )
        elif k == "bot_burst":
            if "bots" not in state:
                state["bots"] = [self._new_account(f"b{idx}", r, 25) for _ in range(int(p["bots"]))]
            rate = p["bots"] * p["posts_per_bot"] / p["duration_min"]
            for _ in range(poisson(rate)):
                text = (
                    tx.spam_text(r, brand)
                    if r.random() < p["spam_share"]
                    else tx.background_text(r, brand, "negative")
                )
                bot = r.choice(state["bots"])
                self._post(out, minute, bot, text, lab=(te.brand, "negative", idx, k))

    # -- main loop ------------------------------------------------------------------------
    def posts(self, progress: Callable[[int], object] | None = None) -> Iterator[PostDict]:
        """Posts as dicts in event-time order (ties broken by creation order).

        With ``late_share`` > 0 that share of posts arrives 1-30 minutes late (out of order),
        as from a lagging source; the posts themselves are the same as with 0.
        ``progress(1)`` is called after each simulated minute (a tqdm bar's ``update``)."""
        sc, r = self.sc, self.rng
        states: list[dict[str, Any]] = [{} for _ in self.truth]
        sc_start = sc.start.astimezone(UTC).replace(second=0, microsecond=0)
        spans = [
            (
                (t.start - sc_start) // timedelta(minutes=1),
                (t.end - sc_start) // timedelta(minutes=1),
            )
            for t in self.truth
        ]
        counts = self.np_rng.poisson(self.lam + self.burst_lam)
        off_brands = [i for i, b in enumerate(sc.brands) if b.exclude]
        late_rng = random.Random(f"late:{sc.seed}")  # own stream: lateness never changes posts
        held: list[tuple[int, int, PostDict]] = []  # heap of (release minute, seq, post)
        for m in range(sc.minutes):
            out: list[tuple[int, int, PostDict]] = []
            for bi in range(len(sc.brands)):
                for _ in range(int(counts[bi, m])):
                    self._background(out, m, bi)
            for i, te in enumerate(self.truth):
                if spans[i][0] <= m < spans[i][1]:
                    self._emit_event(out, m, te, i, states[i])
            for bi in off_brands:
                if r.random() < sc.offtopic_rate:
                    text = tx.offtopic_text(r, sc.brands[bi])
                    if text:
                        author = self._author(r.randrange(sc.authors))
                        self._post(out, m, author, text, lab=("", "neutral", -1, "offtopic"))
            out.sort(key=lambda x: (x[0], x[1]))
            for _, seq, post in out:
                if sc.late_share and late_rng.random() < sc.late_share:
                    delay = 1 + min(int(late_rng.expovariate(1 / 3)), 29)
                    heapq.heappush(held, (m + delay, seq, post))
                else:
                    yield post
            while held and held[0][0] <= m:
                yield heapq.heappop(held)[2]
            if progress is not None:
                progress(1)
        while held:
            yield heapq.heappop(held)[2]

    def truth_doc(self) -> dict[str, Any]:
        return {
            "seed": self.sc.seed,
            "scenario": self.sc.to_dict(),
            "brands": {
                b.id: {"group": b.group, "team": b.team, **self.profiles[i].__dict__}
                for i, b in enumerate(self.sc.brands)
            },
            "crisis_kinds": sorted(k for k, v in ev.IS_CRISIS.items() if v),
            "benign_bursts": self.benign,
            "events": [t.to_dict() for t in self.truth],
        } | ({"expected_events": self.expected_events()} if self.sc.announce else {})

    def expected_events(self) -> list[dict[str, Any]]:
        """The planned launches (``--announce``), as ``crisis-radar expect`` takes them."""
        return [
            {"brand": t.brand, "kind": "launch", "from": _iso(t.start), "to": _iso(t.end),
             "note": str(t.params.get("product", ""))}
            for t in self.truth if t.kind in ("launch_spike", "launch_rush")
        ]  # fmt: skip


def post_json(post: PostDict) -> str:
    """Canonical JSON, byte-identical to ``schemas.Post.model_validate(post).model_dump_json()``."""
    return _ENCODER.encode(post)


def random_events(
    brands: list[SimBrand],
    start: datetime,
    minutes: int,
    k: int,
    seed: int,
    kinds: tuple[str, ...] = ev.KINDS,
) -> list[EventSpec]:
    """``k`` random events, at most one at a time per brand (with an hour of quiet around each)."""
    r = random.Random(f"events:{seed}")
    weights = [ev.KIND_WEIGHTS[x] for x in kinds]
    taken: dict[str, list[tuple[int, int]]] = {}
    specs: list[EventSpec] = []
    for _ in range(k * 50):
        if len(specs) >= k:
            break
        kind = r.choices(kinds, weights)[0]
        brand = r.choice(brands)
        rivals = [b for b in brands if b.group == brand.group and b.id != brand.id]
        if kind == "competitor_crisis" and not rivals:
            continue
        params = ev.draw_params(kind, r, brand.group)
        dur = ev.duration_min(kind, params)
        if minutes - dur - 60 <= 60:
            continue
        s = r.randrange(60, minutes - dur - 60)
        if kind == "competitor_crisis":
            params["competitor"] = r.choice(rivals).id
        involved = [brand.id] + ([params["competitor"]] if kind == "competitor_crisis" else [])
        if any(s < e + 60 and s + dur + 60 > a for b in involved for a, e in taken.get(b, [])):
            continue
        for b in involved:
            taken.setdefault(b, []).append((s, s + dur))
        specs.append(EventSpec(kind, brand.id, start + timedelta(minutes=s), params))
    specs.sort(key=lambda e: (e.start, e.brand))
    return specs
