"""Normalisers: one platform's JSON (a dict) -> canonical ``Post``.

Each ``normalise_<format>(obj) -> Post`` raises ``NormaliseError(reason, message)`` on bad input;
``NotAPost`` (a subclass) marks well-formed events that are simply not posts (a Jetstream delete,
a Mastodon ``delete``): they are skipped, not dead-lettered. ``normalise(fmt, obj)`` is the
boundary: whatever the input, it returns Posts or raises NormaliseError, never anything else.
"""

from __future__ import annotations

import contextlib
import email.utils
import functools
import html
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any, Final

import xxhash
from pydantic import ValidationError

from detectors.language import normalise_tag
from schemas.models import MAX_ID_CHARS, MAX_LIST_ITEMS, Post

FORMATS: Final = ("canonical", "bluesky", "mastodon", "x", "reddit", "generic")


class NormaliseError(ValueError):
    """A record that cannot become a Post; ``reason`` is the dead-letter/metric label."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class NotAPost(NormaliseError):
    """A valid event that is not a post (deletes, likes, identity events): skip it."""

    def __init__(self, message: str) -> None:
        super().__init__("not_a_post", message)


# --- helpers -------------------------------------------------------------------------------


# Dates as exports write them, beyond ISO 8601 (docs/history.md, "Dates"): numeric dates with
# "/", "-" or "." and an optional time (12- or 24-hour) and zone, then month-name layouts.
_NUMERIC_DATE = re.compile(
    r"(\d{1,4})([/.-])(\d{1,2})\2(\d{1,4})"
    r"(?:[ T,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*([AaPp][Mm])?)?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?"
)
_NAMED_LAYOUTS = (
    "%a %b %d %H:%M:%S %z %Y",  # X/Twitter API v1.1
    "%b %d, %Y %I:%M:%S %p", "%b %d, %Y %I:%M %p", "%b %d, %Y %H:%M:%S", "%b %d, %Y %H:%M",
    "%b %d, %Y", "%B %d, %Y %I:%M %p", "%B %d, %Y %H:%M", "%B %d, %Y",
    "%d %b %Y %H:%M:%S", "%d %b %Y %H:%M", "%d %b %Y", "%d %B %Y %H:%M", "%d %B %Y",
    "%d-%b-%Y %H:%M:%S", "%d-%b-%Y %H:%M", "%d-%b-%Y",
)  # fmt: skip


def slash_order(value: str) -> bool | None:
    """For a numeric date with "/" or "-" and the year last: True if it can only be day first
    ("23/11/2026"), False if only month first ("11/23/2026"), None if either ("05/06/2026")."""
    m = _NUMERIC_DATE.fullmatch(value.strip())
    if m is None or m.group(2) == "." or len(m.group(1)) > 2:
        return None
    a, b = int(m.group(1)), int(m.group(3))
    return True if a > 12 >= b else (False if b > 12 >= a else None)


def _numeric_date(m: re.Match[str], day_first: bool) -> datetime:
    first, sep, second, third = m.group(1), m.group(2), int(m.group(3)), m.group(4)
    if len(first) == 4:  # 2026/11/23, 2026.11.23
        year, month, day = int(first), second, int(third)
    else:
        a, year = int(first), int(third) + (2000 if len(third) == 2 else 0)
        # the dot means day first wherever it is written; "/" and "-" by the value or the file
        dmy = sep == "." or a > 12 or (day_first and second <= 12)
        day, month = (a, second) if dmy else (second, a)
    hour, minute = int(m.group(5) or 0), int(m.group(6) or 0)
    if m.group(9):  # 12-hour clock
        hour = hour % 12 + (12 if m.group(9).lower() == "pm" else 0)
    micro = int((m.group(8) or "0")[:6].ljust(6, "0"))
    ts = datetime(year, month, day, hour, minute, int(m.group(7) or 0), micro)
    zone = m.group(10)
    if zone and zone not in ("Z", "UTC", "GMT"):
        sign = -1 if zone[0] == "-" else 1
        hh, mm = int(zone[1:3]), int(zone[-2:])
        return (ts - sign * timedelta(hours=hh, minutes=mm)).replace(tzinfo=UTC)
    return ts.replace(tzinfo=UTC)


def _other_layouts(text: str, day_first: bool) -> datetime | None:
    """``text`` in a layout of ``_NUMERIC_DATE`` or ``_NAMED_LAYOUTS``, RFC 2822 or ISO 8601
    with a " UTC" suffix; None when it is none of them."""
    m = _NUMERIC_DATE.fullmatch(text)
    if m is not None:
        try:
            return _numeric_date(m, day_first)
        except ValueError:
            return None  # 31/02/2026, 25/25/2026
    if text.endswith((" UTC", " GMT")):
        try:
            ts = datetime.fromisoformat(text[:-4])
            return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
        except ValueError:
            pass
    if "," in text[:5]:  # RFC 2822: "Mon, 23 Nov 2026 10:04:00 GMT" (mail, RSS)
        with contextlib.suppress(TypeError, ValueError, IndexError):
            ts = email.utils.parsedate_to_datetime(text)
            return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
    for layout in _NAMED_LAYOUTS:
        with contextlib.suppress(ValueError):
            ts = datetime.strptime(text, layout)
            return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts
    return None


def parse_time(value: Any, day_first: bool = False) -> datetime:
    """ISO 8601 string, an export's date layout or epoch seconds/ms/us (number or digit
    string) -> aware UTC datetime.

    Naive strings are taken as UTC (CSV exports often drop the zone). A numeric date with "/"
    or "-" and the year last is month first ("11/23/2026", as US exports write it) unless its
    first field is above 12 or ``day_first`` (the file's dates show the day first: ingest
    decides per file, ``file_day_first``); with "." it is day first ("23.11.2026").
    """
    if isinstance(value, bool) or value is None:
        raise NormaliseError("bad_timestamp", f"not a timestamp: {value!r}")
    if isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()):
        value = float(value)
    if isinstance(value, int | float):
        v = float(value)
        if v != v or abs(v) > 1e19:
            raise NormaliseError("bad_timestamp", f"absurd epoch value {value!r}")
        if abs(v) > 1e14:
            v /= 1e6  # microseconds (Jetstream time_us)
        elif abs(v) > 1e11:
            v /= 1e3  # milliseconds
        try:
            return datetime.fromtimestamp(v, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise NormaliseError("bad_timestamp", f"epoch {value!r}: {exc}") from None
    if not isinstance(value, str):
        raise NormaliseError("bad_timestamp", f"not a timestamp: {type(value).__name__}")
    try:
        ts = datetime.fromisoformat(value.strip())
    except ValueError:
        other = _other_layouts(value.strip(), day_first) if len(value) <= 64 else None
        if other is None:
            raise NormaliseError("bad_timestamp", f"unparseable timestamp {value[:64]!r}") from None
        ts = other
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    try:
        return ts.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise NormaliseError("bad_timestamp", f"{value[:64]!r}: {exc}") from None


def _str(value: Any, field: str, *, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise NormaliseError("missing_field", f"{field} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise NormaliseError("bad_type", f"{field} should be a string, got {type(value).__name__}")
    return str(value)


def _count(value: Any) -> int:
    """Counts are best-effort metadata: junk becomes 0 rather than losing the post."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return 0
    return max(0, min(int(value), 2**63 - 1)) if abs(value) < 1e19 else 0


