"""The enrich stage's work, apart from Faust: validate, dedup, brand match, sentiment and
serialise the posts of each posts.raw partition, with that partition's state.

``EnrichPartitions`` is plain Python (testable on lists). ``EnrichRunner`` runs it either in
the worker's own process or in one child process (``Settings.enrich_subprocess``; auto: a
child when the machine has two or more CPUs). The worker is one asyncio loop on one core, and
enrichment is ~half of its CPU per post: in a child it runs on the second core while the loop
moves records, aggregates, scores and stores (docs/architecture.md "Cost per post"). The child
holds the dedup indexes; the worker keeps the Kafka side (snapshots are pickled in the child
and written by the worker, after the outputs they cover are durable).

A child that dies takes its state with it: ``EnrichRunner`` then starts a new one and the
worker restores every partition from its snapshot and re-reads the input after it, as after a
restart (streams/app.py). The child exits when the worker does, even on SIGKILL (it watches
its parent), and ignores SIGINT/SIGTERM: the worker decides when to stop.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import pickle
import signal
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from radar_base import logs
from radar_base.runtime import tune_gc
from schemas import stages
from schemas.models import DeadLetter, Post, ScoredPost
from schemas.validate import MAX_FUTURE, dead_letter, decode_post
from streams import state
from streams.sinks import Row, post_row, reply_row

log = logging.getLogger("crisis_radar.worker")

Record = tuple[int, Any, Any]  # offset, headers, value (JSON; offline: maybe a Post) of posts.raw
Item = tuple[bytes, Any, list[tuple[str, bytes]]]  # key, value (JSON or ScoredPost), headers


@dataclass
class EnrichResult:
    """What one batch produced: outputs to send and store, metrics, and requested snapshots."""

    items: list[Item] = field(default_factory=list)  # posts.scored records, source-tagged
    rows: list[Row] = field(default_factory=list)  # ClickHouse posts rows
    reply_rows: list[Row] = field(default_factory=list)  # brand_replies rows (official accounts)
    dead: list[tuple[str, str, bytes]] = field(default_factory=list)  # (stage, reason, JSON)
    n_valid: int = 0
    n_repeated: int = 0  # valid posts read before (same platform and id), counted once
    latencies: list[float] = field(default_factory=list)  # event time -> scored, seconds
    # partition -> (pickled state.Snapshot, seconds it took to pickle), taken right after
    # this batch: the worker writes it once the batch's outputs are durable.
    snapshots: dict[int, tuple[bytes, float]] = field(default_factory=dict)
    # partition -> (last offset processed, event time reached): watermark markers
    progress: dict[int, tuple[int, datetime | None]] = field(default_factory=dict)


class EnrichState:
    """Dedup index of one posts.raw partition + source tags seen, as of input ``offset``;
    ``reached``: the latest event time of its valid posts (the partition's watermark, sent to
    aggregation in markers). A class default so that older snapshots load without it."""

    reached: datetime | None = None
    # analysts' sentiment corrections (detectors.feedback.SentimentCorrections), made on the
    # first one: part of the partition's snapshot, so a restart resumes what it learned
    corrections: Any = None

    def __init__(self, max_items: int, horizon_s: float, offset: int = -1) -> None:
        from detectors.dedup import Deduplicator

        self.offset = offset
        self.dedup = Deduplicator(horizon_s=horizon_s, max_items=max_items, seed=0)
        self.seen = state.Seen()

    def fresh(
        self, records: list[Record], now: datetime
    ) -> tuple[list[tuple[int, Post]], list[DeadLetter]]:
        """Validate the records not yet applied to this state (offset after the snapshot, tag
        not seen): posts to enrich, and dead letters for the rest. A value may be a ``Post``
        validated already (offline drivers: ``OfflinePipeline.feed``): only the check that
        depends on ``now`` is left to do."""
        posts, dead = [], []
        latest = now + MAX_FUTURE  # check_post's one bound that depends on ``now``
        for offset, headers, value in records:
            if offset > self.offset and self.seen.fresh(headers):
                if value.__class__ is Post and value.created_at <= latest:
                    out: Post | DeadLetter = value
                else:
                    if value.__class__ is Post:  # out of bounds for this ``now``
                        value = value.to_json()
                    out = decode_post(value, stages.POSTS_RAW, now)
                if isinstance(out, Post):
                    posts.append((offset, out))
                    if self.reached is None or out.created_at > self.reached:
                        self.reached = out.created_at
                else:
                    dead.append(out)
            self.offset = max(self.offset, offset)
        return posts, dead


class _Unpickler(pickle.Unpickler):
    """Snapshots written before this module existed name ``streams.app._EnrichState``:
    importing streams.app here would build a whole Faust app."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("streams.app", "_EnrichState"):
            return EnrichState
        return super().find_class(module, name)


