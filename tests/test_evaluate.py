"""NAB scoring on hand-computed cases, the evaluate CLI on tiny data, scenario scoring."""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from crisis_radar.commands import evaluate as cmd
from crisis_radar.evaluate import nab
from crisis_radar.evaluate.scenarios import Analyst, Replay, evaluate
from schemas.models import BrandMinute, CrisisAlert, Severity

STD = nab.PROFILES["standard"]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
TS = [T0 + timedelta(minutes=5 * i) for i in range(100)]
WIN = [(TS[60], TS[69])]  # width 10; probation = 15 rows


def points(flags: dict[int, float]) -> list[nab.Point]:
    scores = [flags.get(i, 0.0) for i in range(100)]
    return nab.sweep_points(TS, scores, WIN, "f", STD)


def test_probation_rows_are_dropped() -> None:
    assert len(points({})) == 85


def test_detection_at_window_start_scores_full_tp() -> None:
    assert nab.score_at(points({60: 1.0}), 0.5, STD) == pytest.approx(1.0)


def test_late_detection_earns_less() -> None:
    expected = (2 / (1 + math.exp(-0.5)) - 1) / nab.scaled_sigmoid(-1.0)  # position -0.1
    assert nab.score_at(points({69: 1.0}), 0.5, STD) == pytest.approx(expected)
    # only the best detection in a window counts
    assert nab.score_at(points({60: 1.0, 65: 1.0}), 0.5, STD) == pytest.approx(1.0)


def test_false_positives_and_missed_window() -> None:
    # FP before any window costs the full fpWeight; the window is missed (-fnWeight)
    assert nab.score_at(points({30: 1.0}), 0.5, STD) == pytest.approx(-1.0 - 0.11)
    # FP after the window is discounted by its distance: |69 - 75| / (10 - 1)
    fp = 0.11 * nab.scaled_sigmoid(6 / 9)
    assert nab.score_at(points({60: 1.0, 75: 1.0}), 0.5, STD) == pytest.approx(1.0 + fp)


def test_threshold_sweep_finds_best_cut() -> None:
    pts = points({60: 0.9, 30: 0.5, 40: 0.3})
    by = dict(nab.score_by_threshold(pts, STD))
    assert by[1.1] == pytest.approx(-1.0)
    assert by[0.9] == pytest.approx(1.0)
    assert by[0.5] == pytest.approx(1.0 - 0.11)
    assert max(by.items(), key=lambda kv: kv[1])[0] == 0.9


