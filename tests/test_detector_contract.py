"""River contract of every anomaly detector in ``detectors/``.

Every class in ``detectors/`` with a ``score_one`` that returns an anomaly score must be a River
``AnomalyDetector`` (or ``SupervisedAnomalyDetector``) and pass River's own estimator checks
(``river.checks.yield_checks``: repr, clone, parameters, pickling, purity of ``score_one``,
bounded memory, ROC AUC >= 0.5, ...), with River's generic data set swapped for a timed,
NAB-like stream these detectors understand. On top: same parameters give the same scores, and a
pickle taken mid-stream continues identically.

River's "emerging/disappearing features" checks are left out: our detectors score one named
value at a given time (``{"value", "t"[, "n"]}``), so a missing key is a caller bug, not a
feature that may come and go.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import math
import pickle
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from river import base, checks

from detectors.anomaly import MeanDetector, ShareDetector

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 2, tzinfo=UTC)

# Classes with a score_one that is not an anomaly score (say why).
NOT_ANOMALY_SCORERS = {
    "detectors.dedup.Deduplicator",  # score_one returns the near-duplicate cluster of a post
}
SKIPPED_RIVER_CHECKS = {
    "check_emerging_features",
    "check_disappearing_features",
    "check_radically_disappearing_features",
}

Stream = list[tuple[dict[str, Any], bool]]


def _discover() -> list[type]:
    found: dict[str, type] = {}
    for path in sorted((ROOT / "detectors").rglob("*.py")):
        mod = importlib.import_module(
            ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        )
        for _, cls in inspect.getmembers(mod, inspect.isclass):
            name = f"{cls.__module__}.{cls.__qualname__}"
            scores = callable(getattr(cls, "score_one", None))
            if (
                cls.__module__.startswith("detectors.")
                and scores
                and not inspect.isabstract(cls)
                and name not in NOT_ANOMALY_SCORERS
            ):
                found[name] = cls
    return [found[k] for k in sorted(found)]


DETECTORS = _discover()


def _value_stream(seed: int, n: int = 1200) -> Stream:
    """Counts every 5 minutes with a daily rhythm; a few labelled spikes."""
    rng = random.Random(seed)
    out: Stream = []
    for i in range(n):
        h = (i * 5 / 60.0) % 24
        mu = 6.0 + 4.0 * math.sin(2 * math.pi * h / 24)
        spike = i > 300 and i % 157 == 0
        lam = mu * (6.0 if spike else 1.0)
        # Poisson by inversion: seeded and dependency-free
        k, p, u = 0, math.exp(-lam), rng.random()
        c = p
        while u > c and k < 500:
            k += 1
            p *= lam / k
            c += p
        out.append(({"value": float(k), "t": T0 + timedelta(minutes=5 * i)}, spike))
    return out


def _share_stream(seed: int, n: int = 1200, sign: float = 1.0, base_v: float = 0.15) -> Stream:
    rng = random.Random(seed)
    out: Stream = []
    for i in range(n):
        posts = rng.randint(5, 60)
        bad = i > 300 and i % 131 == 0
        v = base_v + sign * (0.45 if bad else 0.0) + rng.gauss(0.0, 0.05)
        out.append(
            (
                {
                    "value": min(1.0, max(0.0, v)) if sign > 0 else v,
                    "n": posts,
                    "t": T0 + timedelta(minutes=i),
                },
                bad,
            )
        )
    return out


def _stream_for(cls: type) -> Callable[[int], Stream]:
    if issubclass(cls, MeanDetector):  # mean sentiment: a drop is the anomaly
        return functools.partial(_share_stream, sign=-1.0, base_v=0.1)
    if issubclass(cls, ShareDetector):
        return _share_stream
    return _value_stream


CASES = [(cls, params) for cls in DETECTORS for params in cls._unit_test_params()]


def _id(case: tuple[type, dict[str, Any]]) -> str:
    cls, params = case
    return cls.__name__ + ("" if not params else "-" + "-".join(map(str, params.values())))


def test_discovery_finds_the_detectors() -> None:
    names = {c.__name__ for c in DETECTORS}
    assert {"SeasonalDetector", "ShareDetector", "MeanDetector", "ValueDetector"} <= names


@pytest.mark.parametrize("cls", DETECTORS, ids=lambda c: c.__name__)
def test_is_a_river_anomaly_detector(cls: type) -> None:
    assert issubclass(cls, base.AnomalyDetector | base.SupervisedAnomalyDetector)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_river_checks(case: tuple[type, dict[str, Any]]) -> None:
    cls, params = case
    model = cls(**params)
    stream = _stream_for(cls)(0)
    ran = set()
    for check in checks.yield_checks(model):
        name = check.__name__
        if name in SKIPPED_RIVER_CHECKS:
            continue
        if isinstance(check, functools.partial) and "dataset" in check.keywords:
            check = functools.partial(check.func, dataset=stream)
        check(model.clone())
        ran.add(name)
    # the checks that matter here did run (a River upgrade that renames them must not pass
    # silently)
    assert {
        "check_clone_is_idempotent",
        "check_repr_roundtrips_clone",
        "check_pickling",
        "check_predict_one_pure",
        "check_get_params_matches_signature",
        "check_roc_auc",
        "check_bounded_memory_growth",
    } <= ran


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_clone_repr_and_same_scores(case: tuple[type, dict[str, Any]]) -> None:
    cls, params = case
    stream = _stream_for(cls)(1)
    a = cls(**params)
    for x, _ in stream[:200]:
        a.process_one(x)
    b = a.clone()  # fresh, same parameters
    assert repr(b) == repr(a) == repr(cls(**params))
    fresh = cls(**params)
    sb = [b.process_one(x) for x, _ in stream]
    assert sb == [fresh.process_one(x) for x, _ in stream]
    assert len(set(sb)) > 10, "scores never vary: the case tests nothing"
    assert all(0.0 <= s <= 1.0 for s in sb)


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_score_then_learn_and_pickle_mid_stream(case: tuple[type, dict[str, Any]]) -> None:
    cls, params = case
    stream = _stream_for(cls)(2)
    a, b = cls(**params), cls(**params)
    half = len(stream) // 2
    for x, _ in stream[:half]:
        s = a.score_one(x)
        assert s == a.score_one(x)  # scoring alone changes nothing
        a.learn_one(x)
        assert b.process_one(x) == s
    c = pickle.loads(pickle.dumps(a))
    rest = stream[half:]
    assert [a.process_one(x) for x, _ in rest] == [c.process_one(x) for x, _ in rest]


def test_old_pickles_get_their_parameters_back() -> None:
    """A BrandState pickled before the River API carries only the smoothing factors."""
    from detectors.anomaly import SeasonalDetector

    det = SeasonalDetector(kind="poisson", level_halflife=720.0)
    state = det.__getstate__()
    for k in ("level_halflife", "fast_halflife", "var_halflife"):
        del state[k]
    old = SeasonalDetector.__new__(SeasonalDetector)
    old.__setstate__(state)
    assert old.level_halflife == pytest.approx(720.0)
    assert old.fast_halflife == pytest.approx(30.0)
    assert old.kind == "poisson"
