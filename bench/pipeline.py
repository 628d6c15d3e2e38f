"""Full-pipeline benchmark on the local stack: posts -> posts.raw -> one worker -> ClickHouse.

Two phases against one worker (fresh topics and database per run):

1. **max** (throughput): ``--n`` posts are preloaded into posts.raw *before* the worker
   starts, so the producer does not compete for CPU; sustained posts/s is measured from the
   first (post, brand) row in ClickHouse to the last (``max_posts_per_s``) and to the moment the
   aggregation stage has consumed them all (``max_drained_posts_per_s``, the sustained figure),
   plus the worker's CPU-seconds per post over the whole phase
   (user+sys of the worker process and its enrich child, all threads included) - the better
   yardstick when other work loads the machine - and each stack service's CPU per post
   (``max_stack_cpu_us_per_post``: Kafka, ClickHouse, ... share the cores with the worker),
   and the records each topic took in over the run (``records_per_topic``).
2. **rate** (latency): the warm worker is then fed ``--rate`` posts/s for ``--seconds``;
   p50/p99 event-to-ClickHouse latency is the row's ``inserted_at`` minus the post's
   ``created_at`` (= produce time). Both are whole seconds in ClickHouse, so figures are
   +-1 s. A rate above what the worker sustains shows up as a growing latency.

Also prints the worker's peak RSS (worker + child peaks: an upper bound; and the largest sum
of their RSS sampled every 0.5 s, ``worker_rss_mb_max_sum``) and the load average (1 min) at the
start and end of each phase. ``--phases max`` or ``--phases rate`` runs one of them.

    .venv/bin/python -m bench.pipeline                        # 50k preloaded + 20 s at 500/s
    .venv/bin/python -m bench.pipeline --n 1000000 --rate 5000 --seconds 60
    .venv/bin/python -m bench.pipeline --n 300000 --phases max --lang en   # tagged posts
    .venv/bin/python -m bench.pipeline --n 300000 --phases max --text simulated  # real-ish text
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import machine_ms, save
from crisis_radar.progress import progress_bar
from crisis_radar.stack._proc import free_port

WORDS = [
    "network", "outage", "refund", "support", "order", "delivery", "late", "broken", "love",
    "great", "new", "price", "app", "update", "crash", "store", "phone", "bill", "service",
    "recall", "taste", "fresh", "launch", "deal", "slow", "fast",
]  # fmt: skip
CLK_TCK = os.sysconf("SC_CLK_TCK")


def _family(pid: int) -> list[int]:
    """The worker and its child processes (the enrich process, streams/enrichment.py)."""
    kids: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            kids += [int(k) for k in (task / "children").read_text().split()]
    except OSError:
        pass
    return [pid, *kids]


def _status_mb(pid: int, key: str) -> list[float]:
    """``key`` (a kB field of /proc/PID/status) of the worker and of each of its children."""
    out = []
    for p in _family(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    out.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
    return out


def _peak_rss_each_mb(pid: int) -> list[float]:
    """Peak RSS (VmHWM) of the worker and of each of its children, in that order."""
    return [round(mb, 1) for mb in _status_mb(pid, "VmHWM")]


def _peak_rss_mb(pid: int) -> float:
    """Peak RSS of the worker plus each child's peak: an upper bound of their sum's peak."""
    return sum(_peak_rss_each_mb(pid))


def _rss_mb(pid: int) -> float:
    """Current RSS (VmRSS) of the worker and its children, summed."""
    return sum(_status_mb(pid, "VmRSS"))


class _RssWatch(threading.Thread):
    """The largest sum of the worker's and its children's RSS, sampled every ``every_s``: what
    the machine had to hold at once (the sum of each process's peak over-counts when the
    peaks fall at different times)."""

    def __init__(self, pid: int, every_s: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s, self.max_mb = pid, every_s, 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every_s):
            self.max_mb = max(self.max_mb, _rss_mb(self.pid))


def _cpu_s(pid: int) -> float:
    """user + system CPU seconds of the worker and its live children (all their threads)."""
    return sum(_cpu_each_s(pid))


def _cpu_each_s(pid: int) -> list[float]:
    """user + system CPU seconds of the worker, then of each live child."""
    out = []
    for p in _family(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out.append((int(fields[11]) + int(fields[12])) / CLK_TCK)
    return out


def _stack_cpu_s() -> dict[str, float]:
    """CPU seconds of each running stack service (Kafka, ClickHouse, ...): on a 2-core box they
    compete with the worker, so a change that makes them busier slows the pipeline without
    showing in the worker's own CPU."""
    from crisis_radar import stack

    out: dict[str, float] = {}
    for st in stack.status():
        if st.pid is not None and st.state == "running":
            out[st.name] = _cpu_s(st.pid)
    return out


