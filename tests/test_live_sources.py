"""Live sources against local servers on 127.0.0.1 that drop the connection mid-stream."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.sync.server import ServerConnection, serve

from crisis_radar.ingest.live import Backoff, JetstreamSource, KeywordFilter, MastodonSource
from crisis_radar.ingest.pipeline import Pipeline

T0 = 1_795_428_000_000_000  # 2026-11-23T10:00:00Z in microseconds


def jet_event(i: int) -> dict[str, Any]:
    """Every 4th event is a like (not a post); texts alternate acme / other."""
    did = f"did:plc:user{i % 7:020d}"
    collection = "app.bsky.feed.like" if i % 4 == 3 else "app.bsky.feed.post"
    record: dict[str, Any] = {"$type": collection, "createdAt": "2026-11-23T10:00:00Z"}
    if collection == "app.bsky.feed.post":
        record["text"] = f"post {i} about {'ACME' if i % 2 else 'weather'}"
    return {
        "did": did,
        "time_us": T0 + i * 1000,
        "kind": "commit",
        "commit": {"rev": f"r{i}", "operation": "create", "collection": collection,
                   "rkey": f"k{i:06d}", "record": record, "cid": f"bafy{i}"},
    }  # fmt: skip


@pytest.fixture
def jetstream_server() -> Iterator[tuple[str, list[str]]]:
    events = [jet_event(i) for i in range(60)]
    requests: list[str] = []
    drops = iter([15, 33])  # the first two connections die after this many events

    def handler(ws: ServerConnection) -> None:
        assert ws.request is not None
        requests.append(ws.request.path)
        query = parse_qs(urlsplit(ws.request.path).query)
        cursor = int(query.get("cursor", ["0"])[0])
        limit = next(drops, None)
        for n, event in enumerate(e for e in events if e["time_us"] >= cursor):
            if limit is not None and n == limit:
                ws.socket.close()  # abrupt drop, no close frame
                return
            ws.send(json.dumps(event))
        ws.close()

    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        yield f"ws://127.0.0.1:{port}/subscribe", requests
        server.shutdown()


def test_jetstream_resumes_without_loss_or_repeats(
    jetstream_server: tuple[str, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    url, requests = jetstream_server
    delays: list[float] = []
    source = JetstreamSource(url, keywords=["acme"], seed=7, base_delay=0.01, sleep=delays.append)
    with caplog.at_level("WARNING"):
        got = list(itertools.islice(source, 30))  # odd i: 15 acme posts (i % 4 == 1) + 15 likes
    lines = [r.getMessage() for r in caplog.records]  # it was reached: "disconnected"
    assert len(lines) == 2 and all(f"{url.split('/')[2]} disconnected: " in x for x in lines)
    pipeline = Pipeline("bluesky")
    post_ids = [o.key.decode() for raw in got for o in pipeline.process(raw) if o is not None]
    expected = [f"bluesky:at://{jet_event(i)['did']}/app.bsky.feed.post/k{i:06d}"
                for i in range(60) if i % 4 == 1]  # fmt: skip
    assert len(expected) == 15
    assert post_ids == expected[: len(post_ids)] and len(post_ids) == 15
    assert source.connections == 3 and len(delays) == 2
    assert "wantedCollections=app.bsky.feed.post" in requests[0]
    assert "cursor" not in requests[0] and "cursor=" in requests[1]
    assert source.duplicates > 0  # the rewound cursor replayed events, and they were dropped


def test_jetstream_cursor_start() -> None:
    source = JetstreamSource("wss://example/subscribe", cursor=T0)
    assert f"cursor={T0 - 1 - 2_000_000}" in source.connect_url()


def test_backoff_is_seeded_exponential_and_capped() -> None:
    a, b = Backoff(0.5, 4.0, seed=1), Backoff(0.5, 4.0, seed=1)
    da = [a.next_delay() for _ in range(6)]
    assert da == [b.next_delay() for _ in range(6)]
    for i, d in enumerate(da):
        ceiling = min(4.0, 0.5 * 2**i)
        assert ceiling / 2 <= d <= ceiling
    a.reset()
    assert a.next_delay() <= 0.5


def test_gives_up_after_max_retries() -> None:
    source = JetstreamSource("ws://127.0.0.1:9/none", max_retries=2, sleep=lambda s: None)
    with pytest.raises(ConnectionError, match="giving up after 2"):
        list(source)
    assert source.connections == 3


def test_connection_errors_are_told_in_words(caplog: pytest.LogCaptureFixture) -> None:
    """An operator reads what failed and what to check, never an exception repr; "cannot
    connect" until the server was reached, "disconnected" after."""
    import socket

    from crisis_radar.ingest.live import describe

    source = JetstreamSource("ws://127.0.0.1:9/none", max_retries=1, sleep=lambda s: None)
    with caplog.at_level("WARNING"), pytest.raises(ConnectionError) as err:
        list(source)
    line = caplog.records[0].getMessage()
    assert line.startswith("live source 127.0.0.1:9 cannot connect: connection refused"), line
    assert "Error(" not in line and "Error(" not in str(err.value)
    assert str(err.value).startswith("live source 127.0.0.1:9: giving up after 1 retries:")
    dns = socket.gaierror(-2, "Name or service not known")
    assert describe(dns) == "its host name does not resolve (no network, or a wrong --url?)"
    assert describe(None) == "the server closed the stream"
    assert describe(TimeoutError()) == "no answer in time"


