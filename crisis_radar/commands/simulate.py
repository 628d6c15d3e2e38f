"""``crisis-radar simulate``: write a seeded, labelled scenario to JSONL(.gz) or Kafka posts.raw.

Examples:
  crisis-radar simulate --preset demo --out posts.jsonl.gz --truth truth.json
  crisis-radar simulate --days 1 --brands 4 --seed 7 --start 2026-11-23T00:00Z \\
      --events "product_defect:crunchly@10:00,launch_spike:pixelon@14:00" \\
      --out posts.jsonl --truth t.json
  crisis-radar simulate --preset eval --weeks 4 --out eval.jsonl.gz --truth eval-truth.json
  crisis-radar simulate --preset demo --kafka
  crisis-radar simulate --brands telvana,orbitel --events product_defect:telvana@10:00 \\
      --replies --silent-during-crisis 10 --out posts.jsonl --truth t.json

Brand replies (docs/response.md): with --replies, brands with a simulated official account
(watchlist `official: {simulated: [...]}`) answer complaints addressed to them (negative posts
naming one of their handles) with share --reply-share after a lognormal delay of median
--reply-median seconds. --silent-during-crisis MIN: a brand stops answering MIN minutes into each
of its crisis events until the event ends (implies --replies). The truth file then gains
"replies": every complaint with its first reply time.

Languages (docs/languages.md, "Simulated multilingual crowds"): --crowd-langs MIX sets the
language mix of the brands' everyday posts (en=0.8,pt=0.2; BRAND:MIX for one brand, repeatable),
--crisis-lang MIX the language of the posts the events add (a crisis in Portuguese while the
English baseline stays calm: --crisis-lang pt). Languages: ar de en es fr hi it pt (with a
sentiment model) and nl tr (without one: their posts must come out `unknown`). Each language has
its own everyday, crisis-narrative and launch texts, products, cities and crisis words. Posts
carry the platform's language tag unless --no-lang-tags (then the worker identifies the text).
  crisis-radar simulate --brands telvana --events product_defect:telvana@10:00 \\
      --crisis-lang pt --out posts.jsonl --truth t.json
  crisis-radar simulate --crowd-langs en=0.7,tr=0.3 --crowd-langs telvana:en=0.5,pt=0.5 ...
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from crisis_radar.progress import progress_bar
from crisis_radar.settings import get_settings
from crisis_radar.simulate import (
    ALL_KINDS,
    EventSpec,
    Scenario,
    SimBrand,
    Simulator,
    load_brands,
    post_json,
    random_events,
)
from crisis_radar.simulate.generator import BrandProfile
from crisis_radar.simulate.langs import LANGS, parse_mix
from crisis_radar.simulate.replies import BrandReplies, policies_for


@dataclass(frozen=True)
class ReplySpec:
    """``--replies``: how the brands with a simulated official account answer."""

    answer_share: float = 0.7
    median_s: float = 480.0
    silent_after_min: float | None = None  # silent this far into each crisis event, to its end


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crisis-radar simulate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--preset",
        choices=["demo", "eval"],
        help="demo: 1 day, a crisis + a launch; "
        "eval: --weeks of all brands with ~1 random event per brand-week",
    )
    p.add_argument("--days", type=float, help="scenario length in days (default 1)")
    p.add_argument("--weeks", type=float, help="scenario length in weeks (eval preset default 4)")
    p.add_argument(
        "--brands", default="all", help="N (first N of the watchlist), 'all', or ids a,b,c"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--start", default="2026-11-23T00:00Z", help="UTC start, ISO 8601 (default %(default)s)"
    )
    p.add_argument(
        "--events",
        default="",
        help="kind:brand@HH:MM or kind:brand@ISO, comma separated; "
        f"kinds: {', '.join(ALL_KINDS)}. HH:MM may be prefixed by a day: 2/10:00",
    )
    p.add_argument(
        "--announce",
        action="store_true",
        help="the launches (launch_spike, launch_rush) are planned: list them under "
        "expected_events in the truth file, for `crisis-radar expect`",
    )
    p.add_argument("--random-events", type=int, metavar="K", help="add K random events")
    p.add_argument(
        "--rate-scale", type=float, default=None, help="multiply every brand's base rate"
    )
    p.add_argument(
        "--late-share",
        type=float,
        default=0.0,
        help="share of posts delivered 1-30 min late, out of event-time order (default 0)",
    )
    p.add_argument("--watchlist", type=Path, help="brands file (default: settings.watchlist_path)")
    p.add_argument("--out", help="posts file: .jsonl, .jsonl.gz, or - for stdout")
    p.add_argument("--truth", type=Path, help="ground-truth JSON file")
    p.add_argument("--kafka", action="store_true", help="produce to the posts.raw topic")
    p.add_argument(
        "--topic", help="override the Kafka topic (default: settings.topic('posts.raw'))"
    )
    p.add_argument(
        "--labels",
        help="per-post intended labels JSONL (post_id, brand, sentiment, event, role, lang)",
    )
    p.add_argument(
        "--replies",
        action="store_true",
        help="brands with a simulated official account answer their complaints",
    )
    p.add_argument(
        "--reply-share",
        type=float,
        default=0.7,
        help="with --replies: share of complaints answered (default %(default)s)",
    )
    p.add_argument(
        "--reply-median",
        type=float,
        default=480.0,
        metavar="SECONDS",
        help="with --replies: median first-response delay (default %(default)s s)",
    )
    p.add_argument(
        "--silent-during-crisis",
        type=float,
        nargs="?",
        const=10.0,
        metavar="MIN",
        help="brands go silent MIN minutes (default 10) into each of their crisis events, "
        "until it ends; implies --replies",
    )
    p.add_argument(
        "--crowd-langs",
        action="append",
        default=[],
        metavar="[BRAND:]MIX",
        help="language mix of the brands' everyday posts, e.g. en=0.8,pt=0.2 (every brand) or "
        f"telvana:en=0.5,pt=0.5 (one brand; repeatable). Languages: {' '.join(LANGS)} "
        "(nl, tr: no sentiment model). Default: English",
    )
    p.add_argument(
        "--crisis-lang",
        "--event-langs",
        dest="crisis_lang",
        metavar="MIX",
        help="language (pt) or mix (pt=0.9,en=0.1) of the posts the events add; default: English",
    )
    p.add_argument(
        "--no-lang-tags",
        action="store_true",
        help="posts carry no platform language tag (lang null): the worker identifies the text",
    )
    p.add_argument("--bootstrap", help="Kafka bootstrap servers (default: settings)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def parse_time(value: str) -> datetime:
    t = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def parse_events(spec: str, start: datetime) -> list[EventSpec]:
    """``product_defect:acme@10:00,launch_spike:globex@2/14:00`` -> EventSpecs.

    Day 1 is the start day; a full ISO time is accepted too."""
    out = []
    for item in filter(None, (s.strip() for s in spec.split(","))):
        try:
            kind_brand, when = item.split("@", 1)
            kind, brand = kind_brand.split(":", 1)
        except ValueError:
            raise ValueError(f"bad event {item!r}: expected kind:brand@HH:MM") from None
        if kind not in ALL_KINDS:
            raise ValueError(
                f"bad event {item!r}: unknown kind {kind!r} (known: {', '.join(ALL_KINDS)})"
            )
        if "T" in when or "-" in when:
            t = parse_time(when)
        else:
            day, _, hm = when.rpartition("/")
            try:
                hh, mm = (int(x) for x in hm.split(":"))
                if not (0 <= hh < 24 and 0 <= mm < 60):
                    raise ValueError
                t = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
                    days=int(day or 1) - 1, hours=hh, minutes=mm
                )
            except ValueError:
                raise ValueError(
                    f"bad event time {when!r} in {item!r}: use HH:MM, D/HH:MM or ISO"
                ) from None
        out.append(EventSpec(kind, brand.strip(), t))
    return out


def pick_brands(all_brands: list[SimBrand], spec: str) -> list[SimBrand]:
    if spec == "all":
        return all_brands
    if spec.isdigit():
        n = int(spec)
        if not 1 <= n <= len(all_brands):
            raise ValueError(f"--brands {n}: the watchlist has {len(all_brands)} brands")
        return all_brands[:n]
    ids = [s.strip() for s in spec.split(",") if s.strip()]
    known = {b.id: b for b in all_brands}
    missing = [i for i in ids if i not in known]
    if missing:
        raise ValueError(f"--brands: unknown ids {missing}; known: {', '.join(known)}")
    return [known[i] for i in ids]


def build_scenario(args: argparse.Namespace) -> Scenario:
    path = args.watchlist or get_settings().watchlist_path
    brands = pick_brands(load_brands(path), args.brands)
    start = parse_time(args.start)
    if args.weeks is not None:
        minutes = int(args.weeks * 7 * 1440)
    else:
        minutes = int((args.days if args.days is not None else 1) * 1440)
    if args.preset == "eval" and args.weeks is None and args.days is None:
        minutes = 4 * 7 * 1440
    if minutes < 1:
        raise ValueError("scenario must last at least one minute")
    events = parse_events(args.events, start)
    if args.preset == "demo" and not args.events:
        # The busiest brands make the clearest demo (10:00 UTC is night for a US audience).
        def busy(b: SimBrand) -> float:
            prof = BrandProfile.for_brand(b.id)
            return prof.base_rate * (prof.tz_hours >= 0)

        desk = [b for b in brands if b.team == "crisis-desk"] or brands
        crisis = max(desk, key=busy)
        others = [b for b in brands if b.group != crisis.group] or [
            b for b in brands if b.id != crisis.id
        ]
        launch = max(others, key=busy, default=crisis)
        events = [
            EventSpec("product_defect", crisis.id, start + timedelta(hours=10)),
            EventSpec("launch_spike", launch.id, start + timedelta(hours=14)),
        ]
    k = args.random_events
    if k is None and args.preset == "eval":
        k = max(1, round(len(brands) * minutes / (7 * 1440)))
    if k:
        events += random_events(brands, start, minutes, k, args.seed)
    sc = Scenario(
        crowd_langs=parse_crowd_langs(args.crowd_langs, brands),
        event_langs=_crisis_langs(args.crisis_lang),
        lang_tags=not args.no_lang_tags,
        start=start,
        minutes=minutes,
        brands=brands,
        seed=args.seed,
        events=events,
        rate_scale=args.rate_scale or (1.5 if args.preset == "demo" else 1.0),
        late_share=args.late_share,
        announce=args.announce,
    )
    return sc


def parse_crowd_langs(specs: list[str], brands: list[SimBrand]) -> dict[str, dict[str, float]]:
    """``--crowd-langs`` values -> {brand id or "*": mix}; a brand's own mix wins over "*"."""
    out: dict[str, dict[str, float]] = {}
    known = {b.id for b in brands}
    for spec in specs:
        brand, sep, mix = spec.rpartition(":")
        key = brand.strip() if sep else "*"
        if sep and key not in known:
            raise ValueError(f"--crowd-langs {spec!r}: brand {key!r} is not in the scenario")
        if key in out:
            raise ValueError(f"--crowd-langs: {key if sep else 'the mix of every brand'} twice")
        try:
            out[key] = parse_mix(mix)
        except ValueError as exc:
            raise ValueError(f"--crowd-langs: {exc}") from None
    return out


