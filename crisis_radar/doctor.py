"""The checks of ``crisis-radar doctor``: each a small function that looks at one piece of the
installation and says OK, WARN or FAIL, what it saw, and how to fix it.

Every network call has a short timeout (``TIMEOUT_S``), so a service that is down costs
seconds, not minutes. Checks that need a service which already failed are skipped (SKIP), so one
outage is reported once, by name, instead of as a cascade.

WARN never fails the run: it is for states that are normal at some point of an installation's
life (no worker running yet, topics not created yet because no worker ever ran, secret files of
paging integrations not deployed on a development machine). FAIL is for what stops the pipeline
or its paging from working now.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from radar_base.settings import PROJECT_ROOT, Settings

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
TIMEOUT_S = 2.0
CLOCK_SKEW_MAX_S = 5.0
DISK_FAIL_BYTES = 1 << 30  # Kafka and ClickHouse stop writing well before the disk is full
DISK_WARN_BYTES = 5 << 30
WORKER_JOB_PREFIX = "crisis-radar"  # Prometheus jobs of the workers (deploy/prometheus/*.yml)


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK | WARN | FAIL | SKIP
    detail: str
    fix: str = ""

    @property
    def ok(self) -> bool:
        return self.status != FAIL


class Unreachable(Exception):
    """A service did not answer; the message names it (host:port or URL) and why."""


@dataclass
class Context:
    """What the checks share: the settings and the connections made by earlier checks."""

    settings: Settings
    kafka_admin: Any = None
    kafka_error: str = ""
    clickhouse: Any = None
    clickhouse_error: str = ""
    prometheus_error: str = ""
    alertmanager_status: dict[str, Any] = field(default_factory=dict)
    alertmanager_error: str = ""

    def close(self) -> None:
        with contextlib.suppress(Exception):  # the checks are done: nothing to report here
            if self.kafka_admin is not None:
                self.kafka_admin.close()
            if self.clickhouse is not None:
                self.clickhouse.disconnect()


def _why(exc: BaseException) -> str:
    """One line for an exception: its message, or its type when it has none."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def get_json(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise Unreachable(f"{url} answered HTTP {exc.code}") from exc
    except urllib.error.URLError as exc:
        raise Unreachable(f"{url}: {exc.reason}") from exc
    except (OSError, ValueError) as exc:
        raise Unreachable(f"{url}: {_why(exc)}") from exc


def _is_local(url: str) -> bool:
    return urllib.parse.urlsplit(url).hostname in {"127.0.0.1", "localhost", "::1"}


# --- configuration --------------------------------------------------------------------------


def load_settings() -> tuple[Settings | None, Check]:
    """Settings from the environment; a bad value is named by its variable."""
    from pydantic import ValidationError

    try:
        settings = Settings()
    except ValidationError as exc:
        bad = []
        for err in exc.errors():
            var = "CRISIS_RADAR_" + str(err["loc"][0]).upper() if err["loc"] else "settings"
            value = os.environ.get(var)
            shown = f"={value}" if value is not None else ""
            bad.append(f"{var}{shown}: {err['msg']}")
        return None, Check(
            "settings", FAIL, "; ".join(bad), "fix or unset the variable (radar_base/settings.py)"
        )
    return settings, _settings_ok(settings)


def _settings_ok(settings: Settings) -> Check:
    return Check("settings", OK, f"loaded (stack dir {settings.stack_dir})")


def check_watchlist(ctx: Context) -> Check:
    from detectors.brands import Watchlist

    path = ctx.settings.watchlist_path
    try:
        wl = Watchlist.from_yaml(path)
    except Exception as exc:  # the loader's own message names the file and the brand
        return Check(
            "watchlist",
            FAIL,
            _why(exc),
            f"correct {path} (or point CRISIS_RADAR_WATCHLIST_PATH at a valid one)",
        )
    if not len(wl):
        return Check("watchlist", FAIL, f"{path}: no brands", f"add brands to {path}")
    return Check("watchlist", OK, f"{_short(path)}: {len(wl)} brands")


