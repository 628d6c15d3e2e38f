"""Prometheus metrics of a worker (names and labels: docs/architecture.md).

Per-brand gauges carry ``brand, group, team`` from the watchlist. They are tracked per Kafka
partition of ``brand.minutes`` so that when a partition is revoked its brand series are removed
(another worker now owns them; a stale gauge would page forever).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from schemas.models import BrandMinute

P = "crisis_radar_"

POSTS_IN = Counter(P + "posts_in", "Records consumed by a stage", ["stage"])
POSTS_OUT = Counter(P + "posts_out", "Records produced by a stage", ["stage"])
DLQ = Counter(P + "dlq", "Records dead-lettered", ["stage", "reason"])
REPEATED_POSTS = Counter(
    P + "repeated_posts", "Posts read again (same platform and id), counted once", ["stage"]
)
LATE_POSTS = Counter(P + "late_posts", "Posts that arrived after their minute closed", ["stage"])
LATENCY = Histogram(
    P + "processing_latency_seconds",
    "Event time (post created_at) to processed by the stage",
    ["stage"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600, float("inf")),
)
ENRICH_RESTARTS = Counter(
    P + "enrich_process_restarts", "Enrich child processes that died and were replaced"
)
CONSUMER_LAG = Gauge(P + "consumer_lag", "Messages behind the log end", ["topic", "partition"])
CLICKHOUSE_INSERT_ROWS = Counter(P + "clickhouse_insert_rows", "Rows inserted", ["table"])
CLICKHOUSE_INSERT_ERRORS = Counter(P + "clickhouse_insert_errors", "Failed inserts", ["table"])
CLICKHOUSE_INSERT_SECONDS = Histogram(
    P + "clickhouse_insert_seconds", "Duration of one batched insert", ["table"]
)
_BRAND_LABELS = ["brand", "group", "team"]
BRAND_VOLUME = Gauge(P + "brand_volume", "Posts in the last closed minute", _BRAND_LABELS)
BRAND_NEGATIVE_SHARE = Gauge(
    P + "brand_negative_share", "Negative share in the last closed minute", _BRAND_LABELS
)
BRAND_CRISIS_SCORE = Gauge(P + "brand_crisis_score", "Crisis score 0..1", _BRAND_LABELS)
BRAND_SEVERITY = Gauge(P + "brand_severity", "0 none, 1 watch, 2 warning, 3 crisis", _BRAND_LABELS)
BRAND_POSTS = Counter(P + "brand_posts", "Scored posts per brand", ["brand"])
# What analysts' labels set (detectors.feedback.BrandFeedback.bounds), set when a label changes
# it: the positive-mix floor is learned from the scorer's own minutes and stored nowhere else.
BRAND_FEEDBACK = Gauge(
    P + "brand_feedback_bound",
    "Paging bounds set by feedback: raise, tolerated_share, mood_floor, volume_floor, mix_floor",
    [*_BRAND_LABELS, "bound"],
)
# Response (docs/response.md): figures of the last closed minute (schemas.BrandMinute)
BRAND_OWN_POSTS = Counter(
    P + "brand_own_posts", "Posts of the brand's official accounts", ["brand"]
)
BRAND_COMPLAINTS = Gauge(
    P + "brand_complaints", "Complaints addressed to the brand in the last closed minute",
    _BRAND_LABELS,
)  # fmt: skip
BRAND_REPLIES = Gauge(
    P + "brand_reply_posts", "Brand replies (official accounts) in the last closed minute",
    _BRAND_LABELS,
)  # fmt: skip
BRAND_ANSWERED_15M = Gauge(
    P + "brand_answered_15m_share",
    "Share answered within 15 min of the complaints whose deadline fell in the last minute "
    "that had any (kept until the next such minute)", _BRAND_LABELS,
)  # fmt: skip
BRAND_ANSWERED_1H = Gauge(
    P + "brand_answered_1h_share", "As brand_answered_15m_share, within 1 h", _BRAND_LABELS
)
BRAND_RESPONSE_MEDIAN = Gauge(
    P + "brand_first_response_median_seconds",
    "Median first-response time of the first responses of the last hour (0: none)",
    _BRAND_LABELS,
)  # fmt: skip
BRAND_UNANSWERED = Gauge(
    P + "brand_unanswered_complaints", "Complaints of the last hour not answered yet",
    _BRAND_LABELS,
)  # fmt: skip
BRAND_SILENT = Gauge(
    P + "brand_silent_minutes",
    "Minutes (event time) since the brand's last reply; 0 until it has replied once",
    _BRAND_LABELS,
)  # fmt: skip

_BRAND_GAUGES = (
    BRAND_VOLUME, BRAND_NEGATIVE_SHARE, BRAND_CRISIS_SCORE, BRAND_SEVERITY, BRAND_COMPLAINTS,
    BRAND_REPLIES, BRAND_ANSWERED_15M, BRAND_ANSWERED_1H, BRAND_RESPONSE_MEDIAN,
    BRAND_UNANSWERED, BRAND_SILENT,
)  # fmt: skip


class BrandSeries:
    """Remembers which brand label sets each partition set, to remove them on revocation."""

    def __init__(self, labels_of: dict[str, tuple[str, str]]) -> None:
        self._labels_of = labels_of  # brand -> (group, team)
        self._by_partition: dict[int, set[str]] = defaultdict(set)
        self._bounds: dict[str, set[str]] = {}  # brand -> BRAND_FEEDBACK bounds set

    def labels(self, brand: str) -> tuple[str, str, str]:
        group, team = self._labels_of.get(brand, ("", ""))
        return brand, group, team

    def set(
        self, partition: int, brand: str, *, volume: float, negative_share: float,
        score: float, severity: int,
    ) -> None:  # fmt: skip
        lbl = self.labels(brand)
        self._by_partition[partition].add(brand)
        BRAND_VOLUME.labels(*lbl).set(volume)
        BRAND_NEGATIVE_SHARE.labels(*lbl).set(negative_share)
        BRAND_CRISIS_SCORE.labels(*lbl).set(score)
        BRAND_SEVERITY.labels(*lbl).set(severity)

    def set_response(self, partition: int, m: BrandMinute) -> None:
        """The response figures of a closed minute. An answered share is only set by a minute
        with complaints due (none due says nothing about how the brand answers)."""
        lbl = self.labels(m.brand)
        self._by_partition[partition].add(m.brand)
        BRAND_COMPLAINTS.labels(*lbl).set(m.complaints)
        BRAND_REPLIES.labels(*lbl).set(m.brand_replies)
        if m.due_15m:
            BRAND_ANSWERED_15M.labels(*lbl).set(m.answered_15m / m.due_15m)
        if m.due_1h:
            BRAND_ANSWERED_1H.labels(*lbl).set(m.answered_1h / m.due_1h)
        BRAND_RESPONSE_MEDIAN.labels(*lbl).set(m.response_median_s)
        BRAND_UNANSWERED.labels(*lbl).set(m.unanswered_1h)
        BRAND_SILENT.labels(*lbl).set(m.silent_min)

    def set_feedback(self, partition: int, brand: str, bounds: dict[str, float]) -> None:
        """The bounds analysts' feedback set for a brand held on ``partition``."""
        lbl = self.labels(brand)
        self._by_partition[partition].add(brand)
        for bound, value in bounds.items():
            BRAND_FEEDBACK.labels(*lbl, bound).set(value)
        self._bounds.setdefault(brand, set()).update(bounds)

    def revoke(self, partition: int) -> list[str]:
        """Remove the series of every brand seen on ``partition``; returns those brands."""
        brands = sorted(self._by_partition.pop(partition, set()))
        for brand in brands:
            lbl = self.labels(brand)
            for gauge in _BRAND_GAUGES:
                with contextlib.suppress(KeyError):  # never set on this worker
                    gauge.remove(*lbl)
            for bound in self._bounds.pop(brand, ()):
                with contextlib.suppress(KeyError):
                    BRAND_FEEDBACK.remove(*lbl, bound)
        return brands