def _crisis_langs(spec: str | None) -> dict[str, float] | None:
    try:
        return parse_mix(spec) if spec else None
    except ValueError as exc:
        raise ValueError(f"--crisis-lang: {exc}") from None


def reply_spec(args: argparse.Namespace) -> ReplySpec | None:
    """What --replies / --silent-during-crisis ask for, or None (no brand answers)."""
    if not args.replies and args.silent_during_crisis is None:
        return None
    spec = ReplySpec(args.reply_share, args.reply_median, args.silent_during_crisis)
    policies_for([], [], spec.answer_share, spec.median_s, spec.silent_after_min)  # validates
    return spec


@contextmanager
def open_out(path: str) -> Iterator[IO[str]]:
    if path == "-":
        yield sys.stdout
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.suffix == ".gz":  # mtime=0 and no file name in the header: same seed, same bytes
        with (
            open(p, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=5) as gz,
            io.TextIOWrapper(gz, encoding="utf-8", newline="\n") as f,
        ):
            yield f
    else:
        with open(p, "w", encoding="utf-8", newline="\n") as f:
            yield f


def _producer(bootstrap: str | None) -> Any:
    from kafka import KafkaProducer

    from crisis_radar.security import kafka_python_kwargs

    s = get_settings()
    kw: dict[str, Any] = {
        "bootstrap_servers": bootstrap or s.kafka_bootstrap,
        "linger_ms": 20,
        "batch_size": 512 * 1024,
        # As every producer of the pipeline: no post lost or doubled when a broker goes.
        "acks": "all",
        "enable_idempotence": True,
        "max_request_size": 4 << 20,
        **kafka_python_kwargs(s),  # SASL/SCRAM, TLS, secrets from files
    }
    return KafkaProducer(**kw)


