"""Contract every detector keeps: deterministic under a seed, picklable mid-stream, pure.

To add a detector, append a :class:`Case` to ``CASES``: ``make(seed)`` builds a fresh detector,
``inputs(seed)`` a deterministic input stream, ``step(detector, x)`` feeds one input and returns
a comparable output (e.g. the result of ``process_one`` or ``score_one`` after ``learn_one``).
"""

from __future__ import annotations

import ast
import pickle
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from detectors.brands import BrandMatcher, Watchlist
from detectors.dedup import Deduplicator
from detectors.sentiment import SentimentModel

ROOT = Path(__file__).resolve().parents[1]
BANNED = ("faust", "kafka", "aiokafka", "clickhouse_driver", "mode")


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[int], Any]
    inputs: Callable[[int], list[Any]]
    step: Callable[[Any, Any], Any]


def _posts(seed: int, n: int = 400) -> list[tuple[str, str, float, str | None, str]]:
    """Posts with copies, edits and reposts: (text, author, ts, repost_of, post_id)."""
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(300)] + ["acme", "#acmefail", "@acmehelp", "apple", "pie"]
    out: list[tuple[str, str, float, str | None, str]] = []
    for i in range(n):
        if out and rng.random() < 0.4:
            text, _, _, _, pid = rng.choice(out)
            if rng.random() < 0.5:
                text += f" {rng.choice(words)}"
            repost = pid if rng.random() < 0.3 else None
        else:
            text, repost = " ".join(rng.choices(words, k=rng.randint(3, 20))), None
        out.append((text, f"a{rng.randrange(50)}", i * 7.0, repost, f"p{i}"))
    return out


_WATCHLIST = Watchlist.from_dict(
    [
        {"id": "acme", "keywords": ["acme"], "hashtags": ["acmefail"], "handles": ["acmehelp"]},
        {"id": "apple", "keywords": ["apple"], "exclude": ["apple pie"], "languages": ["en"]},
    ]
)

CASES: list[Case] = [
    Case(
        "dedup",
        make=lambda seed: Deduplicator(seed=seed, horizon_s=600, max_items=200, n_buckets=4),
        inputs=_posts,
        step=lambda d, p: d.process_one(p[0], p[1], p[2], p[3], post_id=p[4]),
    ),
    Case(
        "brands",
        make=lambda seed: BrandMatcher(_WATCHLIST),
        inputs=_posts,
        step=lambda m, p: m.match(p[0], lang="en" if p[2] % 2 else "de"),
    ),
    Case(
        "sentiment",
        make=lambda seed: SentimentModel.load_default(),
        inputs=_posts,
        step=lambda m, p: m.predict_one(p[0]),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_same_seed_same_outputs(case: Case) -> None:
    xs = case.inputs(1)
    a, b = case.make(42), case.make(42)
    out_a = [case.step(a, x) for x in xs]
    assert out_a == [case.step(b, x) for x in xs]
    assert len({repr(o) for o in out_a}) > 1, "outputs never vary: the case tests nothing"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_pickle_round_trip_mid_stream(case: Case) -> None:
    xs = case.inputs(2)
    det = case.make(7)
    half = len(xs) // 2
    for x in xs[:half]:
        case.step(det, x)
    clone = pickle.loads(pickle.dumps(det))
    assert [case.step(det, x) for x in xs[half:]] == [case.step(clone, x) for x in xs[half:]]


def _detector_modules() -> list[Path]:
    return sorted((ROOT / "detectors").rglob("*.py"))


def test_detectors_import_no_infrastructure() -> None:
    """Importing every detectors module in a fresh interpreter loads no Kafka/Faust/ClickHouse."""
    mods = [
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in _detector_modules()
    ]
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {BANNED!r})\n"
        "print(','.join(bad))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "", f"detectors pulled in: {res.stdout.strip()}"


@pytest.mark.parametrize("path", _detector_modules(), ids=lambda p: p.name)
def test_no_infrastructure_imports_in_source(path: Path) -> None:
    """Also catches imports hidden inside functions, which the import test cannot see."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in BANNED, f"{path.name}:{node.lineno} imports {name}"
