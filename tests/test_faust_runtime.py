"""streams/faust_runtime's gate: a patch applies only to the faust-streaming and aiokafka versions
and the private code it was written for, and says so in one line naming the switch."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from streams import faust_runtime
from streams.faust_runtime import (
    PATCHES,
    FaustPatchError,
    fetch_giveback,
    gate,
    offset_order_guard,
    stall_watchdog,
)

ROOT = Path(__file__).resolve().parent.parent
BY_NAME = {p.name: p for p in PATCHES}


def test_every_patch_passes_the_gate_on_the_installed_versions() -> None:
    assert [p.name for p in PATCHES] == [
        "direct_delivery", "raw_topic_handler", "offset_order_guard", "stall_watchdog",
        "fetch_giveback",
    ]  # fmt: skip
    for p in PATCHES:
        assert p.written_for == {
            "faust-streaming": gate.installed_version("faust-streaming"),
            "aiokafka": gate.installed_version("aiokafka"),
        }
        gate.check(p)  # raises if a name or a mirrored upstream function changed


@pytest.mark.parametrize(
    ("dist", "patch", "env"),
    [
        ("faust-streaming", "direct_delivery", "CRISIS_RADAR_FAUST_FASTPATH"),
        ("faust-streaming", "offset_order_guard", "CRISIS_RADAR_FAUST_SEEK_FIX"),
        ("aiokafka", "fetch_giveback", "CRISIS_RADAR_FAUST_SEEK_FIX"),
        ("aiokafka", "raw_topic_handler", "CRISIS_RADAR_FAUST_FASTPATH"),
    ],
)
def test_another_version_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, dist: str, patch: str, env: str
) -> None:
    real = gate.installed_version
    monkeypatch.setattr(gate, "installed_version", lambda d: "9.1.0" if d == dist else real(d))
    with pytest.raises(FaustPatchError) as err:
        gate.check(BY_NAME[patch])
    msg = str(err.value)
    want = BY_NAME[patch].written_for[dist]
    assert msg == (
        f"Faust patch {patch}: written for {dist} {want}, installed is {dist} 9.1.0; "
        f"set {env}=0 to run without it (docs/faust-runtime.md)"
    )


def test_a_missing_private_name_is_refused() -> None:
    assert gate.exists("faust.transport.consumer:Consumer._drain_messages")
    assert gate.exists("faust.transport.consumer:Consumer#_read_offset")  # set in __init__
    assert gate.exists("faust.transport.consumer:Consumer#_n_acked")  # class annotation
    assert not gate.exists("faust.transport.consumer:Consumer._no_such_method")
    assert not gate.exists("faust.transport.consumer:Consumer#_no_such_attr")
    assert not gate.exists("faust.transport.no_such_module:Consumer.seek")
    broken = gate.Patch(
        name="demo",
        switch="faust_seek_fix",
        written_for={},
        touches=("faust.transport.consumer:Consumer#_no_such_attr",),
        install=lambda: None,
    )
    with pytest.raises(FaustPatchError, match=r"^Faust patch demo: faust.transport.consumer:"
                       r"Consumer#_no_such_attr not found in the installed code; set "
                       r"CRISIS_RADAR_FAUST_SEEK_FIX=0"):  # fmt: skip
        gate.check(broken)


def test_changed_upstream_source_is_refused() -> None:
    """The digest is read from the installed file, so it is Faust's text even after a patch
    replaced the method in memory."""
    spec = "faust.transport.consumer:Consumer._drain_messages"
    assert gate.source_digest(spec) == BY_NAME["direct_delivery"].mirrors[spec]  # type: ignore[index]
    changed = gate.Patch(
        name="demo", switch="faust_fastpath", written_for={}, touches=(),
        mirrors={spec: "0" * 16}, install=lambda: None,
    )  # fmt: skip
    with pytest.raises(FaustPatchError, match="differs from the source it was written from"):
        gate.check(changed)


def test_a_refused_gate_patches_nothing(stack: Any, settings: Any) -> None:
    """A worker on another Faust version exits 2 with the one line, before patching anything
    (a fresh process: patches applied here cannot be taken back). Its database is migrated:
    the worker checks the schema before it builds the app."""
    from crisis_radar.clickhouse import migrate

    migrate(settings)
    code = (
        "import sys\n"
        "from faust.transport.consumer import Consumer\n"
        "from streams.faust_runtime import gate\n"
        "before = Consumer._drain_messages, Consumer.getmany\n"
        "gate.installed_version = lambda d: '0.16.0' if d == 'faust-streaming' else '0.14.0'\n"
        "from streams.worker import main\n"
        "rc = main(['--metrics-port', '0'])\n"
        "assert (Consumer._drain_messages, Consumer.getmany) == before, 'patched anyway'\n"
        "sys.exit(rc)\n"
    )
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, CRISIS_RADAR_TOPIC_PREFIX=settings.topic_prefix,
               CRISIS_RADAR_CLICKHOUSE_DATABASE=settings.clickhouse_database,
               CRISIS_RADAR_KAFKA_BOOTSTRAP=stack.kafka_bootstrap, PYTHONPATH=path)  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert lines == [
        "crisis-radar worker: Faust patch direct_delivery: written for faust-streaming 0.15.3, "
        "installed is faust-streaming 0.16.0; set CRISIS_RADAR_FAUST_FASTPATH=0 to run without "
        "it (docs/faust-runtime.md)"
    ], done.stderr[-2000:]


def test_switches_select_the_patches() -> None:
    class S:
        faust_fastpath, faust_seek_fix = True, False

    assert [p.name for p in faust_runtime.enabled(S)] == ["direct_delivery", "raw_topic_handler"]
    S.faust_fastpath, S.faust_seek_fix = False, True
    assert [p.name for p in faust_runtime.enabled(S)] == [
        "offset_order_guard", "stall_watchdog", "fetch_giveback"
    ]  # fmt: skip
    for p in PATCHES:  # every switch is a real setting, and every requirement shares it
        from radar_base.settings import Settings

        assert p.switch in Settings.model_fields
        assert all(BY_NAME[r].switch == p.switch for r in p.requires)


@pytest.mark.parametrize("module", [offset_order_guard, stall_watchdog, fetch_giveback])
def test_bookkeeping_examples(module: Any) -> None:
    """The doctests of the pure bookkeeping (streams/ is outside pytest's doctest paths)."""
    failed, tried = doctest.testmod(module)
    assert tried > 0 and failed == 0
