"""ClickHouse sinks: a batching, retrying, back-pressured writer, and the rows it writes.

Rows are tuples in the column order of each ``*_COLUMNS`` list and are inserted columnar
(clickhouse-driver ``columnar=True``, ~880k rows/s). Both the lists and the row builders are
derived from one declaration per table in ``streams.rows`` (re-exported here). Tables are
ReplacingMergeTree keyed by the record's identity, so a batch retried after a timeout
(at-least-once) never shows twice to queries that use FINAL or argMax.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from radar_base.clickhouse import check_identifier
from streams import metrics
from streams.rows import (
    ALERTS,
    BRAND_MINUTES,
    BRAND_REPLIES,
    DEAD_LETTERS,
    POSTS,
    TABLES,
    Row,
    columns_of,
    insert_sql,
    write_rows,
)

__all__ = [
    "ALERTS_COLUMNS",
    "BRAND_MINUTES_COLUMNS",
    "BRAND_REPLIES_COLUMNS",
    "DEAD_LETTERS_COLUMNS",
    "POSTS_COLUMNS",
    "TABLES",
    "ClickHouseSink",
    "Row",
    "alert_row",
    "dead_letter_row",
    "minute_row",
    "post_row",
    "reply_row",
    "write_rows",
]

log = logging.getLogger("crisis_radar.sink")

POSTS_COLUMNS = POSTS.names
BRAND_MINUTES_COLUMNS = BRAND_MINUTES.names
BRAND_REPLIES_COLUMNS = BRAND_REPLIES.names
ALERTS_COLUMNS = ALERTS.names
DEAD_LETTERS_COLUMNS = DEAD_LETTERS.names

# post_row(sp), minute_row(m), alert_row(a): live rows (backfill 0); pass backfill=True for
# rows written by `crisis-radar backfill`.
post_row = POSTS.row
minute_row = BRAND_MINUTES.row
reply_row = BRAND_REPLIES.row
alert_row = ALERTS.row
dead_letter_row = DEAD_LETTERS.row  # no backfill column: backfill=True raises


class ClickHouseSink:
    """Batched inserts into one table with retry and back-pressure.

    ``await put(rows)`` queues rows; it waits while ``max_pending_rows`` are queued, so a slow
    or down ClickHouse slows the agent instead of growing memory. A background task inserts
    up to ``batch_rows`` at a time, at least every ``flush_interval_s``, retrying failures with
    exponential backoff (capped at ``backoff_max_s``) until it succeeds: rows are never dropped.
    """

    def __init__(
        self,
        table: str,
        columns: Sequence[str],
        client_factory: Callable[[], Any],
        *,
        batch_rows: int = 10_000,
        max_pending_rows: int = 100_000,
        flush_interval_s: float = 0.5,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 10.0,
    ) -> None:
        self.table = check_identifier(table)
        self.columns = tuple(check_identifier(c) for c in columns)
        self._factory = client_factory
        self._client: Any = None
        self.batch_rows = batch_rows
        self.max_pending_rows = max_pending_rows
        self.flush_interval_s = flush_interval_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._pending: list[Row] = []
        self._has_room = asyncio.Event()
        self._has_room.set()
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.rows_written = 0
        self.attempts_failed = 0
        self._sql = insert_sql(self.table, self.columns)

    # --- synchronous core (also used directly by tests and tools) ---
    def insert(self, rows: Sequence[Row]) -> int:
        """Insert one batch now, retrying with backoff until it succeeds. Returns rows written."""
        if not rows:
            return 0
        delay = self.backoff_initial_s
        columns = columns_of(rows)
        tries = 0
        while True:
            start = time.perf_counter()
            try:
                if self._client is None:
                    self._client = self._factory()
                self._client.execute(self._sql, columns, columnar=True)
            except Exception as exc:  # network, server down, timeouts: all retried
                self.attempts_failed += 1
                tries += 1
                metrics.CLICKHOUSE_INSERT_ERRORS.labels(self.table).inc()
                log.warning("insert into %s failed (%s); retry in %.1fs", self.table, exc, delay)
                self._drop_client()
                if self._closing and tries >= 5:
                    raise  # shutting down: do not hang; the caller logs the lost batch
                time.sleep(delay)
                delay = min(delay * 2, self.backoff_max_s)
                continue
            metrics.CLICKHOUSE_INSERT_SECONDS.labels(self.table).observe(
                time.perf_counter() - start
            )
            metrics.CLICKHOUSE_INSERT_ROWS.labels(self.table).inc(len(rows))
            self.rows_written += len(rows)
            return len(rows)

    def _drop_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):  # already broken; nothing to clean up
                self._client.disconnect()
        self._client = None

    # --- asyncio side ---
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"sink:{self.table}"
            )

    async def write(self, rows: Sequence[Row]) -> None:
        """Insert ``rows`` now (off the event loop, retried with backoff) and return once they
        are durable. Agents call it once per ``stream.take`` batch before moving on, so Faust
        commits an offset only after its rows are stored; the wait is the back-pressure."""
        if not rows:
            return
        async with self._write_lock:  # one driver connection: never two inserts at once
            await asyncio.get_running_loop().run_in_executor(None, self.insert, rows)

    async def put(self, rows: Sequence[Row]) -> None:
        """Queue rows; waits (back-pressure) while the queue is full."""
        if self._task is None:
            self.start()
        while len(self._pending) >= self.max_pending_rows:
            self._has_room.clear()
            self._wake.set()
            await self._has_room.wait()
        self._pending.extend(rows)
        if len(self._pending) >= self.batch_rows:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.flush_interval_s)
            self._wake.clear()
            while self._pending:
                batch = self._pending[: self.batch_rows]
                # blocking driver: run it off the event loop so Kafka polling keeps going.
                # Rows leave the queue only once written (a crash mid-insert loses nothing).
                await loop.run_in_executor(None, self.insert, batch)
                del self._pending[: len(batch)]
                if len(self._pending) < self.max_pending_rows:
                    self._has_room.set()
            self._has_room.set()
            if self._closing:
                return

    async def flush(self) -> None:
        """Write everything queued so far."""
        while self._pending:
            batch = self._pending[: self.batch_rows]
            await asyncio.get_running_loop().run_in_executor(None, self.insert, batch)
            del self._pending[: len(batch)]
        self._has_room.set()

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._wake.set()
            task, self._task = self._task, None
            await task  # drains the queue, then returns because _closing is set
        else:
            await self.flush()
        self._drop_client()
