"""Event-time order: the external sort (pure), the history reader, and ``ingest --order``."""

from __future__ import annotations

import csv
import doctest
import gc
import random
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from test_ingest import canonical_lines, consume_partitions

from crisis_radar.commands import ingest as ingest_cmd
from crisis_radar.ingest import order
from crisis_radar.ingest.history import (
    NoTimeColumn,
    canonical_in_order,
    check_time_column,
    read_history,
)
from crisis_radar.ingest.order import TimeSorter, from_micros, micros, sort_by_time
from crisis_radar.ingest.pipeline import Send
from crisis_radar.settings import Settings
from schemas import stages
from schemas.models import DeadLetter, Post

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def sends(n: int, seed: int, spread_s: int = 3600) -> list[Send]:
    rng = random.Random(seed)
    return [
        Send(b"k%d" % i, b'{"i": %d}\n\x00' % i, T0 + timedelta(seconds=rng.randrange(spread_s)))
        for i in range(n)
    ]


def expected(items: list[Send]) -> list[Send]:
    return [s for _, s in sorted(enumerate(items), key=lambda p: (p[1].created_at, p[0]))]


def test_doctest() -> None:
    result = doctest.testmod(order)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("chunk", [1, 3, 7, 50, 1000])
def test_sort_equals_sorted_by_time_then_input_order(chunk: int, tmp_path: Path) -> None:
    for seed in range(5):
        items = sends(random.Random(seed).randrange(0, 400), seed, spread_s=60)  # many ties
        sorter = TimeSorter(chunk, tmp_path)
        got = list(sorter.sort(iter(items)))
        assert [s.key for s in got] == [s.key for s in expected(items)]
        assert [(s.value, s.created_at) for s in got] == [
            (s.value, s.created_at) for s in expected(items)
        ]
        assert sorter.count == len(items)
        assert sorter.runs == (0 if len(items) <= chunk else (len(items) - 1) // chunk)
        assert list(tmp_path.iterdir()) == []


def test_many_runs_are_merged_in_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(order, "MAX_FAN_IN", 3)  # 40 runs: merged 3 at a time
    items = sends(205, 1)
    assert list(sort_by_time(items, chunk=5, tmpdir=tmp_path)) == expected(items)
    assert list(tmp_path.iterdir()) == []


def test_out_of_order_count() -> None:
    newest_first = list(reversed(expected(sends(100, 2, spread_s=10**6))))
    sorter = TimeSorter(30)
    assert [s.key for s in sorter.sort(newest_first)] == [s.key for s in expected(newest_first)]
    first = newest_first[0].created_at
    late = sum(s.created_at < first for s in newest_first)  # all but the first and its ties
    assert sorter.out_of_order == late > 90


def test_sorted_input_does_not_sort_or_merge(tmp_path: Path) -> None:
    items = expected(sends(100, 3))
    one = TimeSorter(100, tmp_path)
    assert list(one.sort(items)) == items and one.runs == 0  # fits: never touches the disk
    assert list(tmp_path.iterdir()) == []
    many = TimeSorter(10, tmp_path)
    assert list(many.sort(iter(items))) == items and many.out_of_order == 0


def test_sorted_canonical_files_are_not_spilled(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    lines = canonical_lines(50)
    a.write_bytes(b"\n".join(lines[:30]) + b"\n\xff garbage line\n")  # a dead letter: no matter
    b.write_bytes(b"\n".join(lines[30:]) + b"\n")
    spill = tmp_path / "spill"
    spill.mkdir()
    assert canonical_in_order([str(a), str(b)])
    assert not canonical_in_order([str(b), str(a)])
    swapped = tmp_path / "swapped.jsonl"
    swapped.write_bytes(b"\n\n".join([*lines[:20], lines[21], lines[20], *lines[22:]]))
    assert not canonical_in_order([str(swapped)])
    letters: list[DeadLetter] = []
    history = read_history([str(a), str(b)], on_dead=letters.append, chunk=7, tmpdir=spill)
    got = history.sends()
    assert next(got).value == lines[0]
    assert list(spill.iterdir()) == []  # streamed: nothing sorted, nothing written
    assert [s.value for s in got] == lines[1:]
    assert history.sorter.runs == 0 and [d.reason for d in letters] == ["bad_utf8"]
    assert history.stats.sent == 50 and history.stats.read == 51


def test_temp_files_removed_on_errors(tmp_path: Path) -> None:
    items = sends(100, 4)

    def failing(exc: BaseException) -> Iterator[Send]:
        yield from items[:45]
        raise exc

    for exc in (ValueError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            list(sort_by_time(failing(exc), chunk=10, tmpdir=tmp_path))
        assert list(tmp_path.iterdir()) == []
    # the consumer stops half-way (an error downstream, Ctrl-C): closing cleans up
    it = sort_by_time(items, chunk=10, tmpdir=tmp_path)
    assert next(it) == expected(items)[0]
    assert len(list(next(tmp_path.iterdir()).iterdir())) == 9
    it.close()
    assert list(tmp_path.iterdir()) == []
    it = sort_by_time(items, chunk=10, tmpdir=tmp_path)
    next(it)
    del it
    gc.collect()
    assert list(tmp_path.iterdir()) == []


def test_memory_is_bounded_by_the_chunk(tmp_path: Path) -> None:
    def stream(n: int) -> Iterator[Send]:  # generated on the fly: the input costs no memory
        rng = random.Random(5)
        for i in range(n):
            yield Send(b"x:%d" % i, b"v" * 100, T0 + timedelta(microseconds=rng.randrange(10**10)))

    def peak(chunk: int) -> int:
        tracemalloc.start()
        try:
            last = None
            for s in sort_by_time(stream(100_000), chunk=chunk, tmpdir=tmp_path):
                assert last is None or last <= s.created_at
                last = s.created_at
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    spilled, in_memory = peak(5_000), peak(100_000)
    assert spilled * 5 < in_memory, (spilled, in_memory)


def test_micros_round_trip() -> None:
    pyd = TypeAdapter(datetime).validate_json('"2026-11-23T10:00:00.000001+02:00"')
    cases = [
        T0,
        pyd,
        datetime(2026, 11, 23, 10),
        T0.astimezone(timezone(timedelta(hours=-5))),
        datetime(1900, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, UTC),
    ]
    for t in cases:
        back = from_micros(micros(t))
        assert back == (t if t.tzinfo else t.replace(tzinfo=UTC)) and back.tzinfo is not None
    assert micros(pyd) == micros(T0 - timedelta(hours=2)) + 1
    rng = random.Random(6)
    for _ in range(20_000):
        t = T0 + timedelta(microseconds=rng.randrange(-(10**15), 10**15))
        assert from_micros(micros(t)) == t


# --- the time column check ----------------------------------------------------------------


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def newest_first(n: int) -> list[list[str]]:
    return [
        [f"t{i}", f"acme thing {i}", (T0 + timedelta(seconds=17 * i)).isoformat(), f"u{i % 7}"]
        for i in reversed(range(n))
    ]


def test_no_usable_time_column(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "export.csv",
        ["id", "text", "when"],
        [["1", "hi", "yesterday"], ["2", "ho", "last week"]] * 600,
    )
    with pytest.raises(NoTimeColumn) as err:
        check_time_column(str(path), "generic", {"created_at": "ts"})
    assert str(err.value) == (
        f"{path}: no usable time column: 'ts' (mapped to created_at) is "
        "missing in the header; columns: id, text, when"
    )
    with pytest.raises(NoTimeColumn) as err:
        check_time_column(str(path), "generic", {"created_at": "when"})
    assert str(err.value) == (
        f"{path}: no usable time column: 'when' (mapped to created_at) has "
        "no parseable date in the first 1,000 rows (e.g. 'yesterday')"
    )
    with pytest.raises(NoTimeColumn, match="none of created_at, timestamp, time"):
        check_time_column(str(path), "auto")
    blank = write_csv(tmp_path / "blank.csv", ["id", "text", "ts"], [["1", "hi", ""]] * 5)
    with pytest.raises(NoTimeColumn) as err:
        check_time_column(str(blank), "generic", {"created_at": "ts"})
    assert str(err.value).endswith("'ts' (mapped to created_at) is empty in every row; "
                                   "columns: id, text, ts")  # fmt: skip
    # a few bad dates among good ones: no error (they are dead-lettered as usual)
    mixed = write_csv(
        tmp_path / "mixed.csv",
        ["id", "text", "when"],
        [["1", "hi", "yesterday"]] * 999 + [["2", "ho", "2026-11-23 10:00"]],
    )
    check_time_column(str(mixed), "generic", {"created_at": "when"})
    # rows failing on something else first (no text) are not a time problem
    no_text = write_csv(tmp_path / "no_text.csv", ["id", "when"], [["1", "x"]] * 5)
    check_time_column(str(no_text), "auto")


def test_history_reads_files_in_event_time_order(tmp_path: Path) -> None:
    rows = newest_first(300)
    rows.insert(100, ["bad", "a bad date", "soon", "u"])
    a = write_csv(tmp_path / "a.csv", ["tweet_id", "body", "ts", "user"], rows[:150])
    b = write_csv(tmp_path / "b.csv", ["tweet_id", "body", "ts", "user"], rows[150:])
    letters: list[DeadLetter] = []
    mapping = {"created_at": "ts", "id": "tweet_id", "text": "body", "author": "user"}
    history = read_history([str(b), str(a)], "auto", mapping, "backtest", letters.append, chunk=40)
    posts = list(history.posts())
    assert [p.post_id for p in posts] == [f"t{i}" for i in range(300)]
    assert all(isinstance(p, Post) for p in posts)
    assert [(d.reason, d.source) for d in letters] == [("bad_timestamp", f"backtest:{a}")]
    assert history.stats.summary() == "read 301, sent 300, skipped 0, rejected 1 (bad_timestamp=1)"
    assert history.out_of_order == 150 + 148 and history.sorter.runs == 7
    with pytest.raises(RuntimeError, match="read once"):
        history.sends()
    with pytest.raises(NoTimeColumn, match="'when' \\(mapped to created_at\\) is missing"):
        read_history([str(a)], "auto", {"created_at": "when"})


# --- ingest --order, on the real Kafka ------------------------------------------------------


@pytest.mark.stack
def test_ingest_sends_newest_first_csv_in_event_time_order(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = newest_first(1500)
    rows[700][2] = "not a date"  # one dead letter, sent as today
    path = write_csv(tmp_path / "export.csv", ["tweet_id", "body", "ts", "user"], rows)
    argv = [str(path), "--quiet", "--map", "text=body,created_at=ts,id=tweet_id,author=user"]
    assert ingest_cmd.main(argv, settings=settings) == 0
    err = capsys.readouterr().err
    assert "read 1500, sent 1499, skipped 0, rejected 1 (bad_timestamp=1)" in err
    assert "reordered by event time: 1,498 of 1,499 posts were out of order" in err
    got = consume_partitions(settings, stages.POSTS_RAW)
    assert len(got) == 1499
    by_part: dict[int, list[int]] = {}
    for part, _, value in got:
        by_part.setdefault(part, []).append(int(Post.model_validate_json(value).post_id[1:]))
    assert len(by_part) > 1
    for ids in by_part.values():  # ids grow with event time: each partition is in time order
        assert ids == sorted(ids)
    letters = [
        DeadLetter.model_validate_json(v)
        for _, _, v in consume_partitions(settings, stages.POSTS_DLQ)
    ]
    assert [d.reason for d in letters] == ["bad_timestamp"]
    # --order file keeps the file's order (newest first)
    settings2 = settings.model_copy(update={"topic_prefix": settings.topic_prefix + "f."})
    assert ingest_cmd.main([*argv, "--order", "file"], settings=settings2) == 0
    assert "reordered" not in capsys.readouterr().err
    first: dict[int, int] = {}
    for part, _, value in consume_partitions(settings2, stages.POSTS_RAW):
        first.setdefault(part, int(Post.model_validate_json(value).post_id[1:]))
    assert max(first.values()) > 1400


def test_ingest_stops_on_a_file_without_time_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "export.csv", ["id", "text", "when"], [["1", "hi", "today"]] * 9)
    settings = Settings(kafka_bootstrap="127.0.0.1:1")  # stops before any Kafka connection
    assert ingest_cmd.main([str(path), "--map", "created_at=ts"], settings=settings) == 2
    err = capsys.readouterr().err
    assert err == (
        f"crisis-radar ingest: {path}: no usable time column: 'ts' (mapped to "
        "created_at) is missing in the header; columns: id, text, when\n"
    )
