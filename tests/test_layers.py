"""The import rules of docs/architecture.md "Layers", read from the source (every import, also
those inside functions): ``streams`` never imports ``crisis_radar`` (the application layer
imports the worker, not the other way round), ``radar_base`` imports neither, and
``detectors`` stays pure (no streams, no application, no Kafka/Faust/ClickHouse client)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = {
    "streams": {"crisis_radar"},
    "radar_base": {"crisis_radar", "streams"},
    "detectors": {
        "streams",
        "crisis_radar",
        "radar_base",
        "faust",
        "mode",
        "kafka",
        "aiokafka",
        "clickhouse_driver",
    },
}


def imported(path: Path) -> set[str]:
    """Top-level names of every module ``path`` imports (absolute imports; relative ones stay
    inside their package)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def violations(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        hits = imported(path) & FORBIDDEN[package]
        if hits:
            bad.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(hits))}")
    return bad


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports(package: str) -> None:
    assert (ROOT / package / "__init__.py").exists()
    assert violations(package) == []


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("def f():\n    from crisis_radar.settings import get_settings\n")
    assert imported(src) == {"crisis_radar"}


def test_importing_the_app_reads_no_settings(tmp_path: Path) -> None:
    """``streams.app`` is a factory (``build_worker``): importing it reads no settings (a
    broken setting does not fail the import) and creates no directory."""
    stack = tmp_path / "stack"
    env = dict(os.environ)
    env.update(CRISIS_RADAR_STACK_DIR=str(stack), CRISIS_RADAR_TOPIC_PARTITIONS="not a number")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    code = "import streams.app, streams.worker, sys; print(sorted(m for m in sys.modules if m.startswith('crisis_radar')))"  # noqa: E501
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"  # nor does it pull in the application layer
    assert not stack.exists()
