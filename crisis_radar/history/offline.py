"""The worker's pipeline core in one process, for history: backfill, backtest, scenarios.

``OfflinePipeline`` drives the same stage objects as the Faust worker (``streams.enrichment.
EnrichPartitions``, ``streams.core.AggregateStage`` and ``CrisisStage``) on Kafka-shaped
records made in memory, partitioned as Kafka would be:

* posts.raw partition = ``route_hash`` of the post mod N (as ``crisis-radar ingest``), so each
  partition has its own dedup index over the same posts as in the worker;
* posts.scored / brand.minutes partition = murmur2(brand) mod N (Kafka's default partitioner,
  as the worker's producer), so each brand is aggregated in the same window;
* records carry the worker's source tags, and after each batch every posts.raw partition sends
  a watermark marker saying how far the (event-time ordered) input has got.

So a backtest gives the minutes and alerts the worker gives on the same posts in the same
order (tests/test_history.py), and a replay is deterministic: no wall clock is read here; the
caller passes ``now`` (stamps on scored posts and alerts) or lets it default to event time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from crisis_radar.ingest.route import route_hash, route_text_hash
from schemas.models import BrandMinute, CrisisAlert, Post
from streams import state
from streams.core import AggregateStage, Assessed, CrisisStage, new_scorer
from streams.enrichment import EnrichPartitions, EnrichResult, EnrichRunner
from streams.processing import AlertContext, load_brand_words


def brand_partition(brand: bytes, partitions: int) -> int:
    """Kafka's default partitioner (murmur2, as aiokafka and the Java client): where the worker
    sends a brand's posts.scored and brand.minutes records."""
    from kafka.partitioner.default import murmur2

    return int(murmur2(brand) & 0x7FFFFFFF) % partitions


_WALL = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class Step:
    """What one batch (or the final flush) produced."""

    enriched: EnrichResult = field(default_factory=EnrichResult)
    minutes: list[BrandMinute] = field(default_factory=list)  # closed, in order (versions too)
    assessed: list[Assessed] = field(default_factory=list)  # first versions scored

    @property
    def alerts(self) -> list[CrisisAlert]:
        return [a.alert for a in self.assessed if a.alert is not None]


