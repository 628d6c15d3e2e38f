"""``crisis-radar backtest``: a simulated week offline (alerts, determinism, input order), and CSV
input with a column mapping, bad rows and no time column. No stack needed."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from crisis_radar.commands import backtest
from crisis_radar.commands.simulate import _parser as simulate_parser
from crisis_radar.commands.simulate import build_scenario
from crisis_radar.commands.simulate import run as simulate_run
from crisis_radar.settings import PROJECT_ROOT
from schemas.models import BrandMinute, CrisisAlert, Severity

WATCHLIST = str(PROJECT_ROOT / "deploy" / "watchlist.yaml")
CRISIS_AT = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)  # day 6 of the week
# A quiet rate keeps the week at ~14k posts (a few seconds per run); the defect still shows.
SIM_ARGS = [
    "--days", "7", "--brands", "telvana,orbitel", "--start", "2026-11-16T00:00Z",
    "--events", f"product_defect:telvana@{CRISIS_AT:%Y-%m-%dT%H:%M}Z",
    "--rate-scale", "0.3", "--seed", "0", "--out", "-",
]  # fmt: skip


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("week") / "posts.jsonl"
    simulate_run(build_scenario(simulate_parser().parse_args(SIM_ARGS)), str(path))
    return path


@pytest.fixture(scope="module")
def first_run(week: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("run1")
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = backtest.main([str(week), "--quiet", "--watchlist", WATCHLIST, "--out", str(out)])
    assert code == 0
    return out, buf.getvalue()


def test_simulated_week_finds_the_crisis(first_run: tuple[Path, str]) -> None:
    out, printed = first_run
    alerts = [CrisisAlert.model_validate_json(x) for x in (out / "alerts.jsonl").read_bytes()
              .splitlines()]  # fmt: skip
    hits = [
        a for a in alerts
        if a.brand == "telvana" and a.severity >= Severity.WARNING
        and CRISIS_AT <= a.minute < CRISIS_AT + timedelta(hours=2)
    ]  # fmt: skip
    assert hits, [(a.brand, a.minute, a.severity) for a in alerts]
    minutes = [BrandMinute.model_validate_json(x)
               for x in (out / "minutes.jsonl").read_bytes().splitlines()]  # fmt: skip
    assert {m.brand for m in minutes} == {"telvana", "orbitel"}
    assert len({(m.brand, m.minute) for m in minutes}) >= 2 * 7 * 1440 - 60  # silence included
    report = (out / "report" / "report.md").read_text()
    assert "# Post-crisis report: telvana" in report and "## Timeline" in report
    assert "## Sentiment before / during / after" in report and "## Top terms" in report
    assert (out / "report" / "report.html").stat().st_size > 10_000  # charts inlined
    # printed: each alert, the per-brand table, the summary line
    assert f"{hits[0].minute:%Y-%m-%d %H:%M} UTC  telvana  " in printed
    table = printed.split("\n\nbrand ", 1)[1]
    assert "telvana" in table and "orbitel" in table and "worst alert" in table
    n = sum(1 for _ in (out / "minutes.jsonl").open())
    assert f"rejected 0 (none), minutes {n:,}, alerts {len(alerts):,}" in printed


def test_backtest_is_deterministic_and_order_free(
    week: Path, first_run: tuple[Path, str], tmp_path: Path
) -> None:
    out1, _ = first_run
    again, reverse = tmp_path / "again", tmp_path / "reverse"
    assert backtest.main([str(week), "--quiet", "--watchlist", WATCHLIST, "--out", str(again)]) == 0
    newest_first = tmp_path / "newest-first.jsonl"
    newest_first.write_bytes(b"".join(reversed(week.read_bytes().splitlines(keepends=True))))
    argv = [str(newest_first), "--quiet", "--watchlist", WATCHLIST, "--out", str(reverse)]
    assert backtest.main(argv) == 0
    for name in ("minutes.jsonl", "alerts.jsonl"):
        want = (out1 / name).read_bytes()
        assert want and (again / name).read_bytes() == want, name
        assert (reverse / name).read_bytes() == want, name


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["tweet_id", "body", "ts", "user"])
        w.writerows(rows)
    return path


MAP = "text=body,created_at=ts,id=tweet_id,author=user"
REJECTED = "bad_timestamp=2, missing_field=1"  # export_with_bad_rows()


def export_with_bad_rows() -> list[list[str]]:
    """300 rows (tweet_id, body, ts, user) 20 s apart; two bad dates and one empty text."""
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    rows = [[f"t{i}", f"telvana support is slow again {i}", (t0 + timedelta(seconds=20 * i))
             .isoformat(), f"u{i % 7}"] for i in range(300)]  # fmt: skip
    rows[10][2] = "not a date"
    rows[20][2] = "yesterday-ish"
    rows[30][1] = ""  # no text
    return rows


def test_csv_with_a_mapping_counts_bad_rows_by_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "export.csv", export_with_bad_rows())
    out = tmp_path / "out"
    argv = [str(path), "--map", MAP, "--quiet", "--watchlist", WATCHLIST, "--out", str(out)]
    assert backtest.main(argv) == 0
    printed = capsys.readouterr().out
    want = "read 300, posts 297, skipped 0, rejected 3 (bad_timestamp=2, missing_field=1)"
    assert want in printed
    assert "  rejected bad_timestamp: 2, e.g. " in printed
    assert "  rejected missing_field: 1, e.g. " in printed
    letters = [json.loads(x) for x in (out / "rejected.jsonl").read_text().splitlines()]
    assert sorted(x["reason"] for x in letters) == ["bad_timestamp", "bad_timestamp",
                                                    "missing_field"]  # fmt: skip
    assert "telvana" in printed.split("\n\nbrand ", 1)[1]


def test_an_xlsx_export_gives_what_its_csv_gives(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same export saved from a spreadsheet as .xlsx (a blank row above the header, dates
    as date cells, numbers as numbers) backtests to the CSV's counts and minutes; an .xls is
    one line, exit 2."""
    from openpyxl import Workbook

    rows = export_with_bad_rows()
    book = Workbook()
    sheet = book.active
    sheet.append([])
    sheet.append(["tweet_id", "body", "ts", "user"])
    for i, (tid, body, ts, user) in enumerate(rows):
        try:  # a date cell holds no time zone: the export's UTC, as a naive datetime
            when: object = datetime.fromisoformat(ts).replace(tzinfo=None)
        except ValueError:
            when = ts
        sheet.append([i if i % 2 else tid, body or None, when, user])
    book.save(tmp_path / "export.xlsx")
    outs = []
    for name in ("export.xlsx", "export.csv"):
        csv_rows = [[str(i) if i % 2 else r[0], *r[1:]] for i, r in enumerate(rows)]
        path = tmp_path / name if name.endswith("xlsx") else write_csv(tmp_path / name, csv_rows)
        out = tmp_path / f"out-{name}"
        argv = [str(path), "--map", MAP, "--quiet", "--watchlist", WATCHLIST, "--out", str(out)]
        assert backtest.main(argv) == 0
        printed = capsys.readouterr().out
        assert f"read 300, posts 297, skipped 0, rejected 3 ({REJECTED})" in printed
        outs.append((out / "minutes.jsonl").read_bytes())
    assert outs[0] and outs[0] == outs[1]
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    assert backtest.main([str(tmp_path / "old.xls"), "--map", MAP]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "save it as .xlsx or .csv" in err


@pytest.mark.parametrize("layout", ["%d/%m/%Y %H:%M", "%m/%d/%Y %I:%M %p", "%d.%m.%Y %H:%M"])
def test_numeric_dates_of_either_order_give_the_iso_minutes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], layout: str
) -> None:
    """Ten days from 5 October, every 30 min, dated as a European ("05/10/2026") or US
    ("10/05/2026 01:30 PM") spreadsheet writes them: the file's own days above 12 say which
    order it uses, so its first, ambiguous rows are read the same way, and the minutes equal
    those of the same export in ISO 8601."""
    t0 = datetime(2026, 10, 5, tzinfo=UTC)
    stamps = [t0 + timedelta(minutes=30 * i) for i in range(480)]
    outs = []
    for name, fmt in (("iso.csv", None), ("local.csv", layout)):
        rows = [[f"t{i}", f"telvana support is slow again {i}",
                 t.strftime(fmt) if fmt else t.isoformat(), f"u{i % 7}"]
                for i, t in enumerate(stamps)]  # fmt: skip
        path = write_csv(tmp_path / name, rows)
        out = tmp_path / f"out-{name}"
        argv = [str(path), "--map", MAP, "--quiet", "--watchlist", WATCHLIST, "--out", str(out)]
        assert backtest.main(argv) == 0
        assert "read 480, posts 480, skipped 0, rejected 0" in capsys.readouterr().out
        outs.append((out / "minutes.jsonl").read_bytes())
    assert outs[0] and outs[0] == outs[1]


