"""What the end-to-end paging tests share: a worker (or exporter) scraped by the local
Prometheus, whose pages reach this test's Alertmanager webhook (the fixtures ``paging`` and
``worker_paging`` in tests/conftest.py).

deploy/prometheus/prometheus.yml scrapes 127.0.0.1:8000-8002; deploy/alertmanager routes every
page to the webhook on 127.0.0.1:5001.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

WEBHOOK_PORT = 5001
SCRAPED_PORTS = (8002, 8001, 8000)  # prometheus.yml scrapes these; real workers prefer 8000
Payloads = list[tuple[float, dict[str, Any]]]  # (wall time received, Alertmanager's payload)


class _Receiver(BaseHTTPRequestHandler):
    payloads: ClassVar[Payloads] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.payloads.append((time.time(), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def receive_webhook() -> Iterator[Payloads]:
    """Alertmanager's webhook payloads while the caller runs (the ``webhook`` fixture)."""
    server = None
    for _ in range(60):  # another test may hold the port for a moment
        try:
            server = HTTPServer(("127.0.0.1", WEBHOOK_PORT), _Receiver)
            break
        except OSError:
            time.sleep(1)
    if server is None:
        pytest.fail(f"127.0.0.1:{WEBHOOK_PORT} stays busy: cannot receive Alertmanager's webhook")
    _Receiver.payloads = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield _Receiver.payloads
    server.shutdown()
    server.server_close()


def free_scrape_port() -> int:
    """A port Prometheus scrapes that nothing listens on now."""
    for port in SCRAPED_PORTS:
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as prometheus_client does
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.fail("ports 8000-8002 are all busy: no room for the test's worker")


def post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10)


def alerts_for(payloads: Payloads, brand: str) -> list[tuple[float, dict[str, Any]]]:
    """Every alert about ``brand`` in the payloads, with the time its payload arrived."""
    return [
        (t, a)
        for t, p in payloads
        for a in p.get("alerts", [])
        if a["labels"].get("brand") == brand
    ]


def renamed_watchlist(path: Path, tmp_path: Path, ids: dict[str, str]) -> Path:
    """A copy of the watchlist with brand ids renamed (same keywords, so the same matches).
    Brand ids unique to a run: between tests nobody listens on the webhook port, so the
    "resolved" of an earlier test's alert fails and Alertmanager keeps that brand's group; a new
    alert in an existing group waits for its next group_interval tick (30 s), not group_wait
    (0 s) (docs/paging.md)."""
    import yaml

    doc = yaml.safe_load(path.read_text())
    doc["brands"] = [{**b, "id": ids[b["id"]]} for b in doc["brands"] if b["id"] in ids]
    out = tmp_path / "watchlist.yaml"
    out.write_text(yaml.safe_dump(doc))
    return out


def require_worker_model() -> None:
    """Skip unless the worker can load its sentiment model (it refuses to start without)."""
    try:
        from detectors.sentiment import SentimentModel

        SentimentModel.load_default()
    except (ImportError, OSError) as exc:
        pytest.skip(f"worker cannot load detectors.sentiment's model yet: {exc!r}")


@dataclass
class Paging:
    """Prometheus and Alertmanager reloaded with this checkout's rules and routes, a free port
    they scrape (``port``: the worker's ``metrics_port``), and the webhook's payloads."""

    prometheus_url: str
    alertmanager_url: str
    port: int
    payloads: Payloads = field(default_factory=list)

    @property
    def instance(self) -> str:
        """The ``instance`` label of what this test serves on ``port``."""
        return f"127.0.0.1:{self.port}"

    def alerts_for(self, brand: str) -> list[tuple[float, dict[str, Any]]]:
        return alerts_for(self.payloads, brand)

    def pages(self, brand: str, *alertnames: str) -> list[tuple[float, dict[str, Any]]]:
        """Firing alerts about ``brand`` from this test's port (any of ``alertnames``; none:
        any alert)."""
        return [
            (t, a)
            for t, a in self.alerts_for(brand)
            if a["status"] == "firing" and a["labels"].get("instance") == self.instance
            and (not alertnames or a["labels"].get("alertname") in alertnames)
        ]  # fmt: skip


def reloaded(prometheus_url: str, alertmanager_url: str, payloads: Payloads) -> Paging:
    """The running services take the rules and routes of this checkout; a free scraped port."""
    post(f"{prometheus_url}/-/reload")
    post(f"{alertmanager_url}/-/reload")
    return Paging(prometheus_url, alertmanager_url, free_scrape_port(), payloads)