def revoke_partition_lag(topic: str, partition: int) -> None:
    """A partition moved to another worker: its lag series goes with it (the new owner
    exports it), so summing lag over workers never counts a partition twice."""
    with contextlib.suppress(KeyError):
        CONSUMER_LAG.remove(topic, str(partition))


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_cpu(pid: int, reaped: bool) -> float:
    """utime + stime of ``pid`` (+ its reaped children's with ``reaped``), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of proc(5))
    if reaped:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime: children waited for
    return ticks / _TICK


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            kids += [int(k) for k in (task / "children").read_text().split()]
    return kids


def tree_cpu_seconds(pid: int | None = None) -> float:
    """CPU seconds of a process and every live descendant, plus its reaped children's: a
    worker's whole CPU (the enrich child's included, which process_cpu_seconds_total misses)."""
    root = pid or os.getpid()
    total, todo = _stat_cpu(root, reaped=True), _children(root)
    while todo:
        kid = todo.pop()
        with contextlib.suppress(OSError, IndexError, ValueError):  # exited meanwhile
            total += _stat_cpu(kid, reaped=False)
            todo += _children(kid)
    return total


class WorkerCPU(Collector):
    """``crisis_radar_worker_cpu_seconds_total``: the CPU half of the scaling signal (with
    ``crisis_radar_consumer_lag``), read from /proc at each scrape."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        try:
            value = tree_cpu_seconds()
        except OSError:  # no /proc (not Linux): no sample rather than a wrong one
            return
        yield CounterMetricFamily(
            P + "worker_cpu_seconds",
            "CPU seconds of the worker process and its child processes (enrich)",
            value=value,
        )


