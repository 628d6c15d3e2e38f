"""Why an input was (mostly) rejected, and the likely fix: ``crisis-radar ingest`` prints it.

``Rejects`` keeps the first dead letter of each reason and the field names of the rejected
records; ``explain`` turns them into a few lines: the top reasons counted, one example of each
and, when the records look like another shape, a ``--format generic --map ...`` built from the
fields actually seen (tests/test_errors.py).
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

from crisis_radar.ingest.pipeline import Stats
from schemas.models import DeadLetter

# generic field -> column names that usually hold it, most likely first
_GUESSES: dict[str, tuple[str, ...]] = {
    "text": ("text", "body", "content", "message", "full_text", "post_text", "caption", "title"),
    "created_at": ("created_at", "timestamp", "time", "date", "created_utc", "ts", "posted_at",
                   "published_at", "datetime", "created"),
    "author": ("author_id", "author", "user_id", "user", "username", "account_id", "author_name"),
    "handle": ("author_handle", "handle", "screen_name", "username", "user_name", "acct"),
    "id": ("post_id", "id", "tweet_id", "status_id", "uid"),
    "lang": ("lang", "language"),
    "url": ("url", "permalink", "link"),
    "followers": ("followers", "followers_count", "author_followers"),
    "likes": ("likes", "like_count", "favorite_count", "favourites_count"),
    "reposts": ("reposts", "retweets", "retweet_count", "reblogs_count", "shares"),
    "replies": ("replies", "reply_count", "replies_count", "comments"),
    "hashtags": ("hashtags", "tags"),
    "mentions": ("mentions",),
    "platform": ("platform",),
}  # fmt: skip
_SHAPE_REASONS = {"schema", "missing_field", "bad_type", "not_object"}
_EXAMPLE_CHARS = 160


class Rejects:
    """The first dead letter of each reason and the fields of the rejected records."""

    def __init__(self, max_records: int = 1000) -> None:
        self.examples: dict[str, DeadLetter] = {}
        self.fields: Counter[str] = Counter()
        self.records = 0
        self.max_records = max_records

    def add(self, letter: DeadLetter) -> None:
        self.examples.setdefault(letter.reason, letter)
        if self.records < self.max_records:  # enough to see the shape; the rest costs nothing
            self.records += 1
            obj = _record(letter)
            if isinstance(obj, Mapping):
                self.fields.update(str(k) for k in obj)


def _record(letter: DeadLetter) -> Any:
    try:
        return json.loads(base64.b64decode(letter.original))
    except ValueError:
        return None


def guess_mapping(fields: list[str]) -> dict[str, str]:
    """generic field -> column, from the columns seen (each column used once)."""
    seen = {f.casefold(): f for f in fields}
    used: set[str] = set()
    out: dict[str, str] = {}
    for target, names in _GUESSES.items():
        for name in names:
            col = seen.get(name)
            if col is not None and col not in used:
                out[target] = col
                used.add(col)
                break
    return out


def mostly_rejected(stats: Stats) -> bool:
    """More records rejected than posts sent: worth an explanation."""
    return stats.rejected_total > 0 and stats.rejected_total >= stats.sent


def explain(stats: Stats, rejects: Rejects, top: int = 3) -> list[str]:
    """The lines ``ingest`` prints when most of the input was rejected ([] otherwise)."""
    if not mostly_rejected(stats):
        return []
    head = "nothing was accepted" if stats.sent == 0 else "most of the input was rejected"
    lines = [f"{head}: {stats.rejected_total:,} of {stats.read:,} records rejected; top reasons:"]
    for reason, n in stats.rejected.most_common(top):
        ex = rejects.examples.get(reason)
        error = " ".join(ex.error.split()) if ex is not None else "?"
        if len(error) > _EXAMPLE_CHARS:
            error = error[: _EXAMPLE_CHARS - 3] + "..."
        lines.append(f"  {reason} ({n:,}): {error}")
    fix = likely_fix(stats, rejects)
    if fix:
        lines.append(f"likely fix: {fix}")
    return lines


def likely_fix(stats: Stats, rejects: Rejects) -> str:
    reason = stats.rejected.most_common(1)[0][0]
    if reason == "bad_json":
        return "the input is not JSON lines: for CSV give a .csv file or --format csv"
    if reason == "bad_utf8":
        return "the input is not UTF-8 text: convert it first (e.g. iconv -f latin1 -t utf-8)"
    if reason in ("future_timestamp", "ancient_timestamp", "bad_timestamp"):
        return "check the time column: --map created_at=COLUMN (ISO 8601, epoch s or ms)"
    if reason not in _SHAPE_REASONS or not rejects.fields:
        return ""
    fields = [f for f, _ in rejects.fields.most_common()]
    mapping = guess_mapping(fields)
    for needed in ("text", "created_at"):
        mapping.setdefault(needed, "COLUMN")
    spec = ",".join(f"{k}={v}" for k, v in mapping.items())
    canonical = "platform" in rejects.fields and "post_id" in rejects.fields
    what = (
        "these records are not canonical Post JSON"
        if canonical
        else "fields seen: " + (", ".join(fields[:12]) + (", ..." if len(fields) > 12 else ""))
    )
    return f"{what}; map their fields: --format generic --map {spec}"