def run(
    sc: Scenario,
    out: str | None,
    truth: Path | None = None,
    kafka_topic: str | None = None,
    quiet: bool = True,
    labels: str | None = None,
    bootstrap: str | None = None,
    replies: ReplySpec | None = None,
) -> int:
    """Generate once, fan out to file and/or Kafka; returns the number of posts."""
    # brand replies answer complaints: they need every post's intended label
    sim = Simulator(sc, record_labels=labels is not None or replies is not None)
    answers = None
    stream: Iterator[dict[str, Any]]
    producer = _producer(bootstrap) if kafka_topic else None
    bar = progress_bar(
        total=sc.minutes, unit="min", desc="simulate", disable=quiet, file=sys.stderr
    )
    stream = sim.posts(progress=bar.update)
    if replies is not None and sim.labels is not None:
        pol = policies_for(sc.brands, sim.truth, replies.answer_share, replies.median_s,
                           replies.silent_after_min)  # fmt: skip
        answers = BrandReplies(sc.brands, sim.labels, pol, seed=sc.seed)
        stream = answers.run(stream)
    n = 0
    with open_out(out) if out else _null() as f, open_out(labels) if labels else _null() as lf:
        buf: list[str] = []
        for post in stream:
            line = post_json(post)
            n += 1
            if sim.labels is not None:  # pop: memory stays bounded
                lab = sim.labels.pop(post["post_id"], None)
                if lab is None:  # a brand reply (not a crowd post: no intended sentiment)
                    lab = (_reply_brand(sc, post), "neutral", -1, "brand_reply")
                lang = (sim.post_langs or {}).pop(post["post_id"], "en")
                if lf is not None:
                    b, senti, event, role = lab
                    lf.write(
                        f'{{"post_id":"{post["post_id"]}","brand":"{b}","sentiment":"{senti}",'
                        f'"event":{event},"role":"{role}","lang":"{lang}"}}\n'
                    )
            if f is not None:
                buf.append(line)
                if len(buf) >= 5000:
                    f.write("\n".join(buf) + "\n")
                    buf.clear()
            if producer is not None:
                producer.send(
                    kafka_topic, key=f"simulated:{post['post_id']}".encode(), value=line.encode()
                )
        if f is not None and buf:
            f.write("\n".join(buf) + "\n")
    bar.close()
    if producer is not None:
        producer.flush()
        producer.close()
    if truth:  # after the run: the replies' truth is known only once every post was drawn
        doc = sim.truth_doc() | ({"replies": answers.truth()} if answers is not None else {})
        truth.parent.mkdir(parents=True, exist_ok=True)
        truth.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return n