def _obj(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise NormaliseError("bad_type", f"{field} should be an object, got {type(value).__name__}")
    return value


def _opt_obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _tags(values: Iterable[Any]) -> list[str]:
    """Unique, non-empty, bounded strings (lists beyond the schema limit are cut, not fatal)."""
    out: list[str] = []
    for v in values:
        if isinstance(v, str) and v and len(v) <= MAX_ID_CHARS and v not in out:
            out.append(v)
            if len(out) == MAX_LIST_ITEMS:
                break
    return out


def _lang(value: Any) -> str | None:
    """The platform's tag as ISO 639-1 ("pt-BR" -> "pt"; Bluesky's list: its first); None for
    a missing or non-language tag (X's "und", "qme"...): the enrich stage then reads the text."""
    return normalise_tag(value)


def _build(**fields: Any) -> Post:
    try:
        return Post.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        loc = ".".join(str(p) for p in err["loc"])
        reason = "too_large" if "too_long" in err["type"] else "schema"
        raise NormaliseError(reason, f"{loc}: {err['msg']}") from None


class _TextOfHtml(HTMLParser):
    """Mastodon content HTML -> plain text (paragraphs and <br> become newlines)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p" and self.parts:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        # Mastodon hides a link's scheme and tail in "invisible" spans: keep them, the full
        # URL is more useful to matching and dedup than the display ellipsis
        self.parts.append(data)


def html_to_text(content: str) -> str:
    parser = _TextOfHtml()
    parser.feed(content)
    parser.close()
    return html.unescape("".join(parser.parts)).strip()


# --- platforms -----------------------------------------------------------------------------


def normalise_canonical(obj: Mapping[str, Any]) -> Post:
    return _build(**obj)


def normalise_bluesky(obj: Mapping[str, Any]) -> Post:
    """Bluesky Jetstream commit event (``kind=commit``, ``app.bsky.feed.post`` create)."""
    kind = obj.get("kind")
    if kind != "commit":
        raise NotAPost(f"jetstream kind={kind!r}")
    commit = _obj(obj.get("commit"), "commit")
    if commit.get("collection") != "app.bsky.feed.post" or commit.get("operation") != "create":
        raise NotAPost(f"{commit.get('collection')!r} {commit.get('operation')!r}")
    did = _str(obj.get("did"), "did")
    rkey = _str(commit.get("rkey"), "commit.rkey")
    record = _obj(commit.get("record"), "commit.record")
    text = record.get("text", "")
    if not isinstance(text, str):
        raise NormaliseError("bad_type", "record.text should be a string")
    server_ts = parse_time(obj["time_us"]) if "time_us" in obj else None
    created = record.get("createdAt")
    try:
        ts = parse_time(created) if created is not None else server_ts
    except NormaliseError:
        ts = server_ts
    # createdAt is set by the client and can be anything: trust the relay clock when far off
    if ts is None:
        raise NormaliseError("missing_field", "record.createdAt and time_us are both missing")
    if server_ts is not None and abs((ts - server_ts).total_seconds()) > 86_400:
        ts = server_ts
    tags: list[Any] = [t for t in _list(record.get("tags"))]
    mentions: list[Any] = []
    for facet in _list(record.get("facets")):
        for feat in _list(_opt_obj(facet).get("features")):
            feat = _opt_obj(feat)
            if feat.get("$type") == "app.bsky.richtext.facet#tag":
                tags.append(feat.get("tag"))
            elif feat.get("$type") == "app.bsky.richtext.facet#mention":
                mentions.append(feat.get("did"))
    reply = _opt_obj(_opt_obj(record.get("reply")).get("parent")).get("uri")
    embed = _opt_obj(record.get("embed"))
    quote = None
    if embed.get("$type") == "app.bsky.embed.record":
        quote = _opt_obj(embed.get("record")).get("uri")
    elif embed.get("$type") == "app.bsky.embed.recordWithMedia":
        quote = _opt_obj(_opt_obj(embed.get("record")).get("record")).get("uri")
    return _build(
        platform="bluesky",
        post_id=f"at://{did}/app.bsky.feed.post/{rkey}",
        author={"id": did},
        text=text,
        lang=_lang(record.get("langs")),
        created_at=ts,
        url=f"https://bsky.app/profile/{did}/post/{rkey}",
        reply_to=reply if isinstance(reply, str) else None,
        quote_of=quote if isinstance(quote, str) else None,
        hashtags=_tags(tags),
        mentions=_tags(mentions),
        source="bluesky",
    )


def normalise_mastodon(obj: Mapping[str, Any]) -> Post:
    """Mastodon Status entity (REST, or the payload of a streaming ``update`` event)."""
    if "event" in obj and "payload" in obj:  # websocket-style envelope
        if obj.get("event") != "update":
            raise NotAPost(f"mastodon event {obj.get('event')!r}")
        payload = obj["payload"]
        if isinstance(payload, str):
            import json

            try:
                payload = json.loads(payload)
            except ValueError:
                raise NormaliseError("bad_json", "payload is not JSON") from None
        obj = _obj(payload, "payload")
    status_id = _str(obj.get("id"), "id")
    account = _obj(obj.get("account"), "account")
    reblog = obj.get("reblog")
    shown = _obj(reblog, "reblog") if reblog else obj  # a boost carries the boosted status
    content = shown.get("content") or ""
    if not isinstance(content, str):
        raise NormaliseError("bad_type", "content should be an HTML string")
    text = html_to_text(content)
    spoiler = shown.get("spoiler_text")
    if isinstance(spoiler, str) and spoiler:
        text = f"{spoiler}\n\n{text}"
    return _build(
        platform="mastodon",
        post_id=status_id,
        author={
            "id": _str(account.get("id") or account.get("acct"), "account.id"),
            "handle": _str(account.get("acct"), "account.acct", required=False),
            "followers": _count(account.get("followers_count")),
            "verified": False,
        },
        text=text,
        lang=_lang(shown.get("language")),
        created_at=parse_time(obj.get("created_at")),
        url=_str(obj.get("url") or obj.get("uri"), "url", required=False),
        reply_to=_str(obj.get("in_reply_to_id"), "in_reply_to_id", required=False),
        repost_of=_str(_opt_obj(reblog).get("id"), "reblog.id", required=False),
        hashtags=_tags(_opt_obj(t).get("name") for t in _list(shown.get("tags"))),
        mentions=_tags(_opt_obj(m).get("acct") for m in _list(shown.get("mentions"))),
        engagement={
            "likes": _count(obj.get("favourites_count")),
            "reposts": _count(obj.get("reblogs_count")),
            "replies": _count(obj.get("replies_count")),
        },
        source="mastodon",
    )


def normalise_x(obj: Mapping[str, Any]) -> Post:
    """X API v2 tweet: ``{"data": {tweet}, "includes": {"users": [...]}}`` or a bare tweet."""
    tweet = _obj(obj["data"], "data") if "data" in obj else obj
    users = _list(_opt_obj(obj.get("includes")).get("users"))
    tweet_id = _str(tweet.get("id"), "data.id")
    author_id = _str(tweet.get("author_id"), "data.author_id")
    text = tweet.get("text")
    if not isinstance(text, str):
        raise NormaliseError("missing_field" if text is None else "bad_type", "data.text")
    user = next((_opt_obj(u) for u in users if _opt_obj(u).get("id") == author_id), {})
    handle = user.get("username") if isinstance(user.get("username"), str) else None
    refs = {
        _opt_obj(r).get("type"): _opt_obj(r).get("id")
        for r in _list(tweet.get("referenced_tweets"))
    }
    ent = _opt_obj(tweet.get("entities"))
    metrics = _opt_obj(tweet.get("public_metrics"))
    path = f"{handle}/status/{tweet_id}" if handle else f"i/web/status/{tweet_id}"
    return _build(
        platform="x",
        post_id=tweet_id,
        author={
            "id": author_id,
            "handle": handle,
            "followers": _count(_opt_obj(user.get("public_metrics")).get("followers_count")),
            "verified": user.get("verified") is True,
        },
        text=html.unescape(text),  # v2 returns &amp; &lt; &gt; escaped
        lang=_lang(tweet.get("lang")),
        created_at=parse_time(tweet.get("created_at")),
        url=f"https://x.com/{path}",
        reply_to=_str(refs.get("replied_to"), "replied_to", required=False),
        repost_of=_str(refs.get("retweeted"), "retweeted", required=False),
        quote_of=_str(refs.get("quoted"), "quoted", required=False),
        hashtags=_tags(_opt_obj(h).get("tag") for h in _list(ent.get("hashtags"))),
        mentions=_tags(_opt_obj(m).get("username") for m in _list(ent.get("mentions"))),
        engagement={
            "likes": _count(metrics.get("like_count")),
            "reposts": _count(metrics.get("retweet_count")),
            "replies": _count(metrics.get("reply_count")),
            "quotes": _count(metrics.get("quote_count")),
        },
        source="x",
    )


def normalise_reddit(obj: Mapping[str, Any]) -> Post:
    """Reddit ``{"kind": "t1"|"t3", "data": {...}}`` (comment or submission), or the flat
    objects of Reddit data dumps (Pushshift-style lines: submissions have a ``title``)."""
    if "kind" not in obj and "subreddit" in obj:
        obj = {"kind": "t3" if "title" in obj else "t1", "data": obj}
    kind = obj.get("kind")
    if kind not in ("t1", "t3"):
        raise NotAPost(f"reddit kind={kind!r}")
    data = _obj(obj.get("data"), "data")
    rid = _str(data.get("id"), "data.id")
    name = _str(data.get("name"), "data.name", required=False) or f"{kind}_{rid}"
    if kind == "t1":
        text = data.get("body")
    else:
        title, body = data.get("title") or "", data.get("selftext") or ""
        text = f"{title}\n\n{body}" if body else title
    if not isinstance(text, str):
        raise NormaliseError("bad_type", "body/title should be a string")
    author = _str(data.get("author"), "data.author")
    permalink = data.get("permalink")
    parent = data.get("parent_id") if kind == "t1" else None
    return _build(
        platform="reddit",
        post_id=name,
        author={"id": data.get("author_fullname") or author, "handle": author},
        text=text,
        created_at=parse_time(data.get("created_utc")),
        url=f"https://www.reddit.com{permalink}" if isinstance(permalink, str) else None,
        reply_to=parent if isinstance(parent, str) else None,
        engagement={
            "likes": _count(data.get("score")),
            "replies": _count(data.get("num_comments")),
        },
        source="reddit",
    )


# Generic CSV / JSONL: target field -> source column (dotted paths reach into JSON objects).
GENERIC_FIELDS: Final = (
    "id", "text", "created_at", "author", "handle", "followers", "verified", "lang", "url",
    "reply_to", "repost_of", "quote_of", "hashtags", "mentions", "likes", "reposts", "replies",
    "quotes", "platform",
)  # fmt: skip


def parse_mapping(spec: str | None) -> dict[str, str]:
    """``"text=body,created_at=ts"`` -> {"text": "body", "created_at": "ts"}."""
    mapping: dict[str, str] = {}
    for part in (spec or "").split(","):
        if not part.strip():
            continue
        target, sep, source = part.partition("=")
        target, source = target.strip(), source.strip()
        if not sep or not source or target not in GENERIC_FIELDS:
            raise ValueError(f"bad mapping {part!r}: use FIELD=COLUMN, FIELD in {GENERIC_FIELDS}")
        mapping[target] = source
    return mapping


def _get(obj: Mapping[str, Any], path: str) -> Any:
    if path in obj:
        return obj[path]
    cur: Any = obj
    for key in path.split("."):
        if not isinstance(cur, Mapping) or key not in cur:
            return None
        cur = cur[key]
    return cur


def _split_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [v.strip().lstrip("#@") for v in re.split(r"[,;| ]+", value) if v.strip()]
    return []


def _flag(value: Any) -> bool:
    return value is True or (
        isinstance(value, str) and value.strip().lower() in ("1", "true", "yes")
    )


TIME_COLUMNS: Final = (
    "created_at", "timestamp", "time", "date", "created_utc", "datetime", "published",
    "published_at",
)  # fmt: skip
# Column names looked for when --map does not name one, after the field's own name.
TEXT_COLUMNS: Final = ("body", "content", "message", "full_text", "tweet", "tweet_text")
AUTHOR_COLUMNS: Final = ("author_id", "user", "username", "screen_name", "author_name")
ID_COLUMNS: Final = ("post_id", "tweet_id", "status_id")
MAX_COPIES: Final = 200_000  # id-less row hashes remembered per file (normalise_generic)


@functools.lru_cache(maxsize=4096)
def fold(name: str) -> str:
    """A column name as compared when it is not found as written: "Created At", "DATE" and
    " created-at " are ``created_at``."""
    return "_".join(name.strip().lower().replace("-", " ").split())


class Columns:
    """A generic record's columns by name: as written first, else folded (``fold``: a
    spreadsheet's "Full Text" or "Date" header, a --map name in another case)."""

    __slots__ = ("_folded", "obj")

    def __init__(self, obj: Mapping[str, Any]) -> None:
        self.obj = obj
        self._folded: dict[str, Any] | None = None

    def get(self, name: str) -> Any:
        value = _get(self.obj, name)
        if value is not None:
            return value
        if self._folded is None:  # once per record, only when a name is not there as written
            self._folded = {fold(k): v for k, v in self.obj.items() if isinstance(k, str)}
        return self._folded.get(fold(name))


def time_column(
    obj: Mapping[str, Any] | Columns, mapping: Mapping[str, str]
) -> tuple[str | None, Any]:
    """(column, value) of a generic record's event time: the mapped column, else the first of
    ``TIME_COLUMNS`` with a value; (None, None) when none has one."""
    cols = obj if isinstance(obj, Columns) else Columns(obj)
    for name in (mapping.get("created_at"), *TIME_COLUMNS):
        if name is not None:
            value = cols.get(name)
            if value not in (None, ""):
                if isinstance(value, str) and _TIME_OF_DAY.fullmatch(value.strip()):
                    day = cols.get("date")  # "Date" and "Time" apart, as some tools export
                    if isinstance(day, str) and day.strip() and day != value:
                        return name, f"{day.strip()} {value.strip()}"
                return name, value
    return None, None


_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:\s*[AaPp][Mm])?")