def _short(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


# --- Kafka ----------------------------------------------------------------------------------


def check_kafka(ctx: Context) -> Check:
    s = ctx.settings
    fix = "start the stack (crisis-radar stack up) or set CRISIS_RADAR_KAFKA_BOOTSTRAP"
    try:
        with warnings.catch_warnings():  # kafka-python's own importlib.resources deprecations
            warnings.simplefilter("ignore", DeprecationWarning)
            return _kafka(ctx)
    except Exception as exc:
        ctx.kafka_error = f"Kafka at {s.kafka_bootstrap}: {_why(exc)}"
        return Check("kafka", FAIL, ctx.kafka_error, fix)


def _kafka(ctx: Context) -> Check:
    """Kafka's version and cluster; raises when it does not answer."""
    from kafka import KafkaAdminClient

    from radar_base.security import kafka_python_kwargs

    s = ctx.settings
    ctx.kafka_admin = KafkaAdminClient(
        bootstrap_servers=s.kafka_bootstrap,
        client_id="crisis-radar-doctor",
        request_timeout_ms=int(TIMEOUT_S * 1000),
        bootstrap_timeout_ms=int(TIMEOUT_S * 1000),
        **kafka_python_kwargs(s),
    )
    cluster = ctx.kafka_admin.describe_cluster()
    brokers = cluster["brokers"]
    node = cluster.get("controller_id")
    if node not in {b["broker_id"] for b in brokers}:
        node = brokers[0]["broker_id"]
    # Kafka does not tell clients its release: this is the newest it speaks (ApiVersions)
    version = ctx.kafka_admin.get_broker_version_data(node).broker_version_str
    return Check(
        "kafka",
        OK,
        f"{s.kafka_bootstrap}: Kafka {version} (API level), {len(brokers)} broker(s), "
        f"cluster {cluster['cluster_id']}",
    )


def expected_topics(s: Settings) -> dict[str, int]:
    """Topic name -> partitions the worker creates (streams/topics.py)."""
    from streams.topics import SPECS, changelog_topic, state_topic

    out = {s.topic(stage): spec.partitions or s.topic_partitions for stage, spec in SPECS.items()}
    out[state_topic(s)] = 1
    out[changelog_topic(s)] = s.topic_partitions
    return out


def check_topics(ctx: Context) -> Check:
    if ctx.kafka_admin is None:
        return Check("topics", SKIP, "Kafka unreachable (see kafka)")
    s = ctx.settings
    want = expected_topics(s)
    prefix = f" (prefix {s.topic_prefix!r})" if s.topic_prefix else ""
    try:
        present = set(ctx.kafka_admin.list_topics()) & set(want)
        meta = ctx.kafka_admin.describe_topics(sorted(present)) if present else []
    except Exception as exc:
        return Check("topics", FAIL, f"cannot describe topics: {_why(exc)}", "see the kafka check")
    wrong, offline, under, factors = [], [], [], set()
    for t in meta:
        parts = t["partitions"]
        if len(parts) != want[t["name"]]:
            wrong.append(f"{t['name']} has {len(parts)}, settings want {want[t['name']]}")
        for p in parts:
            factors.add(len(p["replica_nodes"]))
            if p["leader_id"] < 0:
                offline.append(f"{t['name']}[{p['partition_index']}]")
            elif len(p["isr_nodes"]) < len(p["replica_nodes"]):
                under.append(f"{t['name']}[{p['partition_index']}]")
    missing = sorted(set(want) - present)
    if wrong or offline:
        problems = [f"partitions: {', '.join(wrong)}"] if wrong else []
        problems += [f"no leader: {', '.join(offline)}"] if offline else []
        detail = "; ".join(problems)
        fix = (
            "partitions: set CRISIS_RADAR_TOPIC_PARTITIONS to the topics' count, or delete the "
            "topics (their data is lost) so the worker recreates them"
            if wrong
            else "a broker holding these partitions is down: start it"
        )
        return Check("topics", FAIL, detail, fix)
    rf = "/".join(str(f) for f in sorted(factors)) or "-"
    if missing:
        return Check(
            "topics",
            WARN,
            f"{len(missing)} of {len(want)} not created yet{prefix}: {', '.join(missing)}",
            "normal before the first worker: it creates them at start (crisis-radar worker)",
        )
    if under:
        return Check(
            "topics",
            WARN,
            f"under-replicated: {', '.join(under)}",
            "a replica broker is down or lagging: check the brokers",
        )
    parts = sorted({f"{n}" for n in want.values()})
    return Check(
        "topics",
        OK,
        f"{len(want)} topics{prefix}, partitions as settings ({'/'.join(parts)}), "
        f"replication factor {rf}",
    )


# --- ClickHouse -----------------------------------------------------------------------------


def check_clickhouse(ctx: Context) -> Check:
    s = ctx.settings
    where = f"{s.clickhouse_host}:{s.clickhouse_port}"
    try:
        from radar_base.clickhouse import make_client

        client = make_client(
            s, database="default", connect_timeout=TIMEOUT_S, send_receive_timeout=TIMEOUT_S
        )
        version = client.execute("SELECT version()")[0][0]
    except Exception as exc:
        ctx.clickhouse_error = f"ClickHouse at {where}: {_why(exc)}"
        return Check(
            "clickhouse",
            FAIL,
            ctx.clickhouse_error,
            "start the stack (crisis-radar stack up) or set CRISIS_RADAR_CLICKHOUSE_HOST/_PORT",
        )
    ctx.clickhouse = client
    return Check("clickhouse", OK, f"{where}: ClickHouse {version}")


def check_migrations(ctx: Context) -> Check:
    if ctx.clickhouse is None:
        return Check("migrations", SKIP, "ClickHouse unreachable (see clickhouse)")
    from crisis_radar.clickhouse import check_identifier, discover

    db = check_identifier(ctx.settings.clickhouse_database)
    fix = f"crisis-radar migrate (database {db})"
    client = ctx.clickhouse
    try:
        files = discover()
        if not client.execute(
            "SELECT count() FROM system.databases WHERE name = %(db)s", {"db": db}
        )[0][0]:
            return Check("migrations", FAIL, f"database {db} does not exist", fix)
        ledger = client.execute(
            "SELECT count() FROM system.tables WHERE database = %(db)s "
            "AND name = 'schema_migrations'",
            {"db": db},
        )[0][0]
        if not ledger:
            return Check("migrations", FAIL, f"database {db} has no schema_migrations", fix)
        rows = client.execute(
            f"SELECT version, any(checksum) FROM {db}.schema_migrations GROUP BY version"
        )
    except Exception as exc:
        return Check("migrations", FAIL, f"database {db}: {_why(exc)}", fix)
    applied = {int(v): str(c) for v, c in rows}
    missing = [m for m in files if m.version not in applied]
    if missing:
        names = ", ".join(m.path.stem for m in missing)
        return Check("migrations", FAIL, f"database {db}: missing migration {names}", fix)
    known = {m.version for m in files}
    unknown = sorted(v for v in applied if v not in known)
    changed = [m.path.name for m in files if applied[m.version] != m.checksum]
    if unknown or changed:
        notes = []
        if unknown:
            versions = ", ".join(f"{v:04d}" for v in unknown)
            notes.append(f"applied but not in this checkout: {versions}")
        if changed:
            notes.append(f"edited after being applied: {', '.join(changed)}")
        return Check(
            "migrations",
            WARN,
            f"database {db}: {'; '.join(notes)}",
            "deploy the code that matches the database; never edit an applied migration, "
            "add a new one",
        )
    return Check("migrations", OK, f"database {db}: all {len(files)} applied")


def check_clock(ctx: Context) -> Check:
    if ctx.clickhouse is None:
        return Check("clock skew", SKIP, "ClickHouse unreachable (see clickhouse)")
    try:
        before = time.time()
        server = float(ctx.clickhouse.execute("SELECT toUnixTimestamp(now())")[0][0])
        after = time.time()
    except Exception as exc:
        return Check("clock skew", FAIL, f"cannot read ClickHouse's clock: {_why(exc)}")
    # now() has whole seconds: its mean is half a second behind the true time
    skew = server + 0.5 - (before + after) / 2
    detail = f"ClickHouse {skew:+.1f} s from this host (limit ±{CLOCK_SKEW_MAX_S:.0f} s)"
    if abs(skew) > CLOCK_SKEW_MAX_S:
        return Check(
            "clock skew",
            FAIL,
            detail + ": windows, lateness and alert times disagree between host and database",
            "synchronise both clocks (chrony or systemd-timesyncd)",
        )
    return Check("clock skew", OK, detail)


# --- Prometheus -----------------------------------------------------------------------------


def check_prometheus(ctx: Context) -> Check:
    url = ctx.settings.prometheus_base_url()
    try:
        info = get_json(f"{url}/api/v1/status/buildinfo")["data"]
    except Exception as exc:
        ctx.prometheus_error = f"Prometheus at {url}: {_why(exc)}"
        return Check(
            "prometheus",
            FAIL,
            ctx.prometheus_error,
            "start the stack (crisis-radar stack up) or set CRISIS_RADAR_PROMETHEUS_URL",
        )
    return Check("prometheus", OK, f"{url}: Prometheus {info.get('version', '?')}")


def _target_port(target: dict[str, Any]) -> int | None:
    return urllib.parse.urlsplit(str(target.get("scrapeUrl", ""))).port


def _serves_metrics(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=TIMEOUT_S) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def check_worker_scrape(ctx: Context) -> Check:
    """Prometheus scrapes the worker's /metrics (the port of CRISIS_RADAR_METRICS_PORT).

    FAIL when Prometheus has no target on that port (its pages about the worker can never fire),
    or when a worker serves metrics there but Prometheus's scrape fails. WARN when the target is
    down because no worker runs here: normal before one is started (``make demo`` runs the
    doctor before its worker)."""
    name = "worker scrape"
    if ctx.prometheus_error:
        return Check(name, SKIP, "Prometheus unreachable (see prometheus)")
    s = ctx.settings
    url = ctx.settings.prometheus_base_url()
    try:
        targets = get_json(f"{url}/api/v1/targets?state=active")["data"]["activeTargets"]
    except Exception as exc:
        return Check(name, FAIL, f"cannot list Prometheus targets: {_why(exc)}")
    jobs = [t for t in targets if str(t["labels"].get("job", "")).startswith(WORKER_JOB_PREFIX)]
    mine = [t for t in jobs if _target_port(t) == s.metrics_port]
    config = "deploy/prometheus/prometheus.yml"
    if not mine:
        scraped = ", ".join(sorted({t["labels"].get("instance", "?") for t in jobs})) or "none"
        return Check(
            name,
            FAIL,
            f"Prometheus does not scrape the worker's metrics port {s.metrics_port} "
            f"(its crisis-radar targets: {scraped})",
            f"run the worker with CRISIS_RADAR_METRICS_PORT set to a scraped port, or add "
            f"{s.metrics_host}:{s.metrics_port} to job crisis-radar in {config} and "
            "crisis-radar stack reload",
        )
    up = [t for t in mine if t.get("health") == "up"]
    t = (up or mine)[0]
    where = f"{t['labels'].get('instance')} (job {t['labels'].get('job')})"
    if up:
        return Check(name, OK, f"{where} is up")
    serving = _serves_metrics(s.metrics_port)
    error = t.get("lastError") or t.get("health", "not scraped yet")
    if serving and t.get("health") == "down":
        return Check(
            name,
            FAIL,
            f"a worker serves :{s.metrics_port}/metrics but Prometheus's scrape of {where} "
            f"fails: {error}",
            "make the worker reachable from Prometheus (CRISIS_RADAR_METRICS_HOST) or fix "
            f"the target in {config}",
        )
    if serving:
        return Check(name, WARN, f"{where}: worker started, not scraped yet")
    return Check(
        name,
        WARN,
        f"no worker running: nothing serves :{s.metrics_port}/metrics, target {where} is down",
        "start one: crisis-radar worker (make demo starts its own)",
    )


def check_rules(ctx: Context) -> Check:
    name = "alert rules"
    if ctx.prometheus_error:
        return Check(name, SKIP, "Prometheus unreachable (see prometheus)")
    url = ctx.settings.prometheus_base_url()
    try:
        groups = get_json(f"{url}/api/v1/rules")["data"]["groups"]
    except Exception as exc:
        return Check(name, FAIL, f"cannot list Prometheus rules: {_why(exc)}")
    rules = [r for g in groups for r in g.get("rules", [])]
    broken = [f"{r.get('name')}: {r.get('lastError')}" for r in rules if r.get("health") == "err"]
    fix = "check rule_files in deploy/prometheus/prometheus.yml, then crisis-radar stack reload"
    if not rules:
        return Check(name, FAIL, "Prometheus loaded no rules: nothing can page", fix)
    if broken:
        return Check(name, FAIL, "failing rules: " + "; ".join(broken), fix)
    alerting = sum(r.get("type") == "alerting" for r in rules)
    return Check(name, OK, f"{len(groups)} groups, {alerting} alerting rules, all healthy")


def check_alert_path(ctx: Context) -> Check:
    name = "alert path"
    if ctx.prometheus_error:
        return Check(name, SKIP, "Prometheus unreachable (see prometheus)")
    url = ctx.settings.prometheus_base_url()
    try:
        data = get_json(f"{url}/api/v1/alertmanagers")["data"]
    except Exception as exc:
        return Check(name, FAIL, f"cannot list Prometheus's Alertmanagers: {_why(exc)}")
    active = [a["url"] for a in data.get("activeAlertmanagers", [])]
    if not active:
        return Check(
            name,
            FAIL,
            "Prometheus sends its alerts to no Alertmanager: nothing is paged",
            "set alerting.alertmanagers in deploy/prometheus/prometheus.yml, then "
            "crisis-radar stack reload",
        )
    return Check(name, OK, "alerts go to " + ", ".join(active))


# --- Alertmanager ---------------------------------------------------------------------------


def check_alertmanager(ctx: Context) -> Check:
    url = ctx.settings.alertmanager_base_url()
    try:
        status = get_json(f"{url}/api/v2/status")
    except Exception as exc:
        ctx.alertmanager_error = f"Alertmanager at {url}: {_why(exc)}"
        return Check(
            "alertmanager",
            FAIL,
            ctx.alertmanager_error,
            "start the stack (crisis-radar stack up) or set CRISIS_RADAR_ALERTMANAGER_URL",
        )
    ctx.alertmanager_status = status
    version = status.get("versionInfo", {}).get("version", "?")
    cluster = status.get("cluster", {}).get("status", "?")
    return Check("alertmanager", OK, f"{url}: Alertmanager {version} (cluster {cluster})")


def _files(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """(path, where) of every ``*_file`` setting: secrets Alertmanager reads at send time."""
    if isinstance(node, dict):
        for k, v in node.items():
            if str(k).endswith("_file") and isinstance(v, str):
                yield v, where
            else:
                yield from _files(v, where)
    elif isinstance(node, list):
        for v in node:
            yield from _files(v, where)


def check_receivers(ctx: Context) -> Check:
    import yaml

    name = "receivers"
    if ctx.alertmanager_error:
        return Check(name, SKIP, "Alertmanager unreachable (see alertmanager)")
    try:
        config = yaml.safe_load(ctx.alertmanager_status["config"]["original"]) or {}
    except Exception as exc:
        return Check(name, FAIL, f"cannot read Alertmanager's config: {_why(exc)}")
    receivers = config.get("receivers") or []
    kinds: dict[str, int] = {}
    for r in receivers:
        for key, value in r.items():
            if key.endswith("_configs") and value:
                kinds[key.removesuffix("_configs")] = kinds.get(key.removesuffix("_configs"), 0) + 1
    fix = "add receivers with integrations to deploy/alertmanager/alertmanager.yml (docs/paging.md)"
    if not kinds:
        return Check(name, FAIL, f"{len(receivers)} receivers, none delivers anywhere", fix)
    integrations = ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items()))
    detail = f"{len(receivers)} receivers ({integrations})"
    url = ctx.settings.alertmanager_base_url()
    if not _is_local(url):
        return Check(name, OK, detail + "; secret files not checked (remote Alertmanager)")
    # Alertmanager's status shows the config with global defaults copied into each receiver
    missing: dict[str, list[str]] = {}
    for r in receivers:
        for path, owner in _files(r, str(r.get("name"))):
            if not os.path.exists(path):
                missing.setdefault(path, []).append(owner)
    if missing:
        gone = "; ".join(f"{p} ({', '.join(w)})" for p, w in sorted(missing.items()))
        return Check(
            name,
            WARN,
            f"{detail}; secret files missing here, so those integrations fail at send time "
            f"(webhooks still deliver): {gone}",
            "deploy the secrets to those paths (docs/paging.md), then crisis-radar stack reload",
        )
    return Check(name, OK, detail)