def test_keyword_filter() -> None:
    f = KeywordFilter(["Acme", " globex "])
    assert f.keep("my ACME order") and f.keep("globex!") and not f.keep("nothing here")
    assert KeywordFilter([]).keep("anything")


def status(i: int) -> dict[str, Any]:
    return {
        "id": str(113536400000000000 + i),
        "created_at": f"2026-11-23T10:02:{i:02d}.000Z",
        "content": f"<p>status {i} mentions Acme</p>" if i != 4 else "<p>unrelated</p>",
        "language": "en", "in_reply_to_id": None, "reblog": None, "url": None,
        "account": {"id": str(i), "acct": f"user{i}", "followers_count": i},
        "mentions": [], "tags": [], "replies_count": 0, "reblogs_count": 0, "favourites_count": 0,
    }  # fmt: skip


class SSEHandler(BaseHTTPRequestHandler):
    """Connection 1: statuses 0-5, the last cut mid-event. 6-8 appear while disconnected (only
    the timeline has them). Connection 2 resends 4-5 (overlap) and continues with 9-11."""

    connection_no = 0
    timeline_calls: list[str] = []  # noqa: RUF012 - per-test, reset by the fixture

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path == "/api/v1/timelines/public":
            since = int(parse_qs(parts.query)["since_id"][0])
            SSEHandler.timeline_calls.append(self.path)
            body = [status(i) for i in range(12) if int(status(i)["id"]) > since and i <= 8]
            payload = json.dumps(body[::-1]).encode()  # newest first, like Mastodon
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        SSEHandler.connection_no += 1
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        w = self.wfile.write
        if SSEHandler.connection_no == 1:
            w(b":)\n\n")
            for i in range(5):
                w(f"event: update\ndata: {json.dumps(status(i))}\n\n".encode())
                if i == 2:
                    w(b"event: delete\ndata: 113536400000000001\n\n:thump\n\n")
            w(f"event: update\ndata: {json.dumps(status(5))}".encode())  # cut: no blank line
            self.wfile.flush()
            self.close_connection = True
            return
        for i in [4, 5, 9, 10, 11]:
            w(f"event: update\r\ndata: {json.dumps(status(i))}\r\n\r\n".encode())
        self.close_connection = True


@pytest.fixture
def sse_server() -> Iterator[str]:
    SSEHandler.connection_no = 0
    SSEHandler.timeline_calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), SSEHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1/streaming/public"
    server.shutdown()
    server.server_close()


def test_mastodon_reconnects_dedups_and_backfills(sse_server: str) -> None:
    delays: list[float] = []
    source = MastodonSource(sse_server, keywords=["acme"], seed=3, sleep=delays.append)
    got = list(itertools.islice(source, 11))  # 0-11 except 4 (filtered out)
    ids = [json.loads(raw)["id"] for raw in got]
    expected = {str(113536400000000000 + i) for i in range(12) if i != 4}
    assert len(ids) == len(set(ids)) == 11 and set(ids) == expected
    assert source.duplicates >= 1 and source.filtered == 1
    assert len(SSEHandler.timeline_calls) == 1  # back-filled once, after the reconnect
    assert "since_id=113536400000000004" in SSEHandler.timeline_calls[0]
    assert len(delays) == 1
    pipeline = Pipeline("mastodon")
    outs = [o for raw in got for o in pipeline.process(raw)]
    assert pipeline.stats.sent == 11 and all(o is not None for o in outs)


def test_ingest_command_live_dry_run(
    jetstream_server: tuple[str, list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    from crisis_radar.commands import ingest as ingest_cmd

    url, requests = jetstream_server
    argv = ["--live", "bluesky", "--url", url, "--track", "acme", "--max-posts", "30"]
    assert ingest_cmd.main([*argv, "--dry-run", "--quiet"]) == 0
    assert "read 30, sent 15, skipped 15, rejected 0" in capsys.readouterr().err
    assert len(requests) == 3  # survived both drops


def test_jetstream_keeps_events_sharing_a_time_us_in_steady_flow() -> None:
    source = JetstreamSource("ws://unused")
    a, b = jet_event(1), jet_event(5)
    b["time_us"] = a["time_us"]
    raws = [json.dumps(e).encode() for e in (a, b)]
    assert [source._accept(r) for r in raws] == raws
    source.replayed_until = source.last_time_us  # what a reconnect does
    assert [source._accept(r) for r in raws] == [None, None] and source.duplicates == 2
