"""Ingest command and pipeline: dry runs, pacing, and the real local Kafka (raw + dlq topics)."""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kafka import TopicPartition
from kafka.record.default_records import DefaultRecordBatch
from test_decode_fuzz import FUZZ, GOOD, mutate

from crisis_radar.commands import dlq as dlq_cmd
from crisis_radar.commands import ingest as ingest_cmd
from crisis_radar.ingest import producer as producer_mod
from crisis_radar.ingest.bulk import EncodedBatch, PrebuiltRecords
from crisis_radar.ingest.pipeline import (
    Pacer,
    Pipeline,
    Send,
    read_line_chunks,
    read_records,
    sniff_format,
)
from crisis_radar.ingest.producer import REGISTRY, Sink, make_consumer, make_producer
from crisis_radar.ingest.route import route_hash
from crisis_radar.settings import Settings
from schemas import stages
from schemas.models import Author, DeadLetter, Post
from schemas.validate import (
    decode_post,
    original_bytes,
    screen_enabled,
    screen_key_texts,
    screen_posts,
)

SAMPLES = Path(__file__).parent / "samples"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def canonical_lines(n: int) -> list[bytes]:
    base = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    return [
        Post(platform="simulated", post_id=f"p{i}", author=Author(id=f"u{i % 5}"),
             text=f"acme post {i}", created_at=base + timedelta(seconds=i)).to_json()
        for i in range(n)
    ]  # fmt: skip


BAD_LINES = [
    b"\xff\xfe not utf8",
    b'{"platform": "x", "post_id": "trunc',
    b'{"platform": "x", "post_id": "1", "author": {"id": "u"}, "text": "t", '
    b'"created_at": "2099-01-01T00:00:00Z"}',
    b'{"platform": "x", "post_id": "2", "author": {"id": "u"}, "text": "t", '
    b'"created_at": "2001-01-01T00:00:00Z"}',
    b'{"platform": "x", "post_id": "3", "author": {"id": "u", "followers": -5}, "text": "t", '
    b'"created_at": "2026-11-23T10:00:00Z"}',
]


def mixed_file(tmp_path: Path, gz: bool = False) -> Path:
    lines = canonical_lines(20)
    lines[5:5] = BAD_LINES
    path = tmp_path / ("mixed.jsonl.gz" if gz else "mixed.jsonl")
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def test_canonical_fast_path_sends_original_bytes(tmp_path: Path) -> None:
    path = mixed_file(tmp_path)
    assert sniff_format(str(path), "auto") == "canonical"
    pipeline = Pipeline("canonical", now=lambda: NOW)
    outs = [o for raw, obj, plat in read_records(str(path)) for o in pipeline.process(raw, obj)]
    sends = [o for o in outs if isinstance(o, Send)]
    letters = [o for o in outs if isinstance(o, DeadLetter)]
    assert [s.value for s in sends] == canonical_lines(20)  # byte-identical, file order
    assert [s.key for s in sends] == [f"simulated:p{i}".encode() for i in range(20)]
    assert [d.reason for d in letters] == [
        "bad_utf8", "bad_json", "future_timestamp", "ancient_timestamp", "schema"
    ]  # fmt: skip
    assert [original_bytes(d) for d in letters] == BAD_LINES
    s = pipeline.stats
    assert s.read == 25 == s.sent + s.rejected_total + s.skipped


def test_chunked_fast_path_equals_per_line() -> None:
    good = canonical_lines(12)
    two_on_one_line = good[0] + b"," + good[1]
    # each line invalid alone, but comma-joined they parse as three objects
    sneaky = [b'{"a":"}', b'{","b":1},{"c":2}', good[2]]
    lines = [*good[3:8], *BAD_LINES, two_on_one_line, *good[8:]]
    for chunk in (lines, sneaky, good):
        per_line = Pipeline("canonical", now=lambda: NOW)
        chunked = Pipeline("canonical", now=lambda: NOW)
        expected = [o for raw in chunk for o in per_line.process(raw)]
        assert chunked.process_canonical_chunk(chunk) == expected
        assert chunked.stats == per_line.stats
    assert [o.reason for o in expected if isinstance(o, DeadLetter)] == []  # last chunk: all good