# --- host -----------------------------------------------------------------------------------


def check_disk(ctx: Context) -> Check:
    path = ctx.settings.stack_dir
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent  # the stack dir is made by `stack up`: measure where it will be
    usage = shutil.disk_usage(probe)
    gib = 1 << 30
    detail = f"{usage.free / gib:.1f} GiB free of {usage.total / gib:.0f} GiB under {path}"
    fix = (
        "free space there or move the stack (CRISIS_RADAR_STACK_DIR); Kafka and ClickHouse "
        "stop writing when the disk fills"
    )
    if usage.free < DISK_FAIL_BYTES:
        return Check("disk", FAIL, detail, fix)
    if usage.free < DISK_WARN_BYTES:
        return Check("disk", WARN, detail, fix)
    return Check("disk", OK, detail)


CHECKS: list[Callable[[Context], Check]] = [
    check_watchlist,
    check_kafka,
    check_topics,
    check_clickhouse,
    check_migrations,
    check_clock,
    check_prometheus,
    check_worker_scrape,
    check_rules,
    check_alert_path,
    check_alertmanager,
    check_receivers,
    check_disk,
]


def run(settings: Settings | None = None) -> list[Check]:
    """Every check, in order. Without ``settings``, they are read from the environment first
    (and nothing else runs when that fails: every other check depends on them)."""
    if settings is None:
        loaded, first = load_settings()
        if loaded is None:
            return [first, Check("other checks", SKIP, "not run: the settings do not load")]
        settings = loaded
    else:
        first = _settings_ok(settings)
    ctx = Context(settings)
    out = [first]
    with quiet_clients():
        out += _run_checks(ctx)
    return out