def normalise_generic(
    obj: Mapping[str, Any],
    mapping: Mapping[str, str] | None = None,
    platform: str = "jsonl",
    day_first: bool = False,
    copies: dict[int, int] | None = None,
) -> Post:
    """A flat record with a column mapping; no id column -> a stable hash of author/time/text.
    ``day_first``: the file's numeric dates put the day first (``parse_time``). ``copies``
    (one per file): how many rows of the file had each hash so far; the n-th identical row
    gets ``.n`` after it, so a copy-paste campaign in one file stays many posts while the same
    row in two overlapping files is one."""
    m = dict(mapping or {})
    cols = Columns(obj)

    def col(target: str, *fallbacks: str) -> Any:
        for name in (m.get(target), target, *fallbacks):
            if name is not None:
                value = cols.get(name)
                if value not in (None, ""):
                    return value
        return None

    text = col("text", *TEXT_COLUMNS)
    if text is None:
        raise NormaliseError("missing_field", f"text (column {m.get('text', 'text')!r}) is missing")
    if not isinstance(text, str):
        raise NormaliseError("bad_type", "text should be a string")
    created_raw = time_column(cols, m)[1]
    if created_raw is None:
        raise NormaliseError("missing_field", "created_at is missing")
    created = parse_time(created_raw, day_first)
    author = _str(col("author", *AUTHOR_COLUMNS), "author", required=False)
    author = author or "unknown"
    post_id = _str(col("id", *ID_COLUMNS), "id", required=False)
    if post_id is None:
        digest = xxhash.xxh3_64_intdigest(f"{author}\x00{created.isoformat()}\x00{text}".encode())
        post_id = f"h{digest:016x}"
        if copies is not None:
            if len(copies) >= MAX_COPIES:  # bounded: identical rows share a time, so sit close
                copies.clear()
            n = copies[digest] = copies.get(digest, 0) + 1
            if n > 1:
                post_id = f"{post_id}.{n}"
    plat = col("platform")
    return _build(
        platform=plat if plat in ("bluesky", "mastodon", "x", "reddit", "simulated") else platform,
        post_id=post_id,
        author={
            "id": author,
            "handle": _str(col("handle"), "handle", required=False),
            "followers": _count(_num(col("followers"))),
            "verified": _flag(col("verified")),
        },
        text=text,
        lang=_lang(col("lang")),
        created_at=created,
        url=_str(col("url"), "url", required=False),
        reply_to=_str(col("reply_to"), "reply_to", required=False),
        repost_of=_str(col("repost_of"), "repost_of", required=False),
        quote_of=_str(col("quote_of"), "quote_of", required=False),
        hashtags=_tags(_split_list(col("hashtags"))),
        mentions=_tags(_split_list(col("mentions"))),
        engagement={k: _count(_num(col(k))) for k in ("likes", "reposts", "replies", "quotes")},
        source=platform,
    )