class EnrichPartitions:
    """Per-partition enrichment state and the batch step; one per worker (or child)."""

    def __init__(
        self, watchlist_path: Path, horizon_s: float, max_items: int, partitions: int
    ) -> None:
        from streams.processing import Enricher

        self.enricher = Enricher(watchlist_path, horizon_s)
        self.horizon_s = horizon_s
        # One index per partition, the worker's bound split: memory and snapshot size stay
        # ~max_items x 2 KB however many partitions this worker owns.
        self.per_partition = max(1000, max_items // max(1, partitions))
        self.states: dict[int, EnrichState] = {}
        # every sentiment correction seen (crisis.feedback), by id: a partition restored later
        # learns them too (idempotent: its snapshot knows the ids it learned already)
        self.corrections: dict[str, Any] = {}
        # In one process (offline commands) the next stage takes the ScoredPost objects: no
        # JSON round trip; posts rows only where something stores them (backfill, the worker).
        self.as_objects = False
        self.rows = True
        self.backfill = False

    def ready(self) -> bool:
        return True

    def keep_rows(self, rows: bool, backfill: bool = False) -> None:
        """Build ClickHouse posts rows (off where nothing stores them: backtest), flagged
        ``backfill`` where history writes them."""
        self.rows, self.backfill = rows, backfill

    def restore(self, part: int, payload: bytes | None) -> int:
        """Install a partition's state from its pickled snapshot (None: fresh); its offset."""
        if payload is None:
            st = EnrichState(self.per_partition, self.horizon_s)
        else:
            snap: state.Snapshot = _Unpickler(io.BytesIO(payload)).load()
            st = snap.state
        self.states[part] = st
        self._learn(st, list(self.corrections.values()))
        return st.offset

    def feedback(self, records: list[bytes]) -> dict[str, int]:
        """Sentiment corrections (``schemas.feedback.PostFeedback`` JSON, other feedback
        ignored) for every partition held now and restored later; counts of what each did
        (summed over partitions)."""
        from schemas.feedback import PostFeedback, parse_feedback

        fresh = []
        for raw in records:
            fb = parse_feedback(raw)
            if isinstance(fb, PostFeedback) and fb.feedback_id not in self.corrections:
                self.corrections[fb.feedback_id] = fb
                fresh.append(fb)
        out: dict[str, int] = {}
        for st in self.states.values():
            for k, v in self._learn(st, fresh).items():
                out[k] = out.get(k, 0) + v
        return out

    @staticmethod
    def _learn(st: EnrichState, records: list[Any]) -> dict[str, int]:
        from detectors.feedback import SentimentCorrections

        out: dict[str, int] = {}
        if not records:
            return out
        if st.corrections is None:
            st.corrections = SentimentCorrections()
        for fb in records:
            what = st.corrections.learn(fb.feedback_id, fb.text, fb.sentiment, fb.by, fb.at)
            out[what] = out.get(what, 0) + 1
        return out

    def drop(self, part: int) -> None:
        """The partition moved to another worker: forget it (its next owner restores it)."""
        self.states.pop(part, None)

    def snapshot(self, part: int) -> bytes:
        st = self.states[part]
        return pickle.dumps(state.Snapshot(st.offset, st), protocol=pickle.HIGHEST_PROTOCOL)

    def process(
        self, batch: list[tuple[int, list[Record]]], now: datetime, snapshot: frozenset[int]
    ) -> EnrichResult:
        """Enrich ``batch`` (partition, records in offset order); then pickle the state of the
        partitions in ``snapshot``. Outputs are tagged (partition, offset, k-th output)."""
        out = EnrichResult()
        for part, recs in batch:
            st = self.states[part]
            fresh, dead = st.fresh(recs, now)
            out.n_valid += len(fresh)
            out.dead += [(stages.POSTS_VALID, d.reason, d.to_json()) for d in dead]
            offsets = {id(p): off for off, p in fresh}
            scored = self._enrich_safely([p for _, p in fresh], now, st, out)
            k, prev = 0, None
            for sp in scored:
                k = k + 1 if sp.post is prev else 0
                prev = sp.post
                value = sp if self.as_objects else sp.to_json()
                out.items.append(
                    (sp.brand.encode(), value, state.tag(part, offsets[id(sp.post)], k))
                )
                if self.rows and sp.brand_reply:
                    out.reply_rows.append(reply_row(sp, backfill=self.backfill))
                elif self.rows:
                    out.rows.append(post_row(sp, backfill=self.backfill))
                out.latencies.append(max(0.0, (now - sp.post.created_at).total_seconds()))
            out.progress[part] = (st.offset, st.reached)
        for part in sorted(snapshot & self.states.keys()):
            t0 = time.perf_counter()
            out.snapshots[part] = (self.snapshot(part), time.perf_counter() - t0)
        return out

    def _enrich_safely(
        self, posts: list[Post], now: datetime, st: EnrichState, out: EnrichResult
    ) -> list[ScoredPost]:
        """A detector bug on one post must not kill the stage: retry the batch post by post
        and dead-letter (reason ``internal``) only the posts that fail."""
        enricher = self.enricher
        repeated = enricher.repeated
        try:
            scored = enricher.process(posts, now, st.dedup, st.corrections)
        except Exception:
            log.exception("enrich failed on a batch of %d; retrying one by one", len(posts))
            enricher.repeated = repeated  # the retries count them again
            scored = []
            for p in posts:
                try:
                    scored += enricher.process([p], now, st.dedup, st.corrections)
                except Exception as exc:
                    d = dead_letter(p.to_json(), "internal", repr(exc), stages.POSTS_SCORED, now)
                    out.dead.append((stages.POSTS_SCORED, d.reason, d.to_json()))
        out.n_repeated += enricher.repeated - repeated
        return scored


# ---------------------------------------------------------------- the child process
_CHILD: list[EnrichPartitions] = []
_CHILD_ERROR: list[Exception] = []  # loading failed: raised by every call, with its message


def _watch_parent(parent: int) -> None:
    """Exit when the worker is gone (SIGKILL included): nobody else would stop us."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _child_init(parent: int, args: tuple[Path, float, int, int], log_format: str = "text") -> None:
    if log_format == "json":  # as the worker's lines (radar_base/logs.py)
        logs.configure_json(logging.INFO, log.name)
        logs.STAGE.set("enrich")  # everything this process logs is the enrich stage's
    else:
        fmt = "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s"  # as the worker's lines
        logging.basicConfig(level=logging.INFO, format=fmt)
    log.info("enrich process %d started (worker %d)", os.getpid(), parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C/SIGTERM stop the worker, which stops us
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    try:
        _CHILD.append(EnrichPartitions(*args))
    except Exception as exc:  # an initializer that raises only says "terminated abruptly"
        _CHILD_ERROR.append(exc)
    tune_gc(freeze=True)  # the models, loaded once, never need scanning again


def _child_call(method: str, *args: Any) -> Any:
    if _CHILD_ERROR:
        raise _CHILD_ERROR[0]
    return getattr(_CHILD[0], method)(*args)


class EnrichRunner:
    """Runs ``EnrichPartitions`` methods inline or in one child process, in submission order
    (one child: its call queue is FIFO). ``generation`` counts the children: a partition
    restored into an older one is gone (``restart``)."""

    def __init__(
        self,
        watchlist_path: Path,
        horizon_s: float,
        max_items: int,
        partitions: int,
        subprocess: bool,
        log_format: str = "text",
    ) -> None:
        self.args = (watchlist_path, float(horizon_s), max_items, partitions)
        self.subprocess = subprocess
        self.log_format = log_format  # of the child's log lines (settings.log_format)
        self.generation = 1
        self._local: EnrichPartitions | None = None
        self._pool: ProcessPoolExecutor | None = None

    def _start(self) -> ProcessPoolExecutor:
        import multiprocessing

        # spawn, not fork: the worker has threads (aiokafka, the ClickHouse sink)
        return ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_child_init,
            initargs=(os.getpid(), self.args, self.log_format),
        )

    def start(self) -> None:
        """Load the detectors now (in the child, if any): fail fast with their own error."""
        if not self.subprocess:
            self._local = EnrichPartitions(*self.args)
            return
        self._pool = self._start()
        self._pool.submit(_child_call, "ready").result()

    def submit(self, method: str, *args: Any) -> asyncio.Future[Any]:
        """Schedule ``method(*args)``; inline, it runs now and the future is already done."""
        loop = asyncio.get_running_loop()
        if not self.subprocess:
            fut: asyncio.Future[Any] = loop.create_future()
            if self._local is None:
                self._local = EnrichPartitions(*self.args)
            try:
                fut.set_result(getattr(self._local, method)(*args))
            except Exception as exc:
                fut.set_exception(exc)
            return fut
        if self._pool is None:
            self._pool = self._start()
        try:
            cf: Future[Any] = self._pool.submit(_child_call, method, *args)
        except BrokenProcessPool as exc:  # died before the worker noticed: fail like the rest
            fut = loop.create_future()
            fut.set_exception(exc)
            return fut
        return asyncio.wrap_future(cf, loop=loop)

    def submit_now(self, method: str, *args: Any) -> Future[Any]:
        """``method(*args)`` in the child, for drivers without an event loop (the offline
        commands pipeline their batches through it as the worker does)."""
        if self._pool is None:
            self.start()
        assert self._pool is not None
        return self._pool.submit(_child_call, method, *args)

    async def call(self, method: str, *args: Any) -> Any:
        return await self.submit(method, *args)

    def restart(self) -> None:
        """The child died (``BrokenProcessPool``): start a new, empty one, of the next
        ``generation``."""
        if self._pool is not None:  # its pending calls have all failed with BrokenProcessPool
            self._pool.shutdown(wait=False)
        self.generation += 1
        self._pool = self._start()
        self._pool.submit(_child_call, "ready")  # spawn it now, not with the next batch

    def broken(self) -> bool:
        """The child died (the pool's management thread has seen it: within ~a second).

        A child killed while writing a result leaves that thread blocked reading the rest of
        it (the pipe's write end is also held here, so no EOF comes), the pool never marked
        broken and its futures pending forever (seen once in CI: tests/test_faults_sigkill.py
        [child]). So a dead child with the pool not broken closes our copy of the write end:
        the read fails, and the thread marks the pool broken and fails its futures as usual."""
        pool = self._pool
        if pool is None:
            return False
        if getattr(pool, "_broken", False):
            return True
        procs = list((getattr(pool, "_processes", None) or {}).values())
        if any(p.exitcode is not None for p in procs):
            writer = getattr(getattr(pool, "_result_queue", None), "_writer", None)
            if writer is not None and not writer.closed:
                log.warning("the enrich process is gone but its pool is not broken: waking it")
                writer.close()
        return False

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
