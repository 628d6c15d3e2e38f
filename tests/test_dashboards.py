"""Grafana dashboards as code: reproducible JSON, consistent provisioning, and every panel's query
executed (ClickHouse SQL with the plugin's macros expanded, on 18.16 and chdb; PromQL against the
real Prometheus HTTP API). A panel whose query errors fails the build."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlcheck import CRISIS_AT, T0, Chdb, ClickHouseHttp, seed_statements

ROOT = Path(__file__).resolve().parent.parent
GEN = ROOT / "grafana" / "build_dashboards.py"
BOARDS = {p.stem: json.loads(p.read_text()) for p in (ROOT / "grafana/dashboards").glob("*.json")}
FROM, TO = int(T0.timestamp()), int(T0.timestamp()) + 3 * 3600  # the sample data's span
VARS = {"brand": "telvana", "group": ".*"}


def _targets(kind: str) -> Iterator[tuple[str, str]]:
    """(where, query text) for every target of a data source type, incl. annotations/variables."""
    for uid, board in BOARDS.items():
        for p in board["panels"]:
            for t in p.get("targets", []):
                if t["datasource"]["uid"] == kind:
                    yield f"{uid}/{p['title']}", t["rawSql"] if kind == "clickhouse" else t["expr"]
        for a in board["annotations"]["list"]:
            if a["datasource"]["uid"] == kind:
                yield f"{uid}/annotation {a['name']}", a["target"]["rawSql"]
        for v in board["templating"]["list"]:
            if v["datasource"]["uid"] == kind and kind == "clickhouse":
                yield f"{uid}/variable {v['name']}", v["query"]


def expand_sql(sql: str, interval_s: int = 60) -> str:
    """The grafana-clickhouse-datasource macros and template variables, as Grafana expands them."""
    sql = re.sub(
        r"\$__timeFilter\((\w+)\)", rf"\1 >= toDateTime({FROM}) AND \1 <= toDateTime({TO})", sql
    )
    sql = sql.replace("$__fromTime", f"toDateTime({FROM})").replace(
        "$__toTime", f"toDateTime({TO})"
    )
    sql = sql.replace("$__interval_s", str(interval_s))
    for name, value in VARS.items():
        sql = sql.replace("${" + name + "}", value).replace("$" + name, value)
    assert "$" not in sql, f"unexpanded macro in {sql}"
    return sql


def expand_promql(expr: str) -> str:
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "15s")
    for name, value in VARS.items():
        expr = expr.replace("$" + name, value)
    assert "$" not in expr, expr
    return expr


CH_QUERIES = list(_targets("clickhouse"))
PROM_QUERIES = list(_targets("prometheus"))


def test_generator_is_reproducible(tmp_path: Path) -> None:
    check = [sys.executable, str(GEN), "--check"]
    assert subprocess.run(check, capture_output=True).returncode == 0, "run build_dashboards.py"
    subprocess.run([sys.executable, str(GEN), "--out", str(tmp_path)], check=True)
    stale = tmp_path / "crisis-brand.json"
    stale.write_text(stale.read_text().replace("Alert history", "Alert hist"))
    result = subprocess.run([*check, "--out", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 1 and "crisis-brand.json" in result.stderr


def test_boards_are_consistent() -> None:
    assert set(BOARDS) == {"crisis-overview", "crisis-brand", "crisis-pipeline"}
    provisioned = yaml.safe_load(
        (ROOT / "grafana/provisioning/datasources/datasources.yml").read_text()
    )["datasources"]
    uids = {d["uid"] for d in provisioned}
    assert {d["type"] for d in provisioned} == {"prometheus", "grafana-clickhouse-datasource"}
    for uid, board in BOARDS.items():
        assert board["uid"] == uid
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids))
        for p in board["panels"]:
            assert p["type"] == "row" or p["datasource"]["uid"] in uids, p["title"]
    # competitor groups side by side: the overview repeats a row per group
    assert any(p.get("repeat") == "group" for p in BOARDS["crisis-overview"]["panels"])
    assert len(CH_QUERIES) >= 15 and len(PROM_QUERIES) >= 15


def _run_all(db: Any) -> tuple[dict[str, str], list[str]]:
    errors, empty = {}, []
    for where, sql in CH_QUERIES:
        try:
            if not db.execute(expand_sql(sql)):
                empty.append(where)
        except Exception as exc:
            errors[where] = str(exc)[:500]
    return errors, empty


def _check_response_panels(db: Any) -> None:
    """The seeded telvana answers every other complaint until 11:30, then goes silent."""

    def rows(title: str) -> list[list[tuple[Any, ...]]]:
        found = [q for w, q in CH_QUERIES if w == f"crisis-brand/{title}"]
        assert found, title
        return [db.execute(expand_sql(q)) for q in found]

    [queue] = rows("Care queue: unanswered complaints by priority")
    prio = [float(r[7]) for r in queue]
    assert len(queue) == 50 and prio == sorted(prio, reverse=True)  # 126 unanswered, top 50
    in_15m, in_1h = rows("Complaints answered within 15 min / 1 h")
    for series in (in_15m, in_1h):
        shares = [float(r[1]) for r in series]
        assert all(0 <= x <= 1 for x in shares) and max(shares) > 0.3
    assert float(in_15m[-1][1]) == 0.0  # the silence: complaints fall due unanswered
    [counts] = rows("Complaints and brand replies")
    assert sum(int(r[1]) for r in counts) == 180 and sum(int(r[2]) for r in counts) == 54


def test_clickhouse_panels_on_current_clickhouse(chdb_db: Chdb) -> None:
    assert _run_all(chdb_db) == ({}, [])  # every panel runs and shows the sample data
    _check_response_panels(chdb_db)


@pytest.mark.stack
def test_clickhouse_panels_on_clickhouse_18(stack: Any, clickhouse_database: str) -> None:
    db = ClickHouseHttp(
        stack.base.clickhouse_host, stack.base.clickhouse_http_port, clickhouse_database
    )
    db.run_all(seed_statements())
    assert _run_all(db) == ({}, [])
    _check_response_panels(db)
    # the brand annotation marks the telvana alerts, at their deciding minutes
    [(where, sql)] = [
        q for q in CH_QUERIES if q[0] == "crisis-brand/annotation Crisis alerts (ClickHouse)"
    ]
    times = [str(r[0]) for r in db.execute(expand_sql(sql))]
    assert times == [
        f"{CRISIS_AT.replace(minute=32):%Y-%m-%d %H:%M:%S}",
        f"{CRISIS_AT.replace(minute=34):%Y-%m-%d %H:%M:%S}",
    ], where
    # announced events: regions, those overlapping the range (orbitel's began before it)
    [(where, sql)] = [
        q for q in CH_QUERIES if q[0] == "crisis-overview/annotation Announced events (ClickHouse)"
    ]
    rows = [(str(r[0]), str(r[1]), r[2]) for r in db.execute(expand_sql(sql))]
    assert rows == [
        (
            f"{T0.replace(hour=8):%Y-%m-%d %H:%M:%S}",
            f"{T0.replace(minute=30):%Y-%m-%d %H:%M:%S}",
            "orbitel: announced tv_spot",
        ),
        (
            f"{CRISIS_AT.replace(minute=0):%Y-%m-%d %H:%M:%S}",
            f"{CRISIS_AT.replace(hour=11):%Y-%m-%d %H:%M:%S}",
            "telvana: announced launch",
        ),
    ], where


@pytest.mark.stack
def test_prometheus_panels_run(prometheus_url: str) -> None:
    errors = {}
    for where, expr in PROM_QUERIES:
        url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode(
            {"query": expand_promql(expr)}
        )
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                body = json.load(resp)
            if body.get("status") != "success":
                errors[where] = str(body)
        except Exception as exc:  # 400 bad_data: a syntax error in a panel
            errors[where] = f"{expr}: {exc}"
    assert errors == {}


@pytest.mark.stack
def test_prometheus_check_can_fail(prometheus_url: str) -> None:
    url = f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": "sum by (x) (("})
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(url, timeout=10)
