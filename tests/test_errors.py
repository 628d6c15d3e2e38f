"""Operator errors (issue 19): each bad configuration gives at most 3 lines on stderr, no
traceback, what/where/how to fix, and the documented exit status (2 configuration, 1 runtime).

The CLI runs as a subprocess on the real services. Stopped services are stood in for by closed
ports (127.0.0.1:1): the shared stack is never stopped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from crisis_radar.clickhouse import discover, migrate, require_schema
from crisis_radar.ingest.pipeline import Pipeline
from crisis_radar.ingest.rejects import Rejects, explain, guess_mapping
from radar_base.errors import MissingMigration
from streams.runner import worker_env

ROOT = Path(__file__).resolve().parent.parent
CLOSED = "127.0.0.1:1"  # nothing listens on port 1: connection refused at once


def cli(settings: Any, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # the test's topics, database and service coordinates (None: no service is reached)
    full = worker_env(settings) if settings is not None else dict(os.environ)
    full.pop("CRISIS_RADAR_DEBUG", None)
    full["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "crisis_radar.cli", *args],
        env=full, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def operator_error(done: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """The issue's rule: the documented status, <= 3 lines, no traceback, the words that say
    what, where and how to fix it."""
    err = done.stderr
    assert done.returncode == code, err
    assert "Traceback" not in err, err
    assert len(err.strip().splitlines()) <= 3, err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


# --- the watchlist ---------------------------------------------------------------------------

GOOD_BRAND = "  - id: acme\n    keywords: [acme]\n    handles: [acmehelp]\n"


@pytest.mark.stack
def test_watchlist_yaml_syntax_gives_file_and_line(settings: Any, tmp_path: Path) -> None:
    bad = tmp_path / "wl.yaml"
    bad.write_text("brands: [\n  - id: acme\n")
    done = cli(settings, "worker", CRISIS_RADAR_WATCHLIST_PATH=str(bad))
    operator_error(done, 2, f"{bad}:2: invalid YAML", "CRISIS_RADAR_WATCHLIST_PATH")


@pytest.mark.stack
@pytest.mark.parametrize(
    ("second", "needle"),
    [
        ("  - id: acme\n    keywords: [other]\n", "wl.yaml:5: brands[1].id: duplicate id 'acme'"),
        ("  - id: beta\n    keywords: []\n", "wl.yaml:6: brands[1].keywords: empty list"),
        (
            '  - id: beta\n    keywords: [beta]\n    handles: [x, "@AcmeHelp"]\n',
            "wl.yaml:7: brands[1].handles: handle 'acmehelp' is also a handle of brand 'acme'",
        ),
    ],
    ids=["duplicate-id", "empty-keywords", "overlapping-handle"],
)
def test_watchlist_schema_errors_give_the_path(
    settings: Any, tmp_path: Path, second: str, needle: str
) -> None:
    wl = tmp_path / "wl.yaml"
    wl.write_text("brands:\n" + GOOD_BRAND + second)
    done = cli(settings, "worker", CRISIS_RADAR_WATCHLIST_PATH=str(wl))
    operator_error(done, 2, needle, "fix: edit the watchlist")


@pytest.mark.stack
def test_simulate_reads_the_same_validated_watchlist(settings: Any, tmp_path: Path) -> None:
    wl = tmp_path / "wl.yaml"
    wl.write_text("brands:\n" + GOOD_BRAND + "  - id: acme\n    keywords: [b]\n")
    done = cli(settings, "simulate", "--out", str(tmp_path / "x.jsonl"), "--watchlist", str(wl))
    operator_error(done, 2, "wl.yaml:5: brands[1].id: duplicate id")


# --- settings --------------------------------------------------------------------------------


@pytest.mark.stack
def test_bad_env_value_names_the_variable(settings: Any) -> None:
    done = cli(settings, "migrate", CRISIS_RADAR_ALLOWED_LATENESS_S="-5")
    operator_error(
        done, 2, "CRISIS_RADAR_ALLOWED_LATENESS_S", "greater than or equal to 0", "'-5'",
        "default 120",
    )  # fmt: skip


@pytest.mark.stack
def test_debug_shows_the_traceback(settings: Any) -> None:
    for args, env in (
        (("--debug", "migrate"), {}),
        (("migrate",), {"CRISIS_RADAR_DEBUG": "1"}),
    ):
        done = cli(settings, *args, CRISIS_RADAR_ALLOWED_LATENESS_S="-5", **env)
        assert done.returncode == 2, done.stderr
        assert "Traceback" in done.stderr and "ValidationError" in done.stderr


def test_usage_error_exits_2() -> None:
    done = cli(None, "report")  # --brand or --alert is required: argparse's usage and error
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "crisis-radar report: error: one of the arguments --brand --alert" in done.stderr


# --- services --------------------------------------------------------------------------------


@pytest.mark.stack
def test_unreachable_kafka(settings: Any, tmp_path: Path) -> None:
    migrate(settings)  # the worker checks the schema before Kafka
    path = tmp_path / "export.jsonl"
    path.write_bytes(EXPORT % (1, 1, 1, 1) + b"\n")
    for args in (("worker",), ("ingest", str(path))):
        done = cli(settings, *args, CRISIS_RADAR_KAFKA_BOOTSTRAP=CLOSED)
        operator_error(
            done, 1, f"Kafka at {CLOSED} is unreachable (connection refused)",
            "crisis-radar stack up", "CRISIS_RADAR_KAFKA_BOOTSTRAP",
        )  # fmt: skip


@pytest.mark.stack
def test_unreachable_clickhouse(settings: Any) -> None:
    for args in (("report", "--alert", "latest"), ("migrate",)):
        done = cli(settings, *args, CRISIS_RADAR_CLICKHOUSE_PORT="1")
        operator_error(
            done, 1, f"ClickHouse at {CLOSED} is unreachable", "crisis-radar stack up",
            "CRISIS_RADAR_CLICKHOUSE_HOST",
        )  # fmt: skip


# --- migrations ------------------------------------------------------------------------------


@pytest.mark.stack
def test_missing_migration_on_a_fresh_database(settings: Any, clickhouse_database: str) -> None:
    for args in (("report", "--alert", "latest"), ("explain", "--alert-id", "latest")):
        done = cli(settings, *args)
        operator_error(
            done, 2,
            f"ClickHouse database {clickhouse_database} at 127.0.0.1:",
            "lacks migration 0001 (table posts)", "run `crisis-radar migrate`",
        )  # fmt: skip
    other = cli(settings, "report", "--alert", "latest", "--database", "no_such_db_19")
    operator_error(other, 2, "no_such_db_19", "`crisis-radar migrate --database no_such_db_19`")


@pytest.mark.stack
def test_missing_migration_names_the_first_one_not_applied(settings: Any, tmp_path: Path) -> None:
    files = discover()
    part = tmp_path / "migrations"
    part.mkdir()
    for m in files[:-1]:
        (part / m.path.name).write_text(m.sql)
    migrate(settings, directory=part)  # all but the newest
    last = files[-1]
    with pytest.raises(MissingMigration, match=f"lacks migration {last.version:04d} "
                       rf"\(table {last.table}\)$"):  # fmt: skip
        require_schema(settings)
    migrate(settings)
    require_schema(settings)  # complete: no error


# --- ingest ----------------------------------------------------------------------------------

EXPORT = (
    b'{"platform": "x", "post_id": "%d", "author_id": "a%d", "author_handle": "h%d", '
    b'"text": "acme is down again", "created_at": "2026-11-23T10:0%d:00Z", "likes": 3}'
)


@pytest.mark.stack
def test_fully_rejected_ingest_exits_1_with_the_fix(settings: Any, tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"\n".join(EXPORT % (i, i, i, i) for i in range(5)) + b"\n")
    done = cli(settings, "ingest", str(path), "--quiet")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    err = done.stderr
    assert "5 of 5 records rejected" in err and "author: Field required" in err
    fix = "--format generic --map text=text,created_at=created_at,author=author_id,"
    assert fix + "handle=author_handle,id=post_id" in err
    assert "no post was sent (exit status 1)" in err
    # the suggested mapping is right: every post goes through
    cmd = err.split("likely fix: ", 1)[1].split("; map their fields: ", 1)[1].split("\n")[0]
    fixed = cli(settings, "ingest", str(path), "--quiet", *cmd.split())
    assert fixed.returncode == 0 and "sent 5," in fixed.stderr, fixed.stderr


def test_ingest_help_states_the_exit_rule() -> None:
    done = cli(None, "ingest", "--help")
    assert done.returncode == 0
    assert "1 when" in done.stdout and "none was" in done.stdout


def test_rejects_explain_only_when_most_are_rejected() -> None:
    p, r = Pipeline("auto"), Rejects()
    good = EXPORT.replace(b'"author_id": "a%d", "author_handle": "h%d"', b'"author": {"id": "a%d"}')
    good = good.replace(b', "likes": 3', b"")
    for i in range(3):
        for out in p.process(EXPORT % (i, i, i, i)) + p.process(good % (i + 10, i, i)):
            if out is not None and hasattr(out, "reason"):
                r.add(out)  # type: ignore[arg-type]
    assert p.stats.sent == 3 and p.stats.rejected_total == 3
    lines = explain(p.stats, r)
    assert lines[0].startswith("most of the input was rejected: 3 of 6 records")
    assert lines[1].startswith("  schema (3): author: Field required")
    p.process(good % (99, 9, 9))
    assert explain(p.stats, r) == []  # 4 sent, 3 rejected: not "most"


def test_guess_mapping_uses_each_column_once() -> None:
    got = guess_mapping(["Body", "ts", "user", "username", "tweet_id", "retweet_count"])
    assert got == {"text": "Body", "created_at": "ts", "author": "user", "handle": "username",
                   "id": "tweet_id", "reposts": "retweet_count"}  # fmt: skip
