"""Files of posts read in event-time order: what ``ingest`` sends and what offline commands
(backfill, backtest) consume.

    try:
        history = read_history(paths, "auto", {"created_at": "ts"}, "backtest", on_dead=sink.dead)
    except NoTimeColumn as exc:  # one line naming the column: print it, exit 2
        ...
    for post in history.posts():  # validated Posts, oldest first, across all files
        ...                       # (or history.sends(): key, JSON bytes, created_at)
    history.stats.summary(), history.out_of_order

Memory stays bounded for any size: posts are sorted externally (``order.TimeSorter``) and dead
letters go to ``on_dead`` as they happen (nothing is kept). A file whose first rows all lack a
usable event time raises ``NoTimeColumn`` before anything is read in full.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import closing
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from crisis_radar.ingest.normalise import (
    FORMATS,
    TIME_COLUMNS,
    NormaliseError,
    detect_format,
    normalise,
    slash_order,
    time_column,
)
from crisis_radar.ingest.order import TimeSorter
from crisis_radar.ingest.pipeline import (
    Outcome,
    Pipeline,
    Send,
    Stats,
    file_kind,
    open_input,
    read_line_chunks,
    read_records,
    sniff_format,
    time_runs,
)
from schemas.models import DeadLetter, Post
from schemas.validate import EPOCH_FLOOR, MAX_FUTURE

CHECK_ROWS = 1000  # rows looked at for a usable time column
READ_CHUNK = 500  # canonical lines validated at once (as the bulk ingest path)


class NoTimeColumn(ValueError):
    """No row among the first of a file has an event time: a wrong ``--map`` or export."""


def _generic_objects(
    path: str, fmt: str, limit: int | None = None
) -> Iterator[tuple[Mapping[str, Any], str]]:
    """(record, platform) of the JSON-object records among a file's first ``limit`` records,
    parsed, in file order: nothing for stdin (it cannot be peeked), platform formats and
    canonical posts (they carry ISO times)."""
    if path == "-" or (fmt in FORMATS and fmt != "generic") or sniff_format(path, fmt) != fmt:
        return
    for raw, obj, platform in islice(read_records(path, fmt), limit):
        if obj is None:
            try:
                obj = json.loads(raw)
            except (ValueError, RecursionError):
                continue
        if isinstance(obj, Mapping):
            yield obj, platform


def check_time_column(
    path: str, fmt: str = "auto", mapping: Mapping[str, str] | None = None
) -> None:
    """Raise ``NoTimeColumn`` (a one-line message naming the column) when no post comes out of
    the first ``CHECK_ROWS`` generic records of ``path`` and most of them fail on the event time
    (``normalise`` decides, as ingest would). A few bad dates among good ones are no error:
    those rows are dead-lettered as usual; so are rows that fail on something else first."""
    m = dict(mapping or {})
    rows, other, columns = 0, 0, list[str]()
    bad: list[tuple[str, object]] = []  # (column, value) that did not parse
    for obj, platform in _generic_objects(path, fmt):
        if not m and fmt != "generic" and detect_format(obj) != "generic":
            continue
        columns = columns or [str(k) for k in obj]
        rows += 1
        try:
            normalise("generic", obj, m, platform)
            return
        except NormaliseError as exc:
            if exc.reason == "bad_timestamp":
                name, value = time_column(obj, m)
                bad.append((name or "?", value))
            elif not (exc.reason == "missing_field" and exc.message.startswith("created_at")):
                other += 1
        if rows >= CHECK_ROWS:
            break
    if rows and rows - other >= max(other, 1):
        where = "in the header" if file_kind(path, fmt) in ("csv", "xlsx") else "in the records"
        raise NoTimeColumn(f"{path}: no usable time column: {_why(m, rows, bad, columns, where)}")


DATE_ORDER_ROWS = 5000  # rows looked at for the order of a file's numeric dates


def file_day_first(path: str, fmt: str = "auto", mapping: Mapping[str, str] | None = None) -> bool:
    """Whether a generic file's numeric dates put the day first: among its first
    ``DATE_ORDER_ROWS`` records, some can only be read day first ("23/11/2026") and none only
    month first ("11/23/2026"). Then "05/06/2026" in it is 5 June, as its neighbours say; a
    file whose first rows show neither is read month first (docs/history.md, "Dates")."""
    m, seen = dict(mapping or {}), set[bool]()
    for obj, _platform in _generic_objects(path, fmt, DATE_ORDER_ROWS):
        value = time_column(obj, m)[1]
        order = slash_order(value) if isinstance(value, str) else None
        if order is not None:
            seen.add(order)
    return seen == {True}


def _why(m: dict[str, str], rows: int, bad: list[tuple[str, object]], columns: list[str],
         where: str) -> str:  # fmt: skip
    listed = ", ".join(columns) or "none"
    mapped = m.get("created_at")
    if mapped is not None and mapped not in [name for name, _ in bad]:
        state = f"is missing {where}" if mapped not in columns else "is empty in every row"
        return f"{mapped!r} (mapped to created_at) {state}; columns: {listed}"
    if bad:
        name, example = next((b for b in bad if b[0] == mapped), bad[0])
        note = " (mapped to created_at)" if name == mapped else ""
        return (f"{name!r}{note} has no parseable date in the first {rows:,} rows "
                f"(e.g. {str(example)[:40]!r})")  # fmt: skip
    names = ", ".join(TIME_COLUMNS)
    return f"none of {names} is there; columns: {listed} (map one: --map created_at=COLUMN)"


_CREATED = re.compile(rb'"created_at"\s*:\s*"([^"\\]{1,64})"')


def canonical_in_order(paths: Iterable[str], fmt: str = "auto") -> bool:
    """True when all ``paths`` are canonical JSONL files whose posts, read one file after the
    other, are already in event-time order: then no sort is needed. A quick scan of the raw
    created_at strings in big blocks (no validation, ~2 us per line); anything it cannot read
    makes it answer False."""
    last: datetime | None = None
    latest = datetime.now(UTC) + MAX_FUTURE
    latest_s = latest.strftime("%Y-%m-%dT%H:%M:%S").encode()
    for path in paths:
        if path == "-" or file_kind(path, fmt) != "lines" or sniff_format(path, fmt) != "canonical":
            return False
        for block in _blocks(path):
            found: list[bytes] | None = _CREATED.findall(block)
            if found is not None and len(found) != block.count(b"\n") + (block[-1:] != b"\n"):
                lines = [line for line in map(bytes.strip, block.split(b"\n")) if line]
                found = found if len(found) == len(lines) else _stamps_by_line(lines)
            if found is None:
                return False
            if found and (fast := _sorted_as_bytes(found, latest_s)) is not None:
                if not fast or (last is not None and _parse(found[0]) < last):
                    return False
                last = _parse(found[-1])
                continue
            try:
                times = [datetime.fromisoformat(s.decode()) for s in found]
                times = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in times]
                # out of these bounds they are dead letters (check_post): their place is moot
                times = [t for t in times if EPOCH_FLOOR <= t <= latest]
                if last is not None and times and times[0] < last:
                    return False
                if not all(map(operator.le, times, times[1:])):
                    return False
            except (ValueError, TypeError):
                return False
            last = times[-1] if times else last
    return True


def _sorted_as_bytes(found: list[bytes], latest_s: bytes) -> bool | None:
    """Whether UTC ISO strings of one shape (what ``Post.to_json`` writes) are in order, as
    bytes: no parsing. None when they are not all like that, or some are out of check_post's
    bounds (dead letters, whose place does not matter)."""
    if len(set(map(len, found))) != 1 or min(found) < b"2006" or max(found)[:19] >= latest_s:
        return None
    shape = found[0].translate(None, b"0123456789")
    if shape not in (b"--T::Z", b"--T::.Z"):
        return None
    if b"|".join(found).translate(None, b"0123456789") != b"|".join([shape] * len(found)):
        return None
    return all(map(operator.le, found, found[1:]))


def _parse(stamp: bytes) -> datetime:
    return datetime.fromisoformat(stamp.decode())


def _blocks(path: str, size: int = 1 << 22) -> Iterator[bytes]:
    """``path`` in blocks of whole lines (the scan needs no line objects: 3x cheaper)."""
    with closing(open_input(path)) as fh:
        while block := fh.read(size):
            yield block + fh.readline()


def _stamps_by_line(lines: list[bytes]) -> list[bytes] | None:
    """The created_at strings line by line; a line without the key is a dead letter (it is
    required), one with a non-string or several makes the scan give up (None)."""
    stamps: list[bytes] = []
    for line in lines:
        found = _CREATED.findall(line)
        if len(found) == 1:
            stamps += found
        elif found or b'"created_at"' in line:
            return None
    return stamps


REPEAT_RUN_CAP = 100_000  # posts of one time compared for repeats (date-only exports: a day)


def _post_key(s: Send) -> tuple[str, str]:
    post = s.post or Post.model_validate_json(s.value)
    return post.platform, post.post_id


class History:
    """Posts of ``paths`` by event time; ``stats`` counts them as ingest does."""

    def __init__(
        self,
        paths: list[str],
        fmt: str = "auto",
        mapping: Mapping[str, str] | None = None,
        source: str = "history",
        on_dead: Callable[[DeadLetter], None] | None = None,
        chunk: int = 200_000,
        tmpdir: Path | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.paths, self.fmt, self.source = list(paths), fmt, source
        self.on_dead = on_dead or (lambda letter: None)
        self.on_read: Callable[[Stats], None] | None = None  # progress, every few thousand reads
        self.pipeline = Pipeline(fmt, mapping, source=source, now=now)
        self.sorter = TimeSorter(chunk, tmpdir)
        self._in_order: bool | None = None
        self._started = False

    @property
    def stats(self) -> Stats:
        return self.pipeline.stats

    @property
    def out_of_order(self) -> int:
        """Posts that came after a later one in the input (known once the posts are out)."""
        return self.sorter.out_of_order

    def in_order(self) -> bool:
        """Whether the files are known to be in event-time order already (then nothing is
        sorted or spilled): canonical JSONL only, by a quick scan, done once."""
        if self._in_order is None:
            self._in_order = canonical_in_order(self.paths, self.fmt)
        return self._in_order

    def sends(self, parsed: bool = False) -> Generator[Send, None, None]:
        """(key, JSON bytes, created_at) of each post, oldest first, ties in input order.
        Close the generator (or exhaust it) to remove temp files at once. Read once: the
        counts would add up over a second pass.

        ``parsed``: for a consumer in this process that decodes each post anyway (offline
        commands), canonical lines already in order come with their validated ``Send.post``
        (one decode instead of a screen here and a decode there). Never where posts are
        sorted: the sorter would hold (and spill) the objects."""
        if self._started:
            raise RuntimeError("a History is read once; read_history() again for another pass")
        self._started = True
        if self.in_order():
            return self._distinct(self._read_all(parsed))
        return self._distinct(self.sorter.sort(self._read_all()))

    def _distinct(self, sends: Generator[Send, None, None]) -> Generator[Send, None, None]:
        """``sends`` without a post read again: the same platform and id at the same time (the
        same row in two overlapping exports; its engagement counts may differ). Of the copies
        the one with the greatest JSON bytes is kept, whatever the input order, so an order
        change cannot change the minutes. Only posts sharing a time are compared (one time's
        posts held, at most ``REPEAT_RUN_CAP``; most times hold one post, never decoded)."""
        try:
            for run in time_runs(sends, REPEAT_RUN_CAP):
                yield from self._once(run)
        finally:
            sends.close()  # the sort's temp files go with the generator

    def _once(self, run: list[Send]) -> list[Send]:
        if len(run) < 2:
            return run
        keys = [_post_key(s) for s in run]
        kept: dict[tuple[str, str], Send] = {}
        for key, s in zip(keys, run, strict=True):
            other = kept.get(key)
            if other is None or s.value > other.value:
                kept[key] = s
        repeats = len(run) - len(kept)
        if not repeats:
            return run
        self.stats.repeated += repeats
        self.stats.sent -= repeats
        return [s for key, s in zip(keys, run, strict=True) if kept[key] is s]

    def posts(self) -> Iterator[Post]:
        """Validated ``Post`` objects, in the order of ``sends``."""
        return (Post.model_validate_json(s.value) for s in self.sends())

    def _read_all(self, parsed: bool = False) -> Generator[Send, None, None]:
        p = self.pipeline
        chunk = p.parse_canonical_chunk if parsed else p.process_canonical_chunk
        for path in self.paths:
            fmt = sniff_format(path, self.fmt)
            source = f"{self.source}:{path}"
            if fmt == "canonical" and file_kind(path, self.fmt) == "lines":
                p.start_file(fmt, source)
                for raws in read_line_chunks(path, READ_CHUNK):
                    yield from self._route(chunk(raws))
                    self._progress()
                continue
            p.start_file(fmt, source, file_day_first(path, self.fmt, p.mapping))
            for i, (raw, obj, platform) in enumerate(read_records(path, self.fmt), 1):
                yield from self._route(p.process(raw, obj, platform))
                if i % READ_CHUNK == 0:
                    self._progress()
        self._progress()

    def _route(self, outcomes: list[Outcome]) -> Iterator[Send]:
        for o in outcomes:
            if isinstance(o, Send):
                yield o
            elif o is not None:
                self.on_dead(o)

    def _progress(self) -> None:
        if self.on_read is not None:
            self.on_read(self.pipeline.stats)


def read_history(
    paths: list[str],
    fmt: str = "auto",
    mapping: Mapping[str, str] | None = None,
    source: str = "history",
    on_dead: Callable[[DeadLetter], None] | None = None,
    chunk: int = 200_000,
    tmpdir: Path | None = None,
) -> History:
    """Check every file for a usable time column (``NoTimeColumn``), then a ``History`` of them.

    ``fmt``: ``auto``, ``csv``, ``jsonl`` or a format name; ``mapping``: generic columns as
    ``--map`` gives them; ``on_dead``: receives each dead letter as it happens.
    """
    m = dict(mapping or {})
    if m and fmt == "auto":
        fmt = "generic"  # as ingest: a column mapping only means something for generic records
    for path in paths:
        check_time_column(path, fmt, m)
    return History(paths, fmt, m, source, on_dead, chunk, tmpdir)
