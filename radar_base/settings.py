"""One settings object for every process, read from environment variables.

Every variable is prefixed ``CRISIS_RADAR_`` (``CRISIS_RADAR_KAFKA_BOOTSTRAP=...``).
Defaults point at the local stack started by ``crisis-radar stack up`` (127.0.0.1 only).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRISIS_RADAR_", extra="ignore")

    # Where the local stack keeps binaries caches, data, logs and PID files.
    stack_dir: Path = PROJECT_ROOT / ".stack"

    # Kafka
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_controller_port: int = 9097
    # Brokers `crisis-radar stack up` runs (KRaft, each a broker+controller voter). With N > 1,
    # node i (0-based) serves the i-th address of kafka_bootstrap (or its first port + 100 i)
    # and its controller on kafka_controller_port + 100 i (crisis_radar/stack/services.py).
    kafka_brokers: int = Field(default=1, ge=1)
    kafka_security_protocol: str = "PLAINTEXT"  # PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL
    kafka_sasl_mechanism: str | None = None  # SCRAM-SHA-256 | SCRAM-SHA-512 | PLAIN
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ssl_cafile: Path | None = None
    # Secrets may come from files (Docker/K8s secrets): *_FILE wins over the plain value.
    kafka_sasl_password_file: Path | None = None
    kafka_ssl_certfile: Path | None = None  # client certificate (mutual TLS)
    kafka_ssl_keyfile: Path | None = None
    # Prefix for every topic name: tests use it to isolate their data.
    topic_prefix: str = ""
    topic_partitions: int = 4
    # Copies of every topic the pipeline creates (its own, Faust's changelogs, the snapshot
    # topic) and the copies a write needs before acks=all succeeds: 3 and 2 on a cluster
    # (docs/scaling.md); 1 and 1 on the single local broker.
    topic_replication_factor: int = Field(default=1, ge=1)
    topic_min_insync_replicas: int = Field(default=1, ge=1)

    # ClickHouse (native protocol for the driver, HTTP for health checks)
    clickhouse_host: str = "127.0.0.1"
    clickhouse_port: int = 9000
    clickhouse_http_port: int = 8123
    clickhouse_user: str = "default"
    clickhouse_password: str = ""
    clickhouse_database: str = "crisis_radar"
    clickhouse_secure: bool = False
    clickhouse_password_file: Path | None = None
    clickhouse_ca_certs: Path | None = None  # CA bundle for secure=True
    clickhouse_verify: bool = True
    # Cluster (docs/scaling.md "ClickHouse cluster"): the remote_servers name migrations create
    # their tables ON; empty = one server, tables exactly as the migration files say. On a
    # cluster each table is Replicated*MergeTree ``<name>_local`` plus a Distributed ``<name>``.
    clickhouse_cluster: str = ""
    # What `crisis-radar stack up` runs (flags --clickhouse-shards/--clickhouse-replicas): 1 x 1
    # is the single server; more starts ZooKeeper and one server per replica, server k on
    # clickhouse_port + k, clickhouse_http_port + k and clickhouse_interserver_port + k.
    clickhouse_shards: int = Field(default=1, ge=1)
    clickhouse_replicas: int = Field(default=1, ge=1)
    clickhouse_interserver_port: int = 9009
    zookeeper_port: int = 2181

    # Prometheus / Alertmanager
    prometheus_port: int = 9090
    alertmanager_port: int = 9093
    # Where clients (crisis-radar doctor, the tests) reach them; empty: the local stack's port.
    prometheus_url: str = ""
    alertmanager_url: str = ""

    # Faust worker
    worker_id: str = "crisis-radar"
    worker_web_host: str = "127.0.0.1"
    worker_web_port: int = 6066
    metrics_port: int = 8000
    # Loopback by default; containers set 0.0.0.0 so Prometheus in another container can scrape.
    metrics_host: str = "127.0.0.1"
    # Worker log lines: "text" (Faust's format) or "json" (one object a line with ts, level,
    # logger, message and, where known, stage and partition: for log shippers; radar_base/logs.py).
    log_format: Literal["text", "json"] = "text"

    # Pipeline behaviour
    watchlist_path: Path = PROJECT_ROOT / "deploy" / "watchlist.yaml"
    allowed_lateness_s: int = Field(default=120, ge=0)
    dedup_horizon_s: int = Field(default=6 * 3600, ge=60)
    # Dedup index bound (posts) of one worker, split over the posts.raw partitions (one index
    # each, ~2 KB per post): without the split, every partition took the whole bound.
    dedup_max_items: int = Field(default=100_000, ge=1000)
    # Dedup index snapshot period (streams/state.py); a restart re-applies at most this much input.
    state_snapshot_interval_s: float = Field(default=10.0, gt=0)
    # Faust patches direct_delivery + raw_topic_handler (streams/faust_runtime, docs/faust-runtime):
    # task-free per-message delivery, raw events without Faust's decode, a fetcher that never
    # blocks on one full buffer: ~30% less worker CPU per post, no starved aggregation on a
    # backlog. =0 restores Faust's loop.
    faust_fastpath: bool = True
    # Faust patches offset_order_guard + stall_watchdog + fetch_giveback: agent partitions handed
    # over in order from each seek, stalled commits sought back, records a fetch drained during
    # a rebalance given back; the two-worker takeover (docs/reliability.md). =0: Faust's own.
    faust_seek_fix: bool = True
    # Enrichment (validate, dedup, brand match, sentiment: ~half the worker's CPU per post) in a
    # child process of the worker, on another core (streams/enrichment.py). None = auto: a
    # child when the machine has two or more CPUs.
    enrich_subprocess: bool | None = None

    def enrich_in_subprocess(self) -> bool:
        if self.enrich_subprocess is not None:
            return self.enrich_subprocess
        return (os.cpu_count() or 1) >= 2

    def prometheus_base_url(self) -> str:
        return (self.prometheus_url or f"http://127.0.0.1:{self.prometheus_port}").rstrip("/")

    def alertmanager_base_url(self) -> str:
        return (self.alertmanager_url or f"http://127.0.0.1:{self.alertmanager_port}").rstrip("/")

    def topic_configs(self) -> dict[str, str]:
        """Broker-side topic configs every pipeline topic gets (on top of its own)."""
        return {"min.insync.replicas": str(self.topic_min_insync_replicas)}

    def topic(self, stage: str) -> str:
        """Full topic name for a stage (stage names are topic names)."""
        return f"{self.topic_prefix}{stage}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