def test_screen_accepts_what_decode_post_accepts() -> None:
    assert screen_enabled(), "schemas.validate: the screen no longer understands Post's schema"
    base = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    full = Post(platform="x", post_id="9", author=Author(id="u", handle="h", followers=2**63 - 1),
                text="t", lang=None, created_at=base, url="https://x/9", reply_to="1",
                repost_of="2", quote_of="3", hashtags=["a"] * 100, mentions=["b"],
                engagement={"likes": 2**63 - 1}, source="s").to_json()  # fmt: skip
    offset = GOOD | {"created_at": "2026-11-24T13:59:59+02:00", "engagement": {"likes": 3}}
    good = [*canonical_lines(5), full, json.dumps(offset).encode()]
    got = screen_posts(good, NOW)
    assert got == [((p := Post.model_validate_json(r)).key, p.created_at) for r in good]
    texts = [Post.model_validate_json(r).text for r in good]
    want = [(k.encode(), t) for (k, _), t in zip(got, texts, strict=True)]  # type: ignore[misc]
    assert screen_key_texts(good, NOW) == want
    assert screen_posts(BAD_LINES, NOW) == [None] * len(BAD_LINES)
    assert screen_key_texts(BAD_LINES, NOW) == [None] * len(BAD_LINES)


def test_bulk_routes_equal_route_hash() -> None:
    base = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    texts = ["RT @bob: ACME stole my data!!! https://t.co/x #fail", "acme stole my data", "",
             "   ", "#only #tags", "caf\u00e9 \U0001f600 ok", "x" * 10_000]  # fmt: skip
    lines = [Post(platform="x", post_id=f"r{i}", author=Author(id="u"), text=t,
                  created_at=base).to_json() for i, t in enumerate(texts)]  # fmt: skip
    for chunk in (lines, [*lines, BAD_LINES[1]]):  # clean chunk, and one with a dead letter
        pairs, routes, letters = Pipeline("canonical", now=lambda: NOW).split_canonical_chunk(chunk)
        assert [v for _, v in pairs] == lines and len(letters) == len(chunk) - len(lines)
        assert routes == [route_hash(k, v) for k, v in pairs]


@FUZZ
@given(st.lists(st.data(), min_size=1, max_size=6))
def test_screen_is_never_looser_than_decode_post(batch: list[st.DataObject]) -> None:
    raws = []
    for data in batch:
        raw = json.dumps(mutate(GOOD, data)).encode()
        if data.draw(st.booleans()):
            raw = raw[: data.draw(st.integers(0, len(raw)))]
        raws.append(raw)
    key_texts = screen_key_texts(raws, NOW)
    for raw, ok, kt in zip(raws, screen_posts(raws, NOW), key_texts, strict=True):
        assert (ok is None) == (kt is None)
        if ok is not None:
            post = decode_post(raw, "fuzz", NOW)
            assert isinstance(post, Post) and ok == (post.key, post.created_at), raw
            assert kt == (post.key.encode(), post.text)


def test_bulk_doctests() -> None:  # crisis_radar/ is outside pytest's doctest paths
    import doctest

    from crisis_radar.ingest import bulk

    result = doctest.testmod(bulk)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("lz4", [True, False])
def test_prebuilt_batch_is_a_valid_kafka_batch(lz4: bool) -> None:
    records = [(f"k{i}".encode(), b"v%d" % i * (i * 97 % 6000)) for i in range(300)]  # some > 16 KB
    batch = PrebuiltRecords(EncodedBatch.encode(3, records, lz4))
    batch.set_producer_state(7, 1, 42, False)
    batch.close()
    parsed = DefaultRecordBatch(bytes(batch.buffer()))  # kafka-python's own reader
    assert parsed.validate_crc()
    assert (parsed.producer_id, parsed.producer_epoch, parsed.base_sequence) == (7, 1, 42)
    assert parsed.compression_type == (DefaultRecordBatch.CODEC_LZ4 if lz4 else 0)
    assert parsed.last_offset_delta == 299 and parsed.records_count == 300
    assert [(r.offset, r.key, r.value) for r in parsed] == [(i, k, v) for i, (k, v) in
                                                            enumerate(records)]  # fmt: skip


