"""Kafka/ClickHouse connection options, from ``radar_base.security`` (below both ``streams`` and
``crisis_radar``): kept here so existing imports go on working (same objects)."""

from radar_base.security import (
    MECHANISMS,
    PROTOCOLS,
    SecurityConfigError,
    aiokafka_kwargs,
    clickhouse_kwargs,
    faust_kwargs,
    kafka_python_kwargs,
    kafka_ssl_context,
    secret,
)

__all__ = [
    "MECHANISMS",
    "PROTOCOLS",
    "SecurityConfigError",
    "aiokafka_kwargs",
    "clickhouse_kwargs",
    "faust_kwargs",
    "kafka_python_kwargs",
    "kafka_ssl_context",
    "secret",
]
