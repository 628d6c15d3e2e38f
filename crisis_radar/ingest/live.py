"""Live sources: Bluesky Jetstream (websocket) and Mastodon streaming (SSE).

Both reconnect with exponential backoff and seeded full jitter, and neither loses nor repeats a
post across reconnects: Jetstream resumes with ``cursor=<time_us>`` (rewound a little, then
events already delivered are dropped); Mastodon's stream has no cursor, so statuses are
de-duplicated by id and the gap can be back-filled from the public timeline (``since_id``).
Both yield the raw event bytes; the normalisers turn them into posts.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import socket
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.exceptions import WebSocketException
from websockets.sync.client import connect as ws_connect

from crisis_radar.ingest.normalise import html_to_text
from crisis_radar.ingest.pipeline import Record

log = logging.getLogger(__name__)


def describe(exc: BaseException | None) -> str:
    """A connection error in words an operator can act on (no exception reprs)."""
    if exc is None:
        return "the server closed the stream"
    if isinstance(exc, socket.gaierror):
        return "its host name does not resolve (no network, or a wrong --url?)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (nothing listens there: a wrong --url?)"
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        return "no answer in time"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed ({exc.reason or exc})"
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."


class Backoff:
    """Exponential backoff with full jitter from a seeded RNG (replayable in tests)."""

    def __init__(self, base: float = 0.5, cap: float = 30.0, seed: int = 0) -> None:
        self.base, self.cap = base, cap
        self.rng = random.Random(seed)
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * 2**self.attempt)
        self.attempt += 1
        return self.rng.uniform(ceiling / 2, ceiling)  # half jitter: never a zero-wait storm

    def reset(self) -> None:
        self.attempt = 0


class KeywordFilter:
    """Case-insensitive substring pre-filter; empty keeps everything."""

    def __init__(self, keywords: Iterable[str] = ()) -> None:
        self.keywords = tuple(k.strip().lower() for k in keywords if k.strip())

    def keep(self, text: str) -> bool:
        if not self.keywords:
            return True
        low = text.lower()
        return any(k in low for k in self.keywords)


def _with_query(url: str, **params: Any) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in params]
    for k, v in params.items():
        values = v if isinstance(v, list | tuple) else [v]
        query += [(k, str(x)) for x in values if x is not None]
    return urlunsplit(parts._replace(query=urlencode(query)))


class _Source:
    def __init__(
        self,
        keywords: Iterable[str],
        seed: int,
        base_delay: float,
        max_delay: float,
        max_retries: int | None,
        sleep: Callable[[float], None],
    ) -> None:
        self.filter = KeywordFilter(keywords)
        self.backoff = Backoff(base_delay, max_delay, seed)
        self.max_retries = max_retries
        self.sleep = sleep
        self.connections = 0
        self.filtered = 0
        self.duplicates = 0
        self.connected = False  # the last attempt reached the server

    def _pause(self, exc: BaseException | None, where: str) -> None:
        what = describe(exc)
        if self.max_retries is not None and self.backoff.attempt >= self.max_retries:
            raise ConnectionError(f"live source {where}: giving up after {self.max_retries} "
                                  f"retries: {what}")  # fmt: skip
        delay = self.backoff.next_delay()
        state = "disconnected" if self.connected else "cannot connect"
        log.warning("live source %s %s: %s; retrying in %.1f s (Ctrl-C stops)",
                    where, state, what, delay)  # fmt: skip
        self.connected = False
        self.sleep(delay)


class JetstreamSource(_Source):
    """Bluesky Jetstream: ``wss://.../subscribe?wantedCollections=app.bsky.feed.post``."""

    def __init__(
        self,
        url: str,
        cursor: int | None = None,
        collections: Iterable[str] = ("app.bsky.feed.post",),
        keywords: Iterable[str] = (),
        rewind_us: int = 2_000_000,
        seed: int = 0,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        max_retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(keywords, seed, base_delay, max_delay, max_retries, sleep)
        self.url = url
        self.collections = list(collections)
        self.last_time_us = cursor - 1 if cursor else None  # deliver events from cursor on
        # after a (re)connect, events up to here were already delivered: drop them; in steady
        # flow nothing is dropped (two events may share a time_us)
        self.replayed_until = self.last_time_us
        self.rewind_us = rewind_us

    def connect_url(self) -> str:
        cursor = None
        if self.last_time_us is not None:
            # rewinding a little is Jetstream's advice for a gapless resume; dupes dropped below
            cursor = max(0, self.last_time_us - self.rewind_us)
        return _with_query(self.url, wantedCollections=self.collections, cursor=cursor)

    def __iter__(self) -> Iterator[bytes]:
        while True:
            error: BaseException | None = None
            try:
                self.connections += 1
                self.replayed_until = self.last_time_us
                with ws_connect(self.connect_url(), open_timeout=10, max_size=2**22) as ws:
                    self.connected = True
                    for message in ws:
                        raw = message.encode() if isinstance(message, str) else message
                        self.backoff.reset()
                        out = self._accept(raw)
                        if out is not None:
                            yield out
            except (OSError, TimeoutError, WebSocketException) as exc:
                error = exc
            self._pause(error, urlsplit(self.url).netloc)

    def _accept(self, raw: bytes) -> bytes | None:
        try:
            event = json.loads(raw)
            time_us = int(event["time_us"])
        except (ValueError, KeyError, TypeError):
            return raw  # malformed: let the pipeline dead-letter it
        if self.replayed_until is not None:
            if time_us <= self.replayed_until:
                self.duplicates += 1
                return None
            self.replayed_until = None
        self.last_time_us = max(time_us, self.last_time_us or 0)
        record = (event.get("commit") or {}).get("record") or {}
        text = record.get("text") if isinstance(record, dict) else None
        if isinstance(text, str) and not self.filter.keep(text):
            self.filtered += 1
            return None
        return raw


class _BoundedSet:
    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, None] = OrderedDict()

    def add(self, item: str) -> bool:
        """True when new."""
        if item in self.items:
            return False
        self.items[item] = None
        if len(self.items) > self.size:
            self.items.popitem(last=False)
        return True