class OfflinePipeline:
    """enrich -> aggregate -> crisis on posts in event-time order, N partitions as the worker.

    >>> from datetime import UTC, datetime, timedelta
    >>> from crisis_radar.settings import Settings
    >>> from schemas.models import Author, Post
    >>> pipe = OfflinePipeline.from_settings(Settings(), child=False)
    >>> t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    >>> posts = [Post(platform="x", post_id=str(i), author=Author(id=f"u{i}"),
    ...               text=f"telvana support is slow again {i}",
    ...               created_at=t0 + timedelta(seconds=20 * i))
    ...          for i in range(9)]
    >>> step = pipe.feed([(p.key.encode(), p.to_json()) for p in posts])
    >>> [(m.brand, m.posts) for m in step.minutes + pipe.finish().minutes]
    [('telvana', 3), ('telvana', 3), ('telvana', 3)]
    """

    def __init__(
        self,
        watchlist_path: Path,
        partitions: int,
        lateness_s: float,
        dedup_horizon_s: float,
        dedup_max_items: int,
        load_state: Any = None,
        child: bool = False,
        make_scorer: Callable[[], Any] | None = None,
    ) -> None:
        self.partitions = partitions
        args = (watchlist_path, dedup_horizon_s, dedup_max_items, partitions)
        # ``child``: enrichment in the worker's child process (``EnrichRunner``), one batch in
        # flight, so it runs on a second core while this one aggregates and scores the last
        # batch: outputs lag one batch (``finish`` hands over the last).
        self.enrich: EnrichPartitions | None = None
        self.runner: EnrichRunner | None = None
        if child:
            from detectors.brands import Watchlist

            Watchlist.from_yaml(watchlist_path)  # a broken one fails here, no child started
            self.runner = EnrichRunner(*args, subprocess=True)
            self.runner.start()
            for part in range(partitions):
                self.runner.submit_now("restore", part, None).result()
        else:
            self.enrich = EnrichPartitions(*args)
            self.enrich.as_objects = True  # the aggregate stage takes ScoredPosts as they are
            for part in range(partitions):
                self.enrich.restore(part, None)
        self._pending: tuple[Future[EnrichResult], datetime, datetime | None] | None = None
        self.context = AlertContext()
        self.aggregate = AggregateStage(lateness_s, partitions, self.context)
        # ``make_scorer``: a brand's new crisis scorer (evaluate scenarios --detector); None:
        # the worker's
        self.crisis = CrisisStage(
            load_brand_words(watchlist_path),
            self.context,
            load=load_state or (lambda key: None),
            make_scorer=make_scorer or new_scorer,
        )
        for part in range(partitions):
            self.aggregate.restore(part, None, _WALL)
        self._scored_offset = [-1] * partitions
        self._raw_offset = [-1] * partitions
        self._brand_part: dict[bytes, int] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        load_state: Any = None,
        child: bool | None = None,
        make_scorer: Callable[[], Any] | None = None,
    ) -> OfflinePipeline:
        """``child``: None = as the worker decides (``Settings.enrich_in_subprocess``: a child
        process on a machine with two or more CPUs)."""
        return cls(
            settings.watchlist_path,
            settings.topic_partitions,
            settings.allowed_lateness_s,
            settings.dedup_horizon_s,
            settings.dedup_max_items,
            load_state,
            settings.enrich_in_subprocess() if child is None else child,
            make_scorer,
        )

    def keep_rows(self, rows: bool, backfill: bool = False) -> None:
        """Build ClickHouse posts rows (``Step.enriched.rows``): off where nothing stores them,
        flagged ``backfill`` where history writes them."""
        if self.runner is not None:
            self.runner.submit_now("keep_rows", rows, backfill).result()
        else:
            assert self.enrich is not None
            self.enrich.keep_rows(rows, backfill)

    def feedback(self, records: Iterable[bytes]) -> list[str]:
        """``crisis.feedback`` records (``schemas.feedback``), as the worker takes them: alert
        labels and announced events to their brand's scorer, sentiment corrections to every
        posts.raw partition's enrich state. They apply from the next batch on (the caller puts
        them where they belong in event time). What changed, one line per brand change."""
        from schemas.feedback import parse_feedback

        raws = list(records)
        if self.runner is not None:
            self.runner.submit_now("feedback", raws).result()  # FIFO: after the batch in flight
        else:
            assert self.enrich is not None
            self.enrich.feedback(raws)
        changes = []
        for raw in raws:
            changed = self.crisis.feedback(parse_feedback(raw))
            if changed is not None:
                changes.append(f"{changed[0].decode()}: {changed[1]}")
        return changes

    def close(self) -> None:
        """Stop the enrich child, if any (``finish`` does it too)."""
        if self.runner is not None:
            self.runner.close()
            self.runner = None

    def _part_of(self, brand: bytes) -> int:
        part = self._brand_part.get(brand)
        if part is None:
            part = self._brand_part[brand] = brand_partition(brand, self.partitions)
        return part

    @property
    def takes_posts(self) -> bool:
        """Whether ``feed`` uses validated posts handed with the JSON (``parsed``): enrichment
        in this process. A child would only get them pickled: it decodes the JSON instead."""
        return self.runner is None

    def feed(
        self,
        posts: Iterable[tuple[bytes, bytes]],
        now: datetime | None = None,
        parsed: Sequence[Post | None] | None = None,
    ) -> Step:
        """One batch of (key, canonical post JSON), in event-time order after every earlier
        batch; what came out (with a child: of the batch before). ``now``: the wall-clock stamp
        of scored posts (None: the batch's last event time, for reproducible output).
        ``parsed``: parallel to ``posts``, each one's validated ``Post`` where the reader has
        it (``History.sends(parsed=True)``): the enrich stage takes it instead of decoding the
        JSON again (same outputs: it is what the decode gives)."""
        n = self.partitions
        by_part: dict[int, list[tuple[int, Any, Any]]] = {}
        pairs = list(posts)
        if parsed is None or self.runner is not None:
            parsed = [None] * len(pairs)
        offsets = self._raw_offset
        value: Any
        for (key, value), post in zip(pairs, parsed, strict=True):
            if post is None:
                part = route_hash(key, value) % n
            else:  # = route_hash(key, value): the text is the JSON's, as validated
                part = route_text_hash(key, post.text) % n
                value = post
            offsets[part] += 1
            rec = (offsets[part], None, value)
            recs = by_part.get(part)
            if recs is None:
                by_part[part] = [rec]
            else:
                recs.append(rec)
        batch = sorted(by_part.items())
        stamp = now or self._last_event(batch)
        if self.runner is None:
            assert self.enrich is not None
            return self._downstream(self.enrich.process(batch, stamp, frozenset()), now)
        fut = self.runner.submit_now("process", batch, stamp, frozenset())
        previous, self._pending = self._pending, (fut, stamp, now)
        return Step() if previous is None else self._downstream(previous[0].result(), previous[2])

    def finish(self, now: datetime | None = None) -> Step:
        """End of the input: the last batch's outputs, then the minutes still open (up to the
        last post's) closed and scored. Stops the child."""
        step = Step()
        if self._pending is not None:
            step = self._downstream(self._pending[0].result(), self._pending[2])
            self._pending = None
        self.close()
        self._close(step, self.aggregate.flush(), now)
        return step

    def _downstream(self, enriched: EnrichResult, now: datetime | None) -> Step:
        """Aggregate and score one enriched batch."""
        n = self.partitions
        step = Step(enriched=enriched)
        recs: list[tuple[int, int, Any, Any]] = []
        for key, value, headers in enriched.items:
            part = self._part_of(key)
            self._scored_offset[part] += 1
            recs.append((part, self._scored_offset[part], headers, value))
        # The input is in event-time order: every posts.raw partition has reached its last
        # post's time (markers, as the worker's enrich stage sends after each batch).
        times = [r for _, r in enriched.progress.values() if r is not None]
        reached = max(times, default=None)
        for part in range(n):
            for source in range(n):
                self._scored_offset[part] += 1
                mark = state.marker(source, reached, False)
                recs.append((part, self._scored_offset[part], mark, b""))
        # One fixed "wall clock" for the windows: a replay is never idle nor silent between
        # batches (its markers say how far it got); event time must not pass for wall time.
        self._close(step, self.aggregate.process(recs, _WALL).minutes, now)
        return step

    def _close(
        self, step: Step, closed: list[tuple[int, BrandMinute]], now: datetime | None
    ) -> None:
        for part, minute in closed:
            step.minutes.append(minute)
            assessed = self.crisis.score(part, minute, now)
            if assessed is not None:
                step.assessed.append(assessed)

    @staticmethod
    def _last_event(batch: list[tuple[int, list[tuple[int, Any, Any]]]]) -> datetime:
        from pydantic_core import from_json

        from crisis_radar.ingest.normalise import parse_time

        latest: datetime | None = None
        for _, recs in batch:
            value = recs[-1][2]
            try:
                t = (
                    value.created_at
                    if isinstance(value, Post)
                    else parse_time(from_json(value).get("created_at"))
                )
            except Exception:  # an invalid post: the enrich stage dead-letters it
                continue
            latest = t if latest is None or t > latest else latest
        return latest or datetime(1970, 1, 1, tzinfo=UTC)
