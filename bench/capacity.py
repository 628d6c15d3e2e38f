"""The capacity model of docs/scaling.md: workers, partitions and ClickHouse shards for a post
rate, and what a number of watched brands costs, from measured figures.

The figures are in ``bench/capacity.json`` (committed: value and where it was measured). The
``--update`` flag first refreshes them from ``bench/results/*.json`` where a benchmark wrote
them (pipeline.json: CPU per post and RSS; scaling.json: CPU per post of the 1/2/3-worker
run), then rewrites the file. It prints the markdown tables docs/scaling.md holds between its
``capacity:begin``/``capacity:end`` markers (``--doc`` rewrites them there);
tests/test_capacity.py checks the doc matches this output on the committed figures.

    python -m bench capacity [--update] [--doc]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INPUTS = Path(__file__).with_name("capacity.json")
RESULTS = Path(__file__).with_name("results")
DOC = ROOT / "docs" / "scaling.md"
BEGIN, END = "<!-- capacity:begin -->", "<!-- capacity:end -->"

RATES = (1_000, 10_000, 100_000, 1_000_000)
BRANDS = (100, 10_000, 1_000_000)
# Headroom: a worker at 70 % CPU absorbs a burst or a rebalance, a partition is planned at 70 %
# of what one producer pushed, a ClickHouse shard at 50 % leaves room for merges and queries.
WORKER_UTIL, PARTITION_UTIL, SHARD_UTIL = 0.7, 0.7, 0.5
BUSY_SHARE = 0.10  # brands with a full term table (a crisis, a launch) at any one time
BRAND_BUDGET_MB = 1024  # brand state one worker may hold beside its dedup index


def load(path: Path = INPUTS) -> dict[str, float]:
    return {k: float(v["value"]) for k, v in json.loads(path.read_text()).items()}


def update(path: Path = INPUTS, results: Path = RESULTS) -> list[str]:
    """Refresh figures from bench/results/*.json; returns what changed."""
    data: dict[str, Any] = json.loads(path.read_text())
    changed = []
    sources = {
        ("pipeline.json", "rate_cpu_us_per_post"): "worker_cpu_us_per_post",
        ("pipeline.json", "worker_peak_rss_mb"): "worker_rss_mb",
    }
    for (file, key), name in sources.items():
        f = results / file
        got = json.loads(f.read_text()) if f.exists() else {}
        if key in got and data[name]["value"] != got[key]:
            changed.append(f"{name}: {data[name]['value']} -> {got[key]}")
            data[name]["value"] = got[key]
    path.write_text(json.dumps(data, indent=2) + "\n")
    return changed


def worker_posts_per_s(f: dict[str, float]) -> float:
    return f["worker_cores"] * 1e6 / f["worker_cpu_us_per_post"] * WORKER_UTIL


def plan(rate: int, f: dict[str, float]) -> dict[str, Any]:
    """Counts for ``rate`` posts/s and the component closest to its limit (saturates first)."""
    per_worker = worker_posts_per_s(f)
    per_partition = f["kafka_posts_per_s_per_partition"] * PARTITION_UTIL
    per_shard = f["clickhouse_rows_per_s"] * SHARD_UTIL
    rows = rate * f["rows_per_post"]
    workers = math.ceil(rate / per_worker)
    partitions = max(workers, math.ceil(rate / per_partition))
    shards = math.ceil(rows / per_shard)
    load = {  # share of planned capacity in use at this rate
        "workers": rate / (workers * per_worker),
        "partitions": rate / (partitions * per_partition),
        "ClickHouse shards": rows / (shards * per_shard),
    }
    first = max(load, key=lambda k: (load[k], k))
    cores = workers * int(f["worker_cores"])
    return {"workers": workers, "partitions": partitions, "shards": shards, "cores": cores,
            "first": first, "load": load[first]}  # fmt: skip


def brands_plan(brands: int, f: dict[str, float]) -> dict[str, Any]:
    quiet_mb = brands * f["brand_scorer_bytes"] / 1e6
    busy_mb = brands * (f["brand_scorer_bytes"] + BUSY_SHARE * f["brand_terms_bytes_busy"]) / 1e6
    cores = brands * f["brand_minute_cpu_us"] / 1e6 / 60
    return {
        "quiet_mb": quiet_mb,
        "busy_mb": busy_mb,
        "workers": max(1, math.ceil(busy_mb / BRAND_BUDGET_MB)),
        "cores": cores,
        "minute_rows": brands / 60,
    }


def _n(x: float) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:,.1f}" if x >= 0.1 else f"{x:,.3f}"


def render(f: dict[str, float]) -> str:
    per_worker = worker_posts_per_s(f)
    lines = [
        f"Per unit (planned): a worker {_n(per_worker)} posts/s "
        f"({int(f['worker_cores'])} cores at {WORKER_UTIL:.0%}, "
        f"{f['worker_cpu_us_per_post']:g} µs CPU/post), a partition "
        f"{_n(f['kafka_posts_per_s_per_partition'] * PARTITION_UTIL)} posts/s, a ClickHouse "
        f"shard {_n(f['clickhouse_rows_per_s'] * SHARD_UTIL)} rows/s "
        f"({f['rows_per_post']:g} row/post); 2 replicas per shard.",
        "",
        "| posts/s | workers (cores) | partitions | ClickHouse shards (servers) "
        "| dedup index, all workers | saturates first (load) |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for rate in RATES:
        p = plan(rate, f)
        dedup_gb = p["workers"] * 100_000 * f["dedup_bytes_per_item"] / 1e9
        lines.append(
            f"| {rate:,} | {p['workers']:,} ({p['cores']:,}) | {p['partitions']:,} "
            f"| {p['shards']:,} ({2 * p['shards']:,}) | {dedup_gb:,.2f} GB "
            f"| {p['first']} ({p['load']:.0%}) |"
        )
    lines += [
        "",
        f"| watched brands | scorer state | with {BUSY_SHARE:.0%} busy term tables "
        f"| workers for that state ({BRAND_BUDGET_MB} MB each) | scorer CPU (cores) "
        "| brand_minutes rows/s (worst) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for brands in BRANDS:
        b = brands_plan(brands, f)
        lines.append(
            f"| {brands:,} | {_n(b['quiet_mb'])} MB | {_n(b['busy_mb'])} MB | {b['workers']:,} "
            f"| {_n(b['cores'])} | {_n(b['minute_rows'])} |"
        )
    return "\n".join(lines) + "\n"


def doc_table(doc: Path = DOC) -> str:
    text = doc.read_text()
    return text[text.index(BEGIN) + len(BEGIN) : text.index(END)].strip("\n") + "\n"


def write_doc(table: str, doc: Path = DOC) -> None:
    text = doc.read_text()
    head, tail = text[: text.index(BEGIN) + len(BEGIN)], text[text.index(END) :]
    doc.write_text(f"{head}\n{table}{tail}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench capacity", description=__doc__)
    ap.add_argument("--update", action="store_true", help="refresh figures from bench/results")
    ap.add_argument("--doc", action="store_true", help="rewrite the table in docs/scaling.md")
    args = ap.parse_args(argv or [])
    if args.update:
        for line in update():
            print(f"updated {line}")
    table = render(load())
    print(table, end="")
    if args.doc:
        write_doc(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