# Probes (deploy/kubernetes/worker.yaml): the worker's 1 s timer beats here, so a wedged event
# loop fails liveness even though this HTTP thread still answers /metrics.
LIVE_AFTER_STALL_S = 60.0
READY_WITHIN_S = 10.0
_beats: list[float] = []  # monotonic time of the last beat (empty: none yet)


def heartbeat() -> None:
    _beats[:] = [time.monotonic()]


def probe(path: str, now: float | None = None) -> tuple[bool, str]:
    """``/readyz``: the worker's loop beat within 10 s (it runs, with its agents and timers).
    ``/healthz``: no beat stalled for 60 s (before the first beat: starting, alive).

    >>> _beats.clear(); probe("/readyz")[0], probe("/healthz")[0]
    (False, True)
    >>> heartbeat(); probe("/readyz")[0], probe("/healthz", time.monotonic() + 61)[0]
    (True, False)
    """
    now = time.monotonic() if now is None else now
    age = now - _beats[0] if _beats else None
    if path == "/readyz":
        ok = age is not None and age <= READY_WITHIN_S
    else:
        ok = age is None or age <= LIVE_AFTER_STALL_S
    return ok, "starting" if age is None else f"last beat {age:.1f}s ago"


def serve(port: int, addr: str = "127.0.0.1") -> None:
    """Serve /metrics (prometheus_client's default process metrics, ``process_cpu_seconds_total``
    among them, and ``WorkerCPU``) and the probes /healthz and /readyz on ``addr:port`` from a
    daemon thread."""
    with contextlib.suppress(ValueError):  # already registered (a second serve in one process)
        REGISTRY.register(WorkerCPU())
    exposition = make_wsgi_app(REGISTRY)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path in ("/healthz", "/readyz"):
            ok, text = probe(path)
            start_response(
                "200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")]
            )
            return [f"{text}\n".encode()]
        return exposition(environ, start_response)

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True
        address_family = socket.getaddrinfo(addr, port, type=socket.SOCK_STREAM)[0][0]

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """No line per scrape."""

    httpd = make_server(addr, port, app, Server, handler_class=Quiet)
    threading.Thread(target=httpd.serve_forever, name="metrics-http", daemon=True).start()
