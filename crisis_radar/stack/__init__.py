"""The local stack: Kafka (KRaft), ClickHouse, Prometheus and Alertmanager on 127.0.0.1.

Everything lives under ``Settings.stack_dir`` (``.stack/`` of the checkout): data, rendered
configs, logs (``logs/``) and PID files (``run/``). ``up`` is idempotent and serialised by a file
lock; ``down`` stops only the processes this checkout started.

A port already served by a *healthy* service that this checkout did not start (typically the
stack of another checkout of the project) is reused, reported as ``external``, and never
stopped by ``down``. A port held by anything else is an error that names the holder.

>>> [s.name for s in services()]
['kafka', 'clickhouse', 'prometheus', 'alertmanager']
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from crisis_radar.settings import Settings, get_settings
from crisis_radar.stack import _install, _proc
from crisis_radar.stack._errors import StackError
from crisis_radar.stack.services import SERVICE_TYPES, Kafka, Service

__all__ = [
    "ServiceStatus",
    "StackError",
    "down",
    "listeners_of",
    "reload",
    "services",
    "status",
    "up",
]

SERVICE_NAMES = tuple(SERVICE_TYPES)


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    state: str  # running | starting | unhealthy | stopped | external
    pid: int | None
    ports: tuple[int, ...]
    log: Path

    def line(self) -> str:
        ports = ",".join(f"127.0.0.1:{p}" for p in self.ports)
        return f"{self.name:<13}{self.state:<10}{self.pid or '-'!s:<9}{ports}"


def _recorded_brokers(settings: Settings) -> int:
    """Nodes of the Kafka cluster last started in this folder (1: none, or the single node)."""
    try:
        return int((settings.stack_dir / "run" / "kafka-brokers").read_text())
    except (OSError, ValueError):
        return 1


def services(
    names: list[str] | None = None, settings: Settings | None = None, *, recorded: bool = False
) -> list[Service]:
    """The services, in start order, or those named.

    With ``kafka_brokers`` N > 1 (or, with ``recorded``, the N of the cluster last started
    here: status and down find it without being told), "kafka" is N nodes
    ``kafka-1``..``kafka-N``. With a ClickHouse cluster (stack/cluster.py), "clickhouse" stands
    for ZooKeeper and every server. A group name selects all its members, a member's name one.
    """
    from crisis_radar.stack import cluster

    settings = settings or get_settings()
    brokers = settings.kafka_brokers
    if recorded and brokers == 1:
        brokers = _recorded_brokers(settings)
    topo = cluster.topology(settings)
    found: list[tuple[str, Service]] = []  # (group, service)
    for name, cls in SERVICE_TYPES.items():
        if name == "clickhouse" and topo is not None:
            found += [(name, svc) for svc in cluster.cluster_services(settings, topo)]
        elif name == "kafka" and brokers > 1:
            found += [(name, Kafka(settings, i, brokers)) for i in range(1, brokers + 1)]
        else:
            found.append((name, cls(settings)))
    known = {g for g, _ in found} | {svc.name for _, svc in found}
    unknown = sorted(set(names or ()) - known)
    if unknown:
        raise StackError(
            f"unknown service(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return [svc for g, svc in found if not names or g in names or svc.name in names]


@contextlib.contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """Serialise up/down of one stack folder across processes."""
    settings.stack_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.stack_dir / "stack.lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say("another `stack up/down` is running on this folder: waiting for it...")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _holder(port: int) -> tuple[int | None, str]:
    """PID listening on ``port`` and a hint of what it is (its working folder tells whose stack)."""
    for lst in _proc.listeners():
        if lst.port == port and lst.pid is not None:
            try:
                cwd = os.readlink(f"/proc/{lst.pid}/cwd")
            except OSError:
                cwd = "?"
            return lst.pid, f"{_proc.cmdline(lst.pid).split(' ')[0]}, working folder {cwd}"
    return None, "unknown process"


def _state(svc: Service) -> ServiceStatus:
    pid = _proc.owned_pid(svc.pid_file, svc.marker)
    if pid is not None:
        state = "running" if svc.healthy() else "unhealthy"
    elif any(_proc.port_open("127.0.0.1", p) for p in svc.ports) and svc.healthy():
        state, pid = "external", _holder(svc.ports[0])[0]
    else:
        state = "stopped"
    return ServiceStatus(svc.name, state, pid, svc.ports, svc.main_log)


def status(names: list[str] | None = None, settings: Settings | None = None) -> list[ServiceStatus]:
    return [_state(svc) for svc in services(names, settings, recorded=True)]


def up(names: list[str] | None = None, settings: Settings | None = None) -> list[ServiceStatus]:
    """Start what is not running and wait until every service is healthy (no-op when up)."""
    settings = settings or get_settings()
    chosen = services(names, settings)
    with _locked(settings):
        if any(isinstance(svc, Kafka) and len(svc.nodes) > 1 for svc in chosen):
            run = settings.stack_dir / "run"
            run.mkdir(parents=True, exist_ok=True)
            (run / "kafka-brokers").write_text(f"{settings.kafka_brokers}\n")
        warning = _install.fonts()  # the report's fonts (emoji, non-Latin scripts)
        if warning:
            _say(f"{'fonts':<13}{warning}")
        waiting: dict[str, tuple[Service, int, float]] = {}
        for svc in chosen:
            t0 = time.monotonic()
            pid = _proc.owned_pid(svc.pid_file, svc.marker)
            if pid is not None:
                if svc.healthy():
                    _say(f"{svc.name:<13}already running (pid {pid}, {svc.describe()})")
                else:
                    waiting[svc.name] = (svc, pid, t0)
                continue
            busy = [p for p in svc.ports if _proc.port_open("127.0.0.1", p)]
            if busy:
                holder, cmd = _holder(busy[0])
                if svc.healthy():
                    _say(
                        f"{svc.name:<13}reusing a healthy {svc.name} on port {busy[0]} not "
                        f"started by this checkout (pid {holder or '?'}: {cmd})"
                    )
                    continue
                raise StackError(
                    f"{svc.name}: port {busy[0]} is taken by pid {holder or '?'} ({cmd}), which "
                    f"is not a healthy {svc.name}. Stop it, or move this stack to other ports "
                    f"with CRISIS_RADAR_* settings."
                )
            svc.install()
            argv = svc.argv()
            pid = _proc.spawn(argv, svc.log_file, svc.pid_file, cwd=svc.home)
            _say(f"{svc.name:<13}started (pid {pid}), waiting for health...")
            waiting[svc.name] = (svc, pid, t0)
            if getattr(svc, "healthy_before_the_next", False):
                _wait_healthy({svc.name: waiting.pop(svc.name)})
        _wait_healthy(waiting)
    return status(names, settings)


def _wait_healthy(waiting: dict[str, tuple[Service, int, float]]) -> None:
    pending = dict(waiting)
    while pending:
        for name, (svc, pid, t0) in list(pending.items()):
            if svc.healthy():
                _say(
                    f"{name:<13}healthy in {time.monotonic() - t0:.1f}s "
                    f"(pid {pid}, {svc.describe()})"
                )
                del pending[name]
            elif not _proc.alive(pid):
                svc.pid_file.unlink(missing_ok=True)
                tails = f"last lines of {svc.log_file}:\n" + _proc.tail(svc.log_file, 25)
                for extra in svc.startup_logs():  # the server's own log names the cause
                    tails += f"\nlast lines of {extra}:\n" + _proc.tail(extra, 15)
                raise StackError(f"{name} exited during start-up; {tails}")
            elif time.monotonic() - t0 > svc.start_timeout_s:
                raise StackError(
                    f"{name} (pid {pid}) not healthy after {svc.start_timeout_s:.0f}s;"
                    f" see {svc.main_log}:\n" + _proc.tail(svc.main_log, 15)
                )
        if pending:
            time.sleep(0.1)


def down(names: list[str] | None = None, settings: Settings | None = None) -> list[str]:
    """Stop the services this checkout started; returns the names that were stopped."""
    settings = settings or get_settings()
    stopped: list[str] = []
    with _locked(settings):
        chosen = list(reversed(services(names, settings, recorded=True)))
        # A cluster's nodes all at once: stopped one by one, the last ones lose their controller
        # quorum and wait out the timeout (then SIGKILL) for a controlled shutdown.
        pids = {svc.name: _proc.owned_pid(svc.pid_file, svc.marker) for svc in chosen}
        for svc in chosen:
            pid = pids[svc.name]
            if pid is not None and isinstance(svc, Kafka) and len(svc.nodes) > 1:
                _proc.terminate(pid)
        for svc in chosen:
            pid = pids[svc.name]
            if pid is None:
                svc.pid_file.unlink(missing_ok=True)
                if _state(svc).state == "external":
                    _say(f"{svc.name:<13}not started by this checkout: left running")
                continue
            t0 = time.monotonic()
            killed = _proc.stop(pid, svc.stop_timeout_s)
            svc.pid_file.unlink(missing_ok=True)
            how = "killed (SIGKILL after timeout)" if killed else "stopped"
            _say(f"{svc.name:<13}{how} in {time.monotonic() - t0:.1f}s (pid {pid})")
            stopped.append(svc.name)
        if not names or "kafka" in names:
            (settings.stack_dir / "run" / "kafka-brokers").unlink(missing_ok=True)
    return stopped


def reload(names: list[str] | None = None, settings: Settings | None = None) -> dict[str, str]:
    """Make running services re-read their configs (Prometheus rules, Alertmanager routes).

    ClickHouse re-reads users.xml by itself; Kafka needs a restart (down + up). Returns
    service -> error for the services that refused the new config (they keep the old one).
    """
    errors: dict[str, str] = {}
    for svc in services(names, settings, recorded=True):
        if _proc.owned_pid(svc.pid_file, svc.marker) is None:
            continue
        if type(svc).reload is Service.reload:
            continue  # nothing to reload on the fly
        err = svc.reload()
        if err:
            errors[svc.name] = err
        _say(f"{svc.name:<13}{err or 'config reloaded'}")
    return errors


def listeners_of(statuses: list[ServiceStatus]) -> list[_proc.Listener]:
    """Listening sockets of the running services' processes (and their children)."""
    family: set[int] = set()
    for st in statuses:
        if st.pid is not None and st.state != "stopped":
            family |= _proc.descendants(st.pid)
    return [lst for lst in _proc.listeners() if lst.pid in family]
