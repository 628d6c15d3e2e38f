"""The ClickHouse client factory (from Settings) and the identifier check.

Values always travel as query parameters; only identifiers (database, table names from our own
code) are put into SQL text, and they are checked against a strict pattern first. The
migration runner is the application's (``crisis_radar.clickhouse``).
"""

from __future__ import annotations

import re
from typing import Any

from clickhouse_driver import Client

from radar_base.security import clickhouse_kwargs
from radar_base.settings import Settings

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def check_identifier(name: str) -> str:
    """Return ``name`` if it is a plain identifier, else raise ValueError (no SQL injection).

    >>> check_identifier("posts")
    'posts'
    """
    if not _IDENT.match(name):
        raise ValueError(f"not a valid ClickHouse identifier: {name!r}")
    return name


def make_client(settings: Settings, database: str | None = None, **kwargs: Any) -> Client:
    """A clickhouse-driver client for ``database`` (default: Settings.clickhouse_database).

    On a cluster, inserts into a Distributed table are synchronous (``insert_distributed_sync``):
    the server answers only once every row is on a replica of its shard, so a sink that commits
    its Kafka offset after the insert never acknowledges rows still queued on the entry server.
    """
    if settings.clickhouse_cluster:
        kwargs["settings"] = {"insert_distributed_sync": 1, **kwargs.get("settings", {})}
    return Client(
        host=settings.clickhouse_host,
        port=settings.clickhouse_port,
        database=check_identifier(database or settings.clickhouse_database),
        **clickhouse_kwargs(settings),  # user, password (or *_FILE), TLS
        connect_timeout=kwargs.pop("connect_timeout", 5),
        send_receive_timeout=kwargs.pop("send_receive_timeout", 60),
        **kwargs,
    )