def _id_key(status_id: str) -> tuple[int, str]:
    return (len(status_id), status_id)  # Mastodon ids are numeric strings: compare as numbers


class MastodonSource(_Source):
    """Mastodon streaming (SSE): ``event: update`` / ``data: {status}``."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        keywords: Iterable[str] = (),
        backfill: bool = True,
        seen_size: int = 100_000,
        read_timeout: float = 90.0,
        seed: int = 0,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        max_retries: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(keywords, seed, base_delay, max_delay, max_retries, sleep)
        self.url = url
        self.token = token
        self.backfill = backfill
        self.seen = _BoundedSet(seen_size)
        self.last_id: str | None = None
        self.read_timeout = read_timeout

    def _get(self, url: str, accept: str) -> tuple[http.client.HTTPConnection, Any]:
        parts = urlsplit(url)
        conn: http.client.HTTPConnection
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                parts.netloc, timeout=self.read_timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(parts.netloc, timeout=self.read_timeout)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"Accept": accept, "User-Agent": "crisis-radar"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        conn.request("GET", path or "/", headers=headers)
        resp = conn.getresponse()
        if resp.status != 200:
            body = resp.read(300).decode("utf-8", "replace")
            conn.close()
            raise ConnectionError(f"HTTP {resp.status} from {url}: {body}")
        return conn, resp

    def _accept(self, raw: bytes) -> bytes | None:
        try:
            status = json.loads(raw)
            status_id = str(status["id"])
        except (ValueError, KeyError, TypeError):
            return raw
        if not self.seen.add(status_id):
            self.duplicates += 1
            return None
        if self.last_id is None or _id_key(status_id) > _id_key(self.last_id):
            self.last_id = status_id
        shown = status.get("reblog") or status
        content = shown.get("content") if isinstance(shown, dict) else None
        if isinstance(content, str) and not self.filter.keep(html_to_text(content)):
            self.filtered += 1
            return None
        return raw

    def backfill_url(self) -> str:
        parts = urlsplit(self.url)
        return urlunsplit(
            (parts.scheme, parts.netloc, "/api/v1/timelines/public", "", "")
        ) + "?" + urlencode({"since_id": self.last_id or "", "limit": 40})  # fmt: skip

    def _backfill(self) -> Iterator[bytes]:
        """Statuses posted while we were disconnected (oldest first)."""
        conn, resp = self._get(self.backfill_url(), "application/json")
        try:
            statuses = json.loads(resp.read())
        finally:
            conn.close()
        for status in reversed(statuses if isinstance(statuses, list) else []):
            out = self._accept(json.dumps(status).encode())
            if out is not None:
                yield out

    def __iter__(self) -> Iterator[bytes]:
        while True:
            error: BaseException | None = None
            try:
                self.connections += 1
                conn, resp = self._get(self.url, "text/event-stream")
                self.connected = True
                try:
                    if self.backfill and self.last_id is not None:
                        yield from self._backfill()
                    for event, data in _sse_events(resp):
                        self.backoff.reset()
                        if event == "update":
                            out = self._accept(data.encode())
                            if out is not None:
                                yield out
                finally:
                    conn.close()
            except (OSError, TimeoutError, http.client.HTTPException, ValueError) as exc:
                error = exc
            self._pause(error, urlsplit(self.url).netloc)


def _sse_events(resp: Any) -> Iterator[tuple[str, str]]:
    """Parse a text/event-stream; an event cut off before its blank line is dropped."""
    event, data = "message", list[str]()
    while True:
        line = resp.readline()
        if not line:
            return  # connection closed
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if not text:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif text.startswith(":"):
            continue  # heartbeat comment
        else:
            name, _, value = text.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)


def run_live(
    kind: str,
    url: str,
    track: str | None = None,
    cursor: int | None = None,
    max_posts: int | None = None,
    token: str | None = None,
) -> Iterator[Record]:
    """Records for the ingest loop from a live source (stops after ``max_posts`` events)."""
    keywords = (track or "").split(",")
    source: Iterable[bytes]
    if kind == "bluesky":
        source = JetstreamSource(url, cursor=cursor, keywords=keywords)
    elif kind == "mastodon":
        source = MastodonSource(url, token=token, keywords=keywords)
    else:
        raise ValueError(f"unknown live source {kind!r}")
    for n, raw in enumerate(source, 1):
        yield raw, None, kind
        if max_posts is not None and n >= max_posts:
            return
