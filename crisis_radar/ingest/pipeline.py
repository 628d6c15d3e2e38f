"""Readers and the pure ingest step: raw record -> posts to send, dead letters, or skips.

No Kafka here, so the counting rule ``read = sent + rejected + skipped`` is testable alone.
Canonical JSON lines take a fast path: validated once with ``model_validate_json`` and the
original bytes are sent as they are.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import chain, islice
from pathlib import Path
from typing import IO, Any

from crisis_radar.ingest.normalise import NormaliseError, NotAPost, detect_format, expand, normalise
from crisis_radar.ingest.route import route_text_hash
from schemas.models import DeadLetter, Post
from schemas.validate import (
    MAX_RAW_BYTES,
    check_post,
    dead_letter,
    decode_post,
    decode_posts,
    screen_key_texts,
    screen_posts,
)


@dataclass(frozen=True, slots=True)
class Send:
    key: bytes
    value: bytes
    created_at: datetime
    # the validated Post of ``value``, where a reader in the same process wants it (offline
    # commands: the enrich stage takes it instead of decoding ``value`` again); else None
    post: Post | None = None


def time_runs(sends: Iterable[Send], cap: int) -> Iterator[list[Send]]:
    """``sends`` (oldest first) in runs of equal ``created_at``, each at most ``cap`` long."""
    run: list[Send] = []
    for s in sends:
        if run and (s.created_at != run[0].created_at or len(run) >= cap):
            yield run
            run = []
        run.append(s)
    if run:
        yield run


@dataclass
class Stats:
    read: int = 0  # input records (lines, CSV rows, JSON documents, live events)
    sent: int = 0  # posts produced (a container document can yield several)
    skipped: int = 0  # well-formed events that are not posts
    rejected: Counter[str] = field(default_factory=Counter)
    # posts read again (same platform and id, same time: overlapping exports), sent once
    repeated: int = 0

    def add(self, other: Stats) -> None:
        self.read += other.read
        self.sent += other.sent
        self.skipped += other.skipped
        self.rejected.update(other.rejected)
        self.repeated += other.repeated

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def summary(self) -> str:
        reasons = ", ".join(f"{r}={n}" for r, n in sorted(self.rejected.items())) or "none"
        return (
            f"read {self.read}, sent {self.sent}, skipped {self.skipped}, "
            f"rejected {self.rejected_total} ({reasons})"
            + (f", repeated {self.repeated} (sent once)" if self.repeated else "")
        )


Outcome = Send | DeadLetter | None  # None: skipped


class Pipeline:
    """Turns one raw record into outcomes. ``fmt``: a format name, ``auto`` or ``csv``."""

    def __init__(
        self,
        fmt: str = "auto",
        mapping: Mapping[str, str] | None = None,
        source: str = "ingest",
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.fmt = fmt
        self.mapping = dict(mapping or {})
        self.day_first = False  # the file's numeric dates put the day first (file_day_first)
        self.source = source[:256]
        self.copies: dict[int, int] = {}  # id-less rows per hash in this file (normalise_generic)
        self.now = now
        self.stats = Stats()

    def start_file(self, fmt: str, source: str, day_first: bool = False) -> None:
        """The next records come from a new file: its format, source tag and date order.
        Identical id-less rows are counted from one again, so the same row in two
        overlapping exports gets the same id (and is one post)."""
        self.fmt, self.source, self.day_first = fmt, source[:256], day_first
        self.copies.clear()

    def process(
        self, raw: bytes, obj: Any = None, generic_platform: str = "jsonl"
    ) -> list[Outcome]:
        """``raw``: the original bytes (kept in dead letters); ``obj``: pre-parsed (CSV rows)."""
        self.stats.read += 1
        try:
            outcomes = self._process(raw, obj, generic_platform)
        except Exception as exc:  # boundary: nothing escapes, it is dead-lettered instead
            outcomes = [self._dead(raw, "internal", f"{type(exc).__name__}: {exc}")]
        for o in outcomes:
            if o is None:
                self.stats.skipped += 1
            elif isinstance(o, DeadLetter):
                self.stats.rejected[o.reason] += 1
            else:
                self.stats.sent += 1
        return outcomes

    def process_canonical_chunk(self, raws: list[bytes]) -> list[Outcome]:
        """Same outcomes as ``process`` line by line, for a chunk of canonical lines."""
        out: list[Outcome] = []
        now = self.now()
        for raw, ok in zip(raws, screen_posts(raws, now), strict=True):
            if ok is not None:
                out.append(Send(ok[0].encode(), raw, ok[1]))
                self.stats.sent += 1
                continue
            # the exact dead letter (the screen is never looser, but may be stricter)
            out.append(self._outcome(raw, decode_post(raw, self.source, now)))
        self.stats.read += len(raws)
        return out

    def parse_canonical_chunk(self, raws: list[bytes]) -> list[Outcome]:
        """``process_canonical_chunk`` with each Send's validated ``post``: for a consumer in
        this process that needs the Post anyway (offline commands), one decode instead of a
        screen here and a decode there. Same outcomes: the screen accepts nothing
        ``decode_post`` rejects, and its rejects are decided by ``decode_post`` there too."""
        decoded = decode_posts(raws, self.source, self.now())
        out = [self._outcome(raw, got, True) for raw, got in zip(raws, decoded, strict=True)]
        self.stats.read += len(raws)
        return out

    def _outcome(self, raw: bytes, got: Post | DeadLetter, keep_post: bool = False) -> Outcome:
        """A decoded line's Send (with its ``post`` if ``keep_post``) or dead letter, counted."""
        if isinstance(got, Post):
            self.stats.sent += 1
            return Send(got.key.encode(), raw, got.created_at, got if keep_post else None)
        self.stats.rejected[got.reason] += 1
        return got

    def split_canonical_chunk(
        self, raws: list[bytes]
    ) -> tuple[list[tuple[bytes, bytes]], list[int], list[DeadLetter]]:
        """The bulk path: (key, original bytes) of the posts in order, their routes
        (``route_text_hash``: the text is only parsed once), and the dead letters."""
        now = self.now()
        screened = screen_key_texts(raws, now)
        self.stats.read += len(raws)
        if None not in screened:  # the usual case
            self.stats.sent += len(raws)
            keys = [kt[0] for kt in screened]  # type: ignore[index]
            routes = [route_text_hash(*kt) for kt in screened]  # type: ignore[misc]
            return list(zip(keys, raws, strict=True)), routes, []
        pairs: list[tuple[bytes, bytes]] = []
        routes = []
        letters: list[DeadLetter] = []
        for raw, kt in zip(raws, screened, strict=True):
            if kt is not None:
                pairs.append((kt[0], raw))
                routes.append(route_text_hash(*kt))
                continue
            got = decode_post(raw, self.source, now)
            if isinstance(got, Post):
                pairs.append((got.key.encode(), raw))
                routes.append(route_text_hash(got.key.encode(), got.text))
            else:
                letters.append(got)
                self.stats.rejected[got.reason] += 1
        self.stats.sent += len(pairs)
        return pairs, routes, letters

    def _dead(self, raw: bytes, reason: str, error: str) -> DeadLetter:
        return dead_letter(raw, reason, error, self.source, self.now())

    def _process(self, raw: bytes, obj: Any, generic_platform: str) -> list[Outcome]:
        if obj is None and self.fmt == "canonical":
            got = decode_post(raw, self.source, self.now())
            if isinstance(got, DeadLetter):
                return [got]
            return [Send(got.key.encode(), raw, got.created_at)]
        if obj is None:
            if len(raw) > MAX_RAW_BYTES:
                return [self._dead(raw, "too_large", f"{len(raw)} bytes > {MAX_RAW_BYTES}")]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                return [self._dead(raw, "bad_utf8", f"not UTF-8: {exc}")]
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError) as exc:
                return [self._dead(raw, "bad_json", f"invalid JSON: {str(exc)[:200]}")]
        fmt = detect_format(obj) if self.fmt in ("auto", "csv", "jsonl") else self.fmt
        items = expand(fmt, obj)
        out: list[Outcome] = []
        for item in items:
            item_raw = raw if len(items) == 1 else json.dumps(item).encode()
            try:
                post = normalise(
                    fmt, item, self.mapping, generic_platform, self.day_first, self.copies
                )
            except NotAPost:
                out.append(None)
                continue
            except NormaliseError as exc:
                out.append(self._dead(item_raw, exc.reason, exc.message))
                continue
            problem = check_post(post, self.now())
            if problem is not None:
                out.append(self._dead(item_raw, *problem))
            else:
                out.append(Send(post.key.encode(), post.to_json(), post.created_at))
        return out


