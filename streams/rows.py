"""ClickHouse rows of each sink table, declared once per table from the pydantic record.

A ``TableRows`` lists ``Column(name, path, conv)``: the ClickHouse column, the dotted attribute
path in the record (checked against the model when the module loads) and an optional converter.
The column names and the row builder both come from that one list, so they cannot drift apart;
``tests/test_rows.py`` checks the list against the migrated tables on the real ClickHouse and
that every model field is either stored or named in ``unstored``.

The row builder is generated Python source compiled once (``post_row`` runs per post on the
worker's hot path): it reads the same attributes a hand-written tuple would, with the simple
converters inlined. Tables with ``backfill=True`` end with the ``backfill`` UInt8 column
(migration 0014): ``row(record, backfill=True)`` flags rows written by ``crisis-radar
backfill``; the live worker calls ``row(record)`` and writes 0.

``write_rows(client, table, rows)`` is the synchronous columnar insert, without the asyncio
``ClickHouseSink`` around it (no queue, no retry): for offline commands.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Generic, Protocol, TypeVar

import xxhash
from pydantic import BaseModel

from radar_base.clickhouse import check_identifier
from schemas.models import BrandMinute, CrisisAlert, DeadLetter, ScoredPost

Row = tuple[Any, ...]
M = TypeVar("M", bound=BaseModel)
M_contra = TypeVar("M_contra", bound=BaseModel, contravariant=True)

BACKFILL_COLUMN = "backfill"


class RowBuilder(Protocol[M_contra]):
    def __call__(self, record: M_contra, /, backfill: bool = False) -> Row: ...


# --- converters (the DDL has no Nullable, bools are UInt8, JSON is text) ---
def _dt(value: datetime) -> datetime:
    # DateTime('UTC') has second resolution; the driver wants naive UTC or aware values.
    return value.astimezone(UTC).replace(microsecond=0)


def _ts(value: datetime) -> int:
    # Whole UTC seconds as an int: the driver skips its per-value pytz conversion (hot path).
    return int(value.timestamp())


def _or_empty(value: str | None) -> str:
    return value or ""


def _flag(value: bool) -> int:
    return 1 if value else 0


def _json(items: Sequence[BaseModel]) -> str:
    return json.dumps([i.model_dump(mode="json") for i in items], ensure_ascii=False)


def _letter_id(d: DeadLetter) -> str:
    # identity of a dead letter: a redelivery hashes the same and replaces itself
    return xxhash.xxh3_64_hexdigest(
        f"{d.source}\0{d.received_at.isoformat()}\0{d.original}".encode()
    )


# Converters the generated builder writes inline (a call costs more than the expression).
_INLINE: dict[Callable[..., Any], str] = {_or_empty: "({} or '')", _flag: "(1 if {} else 0)"}


@dataclass(frozen=True)
class Column:
    """One ClickHouse column: ``conv(record.<path>)``; ``path=None`` passes the whole record."""

    name: str
    path: str | None
    conv: Callable[[Any], Any] | None = None


def _field_type(model: type[Any], attr: str, path: str) -> type[Any] | None:
    """The class of ``model.attr`` (None when it is a property or not a single class)."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        if attr in model.model_fields:
            ann: Any = model.model_fields[attr].annotation
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union:
                ann = args[0] if len(args) == 1 else None
            return ann if isinstance(ann, type) and typing.get_origin(ann) is None else None
        if isinstance(getattr(model, attr, None), property):
            return None
    elif hasattr(model, attr):
        return None
    raise AttributeError(f"{path}: {model.__name__} has no field {attr!r}")


def _leaf_fields(model: type[BaseModel], prefix: str = "") -> set[str]:
    out: set[str] = set()
    for name in model.model_fields:
        sub = _field_type(model, name, prefix + name)
        if sub is not None and issubclass(sub, BaseModel):
            out |= _leaf_fields(sub, f"{prefix}{name}.")
        else:
            out.add(prefix + name)
    return out


