"""deploy/upstream/*.patch: each applies cleanly to the installed faust-streaming, and the
patched Faust fixes on the real broker what our runtime patch fixes (the recovery stall of
tests/test_fetch_giveback.py), with no runtime patch applied. The gate then refuses our own
patch on the patched Faust (the upstream function it wraps has changed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import faust
import pytest

ROOT = Path(__file__).resolve().parent.parent
PATCHES = sorted((ROOT / "deploy" / "upstream").glob("*.patch"))


def _faust_copy(tmp: Path) -> Path:
    """A copy of the installed faust package dir, laid out as upstream's repository root."""
    shutil.copytree(
        Path(faust.__file__).parent, tmp / "faust", ignore=shutil.ignore_patterns("__pycache__")
    )
    return tmp


def _git_apply(tmp: Path, patch: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "apply", "-p1", "--verbose", *extra, str(patch)],
        cwd=tmp, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_there_are_upstream_patches() -> None:
    assert [p.name for p in PATCHES] == ["0001-aiokafka-give-back-undeliverable-records.patch"]
    readme = (ROOT / "deploy" / "upstream" / "README.md").read_text()
    assert all(p.name in readme for p in PATCHES)


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name[:4])
def test_patch_applies_cleanly_to_the_installed_faust(tmp_path: Path, patch: Path) -> None:
    done = _git_apply(_faust_copy(tmp_path), patch, "--check")  # git apply allows no fuzz
    assert done.returncode == 0, done.stderr


def test_patched_faust_gives_back_the_changelog_records(
    stack: Any, topic_prefix: str, tmp_path: Path
) -> None:
    src = _faust_copy(tmp_path)
    done = _git_apply(src, PATCHES[0])
    assert done.returncode == 0, done.stderr
    code = f"""
import asyncio, faust, sys
assert faust.__file__.startswith({str(src)!r}), faust.__file__
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
import test_fetch_giveback as t
from streams.faust_runtime import FaustPatchError, fetch_giveback, gate
import logging, types
cls = AIOKafkaConsumerThread
async def fetch(thread, consumer, active, timeout=None, max_records=None):
    # the test's stand-in for the consumer thread gets the patched methods it calls
    thread._give_back_undeliverable = types.MethodType(cls._give_back_undeliverable, thread)
    thread.log = logging.getLogger("cthread")
    return await cls._fetch_records(thread, consumer, active, timeout, max_records)
drained, position, after = asyncio.run(t._recovery_during_fetch(
    {stack.kafka_bootstrap!r}, {topic_prefix + "up"!r}, fetch))
assert drained == {{}} and position == 0, (drained, position)
assert after == list(range(t.N)), after
try:
    gate.check(fetch_giveback.PATCH)
except FaustPatchError as exc:
    print(exc)
else:
    sys.exit("the gate let fetch_giveback wrap an already fixed _fetch_records")
"""
    path = os.pathsep.join([str(src), str(ROOT / "tests"), str(ROOT)])
    env = dict(os.environ, PYTHONPATH=path)
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "AIOKafkaConsumerThread._fetch_records differs from the source" in run.stdout
