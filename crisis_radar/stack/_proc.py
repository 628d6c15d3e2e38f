"""Process and socket plumbing for the local stack: PID files, start/stop, who listens where."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Listener:
    host: str
    port: int
    pid: int | None


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()


def alive(pid: int) -> bool:
    """True for a live, non-zombie process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def owned_pid(pid_file: Path, marker: str) -> int | None:
    """PID from the file if that process is alive and still ours (guards against PID reuse)."""
    pid = read_pid(pid_file)
    if pid is None or not alive(pid) or marker not in cmdline(pid):
        return None
    return pid


def spawn(
    argv: list[str],
    log_file: Path,
    pid_file: Path,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    """Start a detached process (own session, so terminals' Ctrl-C and our exit do not reach it)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen(
            argv,
            stdin=devnull,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
    pid_file.write_text(f"{proc.pid}\n")
    return proc.pid


def _reap(pid: int) -> None:
    # Our own children (when stop() runs in the process that started them) would stay zombies.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _send(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # spawn() made it a session (and group) leader
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def terminate(pid: int) -> None:
    """SIGTERM the process group without waiting (``stop`` waits)."""
    _send(pid, signal.SIGTERM)


def stop(pid: int, timeout_s: float) -> bool:
    """SIGTERM the process group, SIGKILL after ``timeout_s``. True if it had to be killed."""

    def send(sig: signal.Signals) -> None:
        _send(pid, sig)

    send(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid):
            return False
        time.sleep(0.1)
    send(signal.SIGKILL)
    for _ in range(50):
        _reap(pid)
        if not alive(pid):
            break
        time.sleep(0.1)
    return True


def _socket_pids() -> dict[int, int]:
    """socket inode -> pid, for every process we may inspect."""
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    target = os.readlink(fd)
                    if target.startswith("socket:["):
                        out[int(target[8:-1])] = int(entry.name)
        except OSError:
            continue
    return out


def _decode_addr(hex_addr: str) -> tuple[str, int]:
    ip_hex, port_hex = hex_addr.split(":")
    raw = bytes.fromhex(ip_hex)
    if len(raw) == 4:
        host = socket.inet_ntop(socket.AF_INET, raw[::-1])
    else:  # IPv6: four little-endian 32-bit words
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        host = socket.inet_ntop(socket.AF_INET6, words)
    return host, int(port_hex, 16)


def listeners() -> list[Listener]:
    """Every listening TCP socket on the machine, with its owning PID when visible."""
    pids = _socket_pids()
    found: list[Listener] = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] != "0A":  # TCP_LISTEN
                continue
            host, port = _decode_addr(cols[1])
            found.append(Listener(host, port, pids.get(int(cols[9]))))
    return found


def descendants(pid: int) -> set[int]:
    """``pid`` and all its children, grandchildren... (by /proc/*/stat ppid)."""
    parent_of: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                parent_of[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    family, grew = {pid}, True
    while grew:
        new = {p for p, pp in parent_of.items() if pp in family and p not in family}
        family |= new
        grew = bool(new)
    return family


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default range is 32768-60999


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(
    n: int = 1, avoid: frozenset[int] | set[int] = frozenset(), step: int = 1
) -> int:
    """A base port p with p, p+step, .. p+(n-1)*step free now, below the kernel's ephemeral range.

    A port the kernel hands out as an outgoing connection's source (bind to port 0 gives those)
    can be taken by any client while its server is down: a cluster node stopped for a minute
    then cannot bind it again ("exited during start-up", seen in CI). Ports below the range
    are only ever taken by a listener that asks for them.
    """
    high = min(_ephemeral_low(), 65536) - (n - 1) * step - 1
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(20000, max(high, 20001))
        ports = range(base, base + n * step, step)
        if not avoid & set(ports) and all(_bindable(p) for p in ports):
            return base
    raise RuntimeError(f"no block of {n} free ports (step {step}) from 20000 to {high}")


def free_port() -> int:
    """A loopback TCP port nothing listens on now (for throw-away services and workers)."""
    return free_port_block(1)


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def http_get(url: str, timeout_s: float = 2.0, method: str = "GET") -> tuple[int, str]:
    """(status, body); status 0 when nothing answers."""
    try:
        req = urllib.request.Request(url, method=method)
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except (OSError, ValueError):
        return 0, ""


def tail(path: Path, lines: int) -> str:
    """Last ``lines`` lines of a (possibly large) log file."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 256 * 1024))
            data = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-lines:])