def _per_post_us(after: dict[str, float], before: dict[str, float], n: int) -> dict[str, float]:
    return {k: round((after[k] - before.get(k, after[k])) / max(1, n) * 1e6, 1) for k in after}


def _load1() -> float:
    return round(os.getloadavg()[0], 2)


def _posts(
    n: int, brands: list[str], seed: int, prefix: str, lang: str = "", pool: list[str] | None = None
) -> Iterator[bytes]:
    """One canonical JSON post per line, created_at = now (the produce time); ``lang``: the
    platform's language tag on every post (none: the worker identifies each text); ``pool``:
    texts to draw from (``--text simulated``) instead of word salads."""
    rng = random.Random(seed)
    tag = f',"lang":"{lang}"' if lang else ""
    for i in range(n):
        b = rng.choice(brands)
        now = datetime.now(UTC).isoformat()
        author = f'{{"id":"u{rng.randrange(50000)}","followers":{rng.randrange(5000)}}}'
        if pool is None:
            text = f'"{b} {" ".join(rng.choices(WORDS, k=8))} #{i % 997}"'
        else:
            text = json.dumps(f"{rng.choice(pool)} #{i % 997}")
        yield (
            f'{{"platform":"simulated","post_id":"{prefix}{i}","author":{author},'
            f'"text":{text},"created_at":"{now}"{tag}}}'
        ).encode()


def simulated_pool(watchlist: Path, n_brands: int, size: int = 20_000) -> list[str]:
    """Everyday posts of the simulator (crisis_radar.simulate.text: English templates with the
    brands' names, typos, emoji, links; 60 % neutral, 25 % negative, 15 % positive), only
    those the watchlist matches in the language identified (~97 %: a typo'd name is no mention;
    0.7 % are short English posts read as another language, lost to an English-only brand), so
    every post is stored as with word salads."""
    from crisis_radar.simulate.text import background_text
    from crisis_radar.simulate.watchlist import load_brands
    from detectors.brands import BrandMatcher, Watchlist

    rng = random.Random(7)
    sims = load_brands(watchlist)[:n_brands]
    matcher = BrandMatcher(Watchlist.from_yaml(watchlist))
    moods = rng.choices(("neutral", "negative", "positive"), weights=(60, 25, 15), k=size)
    texts = (background_text(rng, rng.choice(sims), mood) for mood in moods)
    try:  # the language filter of brands that list `languages`, as the worker applies it
        from detectors.language import identify
    except ImportError:  # code before language id (A/B runs): every language matches
        return [t for t in texts if matcher.match(t)]
    return [t for t in texts if matcher.match(t, identify(t))]


def _produce(bootstrap: str, topic: str, posts: Iterator[bytes], n: int, rate: float) -> float:
    """Send ``n`` posts, paced at ``rate`` posts/s (0: as fast as possible); seconds taken.

    The load generator shares the worker's two cores, so it must cost little: aiokafka's batch
    API builds record batches in C (~1 us a post; kafka-python's send() cost ~60 us, a third
    of a core at 5k posts/s taken from the worker under test). Posts are generated (and their
    ``created_at`` stamped) when due, in batches of at most ``_TICK`` s of the rate, each batch
    to the next partition in turn (as a keyless producer spreads them).
    """
    return asyncio.run(_produce_async(bootstrap, topic, posts, n, rate))


_TICK = 0.01
SETTLE_S = 15.0  # no new row for this long at >= 99.9 %: the rest is not coming


