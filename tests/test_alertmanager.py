"""Alertmanager config: syntax, routing (amtool), inhibition on a real Alertmanager, secrets."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from crisis_radar.stack._proc import free_port

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
AMTOOL = shutil.which("amtool")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
needs_amtool = pytest.mark.skipif(
    AMTOOL is None, reason="amtool missing: apt-get install prometheus-alertmanager"
)

# (labels, expected receiver)
ROUTES = [
    (
        {
            "alertname": "BrandCrisis",
            "brand": "telvana",
            "team": "crisis-desk",
            "severity": "crisis",
        },
        "crisis-desk-page",
    ),
    (
        {
            "alertname": "BrandCrisisWarning",
            "brand": "telvana",
            "team": "crisis-desk",
            "severity": "warning",
        },
        "crisis-desk-slack",
    ),
    (
        {
            "alertname": "BrandCrisis",
            "brand": "nexa",
            "team": "competitor-watch",
            "severity": "crisis",
        },
        "competitor-watch",
    ),
    (
        {
            "alertname": "BrandNotAnswering",
            "brand": "telvana",
            "team": "crisis-desk",
            "severity": "care",
        },
        "crisis-desk-page",
    ),
    (
        {
            "alertname": "BrandNotAnswering",
            "brand": "nexa",
            "team": "competitor-watch",
            "severity": "care",
        },
        "competitor-watch",
    ),
    (
        {"alertname": "CrisisRadarWorkerDown", "team": "platform", "severity": "critical"},
        "platform-page",
    ),
    (
        {"alertname": "CrisisRadarDlqRateHigh", "team": "platform", "severity": "warning"},
        "platform-slack",
    ),
    ({"alertname": "SomethingElse"}, "webhook"),
]


def _amtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert AMTOOL is not None
    return subprocess.run([AMTOOL, *args], capture_output=True, text=True, timeout=60)


@needs_amtool
def test_check_config() -> None:
    result = _amtool("check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 templates" in result.stdout


@needs_amtool
@pytest.mark.parametrize(("labels", "receiver"), ROUTES, ids=[r for _, r in ROUTES])
def test_routes(labels: dict[str, str], receiver: str) -> None:
    pairs = [f"{k}={v}" for k, v in labels.items()]
    result = _amtool(
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        f"--verify.receivers={receiver}",
        *pairs,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@needs_amtool
def test_routes_test_can_fail() -> None:
    """A competitor's crisis must not page the crisis desk."""
    result = _amtool(
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        "--verify.receivers=crisis-desk-page",
        "team=competitor-watch",
        "severity=crisis",
        "brand=nexa",
    )
    assert result.returncode != 0


def test_secrets_only_from_files() -> None:
    text = CONFIG.read_text()
    config = yaml.safe_load(text)
    for key in ("slack_api_url", "smtp_auth_password", "pagerduty_url"):
        assert key not in config["global"]
    for receiver in config["receivers"]:
        for pd in receiver.get("pagerduty_configs", []):
            assert "routing_key" not in pd and "service_key" not in pd and "routing_key_file" in pd
        for slack in receiver.get("slack_configs", []):
            assert "api_url" not in slack
        for mail in receiver.get("email_configs", []):
            assert "auth_password" not in mail
    assert "hooks.slack.com" not in text


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    """A private real Alertmanager on this config (the shared one may run an older file)."""
    if ALERTMANAGER is None:
        pytest.skip("alertmanager missing: apt-get install prometheus-alertmanager")
    port = free_port()
    proc = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={CONFIG}",
            f"--storage.path={tmp_path}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{url}/-/ready", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _post(url: str, alerts: list[dict[str, object]]) -> None:
    req = urllib.request.Request(
        f"{url}/api/v2/alerts",
        data=json.dumps(alerts).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(req, timeout=5)


def _inhibited(url: str) -> dict[str, bool]:
    """alertname/brand -> inhibited?, once Alertmanager has settled."""
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as resp:
        alerts = json.load(resp)
    return {
        f"{a['labels']['alertname']}/{a['labels'].get('brand', '')}": bool(
            a["status"]["inhibitedBy"]
        )
        for a in alerts
    }


def test_inhibition_on_real_alertmanager(alertmanager: str) -> None:
    def alert(name: str, **labels: str) -> dict[str, object]:
        return {"labels": {"alertname": name, **labels}, "annotations": {"summary": name}}

    _post(
        alertmanager,
        [
            alert("BrandCrisis", brand="telvana", team="crisis-desk", severity="crisis"),
            alert("BrandCrisisWarning", brand="telvana", team="crisis-desk", severity="warning"),
            alert("BrandCrisisWarning", brand="orbitel", team="crisis-desk", severity="warning"),
            alert(
                "CrisisRadarWorkerDown", team="platform", severity="critical", job="crisis-radar"
            ),
            alert("CrisisRadarBrandNoPosts", brand="crunchly", team="platform", severity="warning"),
            alert("CrisisRadarDlqRateHigh", team="platform", severity="warning", stage="posts.raw"),
        ],
    )
    state: dict[str, bool] = {}
    for _ in range(50):  # inhibition is computed on read; give ingestion a moment
        state = _inhibited(alertmanager)
        if len(state) == 6:
            break
        time.sleep(0.1)
    assert state == {
        "BrandCrisis/telvana": False,
        "BrandCrisisWarning/telvana": True,  # silenced by its own crisis
        "BrandCrisisWarning/orbitel": False,  # another brand's crisis does not silence it
        "CrisisRadarWorkerDown/": False,
        "CrisisRadarBrandNoPosts/crunchly": True,  # caused by the dead worker
        "CrisisRadarDlqRateHigh/": False,
    }
