"""Issue 18 acceptance on the real local stack: feedback on a recurring false alarm stops it
from paging on its next occurrence, while a real crisis on the same brand still pages.

The scenario of tests/test_feedback_offline.py (seed 0): telvana (renamed per run) has a launch
that draws sold-out grumbles (``launch_rush``: volume x3.5, 40 % negative) at 18:00 on four
evenings, and a product defect at 23:00 on the fourth. The posts go through a real worker
subprocess (``python -m streams``, Faust on Kafka) on an isolated topic prefix and database;
Prometheus scrapes it and Alertmanager posts pages to the test webhook.

1. Control: the same posts through the worker's own stages in this process
   (``OfflinePipeline``, the worker's settings) without feedback: the fourth occurrence pages.
   Its paging minutes are where the live run is paced below.
2. Live: after each of the first three occurrences, the analyst labels its alert with the real
   CLI, ``crisis-radar feedback alert ID --label false_alarm`` (a ClickHouse row and a
   crisis.feedback record), and the running worker learns it before any later post arrives.
3. The fourth occurrence is produced at 0.5 s of wall time per simulated minute through the
   minutes where the control paged: the worker raises nothing at warning or above, no page
   reaches the webhook, and Prometheus saw the brand at watch (the desk still sees it).
4. The defect, paced the same way, pages through Alertmanager, and the worker reaches crisis.

Event time is simulated: only those two stretches are paced; the rest is produced at once.
"""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from paging_support import Paging, renamed_watchlist
from test_errors import cli
from test_feedback_offline import DAYS, DEFECT, RUSH, T0, rush_window

from crisis_radar.clickhouse import migrate
from crisis_radar.history.offline import OfflinePipeline
from crisis_radar.simulate import EventSpec, Scenario, Simulator, load_brands, post_json
from detectors.feedback import STEP
from schemas.models import CrisisAlert, Severity
from streams import runner

pytestmark = [pytest.mark.stack, pytest.mark.slow]
SEED = 0
LATENESS_S = 5
PACE_S = 0.5  # wall seconds per simulated minute where paging is watched (scrape 1 s, for: 2 s)
END = DEFECT + timedelta(hours=2)  # the defect reaches crisis within two hours
LIVE = ("BrandCrisis", "BrandCrisisWarning")


