"""``crisis-radar backtest``'s core: files of posts through the worker's stages, offline.

``History`` (oldest first, external sort) -> batches of ``BATCH`` posts -> ``OfflinePipeline``
(enrich, aggregate, crisis: the worker's own code) -> minutes and alerts, streamed to JSONL as
they close. Memory is flat in the number of posts: nothing per post is kept; per brand, a few
counters, its worst alert, and the last version of its minutes of the last ``AMEND_HORIZON``
(to turn amended minutes into deltas). The printing, the progress bar and the report are the
command's (``crisis_radar.commands.backtest``); ``bench/backtest.py`` runs this alone.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import IO, Any

from crisis_radar.history.offline import OfflinePipeline, Step
from crisis_radar.ingest.pipeline import Send, time_runs
from schemas.models import BrandMinute, CrisisAlert, DeadLetter, Severity

BATCH = 2000  # posts per OfflinePipeline.feed: the worker's batch size order
REJECTED_CAP = 10_000  # lines of rejected.jsonl; the rest are only counted
# The aggregator amends a minute for up to an hour (detectors.aggregate max_lateness_s): the
# last version of older minutes is never needed again.
AMEND_HORIZON = timedelta(hours=2)
# Posts with the very same created_at go to the pipeline sorted by (key, value), so the output
# does not depend on the input's order of ties (a file read newest-first gives the same bytes).
# Bounded: a larger run of equal times (date-only stamps) keeps the input order past this.
TIE_GROUP_CAP = 10_000


def worse(a: CrisisAlert, b: CrisisAlert | None) -> bool:
    """Is ``a`` a worse alert than ``b``: higher severity, then higher score (ties: earlier)."""
    return b is None or (a.severity, a.score) > (b.severity, b.score)


@dataclass
class BrandStats:
    """One brand over the run, from its minutes (last versions count) and alerts."""

    posts: int = 0
    minutes: int = 0  # minutes emitted, silent ones included
    negative: int = 0
    peak: int = 0
    peak_minute: datetime | None = None
    alerts: Counter[Severity] = field(default_factory=Counter)
    worst: CrisisAlert | None = None

    @property
    def mean_per_minute(self) -> float:
        return self.posts / self.minutes if self.minutes else 0.0

    unknown: int = 0  # posts in a language without a sentiment model: no evidence

    @property
    def negative_share(self) -> float:
        n = self.posts - self.unknown
        return self.negative / n if n > 0 else 0.0


class Rejections:
    """Dead letters: counted by reason with a first example each, the first ``cap`` written to
    ``path`` (JSONL of DeadLetter); never sent anywhere."""

    def __init__(self, path: Path | None = None, cap: int = REJECTED_CAP) -> None:
        self.counts: Counter[str] = Counter()
        self.examples: dict[str, str] = {}
        self.cap = cap
        self.written = 0
        self._file: IO[bytes] | None = path.open("wb") if path is not None else None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, letter: DeadLetter) -> None:
        self.counts[letter.reason] += 1
        self.examples.setdefault(letter.reason, letter.error)
        if self._file is not None and self.written < self.cap:
            self._file.write(letter.to_json() + b"\n")
            self.written += 1

    def add_json(self, value: bytes) -> None:
        """A dead letter of the enrich stage (DeadLetter JSON)."""
        self.add(DeadLetter.model_validate_json(value))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


@dataclass
class Result:
    read: int = 0
    posts: int = 0  # valid posts fed to the pipeline
    skipped: int = 0
    repeated: int = 0  # posts the core read before (same platform and id), counted once
    minutes: int = 0  # minute records, versions included
    alerts: int = 0
    out_of_order: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    brands: dict[str, BrandStats] = field(default_factory=dict)
    worst: CrisisAlert | None = None
    first: datetime | None = None  # event time of the oldest / newest post
    last: datetime | None = None

    @property
    def posts_per_s(self) -> float:
        return self.posts / self.seconds if self.seconds > 0 else 0.0


class Outputs:
    """Where minutes and alerts go as they close: JSONL files under ``out`` (or nowhere)."""

    def __init__(self, out: Path | None) -> None:
        self.out = out
        self.minutes: IO[bytes] | None = None
        self.alerts: IO[bytes] | None = None
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            self.minutes = (out / "minutes.jsonl").open("wb")
            self.alerts = (out / "alerts.jsonl").open("wb")

    def close(self) -> None:
        for f in (self.minutes, self.alerts):
            if f is not None:
                f.close()


class Backtest:
    """Run sends through an ``OfflinePipeline``; ``on_alert`` sees each alert as it is raised,
    ``on_batch`` is called after each batch (progress)."""

    def __init__(
        self,
        pipeline: OfflinePipeline,
        out: Path | None = None,
        on_alert: Callable[[CrisisAlert], None] | None = None,
        batch: int = BATCH,
    ) -> None:
        self.pipeline = pipeline
        pipeline.keep_rows(False)  # nothing is stored: no ClickHouse rows to build
        self.outputs = Outputs(out)
        self.rejections = Rejections(out / "rejected.jsonl" if out is not None else None)
        self.on_alert = on_alert
        self.batch = batch
        self.result = Result()
        # (brand, minute) -> (posts, negative) of its last version, within AMEND_HORIZON
        self._last: dict[tuple[str, datetime], tuple[int, int, int]] = {}
        self._newest: datetime | None = None
        self._pruned: datetime | None = None

    def run(
        self, sends: Iterable[Send], on_batch: Callable[[Result], None] | None = None
    ) -> Result:
        r = self.result
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            ordered, size = _ties_sorted(sends), max(1, self.batch)
            while chunk := list(islice(ordered, size)):  # a batch at a time, no step per post
                if r.first is None:
                    r.first = chunk[0].created_at
                r.last = chunk[-1].created_at
                batch = [(s.key, s.value) for s in chunk]
                # Send.post: the validated posts of History.sends(parsed=True), else None
                self._take(self.pipeline.feed(batch, parsed=[s.post for s in chunk]))
                r.posts += len(batch)
                if len(chunk) == size and on_batch is not None:
                    on_batch(r)  # after each full batch, as the progress bar expects
            self._take(self.pipeline.finish())
        finally:
            self.pipeline.close()  # the enrich child, if any (also on errors and Ctrl-C)
            self.outputs.close()
            self.rejections.close()
        r.seconds = time.perf_counter() - t0
        r.cpu_seconds = time.process_time() - c0
        if on_batch is not None:
            on_batch(r)
        return r

    def _take(self, step: Step) -> None:
        self.result.repeated += step.enriched.n_repeated
        for _stage, _reason, value in step.enriched.dead:
            self.rejections.add_json(value)
        f = self.outputs.minutes
        for m in step.minutes:
            if f is not None:
                f.write(m.to_json() + b"\n")
            self._count(m)
        for alert in step.alerts:
            self._alert(alert)

    def _count(self, m: BrandMinute) -> None:
        r = self.result
        r.minutes += 1
        b = r.brands.get(m.brand)
        if b is None:
            b = r.brands[m.brand] = BrandStats()
        key = (m.brand, m.minute)
        prev = self._last.get(key)
        if prev is None:
            # A first version, or the first with posts of a minute emitted empty (its
            # amendment counts only the late posts: exact deltas either way).
            if m.version <= 1:
                b.minutes += 1
            d_posts, d_neg, d_unk = m.posts, m.negative, m.unknown
        else:
            d_posts, d_neg, d_unk = m.posts - prev[0], m.negative - prev[1], m.unknown - prev[2]
        b.posts += d_posts
        b.negative += d_neg
        b.unknown += d_unk
        if m.posts:
            self._last[key] = (m.posts, m.negative, m.unknown)
        if m.posts > b.peak:
            b.peak, b.peak_minute = m.posts, m.minute
        if self._newest is None or m.minute > self._newest:
            self._newest = m.minute
            if self._pruned is None or m.minute - self._pruned > timedelta(minutes=10):
                self._pruned = m.minute
                cutoff = m.minute - AMEND_HORIZON
                for k in [k for k in self._last if k[1] < cutoff]:
                    del self._last[k]

    def _alert(self, alert: CrisisAlert) -> None:
        r = self.result
        r.alerts += 1
        if self.outputs.alerts is not None:
            self.outputs.alerts.write(alert.to_json() + b"\n")
        b = r.brands.get(alert.brand)
        if b is None:
            b = r.brands[alert.brand] = BrandStats()
        b.alerts[alert.severity] += 1
        if worse(alert, b.worst):
            b.worst = alert
        if worse(alert, r.worst):
            r.worst = alert
        if self.on_alert is not None:
            self.on_alert(alert)


def _ties_sorted(sends: Iterable[Send]) -> Iterator[Send]:
    """``sends`` (oldest first) with each run of equal created_at sorted by (key, value)."""
    for group in time_runs(sends, TIE_GROUP_CAP):
        yield from (sorted(group, key=_tie_key) if len(group) > 1 else group)


def _tie_key(s: Send) -> tuple[bytes, bytes]:
    return s.key, s.value


def read_jsonl(path: Path) -> Iterator[Any]:
    """Lines of a JSONL file as parsed JSON, one at a time."""
    from pydantic_core import from_json

    with path.open("rb") as f:
        for line in f:
            if line.strip():
                yield from_json(line)
