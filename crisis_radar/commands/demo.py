"""``crisis-radar demo``: the whole pipeline on the local stack, in a few minutes.

stack up -> migrate -> doctor (a FAIL stops the demo) -> worker subprocess -> simulate one day
(preset demo: a product-defect crisis and a launch spike) into Kafka as fast as it can be produced
(event time drives every window, so replay speed does not change the result) -> wait for the
alerts -> print them with their explanations and a ClickHouse summary -> stop the worker. Exit 1
if the crisis was missed or the launch spike was called a crisis.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from typing import Any

from crisis_radar.progress import progress_bar


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crisis-radar demo", description=__doc__.split("\n\n")[1])
    p.add_argument("--timeout", type=float, default=600, help="seconds to wait for the pipeline")
    p.add_argument("--prefix", help="topic prefix (default: a fresh demo<time>. per run)")
    p.add_argument("--database", help="ClickHouse database (default: settings)")
    p.add_argument("--metrics-port", type=int, default=8000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--brands", default="4", help="N first watchlist brands, or ids a,b (default 4)")
    p.add_argument("--no-stack", action="store_true", help="do not run 'stack up' first")
    p.add_argument(
        "--no-doctor", action="store_true", help="do not run 'crisis-radar doctor' first"
    )
    p.add_argument(
        "--keep-topics", action="store_true", help="keep this run's Kafka topics (default: delete)"
    )
    return p


def _truth(seed: int, brands: str) -> tuple[argparse.Namespace, Any]:
    from crisis_radar.commands.simulate import _parser as sim_parser
    from crisis_radar.commands.simulate import build_scenario

    args = sim_parser().parse_args(
        ["--preset", "demo", "--seed", str(seed), "--brands", brands, "--out", "-"]
    )
    return args, build_scenario(args)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from crisis_radar import stack
    from crisis_radar.clickhouse import make_client, migrate
    from crisis_radar.commands.simulate import run as simulate_run
    from crisis_radar.settings import get_settings
    from crisis_radar.simulate import IS_CRISIS
    from schemas.models import Severity
    from streams import runner

    base = get_settings()
    prefix = args.prefix if args.prefix is not None else f"demo{int(time.time())}."
    settings = base.model_copy(
        update={
            "topic_prefix": prefix,
            "metrics_port": args.metrics_port,
            # one partition per topic: a replay this fast keeps event order through every hop
            "topic_partitions": 1,
            "clickhouse_database": args.database or base.clickhouse_database,
        }
    )
    if not args.no_stack:
        say("[1/7] stack up")
        try:
            stack.up(None, base)
        except stack.StackError as exc:
            say(f"crisis-radar demo: the stack did not come up: {exc}")
            return 1
    say(f"[2/7] migrate ClickHouse database {settings.clickhouse_database}")
    from crisis_radar.doctor import quiet_clients

    try:
        with quiet_clients():  # a refused connection is logged with a traceback: the doctor says it
            migrate(settings)
    except Exception as exc:
        if args.no_doctor:
            raise
        say(f"migrate failed ({exc.__class__.__name__}); the doctor names the broken piece:")
    if not args.no_doctor:
        say("[3/7] doctor")
        # the operator's settings, with the port and database this demo's worker will use
        if not _doctor(
            base.model_copy(
                update={
                    "metrics_port": settings.metrics_port,
                    "clickhouse_database": settings.clickhouse_database,
                }
            )
        ):
            return 1
    _, scenario = _truth(args.seed, args.brands)
    log_path = settings.stack_dir / "logs" / "demo-worker.log"
    say(f"[4/7] worker (topic prefix {prefix!r}, log {log_path})")
    with runner.running_worker(settings, log_path) as proc:
        runner.wait_ready(proc, settings.metrics_port, log_path, timeout=90)
        say("[5/7] simulate one day (preset demo) into " + settings.topic("posts.raw"))
        n = simulate_run(
            scenario,
            None,
            None,
            settings.topic("posts.raw"),
            quiet=False,
            bootstrap=settings.kafka_bootstrap,
        )
        say(f"[6/7] waiting for the pipeline ({n} posts, timeout {args.timeout:.0f}s)")
        done = _wait(proc, settings.metrics_port, n, args.timeout, runner)
        alerts = runner.read_alerts(settings)
    if args.prefix is None and not args.keep_topics:
        _delete_topics(settings, prefix)  # results stay in ClickHouse
    say("[7/7] results\n")
    for a in sorted(alerts, key=lambda a: (a.minute, a.brand)):
        head = f"{a.previous_severity.label} -> {a.severity.label.upper():8} {a.brand:<12}"
        print(f"== {a.minute:%H:%M} UTC  {head} id {a.alert_id}")
        if max(a.severity, a.previous_severity) < Severity.WARNING:
            continue  # watch-level changes: one line each, details in ClickHouse
        print(f"   {a.summary}")
        for s in a.signals[:4]:
            print(
                f"   - {s.signal}: observed {s.observed:.3g}, expected {s.expected:.3g} "
                f"(score {s.score:.2f}) {s.detail}"
            )
        if a.top_terms:
            print(f"   top terms: {', '.join(a.top_terms[:8])}")
        for tp in a.top_posts[:2]:
            print(f"   post [{tp.sentiment_score:+.2f}] {tp.text[:110]!r}")
        for c in a.top_clusters[:1]:
            print(f"   cluster x{c.posts} by {c.distinct_authors} authors: {c.example_text[:90]!r}")
    client = make_client(settings)
    print("\nClickHouse (rows, FINAL):")
    for table in ("posts", "brand_minutes", "alerts", "dead_letters"):
        rows = client.execute(f"SELECT count() FROM {table} FINAL")[0][0]
        print(f"  {table:<14}{rows:>9}")
    client.disconnect()
    # Verdict against the scenario's ground truth.
    ok = done
    for ev in scenario.events:
        window = [
            a
            for a in alerts
            if a.brand == ev.brand
            and ev.start - timedelta(minutes=5) <= a.minute <= ev.start + timedelta(hours=3)
        ]
        top = max((a.severity for a in window), default=Severity.NONE)
        if IS_CRISIS[ev.kind]:
            hit = top >= Severity.WARNING
            print(
                f"\n{ev.kind} on {ev.brand} at {ev.start:%H:%M}: "
                f"{'DETECTED' if hit else 'MISSED'} (max severity {top.label})"
            )
        else:
            hit = top < Severity.CRISIS
            print(
                f"{ev.kind} on {ev.brand} at {ev.start:%H:%M}: "
                f"{'no crisis alert (good)' if hit else 'FALSE CRISIS'} (max {top.label})"
            )
        ok = ok and hit
    if not done:
        print("the pipeline did not finish within the timeout (see the worker log)")
    report = _write_report(settings, scenario, alerts, IS_CRISIS)
    if report is not None:
        print(f"\npost-crisis report: {report}")
    return 0 if ok else 1


def _doctor(settings: Any) -> bool:
    """``crisis-radar doctor``'s table; False (stop the demo) when a check FAILs."""
    from crisis_radar import doctor

    checks = doctor.run(settings)
    say(doctor.table(checks))
    if doctor.failed(checks):
        say("crisis-radar demo: stopped, the doctor found a FAIL above (each has its fix)")
        return False
    return True


