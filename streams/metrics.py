"""Prometheus metrics of a worker (names and labels: docs/architecture.md).

Per-brand gauges carry ``brand, group, team`` from the watchlist. They are tracked per Kafka
partition of ``brand.minutes`` so that when a partition is revoked its brand series are removed
(another worker now owns them; a stale gauge would page forever).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict

from prometheus_client import Counter, Gauge, Histogram, start_http_server

P = "crisis_radar_"

POSTS_IN = Counter(P + "posts_in", "Records consumed by a stage", ["stage"])
POSTS_OUT = Counter(P + "posts_out", "Records produced by a stage", ["stage"])
DLQ = Counter(P + "dlq", "Records dead-lettered", ["stage", "reason"])
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

_BRAND_GAUGES = (BRAND_VOLUME, BRAND_NEGATIVE_SHARE, BRAND_CRISIS_SCORE, BRAND_SEVERITY)


class BrandSeries:
    """Remembers which brand label sets each partition set, to remove them on revocation."""

    def __init__(self, labels_of: dict[str, tuple[str, str]]) -> None:
        self._labels_of = labels_of  # brand -> (group, team)
        self._by_partition: dict[int, set[str]] = defaultdict(set)

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

    def revoke(self, partition: int) -> list[str]:
        """Remove the series of every brand seen on ``partition``; returns those brands."""
        brands = sorted(self._by_partition.pop(partition, set()))
        for brand in brands:
            lbl = self.labels(brand)
            for gauge in _BRAND_GAUGES:
                with contextlib.suppress(KeyError):  # never set on this worker
                    gauge.remove(*lbl)
        return brands


def serve(port: int, addr: str = "127.0.0.1") -> None:
    """Serve /metrics on ``addr:port`` from a daemon thread."""
    start_http_server(port, addr=addr)
