"""How often the plain-English shortcut of detectors.language fires, and where the full path
(the model, the second opinion, the Hinglish classifier) would have said something else.

Training corpora only: the UMSAB training splits and the SemEval train/dev tweets.

    .venv/bin/python scripts/check_plain_english.py
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from detectors import language

DATA = Path("/work/shared/data")
UMSAB = ["arabic", "german", "english", "spanish", "french", "hindi", "italian", "portuguese"]


def corpora(data: Path) -> dict[str, list[str]]:
    out = {
        f"umsab-{lang}": (data / "sentiment-multi" / lang / "train_text.txt")
        .read_text("utf-8")
        .split("\n")
        for lang in UMSAB
    }
    sem: list[str] = []
    for f in sorted((data / "sentiment").glob("twitter-201*train*.tsv")) + sorted(
        (data / "sentiment").glob("twitter-2013dev*.tsv")
    ):
        for line in f.read_text("utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3:
                sem.append(parts[-1])
    out["semeval-train"] = sem
    return {k: [t for t in v if t] for k, v in out.items()}


def main() -> int:
    data = Path(sys.argv[1]) if len(sys.argv) > 1 else DATA
    surely_english = language._surely_english  # the rule; identify() below runs without it
    with mock.patch.object(language, "_surely_english", lambda tokens: False):
        for name, texts in corpora(data).items():
            fired, differ = 0, Counter[str]()
            for t in texts:
                words = language.clean(t)
                tokens = words.lower().split()
                # identify's order: ASCII Latin text the Hindi word lists do not claim
                if not (words.isascii() and tokens) or language._romanised_hindi(tokens):
                    continue
                if not surely_english(tokens):
                    continue
                fired += 1
                said = language.identify(t)  # the path without the shortcut
                if said != "en":
                    differ[said] += 1
            share = 100 * fired / len(texts)
            print(f"{name:18s} {len(texts):6d} texts  fires {share:5.1f} %  full path differs:"
                  f" {sum(differ.values())} {dict(differ)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
