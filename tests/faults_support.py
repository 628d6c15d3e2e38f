"""Helpers for the fault tests (tests/test_faults_*.py) and bench/burst.py: throw-away stacks on
free ports, seeded post streams that each match one watched brand, producing, reading back what
analysts see (FINAL), and sampling a worker's memory."""

from __future__ import annotations

import contextlib
import json
import os
import random
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from crisis_radar.settings import Settings
from crisis_radar.stack._proc import free_port

BRANDS = ("telvana", "orbitel")  # watched in deploy/watchlist.yaml; each post names exactly one
_WORDS = (
    "outage",
    "love",
    "support",
    "billing",
    "signal",
    "great",
    "slow",
    "refund",
    "app",
    "coverage",
    "price",
    "thanks",
    "broken",
    "fast",
    "again",
    "today",
)


def env_seconds(name: str, default: float) -> float:
    """A duration a CI may shorten or lengthen (``CRISIS_RADAR_FAULTS_*`` variables)."""
    return float(os.environ.get(name, default))


@contextlib.contextmanager
def throwaway_stack(tmp: Path, names: Sequence[str], base: Settings) -> Iterator[Settings]:
    """Start ``names`` (e.g. ["kafka"]) on fresh free ports under ``tmp``; the other services
    stay those of ``base`` (the shared stack). Stopped on exit. Never touches the shared ports."""
    from crisis_radar import stack

    update: dict[str, Any] = {"stack_dir": tmp / f"stack-{uuid.uuid4().hex[:6]}"}
    if "kafka" in names:
        update |= {
            "kafka_bootstrap": f"127.0.0.1:{free_port()}",
            "kafka_controller_port": free_port(),
        }
    if "clickhouse" in names:
        update |= {"clickhouse_port": free_port(), "clickhouse_http_port": free_port()}
    settings = base.model_copy(update=update)
    stack.up(list(names), settings)
    try:
        yield settings
    finally:
        stack.down(list(names), settings)


def stop(name: str, settings: Settings) -> None:
    from crisis_radar import stack

    assert stack.down([name], settings) == [name], f"{name} was not running in {settings.stack_dir}"


def start(name: str, settings: Settings) -> None:
    from crisis_radar import stack

    stack.up([name], settings)


def make_posts(
    n: int, start: datetime, span_s: float, seed: int = 0, prefix: str = "p"
) -> list[dict[str, Any]]:
    """``n`` canonical posts spread over ``span_s`` seconds from ``start`` in time order; post
    ``i`` names exactly one brand, so the posts table gets exactly one row per post."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        brand = BRANDS[i % len(BRANDS)]
        words = " ".join(rng.choice(_WORDS) for _ in range(6))
        out.append({
            "platform": "x", "post_id": f"{prefix}{i}",
            "author": {"id": f"u{rng.randrange(n)}", "followers": rng.randrange(5000)},
            "text": f"{brand} {words} #{i}", "lang": "en",
            "created_at": (start + timedelta(seconds=span_s * i / max(1, n))).isoformat(),
        })  # fmt: skip
    return out


def post_key(post: dict[str, Any]) -> str:
    return f"{post['platform']}:{post['post_id']}"


def producer(bootstrap: str) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka import KafkaProducer

        return KafkaProducer(
            bootstrap_servers=bootstrap,
            linger_ms=5,
            acks="all",
            max_request_size=4 * 1024 * 1024,
            retries=20,
        )


def produce(
    bootstrap: str, topic: str, values: Sequence[bytes | dict[str, Any]], rate: float | None = None
) -> None:
    """Send in order (one key per value: ``post_key`` or its index); ``rate`` caps posts/s."""
    prod = producer(bootstrap)
    t0 = time.monotonic()
    for i, v in enumerate(values):
        if isinstance(v, dict):
            key, value = post_key(v).encode(), json.dumps(v).encode()
        else:
            key, value = f"raw{i}".encode(), v
        prod.send(topic, key=key, value=value)
        if rate and i % 100 == 99:
            ahead = (i + 1) / rate - (time.monotonic() - t0)
            if ahead > 0:
                time.sleep(ahead)
    prod.flush(timeout=60)
    prod.close()


def stored_keys(client: Any) -> list[str]:
    """post_key of every row analysts see (FINAL), duplicates kept so a test can spot them."""
    return [r[0] for r in client.execute("SELECT post_key FROM posts FINAL")]


def wait_until(
    cond: Callable[[], bool],
    timeout: float,
    what: str,
    every: float = 1.0,
    alive: Callable[[], str | None] | None = None,
) -> None:
    """Poll ``cond`` until true; ``alive`` returns an error text when the worker died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        if alive is not None and (err := alive()):
            raise AssertionError(err)
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def now_utc() -> datetime:
    return datetime.now(UTC)


def expected_rows(lines: Sequence[bytes], watchlist: Path) -> tuple[set[tuple[str, str]], int]:
    """What the pipeline must store for raw input ``lines``, by the worker's own validator and
    matcher: the posts table's (post_key, brand) rows, and how many lines are dead letters."""
    from detectors.brands import BrandMatcher, Watchlist
    from schemas.models import Post
    from schemas.validate import decode_post

    matcher = BrandMatcher(Watchlist.from_yaml(watchlist))
    rows, dead = set(), 0
    for raw in lines:
        p = decode_post(raw, "expected", now_utc())
        if not isinstance(p, Post):
            dead += 1
            continue
        rows |= {(p.key, b) for b in matcher.match(p.text, p.lang, p.hashtags, p.mentions)}
    return rows, dead
