"""Faults on a real local Kafka cluster (three KRaft brokers, `stack up --kafka-brokers 3`,
started once for the session on free ports under a temporary folder; the shared single-node
stack is not touched). Topics have three replicas and min.insync.replicas 2; every producer is
idempotent with acks=all. ClickHouse is the shared server, each run with its own database.

1. The leader broker of posts.raw is SIGKILLed mid-stream: nothing lost, nothing doubled as
   analysts see it (FINAL), and the same minutes and alerts as an undisturbed run.
2. A third worker joins mid-stream, then one leaves: nothing lost or doubled, and each
   partition's lag series is exported by exactly one worker, the one that owns it now."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import faults_support as fs
import pytest

from crisis_radar import stack as local_stack
from crisis_radar.clickhouse import make_client, migrate
from crisis_radar.commands.simulate import _parser as simulate_parser
from crisis_radar.commands.simulate import build_scenario
from crisis_radar.commands.simulate import run as simulate_run
from crisis_radar.settings import Settings
from crisis_radar.stack import _proc
from crisis_radar.stack.services import KAFKA_PORT_STEP, kafka_bootstrap_of, kafka_nodes
from schemas import stages
from streams import runner

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.faults,
    pytest.mark.stack,
    pytest.mark.slow,
    pytest.mark.filterwarnings(r"ignore:.*Use files\(\) instead:DeprecationWarning"),
]
BROKERS = 3
# The scenario of tests/test_faults_sigkill.py: six quiet hours, then a defect that alerts.
SIM_ARGS = [
    "--days", "0.3", "--brands", "telvana,orbitel", "--start", "2026-11-23T00:00Z",
    "--events", "product_defect:telvana@06:00", "--rate-scale", "1.5", "--seed", "0",
]  # fmt: skip
RATE = fs.env_seconds("CRISIS_RADAR_CLUSTER_RATE", 150)  # posts/s: ~26 s of ingest
MINUTE_COLS = (
    "brand, toString(minute), posts, unique_posts, unique_authors, negative, neutral, "
    "positive, round(sentiment_sum, 6), reach, duplicates"
)


def _port_base(avoid: set[int] = set()) -> int:  # noqa: B006 - read only
    """A free port p with p + 100 and p + 200 free too (the nodes' ports: stack.services), below
    the ephemeral range so that a restarted broker gets its port back."""
    return _proc.free_port_block(BROKERS, avoid, step=KAFKA_PORT_STEP)


@pytest.fixture(scope="session")
def kafka_cluster(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    """Three brokers for the session (start-up paid once), stopped at its end."""
    tmp = tmp_path_factory.mktemp("kafka-cluster")
    broker_base = _port_base()
    s = stack.base.model_copy(
        update={
            "stack_dir": tmp / "stack",
            "kafka_brokers": BROKERS,
            "kafka_bootstrap": f"127.0.0.1:{broker_base}",
            "kafka_controller_port": _port_base(
                {broker_base + KAFKA_PORT_STEP * i for i in range(BROKERS)}
            ),
            "topic_replication_factor": 3,
            "topic_min_insync_replicas": 2,
        }
    )
    s = s.model_copy(update={"kafka_bootstrap": kafka_bootstrap_of(kafka_nodes(s))})
    try:
        local_stack.up(["kafka"], s)
    except local_stack.StackError as exc:
        pytest.fail(f"Kafka cluster did not come up: {exc}", pytrace=False)
    yield s
    local_stack.down(["kafka"], s)


@pytest.fixture
def cluster(kafka_cluster: Settings, settings: Settings) -> Settings:
    """This test's topic prefix and database on the session's cluster."""
    return kafka_cluster.model_copy(
        update={
            "topic_prefix": settings.topic_prefix,
            "clickhouse_database": settings.clickhouse_database,
            "enrich_subprocess": False,  # 3 brokers + workers + ClickHouse share two cores
        }
    )


def _scenario(tmp: Path) -> tuple[Path, set[tuple[str, str]]]:
    path = tmp / "posts.jsonl"
    simulate_run(build_scenario(simulate_parser().parse_args([*SIM_ARGS, "--out", "-"])), str(path))
    want, dead = fs.expected_rows(path.read_bytes().splitlines(), Settings().watchlist_path)
    assert dead == 0 and len(want) > 2500
    return path, want


def _ingest(s: Settings, path: Path, rate: float = RATE) -> subprocess.Popen[bytes]:
    """`crisis-radar ingest` (acks=all, idempotent) at ``rate`` posts/s against the cluster."""
    return subprocess.Popen(
        [sys.executable, "-m", "crisis_radar.cli", "ingest", str(path), "--rate", str(rate),
         "--quiet"],
        env=runner.worker_env(s), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _admin(s: Settings) -> Any:
    from kafka import KafkaAdminClient

    return KafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, client_id="cluster-tests")


def _topic_layout(s: Settings, stage: str) -> list[dict[str, Any]]:
    admin = _admin(s)
    try:
        [desc] = admin.describe_topics([s.topic(stage)])
        return sorted(desc["partitions"], key=lambda p: p["partition_index"])
    finally:
        admin.close()


def _min_isr(s: Settings, stage: str) -> str:
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = _admin(s)
    try:
        res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, s.topic(stage))])
        return str(res["topic"][s.topic(stage)]["min.insync.replicas"]["value"])
    finally:
        admin.close()


def _stored(ch: Any) -> int:
    return int(ch.execute("SELECT uniqExact(post_key, brand) FROM posts")[0][0])


def _check_posts(ch: Any, want: set[tuple[str, str]]) -> None:
    """Exactly the input's (post, brand) rows, each once, as analysts see them (FINAL)."""
    rows = ch.execute("SELECT post_key, brand, count() FROM posts FINAL GROUP BY post_key, brand")
    got = {(k, b) for k, b, _ in rows}
    assert not (want - got), f"lost {len(want - got)} rows, e.g. {sorted(want - got)[:5]}"
    assert not (got - want), f"unexpected rows, e.g. {sorted(got - want)[:5]}"
    assert [r for r in rows if r[2] > 1] == []
    assert ch.execute("SELECT count() FROM posts FINAL")[0][0] == len(want)


def _run_one_worker(
    s: Settings, db: str, path: Path, want: set[tuple[str, str]], tmp: Path, kill_leader: bool
) -> tuple[list[tuple[Any, ...]], set[tuple[str, int]], int | None]:
    """One worker, one partition (a deterministic order, as test_faults_sigkill): ingest
    ``path`` at RATE; with ``kill_leader`` SIGKILL the broker leading posts.raw at 30%.
    Returns the minutes, the alerts and the killed node's id."""
    run_dir = s.stack_dir / "run"  # the cluster's PID files
    s = s.model_copy(
        update={
            "clickhouse_database": db,
            "topic_prefix": f"{s.topic_prefix}{db[-6:]}.",
            "topic_partitions": 1,
            "metrics_port": fs.free_port(),
            "stack_dir": tmp / f"w-{db[-6:]}",
        }
    )
    migrate(s)
    ch = make_client(s)
    log = tmp / f"{db}.log"
    killed: int | None = None
    with ExitStack() as stack, runner.running_worker(s, log) as proc:
        runner.wait_ready(proc, s.metrics_port, log, timeout=120)
        ingest = _ingest(s, path)
        stack.callback(lambda: ingest.poll() is None and ingest.kill())

        def alive() -> str | None:
            return None if proc.poll() is None else f"worker died:\n{log.read_text()[-3000:]}"

        # Topics as the settings say: three replicas, two in sync for a write.
        layout = _topic_layout(s, stages.POSTS_RAW)
        assert [len(p["replica_nodes"]) for p in layout] == [3]
        assert _min_isr(s, stages.POSTS_RAW) == "2"
        if kill_leader:
            fs.wait_until(lambda: _stored(ch) >= 0.3 * len(want), 120, "30% stored",
                          every=0.1, alive=alive)  # fmt: skip
            killed = int(_topic_layout(s, stages.POSTS_RAW)[0]["leader_id"])
            pid = _proc.read_pid(run_dir / f"kafka-{killed}.pid")
            assert pid is not None and _proc.alive(pid)
            os.kill(pid, signal.SIGKILL)
            at_kill = _stored(ch) / len(want)
            assert ingest.poll() is None, "ingest finished before the kill: not mid-stream"
            assert at_kill < 0.8, f"the kill landed late ({at_kill:.0%} stored)"
        out, _ = ingest.communicate(timeout=300)
        assert ingest.returncode == 0, out.decode()[-2000:]
        fs.wait_until(lambda: _stored(ch) >= len(want), 300, "every post stored", alive=alive)
        if killed is not None:  # a new leader took over posts.raw
            assert int(_topic_layout(s, stages.POSTS_RAW)[0]["leader_id"]) != killed
        # The last minutes close on the idle timer: let it, then read stable tables.
        assert runner.wait_caught_up(proc, s.metrics_port, 0, 240, quiet_s=8), log.read_text()[
            -3000:
        ]
    _check_posts(ch, want)
    minutes = ch.execute(f"SELECT {MINUTE_COLS} FROM brand_minutes FINAL ORDER BY brand, minute")
    alerts = {(a, int(sev)) for a, sev in ch.execute("SELECT alert_id, severity FROM alerts FINAL")}
    ch.disconnect()
    return minutes, alerts, killed


def test_kill_the_leader_of_posts_raw_mid_stream(
    cluster: Settings, stack: Any, tmp_path: Path
) -> None:
    path, want = _scenario(tmp_path)
    admin = make_client(stack.base, database="default")
    dbs = [f"{cluster.clickhouse_database}_a", f"{cluster.clickhouse_database}_b"]
    killed = None
    try:
        base_min, base_alerts, _ = _run_one_worker(cluster, dbs[0], path, want, tmp_path, False)
        kill_min, kill_alerts, killed = _run_one_worker(cluster, dbs[1], path, want, tmp_path, True)
    finally:
        for db in dbs:
            admin.execute(f"DROP DATABASE IF EXISTS {db}")
        admin.disconnect()
        if killed is not None:  # the cluster whole again for the next test
            local_stack.up([f"kafka-{killed}"], cluster)
    assert len(base_min) > 100
    cut = sorted({m[1] for m in base_min})[-5]  # the last minutes close on wall-clock idle time
    base_cut = [m for m in base_min if m[1] < cut]
    kill_cut = [m for m in kill_min if m[1] < cut]
    diff = sorted(set(kill_cut) ^ set(base_cut))
    assert kill_cut == base_cut, f"{len(diff)} minute rows differ after the kill, e.g. {diff[:4]}"
    assert base_alerts, "the scenario must alert, or equal alerts prove nothing"
    assert kill_alerts == base_alerts


def _lag_series(port: int, topics: set[str]) -> set[tuple[str, int]]:
    """(topic, partition) of every crisis_radar_consumer_lag series a worker exports."""
    out = set()
    for (name, labels), _ in runner.scrape(port).items():
        lbl = dict(labels)
        if name == "crisis_radar_consumer_lag" and lbl.get("topic") in topics:
            out.add((lbl["topic"], int(lbl["partition"])))
    return out


def test_add_a_third_worker_then_remove_one(cluster: Settings, tmp_path: Path) -> None:
    parts = 6
    s = cluster.model_copy(update={"topic_partitions": parts})
    migrate(s)
    path, want = _scenario(tmp_path)
    workers = [
        s.model_copy(update={"stack_dir": tmp_path / f"w{i}", "metrics_port": fs.free_port()})
        for i in range(3)
    ]
    logs = [tmp_path / f"worker{i}.log" for i in range(3)]
    topics = {s.topic(st) for st in (stages.POSTS_RAW, stages.POSTS_SCORED, stages.BRAND_MINUTES)}
    every = {(t, p) for t in topics for p in range(parts)}
    ch = make_client(s)
    with ExitStack() as stack:
        procs: list[subprocess.Popen[bytes]] = []

        def start(i: int) -> None:
            procs.append(stack.enter_context(runner.running_worker(workers[i], logs[i])))
            runner.wait_ready(procs[i], workers[i].metrics_port, logs[i], timeout=120)

        def alive() -> str | None:
            for i, proc in enumerate(procs):
                if proc.poll() is not None and i != 0:
                    return f"worker {i} died:\n{logs[i].read_text()[-3000:]}"
            return None

        def owners_once(live: list[int]) -> bool:
            """Each partition's lag series on exactly one live worker (none left behind)."""
            seen = [_lag_series(workers[i].metrics_port, topics) for i in live]
            return sum(len(x) for x in seen) == len(every) and set().union(*seen) == every

        start(0)
        start(1)
        # Slower than RATE: a worker's start-up (~20 s on two busy cores) fits mid-stream.
        ingest = _ingest(s, path, rate=RATE / 2.5)
        stack.callback(lambda: ingest.poll() is None and ingest.kill())
        fs.wait_until(lambda: _stored(ch) >= 0.1 * len(want), 120, "10% stored", every=0.1,
                      alive=alive)  # fmt: skip
        fs.wait_until(lambda: owners_once([0, 1]), 60, "two owners", every=0.5, alive=alive)
        start(2)  # joins mid-stream: the group rebalances over three
        try:
            fs.wait_until(
                lambda: (
                    owners_once([0, 1, 2])
                    and all(_lag_series(w.metrics_port, topics) for w in workers)
                ),
                90,
                "each partition's lag on exactly one of three workers",
                every=0.5,
                alive=alive,
            )
        except AssertionError as exc:
            seen = {i: sorted(_lag_series(w.metrics_port, topics)) for i, w in enumerate(workers)}
            raise AssertionError(f"{exc}: lag series by worker {seen}") from None
        # Mid-stream: posts still on their way (being sent, or in Kafka not yet stored). Not the
        # ingest's own clock: on a loaded box the third worker's start-up outlasts the sending.
        assert _stored(ch) < len(want), "every post stored before the third worker: not mid-stream"
        moved = _lag_series(workers[2].metrics_port, topics)
        assert _stored(ch) < len(want), "every post stored before a worker left: not mid-stream"
        procs[0].send_signal(signal.SIGTERM)  # leaves mid-stream: its partitions move on
        assert procs[0].wait(timeout=60) in (0, -signal.SIGTERM)
        out, _ = ingest.communicate(timeout=300)
        assert ingest.returncode == 0, out.decode()[-2000:]
        fs.wait_until(lambda: _stored(ch) >= len(want), 300, "every post stored", alive=alive)
        try:
            fs.wait_until(lambda: owners_once([1, 2]), 90, "each partition's lag on one of the "
                          "two left", every=0.5, alive=alive)  # fmt: skip
        except AssertionError as exc:
            seen = {i: sorted(_lag_series(workers[i].metrics_port, topics)) for i in (1, 2)}
            raise AssertionError(f"{exc}: lag series by worker {seen}") from None
        assert moved, "the third worker got no partition"
    _check_posts(ch, want)
    ch.disconnect()