def _reply_brand(sc: Scenario, post: dict[str, Any]) -> str:
    handle = post["author"].get("handle")
    return next((b.id for b in sc.brands if handle in b.official), "")


@contextmanager
def _null() -> Iterator[Any]:
    yield None


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not args.out and not args.kafka:
        print("crisis-radar simulate: give --out FILE (or -) and/or --kafka", file=sys.stderr)
        return 2
    try:
        sc = build_scenario(args)
        topic = (args.topic or get_settings().topic("posts.raw")) if args.kafka else None
        if topic:
            from radar_base.errors import probe_kafka

            probe_kafka(args.bootstrap or get_settings().kafka_bootstrap)
        spec = reply_spec(args)
        if spec is not None and not any(b.official for b in sc.brands):
            raise ValueError(
                "--replies: none of the brands has a simulated official account "
                "(watchlist official: {simulated: [...]})"
            )
        n = run(sc, args.out, args.truth, topic, args.quiet, args.labels, args.bootstrap, spec)
    except ValueError as exc:
        print(f"crisis-radar simulate: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `--out - | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if type(exc).__module__.startswith("kafka"):
            where = args.bootstrap or get_settings().kafka_bootstrap
            print(
                f"crisis-radar simulate: Kafka error ({where}): {exc!r}; "
                "is the stack up? (crisis-radar stack up)",
                file=sys.stderr,
            )
            return 1
        raise
    where = ", ".join(x for x in (args.out and f"file {args.out}", topic and f"topic {topic}") if x)
    print(
        f"simulated {n} posts, {len(sc.events)} events, {len(sc.brands)} brands -> {where}",
        file=sys.stderr,
    )
    return 0
