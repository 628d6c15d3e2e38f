"""Issue 18 acceptance, on the worker's own stage objects (``OfflinePipeline``: partitioned
enrich, aligned minute windows, crisis scoring; no services): a recurring launch-like pattern
(``launch_rush``: a launch with sold-out grumbles, volume x3.5, 40 % negative) pages; labelled
``false_alarm`` after each of three occurrences, the fourth does not page, while a product
defect on the same brand the same night still does. And the records the CLI produces are
what the pipeline takes (``schemas.feedback``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from crisis_radar.history.offline import OfflinePipeline
from crisis_radar.settings import Settings
from crisis_radar.simulate import EventSpec, Scenario, Simulator, load_brands, post_json
from schemas.feedback import AlertFeedback, ExpectedEvent
from schemas.models import CrisisAlert, Severity

T0 = datetime(2026, 11, 23, tzinfo=UTC)
RUSH = {"ramp_min": 10, "peak_multiple": 3.5, "plateau_min": 60, "decay_min": 20,
        "negative_share": 0.4, "positive_share": 0.35, "product": "Telvana One"}  # fmt: skip
DAYS = (1, 2, 3, 4)  # the rush at 18:00 of each; the defect at 23:00 of the last
DEFECT = T0 + timedelta(days=4, hours=23)


def rush_window(day: int) -> tuple[datetime, datetime]:
    return T0 + timedelta(days=day, hours=18), T0 + timedelta(days=day, hours=21)


def label_of(alert: CrisisAlert, label: str, i: int) -> bytes:
    share = next((s.observed for s in alert.signals if s.signal == "negative_share"), 0.0)
    mood = next((s.observed for s in alert.signals if s.signal == "mean_sentiment"), -1.0)
    vol = next((s.observed / max(s.expected, 1.0) for s in alert.signals
                if s.signal == "volume"), 0.0)  # fmt: skip
    return AlertFeedback(
        feedback_id=f"fb{i}", alert_id=alert.alert_id, brand=alert.brand, minute=alert.minute,
        severity=int(alert.severity), score=alert.score, negative_share=min(1.0, share),
        mean_sentiment=max(-1.0, min(1.0, mood)), volume_ratio=max(0.0, vol),
        label=label, note="launch queue grumbles", by="ann", at=alert.minute,  # type: ignore[arg-type]
    ).to_json()  # fmt: skip


def run(seed: int, feedback: bool) -> tuple[list[CrisisAlert], list[str]]:
    s = Settings()
    brands = [b for b in load_brands(s.watchlist_path) if b.id == "telvana"]
    events = [EventSpec("launch_rush", "telvana", rush_window(d)[0], dict(RUSH)) for d in DAYS]
    events.append(EventSpec("product_defect", "telvana", DEFECT))
    sc = Scenario(start=T0, minutes=int(5.2 * 1440), brands=brands, seed=seed, events=events)
    lines = [post_json(p).encode() for p in Simulator(sc).posts()]
    pipe = OfflinePipeline.from_settings(s, child=False)
    alerts: list[CrisisAlert] = []
    changes: list[str] = []
    labelled: set[int] = set()
    for i in range(0, len(lines), 1000):
        alerts += pipe.feed([(b"", raw) for raw in lines[i : i + 1000]]).alerts
        last = datetime.fromisoformat(json.loads(lines[min(i + 999, len(lines) - 1)])["created_at"])
        for day in DAYS[:3]:  # the analyst labels each occurrence once it is over
            start, end = rush_window(day)
            if feedback and day not in labelled and last >= end:
                # the page if it paged, else the alert it raised (it may stop paging sooner)
                seen = sorted((a for a in alerts if start <= a.minute < end),
                              key=lambda a: (-int(a.severity), a.minute))  # fmt: skip
                assert seen, f"occurrence {day} raised nothing: nothing to label"
                changes += pipe.feedback([label_of(seen[0], "false_alarm", day)])
                labelled.add(day)
    alerts += pipe.finish().alerts
    return alerts, changes


def pages_in(alerts: list[CrisisAlert], start: datetime, end: datetime) -> list[CrisisAlert]:
    return [a for a in alerts if start <= a.minute < end and a.severity >= Severity.WARNING]


@pytest.mark.slow  # ~2.5 min: two 5-day replays per seed
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_three_false_alarm_labels_silence_the_pattern_not_a_crisis(seed: int) -> None:
    before, _ = run(seed, feedback=False)
    assert pages_in(before, *rush_window(4)), "without feedback the pattern pages"
    after, changes = run(seed, feedback=True)
    assert len(changes) == 3 and all("false_alarm: raise" in c for c in changes)
    fourth = pages_in(after, *rush_window(4))
    assert not fourth, [a.summary for a in fourth]
    crisis = pages_in(after, DEFECT, DEFECT + timedelta(hours=2))
    assert crisis and max(a.severity for a in crisis) == Severity.CRISIS
    # the price of the bounds: the defect's first page comes at most 10 minutes later
    # (measured on seeds 0-3: 2, 8, 0 and 2 minutes; 0-2 with the positive mix: 2, 7, 0)
    first_before = min(a.minute for a in pages_in(before, DEFECT, DEFECT + timedelta(hours=2)))
    assert min(a.minute for a in crisis) - first_before <= timedelta(minutes=10)


def test_expected_event_record_round_trips_into_the_pipeline() -> None:
    pipe = OfflinePipeline.from_settings(Settings(), child=False)
    ev = ExpectedEvent(event_id="e1", brand="telvana", start=T0, end=T0 + timedelta(hours=2),
                       kind="launch", note="Telvana One", by="ann", at=T0)  # fmt: skip
    assert pipe.feedback([ev.to_json()]) == []  # no scorer yet: learned when it is loaded
    assert pipe.feedback([ev.to_json()]) == []
    pipe.close()
