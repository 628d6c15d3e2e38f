"""Language identification: accuracy on the UMSAB validation texts and speed on one core.

    .venv/bin/python -m bench.language                 # all 8 x 323 validation texts
    .venv/bin/python -m bench.language --repeat 20     # speed over 20 passes

The language of a UMSAB text is its folder's. Speed is posts per CPU-second
(``time.process_time``) of ``detectors.language.identify`` (no platform tag), the model already
loaded; the first pass over the texts (the accuracy pass) is timed too: the identifier caches
per word and per character, and later passes find those caches warm. Without the shared data,
the shipped sample (tests/samples/languages.tsv) is used. Writes bench/results/language.json.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path

from bench import save
from detectors.language import identify

DATA = Path("/work/shared/data/sentiment-multi")
SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "samples" / "languages.tsv"
FOLDERS = {
    "arabic": "ar", "english": "en", "french": "fr", "german": "de",
    "hindi": "hi", "italian": "it", "portuguese": "pt", "spanish": "es",
}  # fmt: skip


def _texts() -> tuple[list[tuple[str, str]], str]:
    """(language, text) pairs: UMSAB validation splits (never test), else the shipped sample."""
    pairs = [
        (code, line)
        for folder, code in FOLDERS.items()
        if (DATA / folder / "val_text.txt").is_file()
        for line in (DATA / folder / "val_text.txt").read_text("utf-8").splitlines()
    ]
    if pairs:
        return pairs, "UMSAB validation splits"
    rows = [ln.split("\t", 1) for ln in SAMPLE.read_text("utf-8").splitlines()]
    return [(r[0], r[1]) for r in rows if len(r) == 2 and not r[0].startswith("#")], str(SAMPLE)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.language", description=__doc__)
    ap.add_argument("--repeat", type=int, default=5, help="passes for the speed figure")
    args = ap.parse_args(argv)

    pairs, source = _texts()
    identify("warm up: load the model")
    c0 = time.process_time()
    preds = [identify(t) for _, t in pairs]  # first pass: word caches cold (docs/languages.md)
    first = len(pairs) / max(time.process_time() - c0, 1e-9)
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    confused: Counter[tuple[str, str]] = Counter()
    for (gold, _), pred in zip(pairs, preds, strict=True):
        totals[gold] += 1
        hits[gold] += pred == gold
        if pred != gold:
            confused[(gold, pred)] += 1
    per_lang = {lang: round(hits[lang] / totals[lang], 4) for lang in sorted(totals)}
    overall = sum(hits.values()) / len(pairs)

    texts = [t for _, t in pairs]
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(max(1, args.repeat)):
        for t in texts:
            identify(t)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    n = len(texts) * max(1, args.repeat)
    rate = n / cpu if cpu else float("inf")

    print(f"language id on {len(pairs)} texts ({source})")
    for lang, acc in per_lang.items():
        print(f"  {lang}: {acc:.1%} of {totals[lang]}")
    without_hi = [lang for lang in per_lang if lang != "hi"]
    mean7 = sum(per_lang[x] for x in without_hi) / len(without_hi) if without_hi else 0.0
    print(f"  overall: {overall:.1%}   (without hi: {mean7:.1%})")
    print("  most confused (gold -> said): "
          + ", ".join(f"{g}->{p} {c}" for (g, p), c in confused.most_common(8)))  # fmt: skip
    print(f"speed: {rate:,.0f} posts per CPU-second ({n / wall:,.0f}/s wall), one core; "
          f"first pass (caches cold) {first:,.0f}")  # fmt: skip
    path = save(
        "language",
        {
            "source": source,
            "texts": len(pairs),
            "accuracy": round(overall, 4),
            "accuracy_per_language": per_lang,
            "accuracy_without_hi": round(mean7, 4),
            "confused": {f"{g}->{p}": c for (g, p), c in confused.most_common(20)},
            "posts_per_cpu_s": round(rate),
            "posts_per_cpu_s_first_pass": round(first),
            "posts_per_wall_s": round(n / wall),
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