def test_gzip_and_stdin_read_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gz = mixed_file(tmp_path, gz=True)
    plain = mixed_file(tmp_path)
    from_gz = [r[0] for r in read_records(str(gz))]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(plain.read_bytes())))
    assert [r[0] for r in read_records("-")] == from_gz == plain.read_bytes().split(b"\n")[:-1]
    # the bulk reader: same lines, blank ones and surrounding whitespace dropped alike
    gappy = tmp_path / "gappy.jsonl"
    numbers = b"\n".join(b"%d" % i for i in range(20))
    gappy.write_bytes(b"\n\n  a \n\n\n\nb\r\n" + numbers + b"\n \n")
    want = [r[0] for r in read_records(str(gappy))]
    assert len(want) == 22
    for size in (1, 3, 7, 1000):
        assert [line for c in read_line_chunks(str(gappy), size) for line in c] == want
        assert [line for c in read_line_chunks(str(gz), size) for line in c] == from_gz


def _sheet(rows: list[list[str]], sep: str) -> str:
    """A spreadsheet's CSV export: fields holding the separator or a quote are quoted."""
    out = io.StringIO()
    csv.writer(out, delimiter=sep, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


SHEET = [
    ["tweet_id", "body", "ts", "user"],
    ["a1", "Acme shipping delays, again; sigh", "2026-11-23 10:04:00", "ivan"],
    ["a2", "Acme café crème brûlée\tis awful", "2026-11-23 10:05:00", "zoë"],
    ["a3", 'one "quoted" | word', "2026-11-23 10:06:00", "kim"],
]


@pytest.mark.parametrize(
    ("name", "sep", "encode"),
    [
        ("plain.csv", ",", lambda t: t.encode("utf-8")),
        ("excel-utf8.csv", ",", lambda t: codecs.BOM_UTF8 + t.encode("utf-8")),
        ("europe.csv", ";", lambda t: t.encode("utf-8")),
        ("windows.csv", ";", lambda t: t.encode("cp1252")),
        ("excel-unicode.tsv", "\t", lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le")),
        ("no-bom-utf16.csv", ",", lambda t: t.encode("utf-16-le")),
        ("pipes.csv.gz", "|", lambda t: gzip.compress(t.encode("utf-8"))),
    ],
)
def test_spreadsheet_exports_read_the_same_rows(
    tmp_path: Path, name: str, sep: str, encode: Any
) -> None:
    """Excel's "CSV UTF-8" (a BOM), its "Unicode text" (UTF-16, tabs), a European locale's ";",
    Windows-1252 and "|" exports give the rows as written: separator and encoding are found
    from the file's start, a letter that is not UTF-8 is read as Windows-1252, not dropped."""
    path = tmp_path / name
    path.write_bytes(encode(_sheet(SHEET, sep)))
    rows = [obj for _raw, obj, kind in read_records(str(path)) if kind == "csv"]
    assert rows == [dict(zip(SHEET[0], row, strict=True)) for row in SHEET[1:]]


PREAMBLE = [["Brand mentions export"], ["Report:", "Telvana weekly"], ["From:", "2026-11-16"], []]


@pytest.mark.parametrize("sep", [",", ";"])
@pytest.mark.parametrize("rows", [SHEET, SHEET[:2]])
def test_a_report_preamble_above_the_header_is_skipped(
    tmp_path: Path, sep: str, rows: list[list[str]]
) -> None:
    """Listening tools put report lines above the column header; the header is the first line
    as wide as the data, whatever the separator and however few the rows."""
    path = tmp_path / "report.csv"
    path.write_text(_sheet(PREAMBLE, sep) + _sheet(rows, sep))
    got = [obj for _raw, obj, _kind in read_records(str(path))]
    assert got == [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_multiline_texts_keep_the_first_line_as_header(tmp_path: Path) -> None:
    rows = [SHEET[0]] + [[f"m{i}", f"line one\nline two {i}\nthree", "2026-11-23", "u"]
                         for i in range(40)]  # fmt: skip
    path = tmp_path / "multiline.csv"
    path.write_text(_sheet(rows, ","))
    got = [obj for _raw, obj, _kind in read_records(str(path))]
    assert got == [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def test_a_workbook_preamble_is_skipped(tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    for row in [*PREAMBLE, *SHEET]:
        book.active.append(row)
    book.save(tmp_path / "report.xlsx")
    got = [obj for _raw, obj, _kind in read_records(str(tmp_path / "report.xlsx"))]
    assert got == [dict(zip(SHEET[0], row, strict=True)) for row in SHEET[1:]]


def test_a_huge_field_is_a_row_not_an_exception(tmp_path: Path) -> None:
    """The csv module's 128 KiB field limit raised mid-file (a traceback, the rest unread);
    now the row is read, and the record checks dead-letter its text as too large."""
    path = tmp_path / "huge.csv"
    path.write_text(_sheet([SHEET[0], ["h1", "x" * 200_000, "2026-11-23", "u"], SHEET[1]], ","))
    rows = [obj for _raw, obj, _kind in read_records(str(path))]
    assert [len(r["body"]) for r in rows] == [200_000, len(SHEET[1][1])]
    outcomes = Pipeline("generic", {"text": "body", "created_at": "ts"}).process(
        json.dumps(rows[0]).encode(), rows[0], "csv"
    )
    assert isinstance(outcomes[0], DeadLetter) and outcomes[0].reason == "too_large"


def test_a_json_envelope_is_opened_but_platform_containers_are_not(tmp_path: Path) -> None:
    """{"results": [...], "next": ...} (an API page, a scraper's file) gives its posts; an X
    response (with "includes") and a Reddit Listing stay whole for their normalisers."""
    posts = [
        {"text": "telvana down", "created_at": "2026-11-23T10:00:00Z", "author": "a"},
        {"text": "telvana back", "created_at": "2026-11-23T10:01:00Z", "author": "b"},
    ]
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"results": posts, "next": "cursor-2"}))
    assert [obj for _raw, obj, _kind in read_records(str(page))] == posts
    for sample in ("x_v2_response.json", "reddit_listing.json"):
        whole = json.loads((SAMPLES / sample).read_text())
        assert [obj for _raw, obj, _kind in read_records(str(SAMPLES / sample))] == [whole]


def test_a_utf8_bom_does_not_cost_the_first_record(tmp_path: Path) -> None:
    lines = mixed_file(tmp_path).read_bytes()
    marked = tmp_path / "marked.jsonl"
    marked.write_bytes(codecs.BOM_UTF8 + lines)
    want = [r[0] for r in read_records(str(mixed_file(tmp_path)))]
    assert [r[0] for r in read_records(str(marked))] == want
    assert [line for c in read_line_chunks(str(marked), 3) for line in c] == want


@pytest.mark.parametrize("workers", ["0", "2"])
def test_dry_run_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str], workers: str) -> None:
    path = mixed_file(tmp_path)
    argv = [str(path), str(SAMPLES / "x_v2_response.json"), "--dry-run", "--quiet"]
    code = ingest_cmd.main([*argv, "--workers", workers])
    err = capsys.readouterr().err
    assert code == 0
    assert "read 26, sent 23, skipped 0, rejected 5" in err
    assert "ancient_timestamp=1, bad_json=1, bad_utf8=1, future_timestamp=1, schema=1" in err