@contextlib.contextmanager
def quiet_clients() -> Iterator[None]:
    """The drivers log each refused connection with a traceback; the check's row says it."""
    loggers = [logging.getLogger(n) for n in ("clickhouse_driver", "kafka")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _run_checks(ctx: Context) -> list[Check]:
    out: list[Check] = []
    try:
        for check in CHECKS:
            try:
                out.append(check(ctx))
            except Exception as exc:  # a doctor that crashes diagnoses nothing: say which check
                out.append(Check(check.__name__.removeprefix("check_"), FAIL, f"crashed: {exc!r}"))
    finally:
        ctx.close()
    return out


def failed(checks: list[Check]) -> bool:
    return any(c.status == FAIL for c in checks)


def table(checks: list[Check], columns: int = 110) -> str:
    """Aligned rows; long details wrap under their column, a fix follows each FAIL/WARN."""
    width = max(len(c.name) for c in checks)
    indent = " " * (width + 10)

    def wrap(text: str) -> list[str]:
        return textwrap.wrap(text, max(40, columns - len(indent)), break_on_hyphens=False) or [""]

    lines = [f"{'CHECK':<{width}}  STATUS  DETAIL"]
    for c in checks:
        text = wrap(c.detail)
        lines.append(f"{c.name:<{width}}  {c.status:<6}  {text[0]}")
        lines += [indent + t for t in text[1:]]
        if c.fix and c.status in (FAIL, WARN):
            lines += [indent + t for t in wrap("fix: " + c.fix)]
    counts = {s: sum(c.status == s for c in checks) for s in (FAIL, WARN, OK, SKIP)}
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    return "\n".join(lines)


def as_json(checks: list[Check]) -> str:
    return json.dumps({"ok": not failed(checks), "checks": [asdict(c) for c in checks]}, indent=2)
