"""deploy/kubernetes/: every object validates against the Kubernetes API schemas
(kubernetes-validate, strict: unknown fields are errors), and the manifests agree with the code
(settings that exist, the watchlist of deploy/, probes on the port the worker serves)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from crisis_radar.settings import PROJECT_ROOT, Settings

kv = pytest.importorskip("kubernetes_validate", reason="pip install -e '.[dev]'")

K8S = PROJECT_ROOT / "deploy" / "kubernetes"
VERSION = "1.30.0"  # the oldest release the manifests are meant for (autoscaling/v2, policy/v1)


def _objects() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name.endswith(".values.yaml"):  # Helm values, not an object
            continue
        out += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return out


def _errors(obj: dict[str, Any]) -> list[str]:
    try:
        kv.validate(obj, VERSION, strict=True)
    except kv.ValidationError as exc:
        return [f"{'.'.join(map(str, exc.path))}: {exc.message}"]
    return []


def _by_kind(kind: str) -> dict[str, Any]:
    [obj] = [o for _, o in _objects() if o["kind"] == kind]
    return obj


def test_every_object_validates() -> None:
    objects = _objects()
    kinds = sorted(o["kind"] for _, o in objects)
    assert kinds == sorted(
        ["ConfigMap", "ConfigMap", "Deployment", "HorizontalPodAutoscaler", "PodDisruptionBudget"]
    )
    bad = {f"{name}:{o['kind']}/{o['metadata']['name']}": _errors(o) for name, o in objects}
    assert not any(bad.values()), bad


@pytest.mark.parametrize(
    "breakage",
    ["replicas as text", "unknown field", "probe without handler", "hpa metric type"],
)
def test_a_broken_manifest_is_caught(breakage: str) -> None:
    """The validator is not a rubber stamp: each breakage is an error."""
    dep = copy.deepcopy(_by_kind("Deployment"))
    hpa = copy.deepcopy(_by_kind("HorizontalPodAutoscaler"))
    container = dep["spec"]["template"]["spec"]["containers"][0]
    obj = dep
    if breakage == "replicas as text":
        dep["spec"]["replicas"] = "three"
    elif breakage == "unknown field":
        container["livenesProbe"] = container.pop("livenessProbe")
    elif breakage == "probe without handler":
        container["readinessProbe"] = {"periodSeconds": "often"}
    else:
        hpa["spec"]["metrics"][0]["external"]["target"]["averageValue"] = {"lag": 1}
        obj = hpa
    assert _errors(obj), f"{breakage} passed validation"


def test_settings_in_the_configmap_exist() -> None:
    """Every CRISIS_RADAR_* variable is a setting (a typo would be silently ignored)."""
    data = _by_kind_named("ConfigMap", "crisis-radar-config")["data"]
    fields = {f"CRISIS_RADAR_{name.upper()}" for name in Settings.model_fields}
    assert set(data) - fields == set()
    # ...and they parse: the same validation the worker's start-up does.
    env = {k[len("CRISIS_RADAR_") :].lower(): v for k, v in data.items()}
    s = Settings(**env)
    assert (s.topic_replication_factor, s.topic_min_insync_replicas) == (3, 2)
    hpa = _by_kind("HorizontalPodAutoscaler")
    assert hpa["spec"]["maxReplicas"] <= s.topic_partitions, "workers beyond partitions idle"


def _by_kind_named(kind: str, name: str) -> dict[str, Any]:
    [obj] = [o for _, o in _objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def test_watchlist_configmap_is_deploys_watchlist() -> None:
    cm = _by_kind_named("ConfigMap", "crisis-radar-watchlist")
    assert cm["data"]["watchlist.yaml"] == (PROJECT_ROOT / "deploy" / "watchlist.yaml").read_text()


def test_probes_and_targets_line_up() -> None:
    dep = _by_kind("Deployment")
    config = _by_kind_named("ConfigMap", "crisis-radar-config")["data"]
    pod = dep["spec"]["template"]["spec"]
    [container] = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["metrics"] == int(config["CRISIS_RADAR_METRICS_PORT"])
    paths = {
        k: container[k]["httpGet"] for k in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert {p["port"] for p in paths.values()} == {"metrics"}
    assert {p["path"] for p in paths.values()} == {"/readyz", "/healthz"}  # streams/metrics.probe
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    for key in ("KAFKA_SASL_PASSWORD_FILE", "KAFKA_SSL_CAFILE", "CLICKHOUSE_PASSWORD_FILE",
                "WATCHLIST_PATH"):  # fmt: skip
        assert str(Path(config[f"CRISIS_RADAR_{key}"]).parent) in mounts, key
    selector = dep["spec"]["selector"]["matchLabels"]
    assert selector.items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert _by_kind("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    target = _by_kind("HorizontalPodAutoscaler")["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", dep["metadata"]["name"])
    adapter = yaml.safe_load((K8S / "prometheus-adapter.values.yaml").read_text())
    names = {r["name"]["as"] for r in adapter["rules"]["external"]}
    hpa_metrics = _by_kind("HorizontalPodAutoscaler")["spec"]["metrics"]
    assert {
        m["external"]["metric"]["name"] for m in hpa_metrics if m["type"] == "External"
    } <= names
