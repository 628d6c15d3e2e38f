"""Progress output suits where it goes (issue 19): a real command (``crisis-radar simulate``) in a
subprocess, its stderr once a pipe (a log: a few plain lines, no ``\\r`` redraws) and once a
pseudo-terminal (tqdm's bar, redrawn in place)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Two simulated days of three brands: thousands of bar updates (one per simulated minute).
SIMULATE = ["simulate", "--days", "2", "--brands", "telvana,orbitel,nexa", "--seed", "0"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env.pop("TQDM_DISABLE", None)
    return env


def _cmd(out: Path) -> list[str]:
    return [sys.executable, "-m", "crisis_radar.cli", *SIMULATE, "--out", str(out)]


def test_progress_in_a_log_is_a_few_plain_lines(tmp_path: Path) -> None:
    done = subprocess.run(
        _cmd(tmp_path / "posts.jsonl"), env=_env(), capture_output=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    err = done.stderr.decode()
    assert "\r" not in err and "\x1b" not in err  # no redraws, no cursor moves
    bar_lines = [line for line in err.splitlines() if line.startswith("simulate:")]
    # A line every 10 s or tenth of the way, first and last: at most 12 for a run under 10 s.
    assert 2 <= len(bar_lines) <= 12 + 2, err
    assert bar_lines[0].startswith("simulate:   0% 0/2880")
    assert bar_lines[-1].startswith("simulate: 100% 2880/2880")
    assert len(err.splitlines()) <= len(bar_lines) + 2  # plus the summary line
    assert (tmp_path / "posts.jsonl").stat().st_size > 0


def test_progress_on_a_terminal_is_redrawn_in_place(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    # A new pty is 0 columns wide: tqdm would fit its bar into nothing.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        _cmd(tmp_path / "posts.jsonl"), env=_env(), stdin=subprocess.DEVNULL, stdout=slave,
        stderr=slave,
    )  # fmt: skip
    os.close(slave)
    chunks = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer of the terminal is gone
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        assert proc.wait(timeout=300) == 0, b"".join(chunks)[-2000:]
    out = b"".join(chunks).decode()
    assert out.count("\r") >= 2  # tqdm: each redraw starts with \r
    assert "simulate: 100%|" in out  # tqdm's bar, not the log line
