"""Normalisers on real-shaped samples (tests/samples), one platform at a time."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from crisis_radar.ingest.normalise import (
    NormaliseError,
    NotAPost,
    detect_format,
    expand,
    html_to_text,
    normalise,
    normalise_bluesky,
    normalise_generic,
    normalise_mastodon,
    normalise_reddit,
    normalise_x,
    parse_mapping,
    parse_time,
    slash_order,
)
from schemas.models import Post

SAMPLES = Path(__file__).parent / "samples"


def load(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text())


def jetstream() -> list[dict[str, Any]]:
    lines = (SAMPLES / "bluesky_jetstream.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_bluesky_post_with_facets() -> None:
    p = normalise_bluesky(jetstream()[0])
    assert (
        p.key == "bluesky:at://did:plc:eygmaihciaxprqvxpfvl6flk/app.bsky.feed.post/3lbwqa2vuowo2b"
    )
    assert p.author.id == "did:plc:eygmaihciaxprqvxpfvl6flk"
    assert p.text == "@acme.com my order never arrived #AcmeFail"
    assert p.created_at == datetime(2026, 11, 23, 10, 0, 5, 102000, tzinfo=UTC)
    assert (p.lang, p.hashtags, p.mentions) == (
        "en",
        ["AcmeFail"],
        ["did:plc:acmeofficial000000000000"],
    )
    assert p.url == "https://bsky.app/profile/did:plc:eygmaihciaxprqvxpfvl6flk/post/3lbwqa2vuowo2b"


def test_bluesky_reply_quote_and_bogus_client_clock() -> None:
    events = jetstream()
    first = normalise_bluesky(events[0])
    reply = normalise_bluesky(events[1])
    assert reply.reply_to == first.post_id and reply.lang == "en"
    quote = normalise_bluesky(events[2])  # recordWithMedia embed, createdAt in 2099
    assert quote.quote_of == first.post_id
    assert quote.created_at == datetime(2026, 11, 23, 10, 0, 7, tzinfo=UTC)  # relay time_us


@pytest.mark.parametrize("index", [3, 4, 5])  # delete, like, identity event
def test_bluesky_non_posts_are_skipped(index: int) -> None:
    with pytest.raises(NotAPost):
        normalise_bluesky(jetstream()[index])


def test_mastodon_status_html_and_counts() -> None:
    p = normalise_mastodon(load("mastodon_status.json"))
    assert p.text == (
        "@acme your app is down again & support won't answer\n"
        "Details: https://status.acme.example/incidents/123456789\n\n#AcmeDown"
    )
    assert (p.author.id, p.author.handle, p.author.followers) == ("109302", "bob", 321)
    assert (p.engagement.likes, p.engagement.reposts, p.engagement.replies) == (11, 5, 2)
    assert (p.hashtags, p.mentions, p.lang) == (["acmedown"], ["acme@acme.example"], "en")
    assert p.url == "https://mastodon.social/@bob/113536412345678901"


def test_mastodon_reblog_and_stream_envelope() -> None:
    sse = (SAMPLES / "mastodon_stream.sse").read_text()
    datas = [line[6:] for line in sse.splitlines() if line.startswith("data: {")]
    boost = normalise_mastodon(json.loads(datas[1]))
    assert boost.repost_of == "113536400000000001" and boost.text == "Acme outage again?"
    assert boost.reply_to == "113536400000000001" and boost.author.handle == "dan@other.example"
    assert boost.url == "https://other.example/users/dan/statuses/2"
    envelope = {"stream": ["public"], "event": "update", "payload": datas[0]}
    assert normalise_mastodon(envelope).post_id == "113536400000000001"
    with pytest.raises(NotAPost):
        normalise_mastodon({"event": "delete", "payload": "1"})


def test_x_response_with_includes() -> None:
    doc = load("x_v2_response.json")
    posts = [normalise_x(t) for t in expand("x", doc)]
    first, rt, quote = posts
    assert first.text == "@AcmeSupport refund still not processed & no reply #AcmeFail"
    assert (first.author.handle, first.author.followers, first.author.verified) == (
        "erin_x", 51000, True
    )  # fmt: skip
    assert (first.engagement.likes, first.engagement.reposts) == (12, 3)
    assert (first.hashtags, first.mentions) == (["AcmeFail"], ["AcmeSupport"])
    assert first.url == "https://x.com/erin_x/status/1860000000000000001"
    assert rt.repost_of == "1859999999999999999"
    assert (quote.quote_of, quote.reply_to) == ("1859999999999999999", first.post_id)


def test_reddit_listing_submission_and_comment() -> None:
    sub, com = (normalise_reddit(c) for c in expand("reddit", load("reddit_listing.json")))
    assert sub.post_id == "t3_1h2x3y4"
    assert sub.text == "Acme billing bug\n\nAnyone else getting charged twice?"
    assert sub.created_at == datetime(2026, 11, 23, 10, 3, tzinfo=UTC)
    assert (sub.engagement.likes, sub.engagement.replies) == (154, 87)
    assert (com.reply_to, com.engagement.likes, com.author.handle) == ("t3_1h2x3y4", 0, "hana")
    assert com.url is not None and com.url.endswith("/lz9k8j7/")


def test_reddit_dump_lines() -> None:
    line = {"id": "lz9k8j7", "author": "hana", "body": "same", "created_utc": 1795428240,
            "subreddit": "technology", "parent_id": "t3_1h2x3y4", "score": 2}  # fmt: skip
    assert detect_format(line) == "reddit"
    p = normalise_reddit(line)
    assert (p.post_id, p.reply_to, p.engagement.likes) == ("t1_lz9k8j7", "t3_1h2x3y4", 2)
    sub = normalise_reddit({"id": "x", "author": "a", "title": "T", "selftext": "",
                            "created_utc": "1795428240", "subreddit": "s"})  # fmt: skip
    assert (sub.post_id, sub.text) == ("t3_x", "T")


def test_generic_mapping_and_hashed_ids() -> None:
    m = parse_mapping("text=body,created_at=ts,id=tweet_id,author=user,hashtags=tags")
    row = {"tweet_id": "a1", "body": "hi", "ts": "2026-11-23 10:04:00", "user": "ivan",
           "followers": "120", "tags": "acme;shipping"}  # fmt: skip
    p = normalise_generic(row, m, "csv")
    assert (p.key, p.author.followers, p.hashtags) == ("csv:a1", 120, ["acme", "shipping"])
    assert p.created_at == datetime(2026, 11, 23, 10, 4, tzinfo=UTC)  # naive -> UTC
    no_id = {k: v for k, v in row.items() if k != "tweet_id"}
    a, b = normalise_generic(no_id, m), normalise_generic(dict(no_id), m)
    assert a.post_id == b.post_id and a.post_id.startswith("h")  # stable across runs
    nested = {"msg": {"body": "x"}, "time": 1795428000}
    assert normalise_generic(nested, {"text": "msg.body"}).text == "x"
    with pytest.raises(NormaliseError) as err:
        normalise_generic({"ts": "2026-01-01"}, m)
    assert err.value.reason == "missing_field"
    with pytest.raises(ValueError, match="bad mapping"):
        parse_mapping("colour=c")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-23T10:00:00Z", datetime(2026, 11, 23, 10, tzinfo=UTC)),
        ("2026-11-23T12:00:00+02:00", datetime(2026, 11, 23, 10, tzinfo=UTC)),
        (1795428000, datetime(2026, 11, 23, 10, tzinfo=UTC)),
        ("1795428000000", datetime(2026, 11, 23, 10, tzinfo=UTC)),
        (1795428000000000, datetime(2026, 11, 23, 10, tzinfo=UTC)),
    ],
)
def test_parse_time(value: Any, expected: datetime) -> None:
    assert parse_time(value) == expected


def test_generic_headers_as_spreadsheets_write_them() -> None:
    """No --map: "Full Text", "Created At", "Screen Name" are found in any case and spacing; a
    "Date" and a "Time" column apart make one time; a --map name matches in another case."""
    t = datetime(2026, 11, 23, 10, 4, tzinfo=UTC)
    brandwatch = {"Tweet Id": "9", "Full Text": "Telvana down", "Date": "23.11.2026",
                  "Time": "10:04", "Author": "ana"}  # fmt: skip
    upper = {"ID": "9", "TEXT": "Telvana down", "Created At": "2026-11-23 10:04:00 UTC",
             "Screen Name": "ana"}  # fmt: skip
    for row in (brandwatch, upper):
        p = normalise_generic(row)
        assert (p.post_id, p.text, p.created_at, p.author.id) == ("9", "Telvana down", t, "ana")
    assert (
        normalise_generic({"text": "x", "date": "11/23/2026", "time": "10:04 AM"}).created_at == t
    )
    mapped = normalise_generic(upper, {"text": "text", "created_at": "created at"})
    assert mapped.created_at == t
    with pytest.raises(NormaliseError) as err:  # a bare time of day is no timestamp
        normalise_generic({"text": "x", "Time": "10:04"})
    assert err.value.reason == "bad_timestamp"


T = datetime(2026, 11, 23, 10, 4, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Mon Nov 23 10:04:00 +0000 2026", T),  # X API v1.1
        ("Mon, 23 Nov 2026 10:04:00 GMT", T),  # RFC 2822 (RSS, mail)
        ("2026-11-23 10:04:00 UTC", T),  # BigQuery, Postgres exports
        ("2026-11-23 12:04:00 +0200", T),
        ("2026/11/23 10:04", T),
        ("11/23/2026 10:04", T),  # US spreadsheets: month first
        ("11/23/26 10:04 AM", T),
        ("11/23/2026 5:04:00 AM -05:00", T),
        ("23/11/2026 10:04", T),  # the day is above 12: day first, whatever the file
        ("23-11-2026 10:04:00", T),
        ("23.11.2026 10:04", T),  # the dot: day first
        ("Nov 23, 2026 10:04 AM", T),
        ("23 Nov 2026 10:04", T),
        ("23-Nov-2026 10:04", T),
        ("November 23, 2026", datetime(2026, 11, 23, tzinfo=UTC)),
        ("05/06/2026", datetime(2026, 5, 6, tzinfo=UTC)),  # ambiguous: month first by default
        ("23/11/2026 10:04:05,5", T.replace(second=5, microsecond=500_000)),
    ],
)
def test_parse_time_reads_export_layouts(value: str, expected: datetime) -> None:
    assert parse_time(value) == expected


def test_parse_time_day_first_decides_only_ambiguous_dates() -> None:
    assert parse_time("05/06/2026 10:04", day_first=True) == datetime(2026, 6, 5, 10, 4, tzinfo=UTC)
    assert parse_time("11/23/2026 10:04", day_first=True) == T  # 23 cannot be a month
    assert parse_time("2026/06/05", day_first=True) == datetime(2026, 6, 5, tzinfo=UTC)
    assert [slash_order(v) for v in ("23/11/2026", "11/23/2026", "05/06/2026", "23.11.2026")] == [
        True, False, None, None
    ]  # fmt: skip


@pytest.mark.parametrize(
    "value",
    [None, True, "yesterday", 1e300, float("nan"), {}, "9" * 40, "31/02/2026", "25/25/2026",
     "not a date", "Nov 2026", "13/11/2026 25:00"],
)  # fmt: skip
def test_parse_time_rejects(value: Any) -> None:
    with pytest.raises(NormaliseError) as err:
        parse_time(value)
    assert err.value.reason == "bad_timestamp"


def test_detect_format_on_every_sample() -> None:
    assert detect_format(jetstream()[0]) == "bluesky"
    assert detect_format(load("mastodon_status.json")) == "mastodon"
    assert detect_format(load("x_v2_response.json")) == "x"
    assert detect_format(load("reddit_listing.json")) == "reddit"
    canonical = normalise_x(expand("x", load("x_v2_response.json"))[0]).model_dump(mode="json")
    assert detect_format(canonical) == "canonical"
    assert normalise("canonical", canonical) == Post.model_validate(canonical)
    assert detect_format({"body": "x"}) == "generic"


def test_wrong_shapes_give_reasons() -> None:
    ev = jetstream()[0]
    ev["commit"]["record"]["text"] = 42
    with pytest.raises(NormaliseError) as err:
        normalise("bluesky", ev)
    assert err.value.reason == "bad_type"
    with pytest.raises(NormaliseError) as err:
        normalise("x", {"data": {"id": "1", "author_id": "2", "text": "x" * 20_000,
                                 "created_at": "2026-11-23T10:00:00Z"}})  # fmt: skip
    assert err.value.reason == "too_large"
    with pytest.raises(NormaliseError) as err:
        normalise("mastodon", [1, 2])
    assert err.value.reason == "not_object"


def test_html_to_text() -> None:
    assert html_to_text("<p>a &amp; b<br>c</p><p>d</p>") == "a & b\nc\n\nd"


@pytest.mark.parametrize(
    ("tag", "lang"),
    [("pt-BR", "pt"), (["pt-BR", "en"], "pt"), ("EN_us", "en"), ("und", None), ("qme", None),
     ("zxx", None), ("klingon", None), ([], None), (None, None), (7, None)],
)  # fmt: skip
def test_platform_language_tags_become_iso_639_1(tag: Any, lang: str | None) -> None:
    """Bluesky ``langs``, Mastodon ``language``, X ``lang``: the primary subtag, or None (the
    enrich stage then identifies the language from the text)."""
    event = jetstream()[0]
    event["commit"]["record"]["langs"] = tag if isinstance(tag, list) or tag is None else [tag]
    assert normalise_bluesky(event).lang == lang
    status = load("mastodon_status.json")
    status["language"] = tag[0] if isinstance(tag, list) and tag else tag
    assert normalise_mastodon(status).lang == (lang if not isinstance(tag, list) or tag else None)
    resp = load("x_v2_response.json")
    resp["data"][0]["lang"] = status["language"]
    assert normalise_x(expand("x", resp)[0]).lang == normalise_mastodon(status).lang