def test_overlapping_exports_count_each_post_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two exports that overlap (rows 100-199 in both, the later one with other follower
    counts, as a second download has): each post is counted once, the minutes equal those of
    one export of rows 0-299, and which file comes first does not matter."""
    rows = export_with_bad_rows()[40:]  # 260 valid rows
    head = ["tweet_id", "body", "ts", "user", "followers"]

    def write(name: str, part: list[list[str]], followers: str) -> Path:
        path = tmp_path / name
        with path.open("w", newline="") as f:
            csv.writer(f).writerows([head, *([*r, followers] for r in part)])
        return path

    one = write("all.csv", rows, "10")
    first, second = write("a.csv", rows[:160], "10"), write("b.csv", rows[60:], "12")
    outs = []
    for files in ([one], [first, second], [second, first]):
        out = tmp_path / f"out{len(outs)}"
        argv = [*map(str, files), "--map", MAP, "--quiet", "--watchlist", WATCHLIST, "--out",
                str(out)]  # fmt: skip
        assert backtest.main(argv) == 0
        printed = capsys.readouterr().out
        repeats = "" if len(files) == 1 else "repeated 100 (counted once), "
        assert f"posts 260, skipped 0, {repeats}rejected 0" in printed, printed
        outs.append((out / "minutes.jsonl").read_bytes())
    assert outs[1] == outs[2]  # order-free: the copy kept does not depend on it
    strip = [[json.loads(x) | {"reach": 0} for x in o.splitlines()] for o in outs]
    assert strip[0] == strip[1]  # the same minutes as one export (reach: other follower counts)


def test_only_bad_rows_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    rows = [[f"t{i}", "", t0.isoformat(), "u"] for i in range(5)]  # no text anywhere
    path = write_csv(tmp_path / "bad.csv", rows)
    assert backtest.main([str(path), "--map", MAP, "--quiet", "--watchlist", WATCHLIST]) == 1
    cap = capsys.readouterr()
    assert "read 5, posts 0, skipped 0, rejected 5 (missing_field=5)" in cap.out
    assert "only bad rows" in cap.err


def test_errors_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_csv(tmp_path / "export.csv", [["1", "telvana", "today", "u"]] * 9)
    assert backtest.main([str(path), "--map", "created_at=when", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"crisis-radar backtest: {path}: no usable time column: 'when' (mapped to "
        "created_at) is missing in the header; columns: tweet_id, body, ts, user\n"
    )
    assert backtest.main([str(tmp_path / "nope.jsonl")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert backtest.main([str(path), "--map", "text"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("crisis-radar backtest: ") and err.count("\n") == 1


def test_identical_rows_without_ids_are_each_a_post_but_once_across_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An export with no id and no author column, minute times: a copy-paste campaign of 8
    identical rows in one minute stays 8 posts (ids are a hash of author, time and text, and
    the n-th identical row of a file gets ``.n``); the same export twice (or an overlapping
    one) still counts them once each."""
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    rows = [[f"{t0 + timedelta(minutes=i):%Y-%m-%d %H:%M}", f"telvana order {i} arrived late"]
            for i in range(30)]  # fmt: skip
    rows += [[f"{t0 + timedelta(minutes=12):%Y-%m-%d %H:%M}", "telvana stole my data, boycott"]] * 8
    rows.sort()
    path = tmp_path / "campaign.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([["date", "text"], *rows])
    for files in ([path], [path, path]):
        out = tmp_path / f"out{len(files)}"
        argv = [*map(str, files), "--quiet", "--watchlist", WATCHLIST, "--out", str(out)]
        assert backtest.main(argv) == 0
        printed = capsys.readouterr().out
        again = "" if len(files) == 1 else "repeated 38 (counted once), "
        assert f"posts 38, skipped 0, {again}rejected 0" in printed, printed
        minutes = [json.loads(x) for x in (out / "minutes.jsonl").read_text().splitlines()]
        at = {m["minute"]: m["posts"] for m in minutes if m["brand"] == "telvana"}
        assert at["2026-11-23T09:12:00Z"] == 9, at  # 8 campaign posts + the everyday one
        assert sum(at.values()) == 38