async def _produce_async(
    bootstrap: str, topic: str, posts: Iterator[bytes], n: int, rate: float
) -> float:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",  # as the pipeline's producers (docs/scaling.md)
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=1024 * 1024,
    )
    await producer.start()
    try:
        parts = sorted(await producer.partitions_for(topic))
        bar = progress_bar(total=n, desc="produce", file=sys.stderr, unit="post")
        sent: list[asyncio.Future[Any]] = []
        t0 = time.monotonic()
        i = k = 0
        held: bytes | None = None  # generated but did not fit the last batch
        while i < n:
            if rate:
                due = min(n, int((time.monotonic() - t0) * rate) + 1)
                if due <= i:
                    await asyncio.sleep(_TICK)
                    continue
            else:
                due = min(n, i + 2000)
            batch = producer.create_batch()
            while i < due:
                raw = held if held is not None else next(posts)
                held = None
                if batch.append(key=None, value=raw, timestamp=None) is None:
                    held = raw
                    break
                i += 1
            batch.close()
            sent.append(await producer.send_batch(batch, topic, partition=parts[k % len(parts)]))
            k += 1
            bar.update(i - bar.n)
            if len(sent) > 256:  # delivery errors surface here, not only at the end
                await asyncio.gather(*sent)
                sent.clear()
        await asyncio.gather(*sent)
        bar.close()
        return time.monotonic() - t0
    finally:
        await producer.stop()


def _count(ch: Any, prefix: str) -> int:
    sql = "SELECT count() FROM posts WHERE startsWith(post_id, %(prefix)s)"
    return int(ch.execute(sql, {"prefix": prefix})[0][0])


def _wait_rows(
    ch: Any, prefix: str, n: int, deadline: float, tail: Callable[[int], object] | None = None
) -> tuple[int, float | None, float]:
    """Poll until ``n`` rows of ``prefix`` are stored: (rows, first-row time, last time).
    ``tail(rows)`` is called on every poll once 99.9 % are stored (the drain watch below)."""
    bar = progress_bar(total=n, desc=f"stored ({prefix})", file=sys.stderr, unit="post")
    first: float | None = None
    stored, last_change, last = 0, time.monotonic(), time.monotonic()
    while time.monotonic() < deadline:
        count = _count(ch, prefix)
        now = time.monotonic()
        if count != stored:
            stored, last_change, last = count, now, now
        if stored and first is None:
            first = now
        bar.update(min(stored, n) - bar.n)
        if tail is not None and stored >= 0.999 * n:
            tail(stored)
        if stored >= n:
            break
        # A few posts may never be stored: the watchlist's brands are English-only and the
        # language identifier calls a rare random word salad something else (docs/languages.md).
        if stored >= 0.999 * n and now - last_change > SETTLE_S:
            break
        time.sleep(0.25)
    if stored < n:
        print(
            f"{n - stored} of {n:,} posts not stored (not matched in their language)",
            file=sys.stderr,
        )
        bar.close()
        return stored, first, last
    bar.close()
    return stored, first, time.monotonic()


class _DrainWatch:
    """When the aggregation stage had consumed every scored record of the stored posts, and the
    worker's CPU seconds then. Polled only in the tail (>= 99.9 % stored): scraping /metrics
    costs the worker CPU. Without it the figures would include ``SETTLE_S`` of waiting for the
    few posts that are never stored (since language id: a word salad read as another language)
    and the worker's idle CPU in it."""

    def __init__(self, port: int, pid: int) -> None:
        self.port, self.pid = port, pid
        self.at: float | None = None
        self.stored = 0
        self.stack: dict[str, float] = {}
        self.each: list[float] = []

    def __call__(self, stored: int) -> None:
        if stored != self.stored:  # rows still arriving: drained only after the last one
            self.stored, self.at = stored, None
        if self.at is None and _drained(self.port, stored):
            self.at, self.each, self.stack = time.monotonic(), _cpu_each_s(self.pid), _stack_cpu_s()


def _drained(port: int, n: int) -> bool:
    """The aggregation stage consumed every scored record, and at least ``n`` were scored."""
    from streams import runner

    m = runner.scrape(port)
    scored = runner.sample(m, "crisis_radar_posts_out_total", stage="posts.scored")
    aggregated = runner.sample(m, "crisis_radar_posts_in_total", stage="brand.minutes")
    return scored >= n and aggregated >= scored


def _wait_drained(port: int, n: int, deadline: float) -> float:
    """Poll the worker's /metrics until the aggregation stage consumed every scored record of
    ``n`` posts (rows in ClickHouse come first; minutes lag behind under load)."""
    while time.monotonic() < deadline and not _drained(port, n):
        time.sleep(0.25)
    return time.monotonic()


def _aggregated_share(port: int) -> float:
    """Share of the scored records the aggregation stage had consumed when the last post row
    was stored: 1.0 means aggregation kept pace with enrichment (no starvation)."""
    from streams import runner

    m = runner.scrape(port)
    scored = runner.sample(m, "crisis_radar_posts_out_total", stage="posts.scored")
    aggregated = runner.sample(m, "crisis_radar_posts_in_total", stage="brand.minutes")
    return round(aggregated / scored, 3) if scored else 0.0