def scenario_lines(watchlist: Path) -> list[bytes]:
    """Simulated under telvana's own id (its profile depends on it); the worker reads them
    under the run's id: posts name keywords and handles, never an id."""
    brands = [b for b in load_brands(watchlist) if b.id == "telvana"]
    events = [EventSpec("launch_rush", "telvana", rush_window(d)[0], dict(RUSH)) for d in DAYS]
    events.append(EventSpec("product_defect", "telvana", DEFECT))
    minutes = int((END - T0).total_seconds() // 60)
    sc = Scenario(start=T0, minutes=minutes, brands=brands, seed=SEED, events=events)
    return [post_json(p).encode() for p in Simulator(sc).posts()]


def at(line: bytes) -> datetime:
    return datetime.fromisoformat(json.loads(line)["created_at"].replace("Z", "+00:00"))


def paging_in(alerts: list[CrisisAlert], start: datetime, end: datetime) -> list[CrisisAlert]:
    return [a for a in alerts if start <= a.minute < end and a.severity >= Severity.WARNING]


def prom(url: str, expr: str) -> list[dict[str, Any]]:
    q = f"{url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(q, timeout=10) as resp:
        return list(json.load(resp)["data"]["result"])


def test_three_false_alarm_labels_stop_the_page_not_the_crisis(
    settings: Any, clickhouse: Any, worker_paging: Paging, tmp_path: Path
) -> None:
    from kafka import KafkaProducer

    tag = uuid.uuid4().hex[:6]  # fresh Alertmanager groups (paging_support.renamed_watchlist)
    brand = f"telvana{tag}"
    watchlist_path = settings.watchlist_path
    watchlist = renamed_watchlist(settings.watchlist_path, tmp_path, {"telvana": brand})
    settings = settings.model_copy(update={
        "metrics_port": worker_paging.port, "topic_partitions": 1,
        "allowed_lateness_s": LATENESS_S, "watchlist_path": watchlist,
    })  # fmt: skip
    migrate(settings)
    lines = scenario_lines(watchlist_path)
    times = [at(x) for x in lines]

    # 1. control: the worker's stages, the worker's settings, no feedback; in a thread while
    # the worker starts and takes the first three occurrences (needed from the fourth on)
    control: list[CrisisAlert] = []

    def run_control() -> None:
        pipe = OfflinePipeline.from_settings(settings, child=False)
        for i in range(0, len(lines), 2000):
            control.extend(pipe.feed([(b"", raw) for raw in lines[i : i + 2000]]).alerts)
        control.extend(pipe.finish().alerts)

    pool = ThreadPoolExecutor(1)
    controlled = pool.submit(run_control)
    fourth = rush_window(DAYS[-1])
    phases: dict[str, float] = {}
    clock = time.monotonic()

    log = tmp_path / "worker.log"
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap, linger_ms=5)
    topic = settings.topic("posts.raw")
    sent = 0

    def produce(until: datetime, pace: float = 0.0, stop: Any = None) -> None:
        """Every post before ``until``; with ``pace``, that many wall seconds per minute."""
        nonlocal sent
        minute = None
        while sent < len(lines) and times[sent] < until:
            if pace and times[sent].replace(second=0, microsecond=0) != minute:
                producer.flush()
                if stop is not None and stop():
                    return
                time.sleep(pace)  # the previous simulated minute is over
                minute = times[sent].replace(second=0, microsecond=0)
            producer.send(topic, lines[sent])
            sent += 1
        producer.flush()

    def caught_up() -> None:
        assert runner.wait_caught_up(proc, worker_paging.port, sent, 120), log.read_text()[-3000:]

    def wait_log(needle: str, n: int) -> None:
        deadline = time.monotonic() + 60
        while log.read_text().count(needle) < n:
            assert time.monotonic() < deadline, f"{needle!r} x{n}:\n{log.read_text()[-3000:]}"
            assert proc.poll() is None, log.read_text()[-3000:]
            time.sleep(0.3)

    labelled: list[CrisisAlert] = []
    with runner.running_worker(settings, log) as proc:
        runner.wait_ready(proc, worker_paging.port, log, timeout=90)
        # 2. the first three occurrences, each labelled once it is over
        for day in DAYS[:3]:
            start, end = rush_window(day)
            produce(end + timedelta(minutes=1))
            caught_up()
            # the page if it paged, else the alert it raised (as the offline test)
            seen = sorted((a for a in runner.read_alerts(settings)
                           if a.brand == brand and start <= a.minute < end),
                          key=lambda a: (-int(a.severity), a.minute))  # fmt: skip
            assert seen, f"occurrence {day} raised nothing: nothing to label"
            labelled.append(seen[0])
            done = cli(settings, "feedback", "alert", seen[0].alert_id, "--label",
                       "false_alarm", "--note", "launch queue grumbles", "--by", "ann")  # fmt: skip
            assert done.returncode == 0, done.stderr
            wait_log(f"{brand}: false_alarm: raise", day)  # learned before the next post
        phases["three occurrences labelled"] = time.monotonic() - clock
        # what the labels set is exported (the mix floor is learned from the worker's own
        # minutes: its log and this metric are where it shows)
        scraped = runner.scrape(worker_paging.port).items()
        bounds = {
            dict(lbl)["bound"]: v
            for (name, lbl), v in scraped
            if name == "crisis_radar_brand_feedback_bound" and dict(lbl)["brand"] == brand
        }
        assert bounds["raise"] == pytest.approx(3 * STEP), bounds
        mixes = re.findall(rf"{brand}: false_alarm: .*positive mix .*?-> >= ([0-9.]+)x usual",
                           log.read_text())  # fmt: skip
        assert bounds["mix_floor"] == pytest.approx(float(mixes[-1]) if mixes else 0.0, abs=0.006)
        controlled.result()
        pool.shutdown()
        phases["control done"] = time.monotonic() - clock
        unlabelled = paging_in(control, *fourth)
        assert unlabelled, "without feedback the fourth occurrence pages (else nothing to stop)"
        # paced: from just before the fourth starts until the control fell back below warning
        last_page = max(a.minute for a in unlabelled)
        quiet_from = fourth[0] - timedelta(minutes=2)
        quiet_to = min((a.minute for a in control if last_page < a.minute < fourth[1]
                        and a.severity < Severity.WARNING),
                       default=fourth[1]) + timedelta(minutes=2)  # fmt: skip
        # 3. the fourth occurrence, paced where the control paged
        produce(quiet_from)
        quiet_wall = time.time()
        produce(quiet_to, PACE_S)
        time.sleep(3)  # the last paced minute: scrape, rule evaluation
        seen_by_prometheus = prom(
            worker_paging.prometheus_url,
            f'max_over_time(crisis_radar_brand_severity{{brand="{brand}"}}'
            f"[{int(time.time() - quiet_wall) + 1}s])",
        )
        phases["fourth occurrence paced"] = time.monotonic() - clock
        # 4. the defect, paced until it pages
        produce(DEFECT - timedelta(minutes=2))
        defect_wall = time.time()

        def defect_pages() -> list[tuple[float, dict[str, Any]]]:
            return [(t, a) for t, a in worker_paging.pages(brand, *LIVE) if t >= defect_wall]

        produce(END, PACE_S, stop=defect_pages)
        deadline = time.time() + 60  # a page may wait for its group's next tick (30 s)
        while not defect_pages() and time.time() < deadline:
            time.sleep(0.5)
        phases["defect paged"] = time.monotonic() - clock
        produce(END)  # the rest at once, for the severity the defect reaches
        caught_up()
        alerts = [a for a in runner.read_alerts(settings) if a.brand == brand]
        phases["caught up"] = time.monotonic() - clock
    producer.close()

    stored = clickhouse.execute(
        "SELECT alert_id, label, given_by FROM alert_feedback ORDER BY given_at"
    )
    assert [(r[0], r[1], r[2]) for r in stored] == [
        (a.alert_id, "false_alarm", "ann") for a in labelled]  # fmt: skip
    # the fourth occurrence did not page: not in the worker, not through Alertmanager
    assert not paging_in(alerts, *fourth), [a.summary for a in paging_in(alerts, *fourth)]
    quiet_pages = [a for t, a in worker_paging.pages(brand, *LIVE) if quiet_wall <= t < defect_wall]
    assert not quiet_pages, quiet_pages
    # ... and Prometheus saw the brand all along, at watch: the desk still sees the pattern
    assert seen_by_prometheus and float(seen_by_prometheus[0]["value"][1]) == 1.0, (
        seen_by_prometheus,
        [(a.minute, a.severity.label) for a in alerts if a.minute >= fourth[0]],
    )
    # the real crisis on the same brand still pages
    pages = defect_pages()
    assert pages, f"the defect did not page; worker log:\n{log.read_text()[-2000:]}"
    _, page = pages[0]
    assert page["labels"]["team"] == "crisis-desk" and page["annotations"]["summary"]
    crisis = paging_in(alerts, DEFECT, END)
    assert crisis and max(a.severity for a in crisis) == Severity.CRISIS
    first = min(a.minute for a in crisis)
    print(
        f"\nfeedback paging e2e: paced {quiet_from:%H:%M}-{quiet_to:%H:%M} and from "
        f"{DEFECT - timedelta(minutes=2):%H:%M}; fourth occurrence paged in the control at "
        f"{', '.join(f'{a.minute:%H:%M} {a.severity.label}' for a in unlabelled)}; live: none; "
        f"defect ({DEFECT:%H:%M}) paged from minute {first:%H:%M} "
        f"({page['labels']['alertname']}), {len(lines)} posts; wall seconds: "
        + ", ".join(f"{k} {v:.0f}" for k, v in phases.items())
    )