def _num(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return 0
    return value


# --- dispatch ------------------------------------------------------------------------------

NORMALISERS: Final[dict[str, Callable[[Mapping[str, Any]], Post]]] = {
    "canonical": normalise_canonical,
    "bluesky": normalise_bluesky,
    "mastodon": normalise_mastodon,
    "x": normalise_x,
    "reddit": normalise_reddit,
    "generic": normalise_generic,
}


def detect_format(obj: Any) -> str:
    """Guess a record's format from its shape (``generic`` when nothing specific matches)."""
    if not isinstance(obj, Mapping):
        return "generic"
    if "platform" in obj and "post_id" in obj:
        return "canonical"
    if "did" in obj and "kind" in obj:
        return "bluesky"
    if obj.get("kind") in ("t1", "t3", "Listing"):
        return "reddit"
    if "subreddit" in obj and "created_utc" in obj and ("body" in obj or "title" in obj):
        return "reddit"  # a data-dump line
    if "account" in obj and ("content" in obj or "reblog" in obj):
        return "mastodon"
    if obj.get("event") in ("update", "delete", "status.update", "notification"):
        return "mastodon"
    data = obj.get("data")
    if isinstance(data, Mapping | list) and ("includes" in obj or "author_id" in str(data)[:2000]):
        return "x"
    if "author_id" in obj and "text" in obj and "public_metrics" in obj:
        return "x"
    return "generic"


def expand(fmt: str, obj: Any) -> list[Any]:
    """Split container payloads (an X response with many tweets, a Reddit Listing) into records."""
    if not isinstance(obj, Mapping):
        return [obj]
    if fmt == "x" and isinstance(obj.get("data"), list):
        includes = obj.get("includes")
        return [{"data": t, "includes": includes} for t in obj["data"]]
    if fmt == "reddit" and obj.get("kind") == "Listing":
        return list(_list(_opt_obj(obj.get("data")).get("children")))
    return [obj]


def normalise(
    fmt: str,
    obj: Any,
    mapping: Mapping[str, str] | None = None,
    platform: str = "jsonl",
    day_first: bool = False,
    copies: dict[int, int] | None = None,
) -> Post:
    """The boundary: any input -> Post, or NormaliseError (NotAPost for skippable events)."""
    if not isinstance(obj, Mapping):
        raise NormaliseError("not_object", f"expected a JSON object, got {type(obj).__name__}")
    try:
        if fmt == "generic":
            return normalise_generic(obj, mapping, platform, day_first, copies)
        if fmt not in NORMALISERS:
            raise NormaliseError("bad_format", f"unknown format {fmt!r}")
        return NORMALISERS[fmt](obj)
    except NormaliseError:
        raise
    except RecursionError:
        raise NormaliseError("too_deep", "nested too deeply") from None
    except Exception as exc:  # malformed shapes surface as Key/Type/Value errors deep inside
        raise NormaliseError("schema", f"{type(exc).__name__}: {str(exc)[:300]}") from None