def _latency(ch: Any, prefix: str) -> tuple[float, float, float]:
    (p50, p99), mx = ch.execute(
        "SELECT quantiles(0.5, 0.99)(toInt64(inserted_at) - toInt64(created_at)), "
        "max(toInt64(inserted_at) - toInt64(created_at)) FROM posts "
        "WHERE startsWith(post_id, %(prefix)s)",
        {"prefix": prefix},
    )[0]
    return float(p50), float(p99), float(mx)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    ap.add_argument("--n", type=int, default=50_000, help="posts preloaded for the max phase")
    ap.add_argument(
        "--rate",
        type=float,
        default=500,
        help="posts/s fed in the rate phase (one loaded worker keeps up)",
    )
    ap.add_argument("--seconds", type=float, default=20, help="length of the rate phase")
    ap.add_argument("--phases", default="max,rate", help="max, rate or max,rate")
    ap.add_argument("--partitions", type=int, default=0, help="topic partitions (0: settings)")
    ap.add_argument("--timeout", type=float, default=900, help="per phase, seconds")
    ap.add_argument(
        "--lang",
        default="",
        help="language tag on every post, as Bluesky/Mastodon/X give (default: none, so the "
        "worker identifies each text: the dearer case)",
    )
    ap.add_argument(
        "--text",
        choices=("salad", "simulated"),
        default="salad",
        help="post texts: word salads of product words (default; no function words, so the "
        "language identifier takes its model path) or the simulator's everyday English posts",
    )
    args = ap.parse_args(argv)
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    if not phases <= {"max", "rate"} or not phases:
        ap.error("--phases: max, rate or max,rate")

    from crisis_radar.clickhouse import make_client, migrate
    from crisis_radar.settings import get_settings
    from detectors.brands import Watchlist
    from streams import runner
    from streams.topics import ensure_topics

    tag = f"bench{int(time.time())}"
    base = get_settings()
    update: dict[str, Any] = {
        "topic_prefix": f"{tag}.",
        "clickhouse_database": tag,
        "metrics_port": free_port(),
    }
    if args.partitions:
        update["topic_partitions"] = args.partitions
    settings = base.model_copy(update=update)
    migrate(settings)
    brands = [b.id for b in Watchlist.from_yaml(settings.watchlist_path).brands][:8]
    pool = simulated_pool(settings.watchlist_path, 8) if args.text == "simulated" else None
    log = settings.stack_dir / "logs" / f"{tag}-worker.log"
    ch = make_client(settings)
    raw_topic = settings.topic("posts.raw")
    kafka = settings.kafka_bootstrap
    result: dict[str, Any] = {
        "n": args.n if "max" in phases else 0,
        "rate": args.rate if "rate" in phases else 0,
        "partitions": settings.topic_partitions,
        "lang": args.lang or None,
        "text": args.text,
        "cpus": os.cpu_count(),
        "machine_ms": [machine_ms()],  # before and after: the box's speed drifts
    }
    try:
        if "max" in phases:  # preload: the worker starts on a full topic
            ensure_topics(settings)
            posts = _posts(args.n, brands, 0, "m", args.lang, pool)
            result["preload_s"] = round(_produce(kafka, raw_topic, posts, args.n, 0), 2)
        with runner.running_worker(settings, log) as proc:
            runner.wait_ready(proc, settings.metrics_port, log, timeout=120)
            rss = _RssWatch(proc.pid)
            rss.start()
            if "max" in phases:
                load0, each0, stack0 = _load1(), _cpu_each_s(proc.pid), _stack_cpu_s()
                cpu0 = sum(each0)
                t_start = time.monotonic()
                deadline = t_start + args.timeout
                watch = _DrainWatch(settings.metrics_port, proc.pid)
                stored, first, last = _wait_rows(ch, "m", args.n, deadline, watch)
                agg_share = _aggregated_share(settings.metrics_port)
                drained = _wait_drained(settings.metrics_port, stored, deadline)
                if watch.at is not None and watch.stored == stored:  # before the settle
                    drained, each1, stack1 = watch.at, watch.each, watch.stack
                else:
                    each1, stack1 = _cpu_each_s(proc.pid), _stack_cpu_s()
                cpu = sum(each1) - cpu0
                span = last - (first or last)
                whole = drained - (first or drained)
                result.update(
                    max_stored_rows=stored,
                    max_elapsed_s=round(span, 2),
                    max_posts_per_s=round(stored / span, 1) if span else 0.0,
                    max_drained_s=round(whole, 2),
                    max_drained_posts_per_s=round(stored / whole, 1) if whole else 0.0,
                    max_worker_cpu_s=round(cpu, 1),
                    max_cpu_us_per_post=round(cpu / max(1, stored) * 1e6, 1),
                    max_aggregated_when_stored=agg_share,
                    max_stack_cpu_us_per_post=_per_post_us(stack1, stack0, stored),
                    # worker, then enrich child: busy share of the phase's wall time (a stage
                    # that waits on another or on the broker shows as a low share)
                    max_busy_share_each=[
                        round((b - a) / max(1e-9, drained - t_start), 2)
                        for a, b in zip(each0 + [0.0] * len(each1), each1, strict=False)
                    ],  # a child started after the phase began counts from zero
                    max_load1=[load0, _load1()],
                )
                result["max_not_stored"] = args.n - stored  # see _wait_rows
                if stored < 0.999 * args.n:
                    result["error"] = f"max: only {stored} of {args.n} rows in {args.timeout}s"
            if "rate" in phases:
                m = int(args.rate * args.seconds)
                load0, cpu0 = _load1(), _cpu_s(proc.pid)
                _produce(kafka, raw_topic, _posts(m, brands, 1, "r", args.lang, pool), m, args.rate)
                stored, _, _ = _wait_rows(ch, "r", m, time.monotonic() + args.timeout)
                cpu = _cpu_s(proc.pid) - cpu0
                p50, p99, mx = _latency(ch, "r")
                result.update(
                    rate_posts=m,
                    rate_stored_rows=stored,
                    rate_latency_p50_s=p50,
                    rate_latency_p99_s=p99,
                    rate_latency_max_s=mx,
                    rate_cpu_us_per_post=round(cpu / max(1, stored) * 1e6, 1),
                    rate_load1=[load0, _load1()],
                )
                result["rate_not_stored"] = m - stored  # see _wait_rows
                if stored < 0.999 * m:
                    result["error"] = f"rate: only {stored} of {m} rows in {args.timeout}s"
            try:  # figures only: a broker hiccup here must not lose the run's results
                result["records_per_topic"] = _records(settings)
            except Exception as exc:
                print(f"could not count the topics' records: {exc!r}", file=sys.stderr)
            result["worker_peak_rss_mb"] = round(_peak_rss_mb(proc.pid), 1)
            result["worker_peak_rss_mb_each"] = _peak_rss_each_mb(proc.pid)  # worker, children
            rss.done.set()
            result["worker_rss_mb_max_sum"] = round(max(rss.max_mb, _rss_mb(proc.pid)), 1)
    finally:
        try:
            ch.execute(f"DROP DATABASE IF EXISTS {tag}")
        except Exception as exc:  # cleanup only: never hide the figures
            print(f"could not drop the benchmark database {tag}: {exc!r}", file=sys.stderr)
        ch.disconnect()
        _drop_topics(settings)
    result["machine_ms"].append(machine_ms())
    for k, v in result.items():
        print(f"{k:>24}: {v}")
    save("pipeline", result)
    return 0 if "error" not in result else 1


def _records(settings: Any) -> dict[str, int]:
    """Records written to each of the run's topics (end offsets summed over partitions; Faust's
    changelogs included): what the broker had to take in, per topic."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap)
    try:
        out: dict[str, int] = {}
        for topic in sorted(consumer.topics()):
            if not topic.startswith(settings.topic_prefix):
                continue
            parts = consumer.partitions_for_topic(topic) or set()
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in parts])
            out[topic.removeprefix(settings.topic_prefix)] = sum(ends.values())
        return out
    finally:
        consumer.close()


def _drop_topics(settings: Any) -> None:
    """The run's topics (and Faust's changelogs) are throw-away: free the broker's disk."""
    from kafka.admin import KafkaAdminClient

    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        mine = [t for t in admin.list_topics() if t.startswith(settings.topic_prefix)]
        if mine:
            admin.delete_topics(mine)
        admin.close()
    except Exception as exc:  # cleanup only: never hide the figures
        print(f"could not delete the benchmark topics: {exc}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