def write_nab_dir(root: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    labels: dict[str, list[list[str]]] = {}
    for cat, n_files in (("catA", 2), ("catB", 1)):
        (root / "data" / cat).mkdir(parents=True)
        for k in range(n_files):
            name = f"{cat}/s{k}.csv"
            ts = [T0 + timedelta(minutes=5 * i) for i in range(600)]
            vals = rng.normal(100, 3, 600)
            vals[400 + 20 * k :] += 40  # a level shift
            with (root / "data" / name).open("w", newline="") as fh:
                w = csv.writer(fh)
                w.writerow(["timestamp", "value"])
                for t, v in zip(ts, vals, strict=True):
                    w.writerow([t.strftime("%Y-%m-%d %H:%M:%S"), f"{v:.3f}"])
            a, b = ts[385 + 20 * k], ts[415 + 20 * k]
            fmt = "%Y-%m-%d %H:%M:%S.%f"
            labels[name] = [[a.strftime(fmt), b.strftime(fmt)]]
    path = root / "windows.json"
    path.write_text(json.dumps(labels))
    return root / "data", path


def test_cli_nab_writes_results_and_scores(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, labels = write_nab_dir(tmp_path)
    out = tmp_path / "results"
    assert cmd.main(["nab", str(data), "--labels", str(labels), "--out", str(out)]) == 0
    with (out / "catA" / "s1.csv").open() as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["timestamp", "value", "anomaly_score"] and len(rows) == 601
    assert all(0.0 <= float(r[2]) <= 1.0 for r in rows[1:])
    scores = json.loads((out / "scores.json").read_text())
    assert {"standard", "reward_low_FP_rate", "reward_low_FN_rate"} <= set(scores)
    assert scores["detector"] == "value" and scores["us_per_point"] > 0
    assert scores["standard"]["normalized"] > 50  # level shifts are found early
    assert set(scores["standard"]["by_category"]) == {"catA", "catB"}
    assert "OVERALL" in capsys.readouterr().out


def test_cli_nab_runs_a_river_detector(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--detector gaussian: River's GaussianScorer (a supervised anomaly detector, the value as
    its target) through the same scorer."""
    rng = np.random.default_rng(3)
    (tmp_path / "data" / "cat").mkdir(parents=True)
    ts = [T0 + timedelta(minutes=5 * i) for i in range(1500)]
    vals = 50 + 5 * np.sin(np.arange(1500) / 30) + rng.normal(0, 1, 1500)
    vals[1200:1204] = 120.0  # far outside anything seen
    with (tmp_path / "data" / "cat" / "f.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value"])
        w.writerows(
            [t.strftime("%Y-%m-%d %H:%M:%S"), f"{v:.3f}"] for t, v in zip(ts, vals, strict=True)
        )
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    labels = tmp_path / "w.json"
    labels.write_text(json.dumps({"cat/f.csv": [[ts[1190].strftime(fmt), ts[1215].strftime(fmt)]]}))
    out = tmp_path / "o"
    assert (
        cmd.main(
            [
                "nab",
                str(tmp_path / "data"),
                "--labels",
                str(labels),
                "--out",
                str(out),
                "--detector",
                "gaussian",
                "--profile",
                "standard",
            ]
        )
        == 0
    )
    with (out / "cat" / "f.csv").open() as fh:
        s = [float(r["anomaly_score"]) for r in csv.DictReader(fh)]
    assert s[1200] > max(s[300:1200])  # the spike is far in the Gaussian's tail
    scores = json.loads((out / "scores.json").read_text())
    assert scores["detector"] == "gaussian"
    assert scores["standard"]["normalized"] > 50
    assert "GaussianScorer" in capsys.readouterr().out
    assert (
        cmd.main(
            [
                "nab",
                str(tmp_path / "data"),
                "--labels",
                str(labels),
                "--out",
                str(out),
                "--detector",
                "nope",
            ]
        )
        == 2
    )


def _synthetic_corpus() -> list[nab.FileData]:
    """Three categories, one file each, one window each (rows 300-319 of 400)."""
    out = []
    ts = [T0 + timedelta(minutes=5 * i) for i in range(400)]
    for cat in ("a", "b", "c"):
        out.append(nab.FileData(cat, f"{cat}/f.csv", ts, [0.0] * 400, [(ts[300], ts[319])]))
    return out


def test_loco_chooses_on_the_other_categories() -> None:
    files = _synthetic_corpus()

    # setting 0: a and b fire at their window start (score 0.9), c fires only late in its
    # window (0.6) and has a false positive at 0.9. Setting 1: nothing ever fires.
    def scores0(cat: str) -> list[float]:
        s = [0.0] * 400
        if cat == "c":
            s[315], s[100] = 0.6, 0.9
        else:
            s[300] = 0.9
        return s

    by_setting = [[scores0(f.category) for f in files], [[0.0] * 400 for _ in files]]
    res = nab.loco(files, by_setting, [{}, {"quiet": True}], STD)
    rot = {r.held_out: r for r in res.rotations}
    # held out c: chosen on a+b, where 0.9 catches both windows with no false positive
    assert rot["c"].threshold == 0.9 and rot["c"].setting == {}
    c_pts = nab.sweep_points(files[2].timestamps, scores0("c"), files[2].windows, "c/f.csv", STD)
    assert rot["c"].held_out_raw == pytest.approx(nab.score_at(c_pts, 0.9, STD))
    assert rot["c"].held_out_score is not None and rot["c"].held_out_score < 0  # missed + FP
    # held out a: b and c together still prefer 0.9 (b's window beats c's late detection)
    assert rot["a"].held_out_score == pytest.approx(100.0)
    assert res.mean == pytest.approx(sum(r.held_out_score for r in res.rotations) / 3)
    assert res.pooled < res.in_sample  # c's threshold transfers badly


def test_cli_nab_loco_prints_rotations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, labels = write_nab_dir(tmp_path)
    out = tmp_path / "results"
    assert cmd.main(["nab", str(data), "--labels", str(labels), "--out", str(out), "--loco"]) == 0
    text = capsys.readouterr().out
    assert "leave-one-category-out" in text and "MEAN" in text and "POOLED" in text
    loco = json.loads((out / "scores.json").read_text())["loco"]
    assert [r["held_out"] for r in loco["rotations"]] == ["catA", "catB"]
    assert loco["profile"] == "standard" and loco["mean"] > 50


def test_cli_rejects_missing_dir(tmp_path: Path) -> None:
    code = cmd.main(
        [
            "nab",
            str(tmp_path / "nope"),
            "--labels",
            str(tmp_path / "w.json"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2


def test_scenario_scoring() -> None:
    def tl(sevs: dict[int, Severity], n: int = 2880) -> list[tuple[datetime, Severity, float]]:
        cur, out = Severity.NONE, []
        for i in range(n):
            cur = sevs.get(i, cur)
            out.append((T0 + timedelta(minutes=i), cur, 0.0))
        return out

    rep = Replay()
    rep.timeline["a"] = tl(
        {
            102: Severity.WARNING,
            104: Severity.CRISIS,
            200: Severity.NONE,
            2000: Severity.WARNING,
            2010: Severity.NONE,
        }
    )
    rep.timeline["b"] = tl({500: Severity.CRISIS, 560: Severity.NONE})
    iso = lambda i: (T0 + timedelta(minutes=i)).isoformat()  # noqa: E731
    truth = {
        "brands": {"a": {}, "b": {}},
        "crisis_kinds": ["product_defect"],
        "events": [
            {"brand": "a", "kind": "product_defect", "start": iso(100), "end": iso(180)},
            {"brand": "b", "kind": "launch_spike", "start": iso(490), "end": iso(600)},
            {"brand": "b", "kind": "product_defect", "start": iso(1500), "end": iso(1600)},
        ],
    }
    res = evaluate(rep, truth)
    pd = res["kinds"]["product_defect"]
    assert (pd["events"], pd["detected"], pd["recall"]) == (2, 1, 0.5)
    assert pd["median_delay_min"] == 2.0
    assert res["launch_crisis_alerts"] == 1
    assert res["false_warnings"] == 1  # brand a at minute 2000
    assert res["brand_days"] == pytest.approx(4.0)


def test_cli_scenarios_on_simulated_posts(tmp_path: Path) -> None:
    """End to end on `crisis-radar simulate` output: a defect is caught, a launch is not."""
    from crisis_radar.commands import simulate

    posts, truth, out = tmp_path / "p.jsonl", tmp_path / "t.json", tmp_path / "r.json"
    assert (
        simulate.main(
            [
                "--days",
                "0.5",
                "--brands",
                "2",
                "--seed",
                "5",
                "--out",
                str(posts),
                "--truth",
                str(truth),
                "--events",
                "product_defect:telvana@09:00,launch_spike:orbitel@08:30",
            ]
        )
        == 0
    )
    assert cmd.main(["scenarios", str(posts), "--truth", str(truth), "--out", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["kinds"]["product_defect"]["recall"] == 1.0
    assert res["kinds"]["product_defect"]["median_delay_min"] <= 15
    assert res["launch_crisis_alerts"] == 0
    assert res["false_warnings"] == 0
    assert res["detector"] == "seasonal" and res["volume_detectors"] == ["SeasonalDetector"]


def test_cli_scenarios_rejects_an_unknown_detector(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One line naming the valid detectors (evaluate nab's), exit 2, no traceback."""
    posts, truth = tmp_path / "p.jsonl", tmp_path / "t.json"
    posts.write_text("")
    truth.write_text('{"events": []}')
    assert cmd.main(["scenarios", str(posts), "--truth", str(truth), "--detector", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "unknown detector 'nope'" in err
    assert all(n in err for n in ("seasonal", "count", "hst", "gaussian", "pad-snarimax",
                                  "pad-holtwinters"))  # fmt: skip


def test_cli_scenarios_runs_a_river_detector(tmp_path: Path) -> None:
    """--detector hst: every brand's volume and unique-authors detector in the replay is River's
    HalfSpaceTrees (rank-calibrated), not the default SeasonalDetector; the defect is still
    found (the negativity side and the negative-count CUSUM are the scorer's own)."""
    from crisis_radar.commands import simulate

    posts, truth, out = tmp_path / "p.jsonl", tmp_path / "t.json", tmp_path / "r.json"
    assert (
        simulate.main(
            [
                "--days",
                "0.5",
                "--brands",
                "2",
                "--seed",
                "5",
                "--out",
                str(posts),
                "--truth",
                str(truth),
                "--events",
                "product_defect:telvana@09:00",
            ]
        )
        == 0
    )
    assert cmd.main(["scenarios", str(posts), "--truth", str(truth), "--out", str(out),
                     "--detector", "hst"]) == 0  # fmt: skip
    res = json.loads(out.read_text())
    assert res["detector"] == "hst" and res["volume_detectors"] == ["HalfSpaceTrees"]
    assert res["kinds"]["product_defect"]["recall"] == 1.0


def _minutes(rng: np.random.Generator, n: int, t0: datetime = T0) -> list[BrandMinute]:
    out = []
    for i in range(n):
        posts = int(rng.poisson(10))
        neg = int(rng.binomial(posts, 0.15))
        out.append(BrandMinute(brand="acme", minute=t0 + timedelta(minutes=i), posts=posts,
                               unique_posts=posts, unique_authors=posts, negative=neg,
                               neutral=posts - neg, sentiment_sum=-0.5 * neg))  # fmt: skip
    return out


@pytest.mark.parametrize(("name", "inside"), [
    ("hst", "HalfSpaceTrees"), ("gaussian", "GaussianScorer"),
    ("pad-snarimax", "PredictiveAnomalyDetection(SNARIMAX)"),
])  # fmt: skip
def test_river_detector_in_the_volume_slot(name: str, inside: str) -> None:
    """crisis_scorer(NAME): River's detector scores volume and unique authors, through the
    rank calibration: a burst's volume score is its rank among the brand's past raw scores
    (at most 1 - 1/(n+1)), where the default's count tail is ~1; a drop scores 0 (upward
    only, as the product's)."""
    from crisis_radar.evaluate.detectors import RankCalibrated, crisis_scorer, describe

    quiet = _minutes(np.random.default_rng(1), 600)
    ours, river = crisis_scorer("seasonal")(), crisis_scorer(name)()
    for m in quiet:
        ours.process_one(m)
        river.process_one(m)
    st = river.brands["acme"]
    assert isinstance(st.volume, RankCalibrated) and isinstance(st.authors, RankCalibrated)
    assert describe(st.volume) == describe(st.authors) == inside
    assert type(ours.brands["acme"].volume).__name__ == "SeasonalDetector"
    seen = len(st.volume.sorted_ref)
    assert seen == 600
    t = quiet[-1].minute + timedelta(minutes=1)
    burst = BrandMinute(brand="acme", minute=t, posts=60, unique_posts=60, unique_authors=60,
                        negative=9, neutral=51, sentiment_sum=-4.5)  # fmt: skip
    s_ours = ours.process_one(burst).signals[0].score
    s_river = river.process_one(burst).signals[0].score
    assert s_ours > 1 - 1e-9
    # the top rank, no further (PAD shares it with the past minutes it also clipped to 1.0)
    assert 0.95 < s_river <= 1 - 1 / (seen + 1) + 1e-12
    drop = burst.model_copy(update={"minute": t + timedelta(minutes=1), "posts": 0,
                                    "unique_posts": 0, "unique_authors": 0, "negative": 0,
                                    "neutral": 0, "sentiment_sum": 0.0})  # fmt: skip
    assert river.process_one(drop).signals[0].score == 0.0


def test_scenario_breakdown_says_which_side_crossed_when() -> None:
    rep = Replay()
    for i in range(300):
        t = T0 + timedelta(minutes=i)
        rep.timeline["a"].append((t, Severity.WARNING if 105 <= i < 150 else Severity.NONE, 0.0))
        # attention reaches its warning level at minute 102, negativity at 105
        rep.evidence["a"].append((t, 1.2 if i >= 102 else 0.1, 1.0 if i >= 105 else 0.5))
    iso = lambda i: (T0 + timedelta(minutes=i)).isoformat()  # noqa: E731
    truth = {
        "brands": {"a": {}},
        "crisis_kinds": ["product_defect"],
        "events": [{"brand": "a", "kind": "product_defect", "start": iso(100), "end": iso(140)}],
    }
    res = evaluate(rep, truth)
    ev = res["events"][0]
    assert (ev["delay_min"], ev["attention_min"], ev["negativity_min"]) == (5.0, 2.0, 5.0)
    row = res["signals"]["product_defect"]
    assert row["last_side"] == {"attention": 0, "negativity": 1, "tie": 0}
    assert row["attention_median_min"] == 2.0 and row["crisis_kind"]


def _alert(brand: str, i: int, sev: Severity, share: float = 0.3) -> CrisisAlert:
    from schemas.models import SignalExplanation

    sig = SignalExplanation.model_construct(signal="negative_share", observed=share)
    return CrisisAlert.model_construct(
        alert_id=f"{brand}{i}", brand=brand, minute=T0 + timedelta(minutes=i), severity=sev,
        previous_severity=Severity.NONE, score=0.4 + 0.1 * int(sev), summary="", signals=[sig],
        created_at=T0,
    )  # fmt: skip


def test_analyst_labels_each_page_once_it_is_over() -> None:
    """A page is labelled on its highest alert when the brand falls back below warning:
    real if it began in a crisis event's window, false_alarm otherwise (a launch included)."""
    iso = lambda i: (T0 + timedelta(minutes=i)).isoformat()  # noqa: E731
    analyst = Analyst({"crisis_kinds": ["product_defect"], "events": [
        {"brand": "a", "kind": "product_defect", "start": iso(100), "end": iso(180)},
        {"brand": "a", "kind": "launch_rush", "start": iso(400), "end": iso(500)},
    ]})  # fmt: skip
    seen = [analyst.see(x) for x in (
        _alert("a", 96, Severity.WATCH),
        _alert("a", 102, Severity.WARNING), _alert("a", 104, Severity.CRISIS, 0.8),
        _alert("a", 150, Severity.WARNING), _alert("a", 250, Severity.WATCH),  # page 1 over
        _alert("a", 300, Severity.NONE),
        _alert("a", 410, Severity.WARNING, 0.45), _alert("a", 470, Severity.NONE),  # page 2
        _alert("a", 900, Severity.WARNING),  # still open at the end: not labelled
    )]  # fmt: skip
    given = [x for x in seen if x is not None]
    assert [seen.index(x) for x in given] == [4, 7]
    real, false = given
    assert (real.label, real.alert_id, real.severity, real.negative_share) == (
        "real", "a104", 3, 0.8)  # fmt: skip
    assert (false.label, false.alert_id, false.negative_share) == ("false_alarm", "a410", 0.45)
    assert false.at == T0 + timedelta(minutes=470) and false.by == "analyst"
    assert analyst.counts() == {"real": 1, "false_alarm": 1}


@pytest.mark.slow  # two replays of half a day of two brands
def test_cli_scenarios_with_feedback_compares(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--feedback replays again with the analyst's labels and prints both; a confirmed crisis
    never makes detection later."""
    from crisis_radar.commands import simulate

    posts, truth, out = tmp_path / "p.jsonl", tmp_path / "t.json", tmp_path / "r.json"
    assert (
        simulate.main(
            [
                "--days",
                "0.5",
                "--brands",
                "2",
                "--seed",
                "5",
                "--out",
                str(posts),
                "--truth",
                str(truth),
                "--events",
                "product_defect:telvana@06:00,product_defect:telvana@10:00",
            ]
        )
        == 0
    )
    assert cmd.main(["scenarios", str(posts), "--truth", str(truth), "--out", str(out),
                     "--feedback"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "with feedback:" in printed and "feedback: the analyst gave" in printed
    fb = json.loads(out.read_text())["feedback"]
    assert fb["labels"].get("real", 0) >= 1 and "false_alarm" not in fb["labels"]
    assert [g["label"] for g in fb["given"]].count("real") == fb["labels"]["real"]
    assert fb["before"]["crisis_recall"] == fb["after"]["crisis_recall"] == 1.0
    assert fb["later"] == [] and fb["max_delay_after"] == fb["max_delay_before"]


def test_cli_scenarios_minutes_only_scores_the_same_minutes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--minutes-only (the minute-level feedback replay, docs/feedback.md): one pass of the
    posts, its brand minutes kept next to them and reused; without feedback the same alerts as
    the full replay, to the minute."""
    from crisis_radar.commands import simulate

    posts, truth = tmp_path / "p.jsonl", tmp_path / "t.json"
    assert (
        simulate.main(
            [
                "--days",
                "0.5",
                "--brands",
                "2",
                "--seed",
                "5",
                "--out",
                str(posts),
                "--truth",
                str(truth),
                "--events",
                "product_defect:telvana@06:00,launch_spike:orbitel@08:30",
            ]
        )
        == 0
    )
    full, fast, again = tmp_path / "full.json", tmp_path / "fast.json", tmp_path / "again.json"
    assert cmd.main(["scenarios", str(posts), "--truth", str(truth), "--out", str(full)]) == 0
    assert cmd.main(["scenarios", str(posts), "--truth", str(truth), "--out", str(fast),
                     "--minutes-only"]) == 0  # fmt: skip
    cache = tmp_path / "p-minutes.jsonl.gz"
    assert cache.is_file() and "brand minutes kept in" in capsys.readouterr().err
    assert cmd.main(["scenarios", str(posts), "--truth", str(truth), "--out", str(again),
                     "--minutes-only", "--feedback"]) == 0  # fmt: skip
    printed = capsys.readouterr()
    assert "brand minutes from" in printed.err and "feedback: the analyst gave" in printed.out
    a, b, c = (json.loads(p.read_text()) for p in (full, fast, again))
    assert b["minutes_only"] and b["events"] == a["events"]
    assert b["false_warnings"] == a["false_warnings"] and c["events"] == a["events"]
    assert a["kinds"]["product_defect"]["recall"] == 1.0


@pytest.mark.parametrize("detector", ["count", "value-counts"])
def test_cli_nab_runs_the_count_path(tmp_path: Path, detector: str) -> None:
    """--detector count / value-counts (issue 17 part 3) on a count series: a night-time burst
    of requests per 5 minutes scores above every ordinary point."""
    rng = np.random.default_rng(5)
    (tmp_path / "data" / "cat").mkdir(parents=True)
    ts = [T0 + timedelta(minutes=5 * i) for i in range(2500)]
    lam = 3 + 20 * np.sin(np.pi * np.array([t.hour for t in ts]) / 24) ** 2
    vals = rng.poisson(lam)
    burst = next(i for i in range(2200, 2500) if ts[i].hour == 2)
    vals[burst : burst + 3] = 40  # 40 requests at 2 am where ~4 are usual
    with (tmp_path / "data" / "cat" / "f.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["timestamp", "value"])
        w.writerows(
            [t.strftime("%Y-%m-%d %H:%M:%S"), str(v)] for t, v in zip(ts, vals, strict=True)
        )
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    labels = tmp_path / "w.json"
    labels.write_text(
        json.dumps({"cat/f.csv": [[ts[burst - 10].strftime(fmt), ts[burst + 15].strftime(fmt)]]})
    )
    out = tmp_path / "o"
    assert (
        cmd.main(
            [
                "nab",
                str(tmp_path / "data"),
                "--labels",
                str(labels),
                "--out",
                str(out),
                "--detector",
                detector,
                "--profile",
                "standard",
            ]
        )
        == 0
    )
    with (out / "cat" / "f.csv").open() as fh:
        s = [float(r["anomaly_score"]) for r in csv.DictReader(fh)]
    assert s[burst] > max(s[400 : burst - 10])
    assert json.loads((out / "scores.json").read_text())["detector"] == detector
