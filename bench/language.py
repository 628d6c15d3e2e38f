"""Language identification: accuracy on the UMSAB validation texts and speed on one core.

    .venv/bin/python -m bench.language                 # all 8 x 323 validation texts
    .venv/bin/python -m bench.language --repeat 20     # speed over 20 passes

The language of a UMSAB text is its folder's. Speed is posts per CPU-second
(``time.process_time``) of ``detectors.language.identify`` (no platform tag), the model already
loaded; the first pass over the texts (the accuracy pass) is timed too: the identifier caches
per word and per character, and later passes find those caches warm. Without the shared data,
the shipped sample (tests/samples/languages.tsv) is used. Writes bench/results/language.json.

It also counts the Hindi validation texts that hold no Hindi at all (``hindi_ceiling``): no
Devanagari, no word of the identifier's romanised-Hindi lists, and every word (as identify()
cuts them) in an English vocabulary: the words in at least 2 of the English training tweets
on disk (UMSAB english/train_text.txt and the SemEval twitter-*.tsv files), with at most one
unknown word in a text of 4 or more words (a name, a typo). An identifier that does not call
English text Hindi cannot get those right, which bounds its Hindi and overall accuracy
(docs/languages.md, "The Hindi ceiling").
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from pathlib import Path

from bench import save
from detectors.hinglish import LEARNED as _LEARNED
from detectors.language import _HI_WORDS, clean, identify

DATA = Path("/work/shared/data/sentiment-multi")
ENGLISH = Path("/work/shared/data/sentiment")  # SemEval English tweets (word list only)
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


_DEVANAGARI = re.compile("[\u0900-\u097f]")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")  # SemEval texts carry escaped unicode


def english_vocabulary(min_docs: int = 2) -> frozenset[str]:
    """Words (identify()'s cut, lower case) in at least ``min_docs`` English training tweets."""
    texts = (DATA / "english" / "train_text.txt").read_text("utf-8").splitlines()
    for path in sorted(ENGLISH.glob("twitter-*.tsv")):
        for line in path.read_text("utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3:
                texts.append(_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), parts[-1]))
    docs: Counter[str] = Counter()
    for text in texts:
        docs.update(set(clean(text).lower().split()))
    return frozenset(w for w, n in docs.items() if n >= min_docs)


def hindi_kind(text: str, vocabulary: frozenset[str]) -> str:
    """What a Hindi-folder text holds: "devanagari", "hindi word" (a listed romanised-Hindi
    word), "no words", "english" (every word English), "english but one" (one unknown word
    among 4 or more) or "other" (unknown words: romanised Hindi the lists miss, names)."""
    if _DEVANAGARI.search(text):
        return "devanagari"
    words = clean(text).lower().split()
    if not words:
        return "no words"
    if not (_HI_WORDS.isdisjoint(words) and _LEARNED.isdisjoint(words)):
        return "hindi word"
    unknown = sum(w not in vocabulary for w in words)
    if unknown == 0:
        return "english"
    return "english but one" if unknown == 1 and len(words) >= 4 else "other"


def hindi_ceiling(pairs: list[tuple[str, str]], preds: list[str]) -> dict[str, object]:
    """The Hindi texts with no Hindi word, and the best accuracy without calling them Hindi."""
    vocabulary = english_vocabulary()
    kinds = Counter(hindi_kind(t, vocabulary) for lang, t in pairs if lang == "hi")
    no_hindi = kinds["english"] + kinds["english but one"] + kinds["no words"]
    n_hi = sum(kinds.values())
    others = [(g, p) for (g, _), p in zip(pairs, preds, strict=True) if g != "hi"]
    others_right = sum(g == p for g, p in others)
    return {
        "hi_texts": n_hi,
        "kinds": dict(kinds),
        "hi_texts_no_hindi_word": no_hindi,
        "best_hi": round((n_hi - no_hindi) / n_hi, 4),
        "best_overall_others_as_measured": round((others_right + n_hi - no_hindi) / len(pairs), 4),
        "best_overall_others_perfect": round((len(others) + n_hi - no_hindi) / len(pairs), 4),
    }


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
    ceiling = hindi_ceiling(pairs, preds) if source.startswith("UMSAB") else None
    if ceiling:
        kinds = ceiling["kinds"]
        assert isinstance(kinds, dict)
        print(f"  hi texts with no Hindi word: {ceiling['hi_texts_no_hindi_word']} of "
              f"{ceiling['hi_texts']} (all words English {kinds.get('english', 0)}, all but one "
              f"{kinds.get('english but one', 0)}, no words {kinds.get('no words', 0)}); "
              f"best hi without calling them Hindi {ceiling['best_hi']:.1%}, best overall "
              f"{ceiling['best_overall_others_as_measured']:.1%} (other languages as measured), "
              f"{ceiling['best_overall_others_perfect']:.1%} (all perfect)")  # fmt: skip
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
            "hindi_ceiling": ceiling,
        },
    )
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