def test_workers_default_only_for_big_canonical_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(mixed_file(tmp_path))
    parse = ingest_cmd.build_parser().parse_args
    monkeypatch.setattr(ingest_cmd.os, "cpu_count", lambda: 2)
    assert ingest_cmd._workers(parse([path]), [path]) == 0  # small: the pool's start costs more
    monkeypatch.setattr(ingest_cmd, "AUTO_WORKERS_BYTES", 100)
    assert ingest_cmd._workers(parse([path]), [path]) == 2
    assert ingest_cmd._workers(parse([path, "--workers", "0"]), [path]) == 0
    assert ingest_cmd._workers(parse([path, "--engine", "aiokafka"]), [path]) == 0
    assert ingest_cmd._workers(parse(["-"]), ["-"]) == 0  # stdin: size unknown
    monkeypatch.setattr(ingest_cmd.os, "cpu_count", lambda: 1)
    assert ingest_cmd._workers(parse([path]), [path]) == 0


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ingest_cmd.main([]) == 2
    assert ingest_cmd.main([str(tmp_path / "nope.jsonl"), "--dry-run"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert ingest_cmd.main(["x.csv", "--map", "colour=c", "--dry-run"]) == 2
    assert "bad mapping" in capsys.readouterr().err


def test_metrics_port_exposes_dlq_counter(tmp_path: Path) -> None:
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    path = mixed_file(tmp_path)
    assert ingest_cmd.main([str(path), "--dry-run", "--quiet", "--metrics-port", str(port)]) == 0
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    line = next(x for x in body.splitlines() if x.startswith("crisis_radar_dlq_total{")
                and 'reason="future_timestamp"' in x)  # fmt: skip
    assert 'stage="ingest"' in line and float(line.split()[-1]) >= 1


def test_pacer_speedup_and_rate() -> None:
    clock = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        clock[0] += s

    pacer = Pacer(speedup=10, clock=lambda: clock[0], sleep=sleep)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for offset in (0, 10, 20, 15, 30):  # event time in s; 15 arrives late
        pacer.wait(t0 + timedelta(seconds=offset))
    assert slept == pytest.approx([1.0, 1.0, 1.0])  # the late post is not delayed
    clock[0], slept[:] = 0.0, []
    rate = Pacer(rate=100, clock=lambda: clock[0], sleep=sleep)
    for _ in range(11):
        rate.wait(t0)
    assert clock[0] == pytest.approx(0.10)


def consume(settings: Settings, stage: str) -> list[tuple[bytes | None, bytes]]:
    """Everything on a topic now, in partition order."""
    return [(k, v) for _, k, v in consume_partitions(settings, stage)]


def consume_partitions(settings: Settings, stage: str) -> list[tuple[int, bytes | None, bytes]]:
    """(partition, key, value) of everything on a topic now, in partition order."""
    topic = settings.topic(stage)
    consumer = make_consumer(settings)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        if not tps:
            return []
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[tuple[int, bytes | None, bytes]] = []
        while any(consumer.position(tp) < end[tp] for tp in tps):
            for messages in consumer.poll(timeout_ms=1000).values():
                out += [(m.partition, m.key, m.value) for m in messages]
        return out
    finally:
        consumer.close()


@pytest.mark.stack
@pytest.mark.parametrize("engine", ["kafka-python", "aiokafka"])
def test_ingest_into_kafka_and_dead_letters(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str], engine: str
) -> None:
    path = mixed_file(tmp_path)
    jet = SAMPLES / "bluesky_jetstream.jsonl"
    argv = [str(path), str(jet), "--quiet", "--engine", engine]
    assert ingest_cmd.main(argv, settings=settings) == 0
    assert "read 31, sent 23, skipped 3, rejected 5" in capsys.readouterr().err
    raw = consume(settings, stages.POSTS_RAW)
    posts = [Post.model_validate_json(v) for _, v in raw]
    assert len(posts) == 23
    # replay order: within each partition, posts keep their file order
    seq: dict[int, list[int]] = {}
    for part, _, v in consume_partitions(settings, stages.POSTS_RAW):
        post = Post.model_validate_json(v)
        if post.platform == "simulated":
            seq.setdefault(part, []).append(int(post.post_id[1:]))
    assert all(s == sorted(s) for s in seq.values()) and len(seq) > 1
    assert all(k == p.key.encode() for (k, _), p in zip(raw, posts, strict=True))
    assert {p.key for p in posts} >= {f"simulated:p{i}" for i in range(20)}
    letters = [DeadLetter.model_validate_json(v) for _, v in consume(settings, stages.POSTS_DLQ)]
    assert sorted(d.reason for d in letters) == [
        "ancient_timestamp", "bad_json", "bad_utf8", "future_timestamp", "schema"
    ]  # fmt: skip
    assert sorted(original_bytes(d) for d in letters) == sorted(BAD_LINES)
    assert all(d.source == f"ingest:{path}" for d in letters)
    metric = REGISTRY.get_sample_value(
        "crisis_radar_dlq_total", {"stage": "ingest", "reason": "bad_utf8"}
    )
    assert metric is not None and metric >= 1


@pytest.mark.stack
def test_dlq_show_and_replay_after_fix(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    # a CSV ingested as the wrong format: every row is dead-lettered (missing text)... (without
    # its mapping, ingest stops at once: no time column, see test_order.py)
    csv = SAMPLES / "generic.csv"
    # nothing sent: exit status 1, with the likely fix built from the columns seen
    assert ingest_cmd.main([str(csv), "--quiet", "--format", "x"], settings=settings) == 1
    err = capsys.readouterr().err
    assert "rejected 5" in err and "--format generic --map text=body,created_at=ts" in err
    assert consume(settings, stages.POSTS_RAW) == []
    assert dlq_cmd.main(["show", "--limit", "2"], settings=settings) == 0
    out = capsys.readouterr().out
    assert "5 dead letters" in out and "missing_field=5" in out
    assert out.count("original: ") == 2
    # ...replayed with the mapping (the fix), the three good rows reach posts.raw
    fix = "text=body,created_at=ts,id=tweet_id,author=user,hashtags=tags"
    assert dlq_cmd.main(["replay", "--format", "generic", "--map", fix], settings=settings) == 0
    out = capsys.readouterr().out
    assert "re-sent 3 posts" in out and "still invalid 2" in out
    posts = [Post.model_validate_json(v) for _, v in consume(settings, stages.POSTS_RAW)]
    assert sorted(p.post_id for p in posts)[:2] == ["a1", "a2"] and len(posts) == 3
    a1 = next(p for p in posts if p.post_id == "a1")
    assert a1.hashtags == ["acme", "shipping"] and a1.author.followers == 120


@pytest.mark.stack
@pytest.mark.parametrize("workers", [0, 2])
def test_bulk_path_many_batches_in_order(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    # small batches: hundreds per partition, more than may be in flight, so the sink waits;
    # with workers, small chunks so several are screened at once and must come back in order
    monkeypatch.setattr(producer_mod, "MAX_BODY", 8_000)
    monkeypatch.setattr(producer_mod, "POOL_CHUNK", 300)
    lines = canonical_lines(6000)
    lines[4321] = BAD_LINES[2]  # a dead letter mid-way (future timestamp)
    path = tmp_path / "many.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    argv = [str(path), "--quiet", "--workers", str(workers)]
    assert ingest_cmd.main(argv, settings=settings) == 0
    letters = [DeadLetter.model_validate_json(v) for _, v in consume(settings, stages.POSTS_DLQ)]
    assert [(d.reason, original_bytes(d)) for d in letters] == [("future_timestamp", lines[4321])]
    del lines[4321]
    got = consume_partitions(settings, stages.POSTS_RAW)
    assert sorted(v for _, _, v in got) == sorted(lines)  # each post exactly once
    seq: dict[int, list[int]] = {}
    for part, key, value in got:
        post = Post.model_validate_json(value)
        assert key == post.key.encode()
        assert part == route_hash(key, value) % settings.topic_partitions  # exact dups meet
        seq.setdefault(part, []).append(int(post.post_id[1:]))
    assert all(s == sorted(s) for s in seq.values()) and len(seq) == settings.topic_partitions


@pytest.mark.stack
def test_bulk_send_failure_is_reported(settings: Settings) -> None:
    producer = make_producer(settings, linger_ms=0, request_timeout_ms=1000,
                             delivery_timeout_ms=1500)  # fmt: skip
    sink = Sink(settings, producer)
    try:
        sink.post_many([(b"x:1", canonical_lines(1)[0])])
        assert sink.bulk is not None
        sink.bulk.put(sink.raw_topic, 99, [(b"x:2", b"{}")])  # a partition that does not exist
        with pytest.raises(RuntimeError, match=r"1 sends failed.*partition=99"):
            sink.flush(timeout=30)
    finally:
        producer.close(timeout=5)


@pytest.mark.stack
def test_aiokafka_sink_flush_with_nothing_pending(settings: Settings) -> None:
    """A flush with nothing left to ship (an empty input, or a second flush) returns: it used
    to gather no futures on the default event loop and fail with 'a different loop'."""
    from crisis_radar.ingest.producer import AioBatchSink
    from streams.topics import ensure_topics

    ensure_topics(settings)
    sink = AioBatchSink.start(settings)
    try:
        sink.flush()
        sink.post_many([(b"simulated:p0", canonical_lines(1)[0])])
        sink.flush()
        sink.flush()
    finally:
        sink.close()
    assert [k for k, _ in consume(settings, stages.POSTS_RAW)] == [b"simulated:p0"]