# --- readers: yield (raw bytes, pre-parsed object or None, generic platform name) -------------

Record = tuple[bytes, Any, str]


def open_input(path: str) -> IO[bytes]:
    """A file (gzip by its name) or ``-`` for stdin, as bytes."""
    if path == "-":
        return sys.stdin.buffer
    if path.endswith(".gz"):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def file_kind(path: str, fmt: str) -> str:
    """``csv`` (``.csv``, ``.tsv``), ``xlsx`` (a workbook), ``json`` (one document per file)
    or ``lines`` (JSONL)."""
    name = (path[:-3] if path.endswith(".gz") else path).lower()  # EXPORT.CSV too
    if name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if fmt == "csv" or name.endswith((".csv", ".tsv")):
        return "csv"
    if name.endswith(".json"):
        return "json"
    return "lines"


# Spreadsheet exports as users have them: Excel's "CSV UTF-8" starts with a BOM, its "Unicode
# text" is UTF-16 with tabs, a European locale separates with ";", older tools write Windows-1252.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),  # before UTF-16's
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"),
)  # fmt: skip
DELIMITERS = ",;\t|"


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8 read as Windows-1252 (a superset of Latin-1's letters):
    "caf\xe9" is "café", not "caf\ufffd", in a file that is UTF-8 elsewhere."""
    assert isinstance(exc, UnicodeDecodeError)
    return exc.object[exc.start : exc.end].decode("cp1252", "replace"), exc.end


codecs.register_error("crisis_radar_cp1252", _cp1252_fallback)


def text_encoding(head: bytes) -> tuple[str, str]:
    """(encoding, errors) for a text file starting with ``head``: its BOM's; UTF-16 without
    one when every other byte is NUL; else UTF-8 with Windows-1252 for bytes that are not."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding, "replace"
    if len(head) >= 4 and head.count(0) * 3 >= len(head):  # ASCII letters as UTF-16
        return ("utf-16-le" if head[1::2].count(0) > head[::2].count(0) else "utf-16-be"), "replace"
    return "utf-8", "crisis_radar_cp1252"


SNIFF_LINES = 30  # the lines a CSV's separator and header row are found from


def header_row(widths: list[int]) -> int:
    """The index of the header among the first rows of a table, given each row's width (fields,
    or filled cells): the first row at least as wide as most rows of its lower half are. Rows
    above it are a report's preamble ("Report: Brand mentions", "From: 2026-11-01", a blank
    row); a table without one starts at its first row, which is never narrower than its data."""
    common = Counter(w for w in widths[len(widths) // 2 :] if w >= 2).most_common()
    if not common:
        return next((i for i, w in enumerate(widths) if w), 0)
    width = max(w for w, n in common if n == common[0][1])  # ties: the wider
    return next((i for i, w in enumerate(widths) if w >= width), 0)


def sniff_table(lines: list[str]) -> tuple[str, int]:
    """(separator, index of the header line) of a CSV from its first lines: the one of
    ``DELIMITERS`` that splits the most lines into the same number of fields (ties: the one
    that splits into more), "," when none splits any line (a one-column file)."""
    best: tuple[tuple[int, int], str, list[int]] | None = None
    for d in DELIMITERS:
        widths = [len(next(csv.reader([ln], delimiter=d), [])) if ln.strip() else 0 for ln in lines]
        common = Counter(w for w in widths if w >= 2).most_common(1)
        key = (common[0][1], common[0][0]) if common else (0, 0)
        if best is None or key > best[0]:
            best = (key, d, widths)
    if best is None or best[0][0] == 0:
        return ",", 0
    return best[1], header_row(best[2])


# The csv module refuses a field over 128 KiB with an exception that would end the file's read;
# a longer text is read and then dead-lettered by the record checks like any other bad row.
csv.field_size_limit(2**31 - 1)


def csv_rows(fh: IO[bytes]) -> Iterator[dict[str, str]]:
    """Rows of a CSV/TSV byte stream as dicts: encoding and separator found from its start."""
    head = fh.peek(4096)[:4096] if hasattr(fh, "peek") else b""
    encoding, errors = text_encoding(head)
    text = io.TextIOWrapper(fh, encoding=encoding, errors=errors, newline="")
    lines = list(islice(text, SNIFF_LINES))
    delimiter, header = sniff_table(lines)
    reader = csv.DictReader(chain(lines[header:], text), delimiter=delimiter)
    for row in reader:
        yield {k: v for k, v in row.items() if k is not None}


def _cell(value: object) -> str:
    """A workbook cell as the text a CSV export of it would hold: dates in ISO form (a
    date-only cell at midnight), whole numbers without ".0", empty cells empty."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def xlsx_rows(fh: IO[bytes]) -> Iterator[dict[str, str]]:
    """Rows of a workbook's first sheet as dicts keyed by its first non-empty row, read row by
    row (openpyxl's read-only mode; its shared-string table, each distinct text once, is held
    in memory: docs/history.md)."""
    from openpyxl import load_workbook

    book = load_workbook(fh, read_only=True, data_only=True)
    try:
        rows = (
            [_cell(v) for v in values] for values in book.worksheets[0].iter_rows(values_only=True)
        )
        first = list(islice(rows, SNIFF_LINES))
        at = header_row([sum(1 for c in cells if c) for cells in first])
        header = [c.strip() for c in first[at]] if first else []
        for cells in chain(first[at + 1 :], rows):
            if any(cells):
                yield {k: v for k, v in zip(header, cells, strict=False) if k}
    finally:
        book.close()


# Where API responses and scrapers put their list of posts (a platform's own container, such as
# an X response with "includes", is split by its normaliser instead).
ENVELOPES = ("results", "data", "items", "posts", "statuses", "records", "hits", "documents")


def json_items(doc: Any) -> list[Any]:
    """The records of a whole-file JSON document: a list's items; a generic object's list of
    objects under one of ``ENVELOPES`` ({"results": [...]}); else the document itself."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict) and detect_format(doc) == "generic":
        for key in ENVELOPES:
            items = doc.get(key)
            if isinstance(items, list) and items and all(isinstance(i, dict) for i in items):
                return items
    return [doc]


def read_records(path: str, fmt: str = "auto") -> Iterator[Record]:
    """Records of one file (or ``-`` for stdin) in file order, for deterministic replay."""
    kind = file_kind(path, fmt)
    fh = open_input(path)
    try:
        if kind in ("csv", "xlsx"):
            for clean in csv_rows(fh) if kind == "csv" else xlsx_rows(fh):
                yield json.dumps(clean, ensure_ascii=False).encode(), clean, "csv"
        elif kind == "json":
            data = fh.read()
            try:
                doc = json.loads(data)
            except (ValueError, RecursionError):
                yield data, None, "jsonl"
                return
            for item in json_items(doc):
                yield json.dumps(item, ensure_ascii=False).encode(), item, "jsonl"
        else:
            for i, line in enumerate(fh):
                line = line.strip() if i else line.removeprefix(codecs.BOM_UTF8).strip()
                if line:
                    yield line, None, "jsonl"
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def read_line_chunks(path: str, size: int) -> Iterator[list[bytes]]:
    """The non-empty, stripped lines of a JSONL file (or ``-``) in lists of up to ``size``:
    what ``read_records`` yields, without a Python step per line (the bulk path)."""
    fh = open_input(path)
    try:
        if block := list(islice(fh, size)):
            block[0] = block[0].removeprefix(codecs.BOM_UTF8)  # an editor's UTF-8 mark
        while block:
            yield [line for line in map(bytes.strip, block) if line]
            block = list(islice(fh, size))
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def sniff_format(path: str, fmt: str) -> str:
    """Resolve ``auto`` for a JSONL file: canonical posts take the fast path for the whole file."""
    if fmt != "auto" or path == "-" or file_kind(path, fmt) != "lines":
        return fmt
    for raw, _, _ in read_records(path, fmt):
        try:
            return "canonical" if detect_format(json.loads(raw)) == "canonical" else "auto"
        except (ValueError, RecursionError):
            return "auto"
    return "auto"


class Pacer:
    """``--rate`` (posts/s cap) and ``--speedup N`` (event-time gaps divided by N)."""

    def __init__(
        self,
        rate: float | None = None,
        speedup: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate, self.speedup = rate, speedup
        self.clock, self.sleep = clock, sleep
        self.start: float | None = None
        self.t0: datetime | None = None
        self.count = 0

    def wait(self, created_at: datetime) -> None:
        now = self.clock()
        if self.start is None:
            self.start, self.t0 = now, created_at
        due = 0.0
        if self.rate:
            due = self.count / self.rate
        if self.speedup and self.t0 is not None:
            due = max(due, (created_at - self.t0).total_seconds() / self.speedup)
        lag = self.start + due - now
        if lag > 0:
            self.sleep(lag)
        self.count += 1


def post_of(send: Send) -> Post:
    """Decode what was sent (tests and dlq tooling)."""
    return Post.model_validate_json(send.value)


# Spreadsheet formats without a reader here: one line to say so instead of a file of bad rows.
UNREADABLE = {".xls": "Excel 97-2003", ".ods": "OpenDocument", ".numbers": "Numbers"}


def input_problem(inputs: list[str], paths: list[str], stdin: bool = True) -> str | None:
    """What is wrong with the input files of a command (``paths``: ``paths_of(inputs)``), as
    one line, or None: a missing file, only empty folders, a spreadsheet format not read."""
    missing = [p for p in paths if not (stdin and p == "-") and not Path(p).is_file()]
    if missing:
        return f"no such file: {', '.join(missing)}"
    if not paths:
        return f"no input file in {', '.join(inputs)}"
    for p in paths:
        kind = UNREADABLE.get(Path(p.removesuffix(".gz")).suffix.lower())
        if kind:
            return f"{p}: {kind} workbooks are not read; save it as .xlsx or .csv"
    return None


def paths_of(inputs: list[str]) -> list[str]:
    """Directories expand to their files, sorted, so a replay reads them in the same order."""
    out: list[str] = []
    for p in inputs:
        if p != "-" and Path(p).is_dir():
            out += sorted(str(f) for f in Path(p).rglob("*") if f.is_file())
        else:
            out.append(p)
    return out