def _write_report(settings: Any, scenario: Any, alerts: list[Any], is_crisis: Any) -> Any:
    """The post-crisis report for the scenario's crisis, anchored on its strongest alert."""
    from crisis_radar.clickhouse import make_client
    from crisis_radar.report import write_report

    crises = [ev for ev in scenario.events if is_crisis[ev.kind]]
    if not crises:
        return None
    ev = crises[0]
    since = ev.start - timedelta(minutes=5)
    mine = [a for a in alerts if a.brand == ev.brand and a.minute >= since]
    anchor = max(mine, key=lambda a: (a.severity, -a.minute.timestamp()), default=None)
    say(f"writing the post-crisis report for {ev.brand}")
    client = make_client(settings)
    try:
        return write_report(
            client,
            settings.clickhouse_database,
            ev.brand,
            ev.start - timedelta(hours=3),
            ev.start + timedelta(hours=4),
            settings.stack_dir.parent / "out" / f"demo-report-{ev.brand}",
            alert_id=anchor.alert_id if anchor else None,
        )
    except Exception as exc:  # the demo's verdict is about detection; say why the report failed
        say(f"could not write the report: {exc!r}")
        return None
    finally:
        client.disconnect()


def _delete_topics(settings: Any, prefix: str) -> None:
    from kafka import KafkaAdminClient

    from crisis_radar.security import kafka_python_kwargs

    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id="crisis-radar-demo",
        **kafka_python_kwargs(settings),
    )
    try:
        mine = [t for t in admin.list_topics() if t.startswith(prefix)]
        if mine:
            admin.delete_topics(mine)
    except Exception as exc:  # cleanup only; the demo's verdict does not depend on it
        say(f"could not delete demo topics {prefix}*: {exc!r}")
    finally:
        admin.close()


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _wait(proc: Any, port: int, n: int, timeout: float, runner: Any) -> bool:
    """Progress by posts enriched; done when every stage has caught up (runner.caught_up)."""
    bar = progress_bar(total=n, unit="post", desc="pipeline", file=sys.stderr)

    def progress(m: Any) -> None:
        done = int(runner.sample(m, "crisis_radar_posts_in_total", stage="posts.scored"))
        bar.update(min(done, n) - bar.n)

    try:
        ok: bool = runner.wait_caught_up(proc, port, n, timeout, on_progress=progress)
        return ok
    finally:
        bar.close()