@dataclass(frozen=True)
class TableRows(Generic[M]):
    """The rows of one table: ``names`` (insert column order) and ``row`` from ``columns``."""

    table: str
    model: type[M]
    columns: tuple[Column, ...]
    backfill: bool  # ends with the backfill flag column (migration 0014)
    unstored: frozenset[str] = frozenset()  # model fields deliberately not written
    names: tuple[str, ...] = field(init=False)
    row: RowBuilder[M] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_identifier(self.table)
        for col in self.columns:
            check_identifier(col.name)
            if col.path is not None:  # a renamed or mistyped field fails at import time
                cls: type[Any] = self.model
                *parents, last = col.path.split(".")
                for attr in parents:
                    sub = _field_type(cls, attr, col.path)
                    if sub is None:
                        raise AttributeError(f"{col.path}: cannot check past {attr!r}")
                    cls = sub
                _field_type(cls, last, col.path)
        names = tuple(c.name for c in self.columns)
        names += (BACKFILL_COLUMN,) if self.backfill else ()
        if len(set(names)) != len(names):
            raise ValueError(f"{self.table}: duplicate column names")
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "row", self._compile())

    def _compile(self) -> RowBuilder[M]:
        """``def row(r, backfill=False): return (...)`` with shared parents read once."""
        env: dict[str, Any] = {}  # converters bound as c<i>; paths are checked model fields
        local: dict[str, str] = {"": "r"}  # attribute path -> local variable
        body: list[str] = []
        items: list[str] = []
        for i, col in enumerate(self.columns):
            if col.path is None:
                value = "r"
            else:
                parent, _, attr = col.path.rpartition(".")
                parts = parent.split(".") if parent else []
                for k in range(1, len(parts) + 1):
                    sub = ".".join(parts[:k])
                    if sub not in local:
                        local[sub] = f"v{len(local)}"
                        body.append(
                            f"    {local[sub]} = {local['.'.join(parts[: k - 1])]}.{parts[k - 1]}"
                        )
                value = f"{local[parent]}.{attr}"
            if col.conv is None:
                items.append(value)
            elif col.conv in _INLINE:
                items.append(_INLINE[col.conv].format(value))
            else:
                env[f"c{i}"] = col.conv
                items.append(f"c{i}({value})")
        if self.backfill:
            items.append("(1 if backfill else 0)")
        else:
            body.insert(
                0, f"    if backfill: raise ValueError('{self.table} has no backfill column')"
            )
        src = "def row(r, backfill=False):\n" + "\n".join(body)
        src += "\n    return (" + ", ".join(items) + ",)\n"
        exec(compile(src, f"<rows:{self.table}>", "exec"), env)
        fn = env["row"]
        fn.__name__ = fn.__qualname__ = f"{self.table}_row"
        fn.__doc__ = (
            f"One {self.table} row of a {self.model.__name__} in the order of names.\n\n{src}"
        )
        return typing.cast(RowBuilder[M], fn)

    def slow_row(self, record: M, backfill: bool = False) -> Row:
        """The same row by plain getattr and calls: the reference the generated one is tested
        against."""
        out: list[Any] = []
        for col in self.columns:
            value: Any = record
            for attr in col.path.split(".") if col.path is not None else ():
                value = getattr(value, attr)
            out.append(col.conv(value) if col.conv is not None else value)
        return (*out, int(backfill)) if self.backfill else tuple(out)

    def uncovered_fields(self) -> set[str]:
        """Model fields neither written nor named in ``unstored`` (should be empty)."""
        covered = {c.path for c in self.columns if c.path is not None} | self.unstored
        return {
            f
            for f in _leaf_fields(self.model)
            if not any(f == c or f.startswith(c + ".") for c in covered)
        }


POSTS = TableRows(
    "posts",
    ScoredPost,
    (
        Column("brand", "brand"),
        Column("created_at", "post.created_at", _ts),
        Column("post_key", "post.key"),
        Column("platform", "post.platform"),
        Column("post_id", "post.post_id"),
        Column("author_id", "post.author.id"),
        Column("author_handle", "post.author.handle", _or_empty),
        Column("followers", "post.author.followers"),
        Column("text", "post.text"),
        Column("lang", "lang"),  # the decided language; post.lang is the platform's tag
        Column("url", "post.url", _or_empty),
        Column("reply_to", "post.reply_to", _or_empty),
        Column("repost_of", "post.repost_of", _or_empty),
        Column("hashtags", "post.hashtags", list),
        Column("mentions", "post.mentions", list),
        Column("likes", "post.engagement.likes"),
        Column("reposts", "post.engagement.reposts"),
        Column("replies", "post.engagement.replies"),
        Column("quotes", "post.engagement.quotes"),
        Column("sentiment_label", "sentiment_label"),
        Column("sentiment_score", "sentiment_score"),
        Column("cluster_id", "cluster_id"),
        Column("is_duplicate", "is_duplicate", _flag),
        Column("cluster_size", "cluster_size"),
        Column("cluster_authors", "cluster_authors"),
        Column("campaign", "campaign", _flag),
        Column("addressed", "addressed", _flag),
        Column("scored_at", "scored_at", _ts),
    ),
    backfill=True,
    unstored=frozenset(
        {
            "brand_reply",  # always 0 here: the brand's own posts go to brand_replies
            "schema_version",
            "post.schema_version",
            "post.quote_of",
            "post.source",
            "post.author.verified",
            "post.lang",  # the platform's tag: the decided one (lang) is stored
            "terms",  # the new-narrative signal's input; brand_minutes keeps its outcome
        }
    ),
)

