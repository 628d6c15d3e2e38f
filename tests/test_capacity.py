"""docs/scaling.md's capacity tables are the output of bench/capacity.py on the committed figures,
and the model's arithmetic holds (more load never needs fewer units)."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path

from bench import capacity


def test_doc_tables_match_the_generator_on_the_committed_figures() -> None:
    assert capacity.doc_table() == capacity.render(capacity.load()), (
        "docs/scaling.md is stale: run `python -m bench capacity --doc`"
    )


def test_every_figure_says_where_it_was_measured() -> None:
    for name, item in json.loads(capacity.INPUTS.read_text()).items():
        assert item["value"] > 0 and len(item["source"]) > 20, name


def test_plans_grow_with_the_rate() -> None:
    figures = capacity.load()
    plans = [capacity.plan(rate, figures) for rate in capacity.RATES]
    for small, big in pairwise(plans):
        for key in ("workers", "partitions", "shards"):
            assert big[key] >= small[key]
    for p in plans:
        assert p["partitions"] >= p["workers"] and 0 < p["load"] <= 1


def test_update_reads_bench_results(tmp_path: Path) -> None:
    inputs = tmp_path / "capacity.json"
    inputs.write_text(capacity.INPUTS.read_text())
    results = tmp_path / "results"
    results.mkdir()
    (results / "pipeline.json").write_text(json.dumps({"rate_cpu_us_per_post": 201.15}))
    changed = capacity.update(inputs, results)
    assert any(c.startswith("worker_cpu_us_per_post") for c in changed)
    figures = capacity.load(inputs)
    assert figures["worker_cpu_us_per_post"] == 201.15
    # half the CPU per post: a worker carries twice the posts, so 1M posts/s needs fewer workers
    assert (capacity.plan(1_000_000, figures)["workers"]
            < capacity.plan(1_000_000, capacity.load())["workers"])  # fmt: skip
