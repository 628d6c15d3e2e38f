"""``crisis-radar stack up|down|status|logs``: Kafka, ClickHouse, Prometheus, Alertmanager."""

from __future__ import annotations

import argparse
import sys
import time

from crisis_radar import stack
from crisis_radar.settings import Settings, get_settings
from crisis_radar.stack import _proc

# --cluster NAME: shards x replicas of ClickHouse.
CLUSTER_PRESETS = {"single": (1, 1), "replicated": (1, 2), "sharded": (2, 2)}


def _cluster_settings(args: argparse.Namespace) -> Settings | None:
    """Settings with the topology the flags ask for, recorded for later commands; None: no flag."""
    from crisis_radar.stack import cluster

    shards, replicas = args.clickhouse_shards, args.clickhouse_replicas
    if args.cluster:
        shards, replicas = CLUSTER_PRESETS[args.cluster]
    if shards is None and replicas is None:
        return None
    base = get_settings()
    settings = base.model_copy(
        update={"clickhouse_shards": shards or 1, "clickhouse_replicas": replicas or 1}
    )
    topo = cluster.save_topology(settings)
    if topo is not None:
        print(
            f"ClickHouse cluster {topo.name}: {topo.shards} shard(s) x {topo.replicas} "
            f"replica(s) on ports {base.clickhouse_port}..{base.clickhouse_port + topo.servers - 1}"
            f"; migrate and run with CRISIS_RADAR_CLICKHOUSE_CLUSTER={topo.name}",
            file=sys.stderr,
        )
    return settings


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="crisis-radar stack",
        description="Run the local stack on 127.0.0.1 with all data under .stack/ "
        "(CRISIS_RADAR_STACK_DIR). Services: " + ", ".join(stack.SERVICE_NAMES),
    )
    sub = p.add_subparsers(dest="action", required=True)
    for action, help_ in (
        ("up", "install what is missing, start, wait until healthy"),
        ("down", "stop what this checkout started"),
        ("status", "state, PID and ports of each service"),
        ("reload", "make Prometheus/Alertmanager re-read their configs"),
    ):
        sp = sub.add_parser(action, help=help_)
        sp.add_argument(
            "services", nargs="*", metavar="SERVICE", help="only these services (default: all)"
        )
        if action == "up":
            sp.add_argument(
                "--clickhouse-shards",
                type=int,
                metavar="N",
                help="run a ClickHouse cluster of N shards (with ZooKeeper; remembered by later "
                "stack commands; 1 with --clickhouse-replicas 1: back to one server)",
            )
            sp.add_argument(
                "--clickhouse-replicas", type=int, metavar="N", help="replicas per shard"
            )
            sp.add_argument(
                "--cluster",
                choices=sorted(CLUSTER_PRESETS),
                help="a preset: "
                + ", ".join(f"{k} = {s}x{r}" for k, (s, r) in sorted(CLUSTER_PRESETS.items())),
            )
            sp.add_argument(
                "--kafka-brokers",
                type=int,
                default=None,
                metavar="N",
                help="run Kafka as N KRaft nodes (broker+controller each; node i on the first "
                "node's ports + 100 i, own folder .stack/kafka-i); default: "
                "CRISIS_RADAR_KAFKA_BROKERS or 1. status/down find a cluster by themselves",
            )
    sub.add_parser("test-tools", help="install what only tests need (Chromium, report fonts)")
    lg = sub.add_parser("logs", help="show the end of a service's log")
    lg.add_argument(
        "service",
        nargs="?",
        default=None,
        help="service (default: all, 20 lines each)",
    )
    lg.add_argument("-n", "--lines", type=int, default=50)
    lg.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    return p


def _print_status(statuses: list[stack.ServiceStatus]) -> None:
    print(f"{'SERVICE':<13}{'STATE':<10}{'PID':<9}PORTS")
    for st in statuses:
        print(st.line())


def _print_cluster_env(settings: Settings) -> None:
    """What the pipeline's processes need to use the cluster (docs/scaling.md)."""
    from crisis_radar.stack.services import kafka_bootstrap_of, kafka_nodes

    replicas = min(settings.kafka_brokers, 3)
    print(
        "\nKafka cluster: point the pipeline at every node, with replicated topics:\n"
        f"  export CRISIS_RADAR_KAFKA_BOOTSTRAP={kafka_bootstrap_of(kafka_nodes(settings))}\n"
        f"  export CRISIS_RADAR_TOPIC_REPLICATION_FACTOR={replicas}\n"
        f"  export CRISIS_RADAR_TOPIC_MIN_INSYNC_REPLICAS={max(1, replicas - 1)}"
    )


def _follow(path: str) -> None:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        while True:
            chunk = fh.read()
            if chunk:
                sys.stdout.write(chunk.decode(errors="replace"))
                sys.stdout.flush()
            else:
                time.sleep(0.3)


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.action == "up":
            t0 = time.monotonic()
            settings = _cluster_settings(args) or get_settings()
            if args.kafka_brokers is not None:
                if args.kafka_brokers < 1:
                    raise stack.StackError("--kafka-brokers must be 1 or more")
                settings = settings.model_copy(update={"kafka_brokers": args.kafka_brokers})
            statuses = stack.up(args.services or None, settings)
            print(f"stack up in {time.monotonic() - t0:.1f}s", file=sys.stderr)
            _print_status(statuses)
            if settings.kafka_brokers > 1:
                _print_cluster_env(settings)
            return 0 if all(s.state in ("running", "external") for s in statuses) else 1
        if args.action == "down":
            stack.down(args.services or None)
            left = [s for s in stack.status(args.services or None) if s.state != "stopped"]
            for s in left:
                print(f"{s.name} still answers on {s.ports} ({s.state})", file=sys.stderr)
            return 0 if all(s.state == "external" for s in left) else 1
        if args.action == "status":
            statuses = stack.status(args.services or None)
            _print_status(statuses)
            # 3 = something is down: scripts can test `stack status` before using the stack.
            return 0 if all(s.state in ("running", "external") for s in statuses) else 3
        if args.action == "test-tools":
            from crisis_radar.stack._install import ensure_tool, fonts

            # The report test opens the HTML in a real headless browser (Debian's chromium),
            # and checks emoji and non-Latin text are drawn (the fonts `stack up` installs).
            path = ensure_tool(("chromium", "/usr/bin/chromium"), ["chromium"], "Chromium")
            print(f"chromium: {path}")
            warning = fonts()
            print(f"fonts: {warning or 'installed'}")
            return 1 if warning else 0
        if args.action == "reload":
            return 1 if stack.reload(args.services or None) else 0
        # logs
        chosen = stack.status([args.service] if args.service else None)
        for st in chosen:
            if not args.service or len(chosen) > 1:  # a cluster's nodes: say which is which
                print(f"==> {st.name}: {st.log} <==")
            print(_proc.tail(st.log, args.lines if args.service else 20))
        if args.follow and args.service:
            _follow(str(chosen[0].log))
        return 0
    except stack.StackError as exc:
        print(f"crisis-radar stack: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