_MINUTE_COUNTS = (
    "posts", "unique_posts", "unique_authors", "negative", "neutral", "positive", "unknown",
    "sentiment_sum", "reach", "duplicates", "campaign_posts", "new_clusters", "late_posts",
    "version", "burst_term_posts", "burst_term_negative", "complaints", "brand_replies",
    "due_15m", "answered_15m", "due_1h", "answered_1h", "responses_1h", "response_median_s",
    "unanswered_1h", "silent_min",
)  # fmt: skip
BRAND_MINUTES = TableRows(
    "brand_minutes",
    BrandMinute,
    (
        Column("brand", "brand"),
        Column("minute", "minute", _dt),
        *(Column(name, name) for name in _MINUTE_COUNTS),
    ),
    backfill=True,
    unstored=frozenset({"schema_version", "burst_terms"}),  # burst_terms: explains alerts only
)

# Posts of a brand's official accounts (ScoredPost.brand_reply, migration 0017): its replies.
BRAND_REPLIES = TableRows(
    "brand_replies",
    ScoredPost,
    (
        Column("brand", "brand"),
        Column("created_at", "post.created_at", _ts),
        Column("post_key", "post.key"),
        Column("platform", "post.platform"),
        Column("post_id", "post.post_id"),
        Column("author_id", "post.author.id"),
        Column("author_handle", "post.author.handle", _or_empty),
        Column("text", "post.text"),
        Column("url", "post.url", _or_empty),
        Column("reply_to", "post.reply_to", _or_empty),
        Column("scored_at", "scored_at", _ts),
    ),
    backfill=True,
    unstored=frozenset(
        {
            # a reply is not a crowd post: no reach, engagement, sentiment, cluster or terms
            "schema_version",
            "post.schema_version",
            "post.author.followers",
            "post.author.verified",
            "post.lang",
            "post.repost_of",
            "post.quote_of",
            "post.hashtags",
            "post.mentions",
            "post.engagement",
            "post.source",
            "sentiment_label",
            "sentiment_score",
            "cluster_id",
            "is_duplicate",
            "cluster_size",
            "cluster_authors",
            "campaign",
            "terms",
            "brand_reply",
            "addressed",
            "lang",
        }
    ),
)

ALERTS = TableRows(
    "alerts",
    CrisisAlert,
    (
        Column("brand", "brand"),
        Column("minute", "minute", _dt),
        Column("alert_id", "alert_id"),
        Column("severity", "severity", int),
        Column("severity_label", "severity.label"),
        Column("previous_severity", "previous_severity", int),
        Column("score", "score"),
        Column("summary", "summary"),
        Column("signals", "signals", _json),
        Column("top_posts", "top_posts", _json),
        Column("top_terms", "top_terms", list),
        Column("top_clusters", "top_clusters", _json),
        Column("created_at", "created_at", _dt),
        Column("expected_event", "expected_event"),
    ),
    backfill=True,
    unstored=frozenset({"schema_version"}),
)

DEAD_LETTERS = TableRows(
    "dead_letters",
    DeadLetter,
    (
        Column("received_at", "received_at", _dt),
        Column("reason", "reason"),
        Column("letter_id", None, _letter_id),
        Column("source", "source"),
        Column("error", "error"),
        Column("original", "original"),
    ),
    backfill=False,  # a rejected message is not a post of either kind
    unstored=frozenset({"schema_version"}),
)

TABLES: dict[str, TableRows[Any]] = {
    t.table: t for t in (POSTS, BRAND_MINUTES, BRAND_REPLIES, ALERTS, DEAD_LETTERS)
}


def insert_sql(table: str, columns: Sequence[str]) -> str:
    """``INSERT INTO table (columns) VALUES``: identifiers checked, values always sent as data."""
    cols = ", ".join(check_identifier(c) for c in columns)
    return f"INSERT INTO {check_identifier(table)} ({cols}) VALUES"


def columns_of(rows: Sequence[Row]) -> list[list[Any]]:
    """Rows to columns for clickhouse-driver's ``columnar=True`` inserts (~880k rows/s)."""
    return [list(col) for col in zip(*rows, strict=True)]


def write_rows(
    client: Any,
    table: str,
    rows: Iterable[Row],
    *,
    columns: Sequence[str] | None = None,
    batch_rows: int = 100_000,
) -> int:
    """Insert ``rows`` into ``table`` now, ``batch_rows`` per insert; returns rows written.

    Synchronous and without retry, for offline commands (``crisis-radar backfill``): an error
    propagates, and re-running is safe because the tables replace rows by identity.
    ``columns`` defaults to ``TABLES[table].names``, the order the row builders use.
    """
    sql = insert_sql(table, TABLES[table].names if columns is None else columns)
    written = 0
    it = iter(rows)
    while batch := list(islice(it, batch_rows)):
        client.execute(sql, columns_of(batch), columnar=True)
        written += len(batch)
    return written
