"""Train the per-language sentiment models (reproducible: fixed seeds, deterministic file).

    .venv/bin/python scripts/train_sentiment_multi.py [--data /work/shared/data/sentiment-multi]
        [--mode per|joint] [--out PATH]
    .venv/bin/python scripts/train_sentiment_multi.py --mean-nb --c 1 3 10   # the shipped file

Languages: the UMSAB folders other than English (ar de es fr hi it pt; English keeps the
SemEval-trained model of scripts/train_sentiment.py: UMSAB's English train split is 78 % TweetEval
validation tweets, so adding it would make the English validation figure dishonest).

``--mode per`` (the shipped model): one logistic regression per language on its 1,838 UMSAB
training tweets. ``--mode joint`` (measured, not shipped; docs/sentiment-languages.md): one
model over all seven languages plus the 48.6k English SemEval tweets, every feature twice,
shared and tagged with the post's language (feature augmentation, Daume III 2007); it ships a
shared table and per-language tables. Both score the same way at run time.

``--nb`` (measured, not shipped: better in cross-validation, worse on validation; see
docs/sentiment-languages.md) scales the features per class the naive-Bayes way (NBSVM,
``NBLogistic``), folded into the exported weights: same file format and run-time arithmetic.
``--mean-nb`` exports the mean of the plain and the NB-scaled weight tables (``MeanOfTables``),
again one linear model in the same format; see docs/sentiment-languages.md for whether it ships.
C is chosen by stratified 4-fold cross-validation on the training splits (mean of the per-language
macro F1), then per-language negative/positive logit offsets for macro F1 on the same
out-of-fold logits; validation splits are scored once, with the saved (pruned, float16) file.

``--char-weight`` and ``--dense-weight`` are grids of block weights (the char n-gram block
against the word block, stored in the file's meta and applied at run time; the dense block,
folded into the exported dense weights). One value of each is shared by all languages: the pair
with the best mean over the languages of the cross-validated macro F1 (with offsets, each
language at its own best C), so a setting is never chosen on a language's noise alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold
from sklearn.multiclass import OneVsRestClassifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from detectors.sentiment_multi import CHAR_WEIGHT, DENSE_NAMES, MODEL_PATH, features
from scripts.train_sentiment import _key, load_train, load_val, save

SEED = 0
FOLDERS = {
    "arabic": "ar", "german": "de", "spanish": "es", "french": "fr", "hindi": "hi",
    "italian": "it", "portuguese": "pt",
}  # fmt: skip
_Feats = tuple[list[str], list[str], list[float]]


def read_split(data: Path, folder: str, split: str) -> tuple[list[str], list[int]]:
    # split("\n"), not splitlines(): tweets may hold U+2028 and other line-like characters
    texts = (data / folder / f"{split}_text.txt").read_text("utf-8").rstrip("\n").split("\n")
    labels = [int(x) for x in (data / folder / f"{split}_labels.txt").read_text().split()]
    if len(texts) != len(labels):
        raise ValueError(f"{folder}/{split}: {len(texts)} texts, {len(labels)} labels")
    return texts, labels


def english_tweets(data: Path) -> tuple[list[str], list[int]]:
    """SemEval tweets as scripts/train_sentiment.py keeps them: minus TweetEval validation
    texts (UMSAB's English splits are drawn from it) and duplicates."""
    texts, labels = load_train(data)
    vkeys = {_key(t) for t in load_val(data)[0]}
    seen: set[str] = set()
    out_t, out_y = [], []
    for t, k in zip(texts, labels, strict=True):
        key = _key(t)
        if key not in vkeys and key not in seen:
            seen.add(key)
            out_t.append(t)
            out_y.append(k)
    return out_t, out_y


def prefixes(lang: str, joint: bool) -> tuple[str, ...]:
    return ("", lang + "|") if joint else (lang + "|",)


def build_vocab(feats: list[_Feats], langs: list[str], joint: bool, min_df: int) -> dict[str, int]:
    df: Counter[str] = Counter()
    for (w, c, _), lang in zip(feats, langs, strict=True):
        names = set(w) | set(c)
        for p in prefixes(lang, joint):
            df.update(p + n for n in names)
    keep = sorted(k for k, v in df.items() if v >= min_df)
    return {k: i for i, k in enumerate(keep)}


def matrix(
    feats: list[_Feats],
    langs: list[str],
    vocab: dict[str, int],
    joint: bool,
    cw: float = CHAR_WEIGHT,
    dw: float = 1.0,
) -> sparse.csr_matrix:
    """Same arithmetic as LangModel.logits_one: block-normalised counts (char block times
    ``cw``) + dense features times ``dw`` (folded into the exported dense weights; the dense
    block is language-tagged too in joint mode)."""
    nv = len(vocab)
    nd = len(DENSE_NAMES)
    lang_ids = sorted(set(langs))
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for r, ((w, c, dense), lang) in enumerate(zip(feats, langs, strict=True)):
        for names, scale in ((w, 1.0), (c, cw)):
            if not names:
                continue
            v = scale / np.sqrt(len(names))  # all names, so pruning keeps the scale
            for p in prefixes(lang, joint):
                for n in names:
                    j = vocab.get(p + n)
                    if j is not None:
                        rows.append(r)
                        cols.append(j)
                        vals.append(v)
        blocks = [0, 1 + lang_ids.index(lang)] if joint else [0]
        for b in blocks:
            rows += [r] * nd
            cols += range(nv + b * nd, nv + (b + 1) * nd)
            vals += [dw * v for v in dense]
    ncol = nv + nd * (1 + len(lang_ids) if joint else 1)
    return sparse.csr_matrix((vals, (rows, cols)), shape=(len(feats), ncol), dtype=np.float64)


class _Binary:
    """One class's fitted scorer in the original feature space (coef_ already times r)."""

    def __init__(self, coef: np.ndarray, intercept: float) -> None:
        self.coef_ = coef.reshape(1, -1)
        self.intercept_ = np.array([intercept])


def _logistic(c: float) -> LogisticRegression:
    """The one logistic regression every fit here uses (balanced classes, seeded)."""
    return LogisticRegression(C=c, class_weight="balanced", solver="liblinear", random_state=SEED)


class NBLogistic:
    """One-vs-rest logistic regressions over naive-Bayes-scaled features (NBSVM, Wang and
    Manning 2012): class k's columns are multiplied by r_k, the log-ratio of their presence in
    class k against the rest. The product w_k * r_k is a plain linear model over the unscaled
    features, so it ships and runs exactly like the unscaled one. Dense columns keep r = 1."""

    def __init__(self, c: float, n_sparse: int, alpha: float = 1.0) -> None:
        self.c, self.n_sparse, self.alpha = c, n_sparse, alpha
        self.estimators_: list[_Binary] = []

    def fit(self, x: sparse.csr_matrix, y: np.ndarray) -> NBLogistic:
        present = (x[:, : self.n_sparse] > 0).astype(np.float64)
        for k in range(3):
            pos = np.asarray(present[y == k].sum(0)).ravel() + self.alpha
            neg = np.asarray(present[y != k].sum(0)).ravel() + self.alpha
            r = np.ones(x.shape[1])
            r[: self.n_sparse] = np.log((pos / pos.sum()) / (neg / neg.sum()))
            lr = _logistic(self.c).fit(x @ sparse.diags(r), (y == k).astype(int))
            self.estimators_.append(_Binary(lr.coef_[0] * r, float(lr.intercept_[0])))
        return self

    def decision_function(self, x: sparse.csr_matrix) -> np.ndarray:
        return np.column_stack([x @ e.coef_[0] + e.intercept_[0] for e in self.estimators_])


class MeanOfTables(NBLogistic):
    """The mean of the plain and the NB-scaled one-vs-rest weights: still one linear model
    (same file format and run-time arithmetic), and it averages two views of sparse data."""

    def fit(self, x: sparse.csr_matrix, y: np.ndarray) -> MeanOfTables:
        nb = NBLogistic(self.c, self.n_sparse, self.alpha).fit(x, y)
        plain = OneVsRestClassifier(_logistic(self.c)).fit(x, y)
        self.estimators_ = [
            _Binary(0.5 * (a.coef_[0] + b.coef_[0]), 0.5 * float(a.intercept_[0] + b.intercept_[0]))
            for a, b in zip(plain.estimators_, nb.estimators_, strict=True)
        ]
        return self


NB = False  # naive-Bayes scaling (--nb)
MEAN = False  # mean of the plain and the NB-scaled tables (--mean-nb)


def fit(x: sparse.csr_matrix, y: np.ndarray, c: float) -> OneVsRestClassifier | NBLogistic:
    if MEAN:
        return MeanOfTables(c, x.shape[1] - len(DENSE_NAMES)).fit(x, y)
    if NB:
        return NBLogistic(c, x.shape[1] - len(DENSE_NAMES)).fit(x, y)
    return OneVsRestClassifier(_logistic(c)).fit(x, y)


def per_lang_f1(y: np.ndarray, pred: np.ndarray, langs: list[str]) -> dict[str, float]:
    """Macro F1 per target language (English rows only help train the shared weights)."""
    la = np.array(langs)
    return {
        g: float(f1_score(y[la == g], pred[la == g], average="macro"))
        for g in sorted(set(langs) - {"en"})
    }


def train(
    feats: list[_Feats],
    y: np.ndarray,
    langs: list[str],
    joint: bool,
    c: float,
    min_df: int,
    cw: float = CHAR_WEIGHT,
    dw: float = 1.0,
) -> tuple[OneVsRestClassifier | NBLogistic, dict[str, int]]:
    vocab = build_vocab(feats, langs, joint, min_df)
    return fit(matrix(feats, langs, vocab, joint, cw, dw), y, c), vocab


def cross_validate(
    feats: list[_Feats],
    y: np.ndarray,
    langs: list[str],
    joint: bool,
    c: float,
    min_df: int,
    cw: float = CHAR_WEIGHT,
    dw: float = 1.0,
) -> tuple[float, np.ndarray]:
    """Mean per-language macro F1 of out-of-fold predictions, and the out-of-fold logits."""
    strata = np.array([f"{g}{k}" for g, k in zip(langs, y, strict=True)])
    logits = np.zeros((len(y), 3))
    folds = StratifiedKFold(4, shuffle=True, random_state=SEED)
    for a, b in folds.split(np.zeros(len(y)), strata):
        fa, la = [feats[i] for i in a], [langs[i] for i in a]
        model, vocab = train(fa, y[a], la, joint, c, min_df, cw, dw)
        xb = matrix([feats[i] for i in b], [langs[i] for i in b], vocab, joint, cw, dw)
        logits[b] = model.decision_function(xb)
    pred = logits.argmax(1)
    return float(np.mean(list(per_lang_f1(y, pred, langs).values()))), logits


def tune_offsets(y: np.ndarray, logits: np.ndarray) -> tuple[np.ndarray, float]:
    """Negative/positive logit offsets (neutral fixed at 0) for macro F1 on out-of-fold
    logits of the training data: the three one-vs-rest scores are not calibrated together."""
    best, best_off = -1.0, np.zeros(3)
    grid = np.round(np.arange(-0.6, 0.61, 0.05), 2)
    for a in grid:
        for c in grid:
            off = np.array([a, 0.0, c])
            f = float(f1_score(y, (logits + off).argmax(1), average="macro"))
            if f > best + 1e-4:  # ties keep the smaller offsets (the grid starts at -0.6,...)
                best, best_off = f, off
    return best_off, best


def _names(table: dict[str, np.ndarray], prune: float) -> tuple[np.ndarray, np.ndarray]:
    names = sorted(k for k, w in table.items() if np.abs(w).max() >= prune)
    vocab = np.frombuffer("\n".join(names).encode("utf-8"), dtype=np.uint8)
    weights = np.array([table[n] for n in names], dtype=np.float64).reshape(-1, 3)
    return vocab, weights.astype(np.float16)


def export(
    model: OneVsRestClassifier | NBLogistic,
    vocab: dict[str, int],
    langs: list[str],
    joint: bool,
    prune: float,
    dw: float = 1.0,
) -> dict[str, np.ndarray]:
    """Per-language tables (own weights, and in joint mode one shared table: at run time a
    language's weight is shared + own, see LangModel.row); names with max |w| < prune go. The
    dense block's weight ``dw`` is folded into the dense weights (the file scores raw values)."""
    coef = np.vstack([e.coef_[0] for e in model.estimators_]).T  # (features, 3)
    bias = np.array([e.intercept_[0] for e in model.estimators_], dtype=np.float32)
    nv, nd = len(vocab), len(DENSE_NAMES)
    lang_ids = sorted(set(langs))
    out: dict[str, np.ndarray] = {}
    if joint:
        # tagged names are "xx|name"; shared names never hold "|" (not a token character)
        shared = {n: coef[j] for n, j in vocab.items() if n[2:3] != "|"}
        out["shared_vocab"], out["shared_weights"] = _names(shared, prune)
    for g in lang_ids:
        if g == "en":  # English is scored by the SemEval model (detectors.sentiment)
            continue
        pre = g + "|"
        own = {n[len(pre) :]: coef[j] for n, j in vocab.items() if n.startswith(pre)}
        dense = coef[nv : nv + nd].copy()
        if joint:
            k = 1 + lang_ids.index(g)
            dense += coef[nv + k * nd : nv + (k + 1) * nd]
        out[f"{g}_vocab"], out[f"{g}_weights"] = _names(own, prune)
        out[f"{g}_dense"] = (dw * dense).astype(np.float32)
        out[f"{g}_bias"] = bias
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/sentiment-multi"))
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--mode", choices=("per", "joint"), default="per")
    ap.add_argument("--c", type=float, nargs="+", default=[3.0, 10.0], help="C grid")
    ap.add_argument(
        "--english",
        type=Path,
        default=Path("/work/shared/data/sentiment"),
        help="SemEval English tweets for the shared weights in joint mode ('' = none)",
    )
    ap.add_argument(
        "--nb",
        action="store_true",
        help="naive-Bayes scaled features (NBSVM; measured, not shipped)",
    )
    ap.add_argument(
        "--mean-nb",
        action="store_true",
        help="mean of the plain and the NB-scaled tables (chosen by CV, see the docs)",
    )
    ap.add_argument(
        "--char-weight",
        type=float,
        nargs="+",
        default=[CHAR_WEIGHT],
        help="grid: char n-gram block weight (against the word block), one for all languages",
    )
    ap.add_argument(
        "--dense-weight",
        type=float,
        nargs="+",
        default=[1.0],
        help="grid: dense block weight (folded into the dense weights), one for all languages",
    )
    ap.add_argument("--no-offsets", action="store_true", help="no per-language logit offsets")
    ap.add_argument("--min-df", type=int, default=2, help="keep names seen in >= N tweets")
    ap.add_argument("--prune", type=float, default=0.03, help="drop names with max |w| below")
    args = ap.parse_args(argv)
    joint = args.mode == "joint"
    global NB, MEAN
    NB, MEAN = args.nb, args.mean_nb

    t0 = time.perf_counter()
    tr: dict[str, tuple[list[str], list[int]]] = {}
    va: dict[str, tuple[list[str], list[int]]] = {}
    for folder, g in FOLDERS.items():
        tr[g] = read_split(args.data, folder, "train")
        va[g] = read_split(args.data, folder, "val")
    langs = [g for g in tr for _ in tr[g][1]]
    feats = [features(t) for g in tr for t in tr[g][0]]
    y = np.array([k for g in tr for k in tr[g][1]])
    if joint and str(args.english) not in ("", "."):
        en_texts, en_labels = english_tweets(args.english)
        langs += ["en"] * len(en_labels)
        feats += [features(t) for t in en_texts]
        y = np.concatenate([y, np.array(en_labels, dtype=y.dtype)])
        print(f"+ {len(en_labels)} English SemEval tweets (shared weights)", flush=True)
    print(f"{len(y)} training tweets, {len(tr)} languages, features in "
          f"{time.perf_counter() - t0:.1f} s", flush=True)  # fmt: skip

    groups = [sorted(tr)] if joint else [[g] for g in sorted(tr)]
    # (char weight, dense weight) -> language -> (C, its plain CV, offsets, CV with them);
    # per group, the out-of-fold logits at its best C
    cvs: dict[tuple[float, float], dict[str, tuple[float, float, np.ndarray, float]]] = {}
    for cw in args.char_weight:
        for dw in args.dense_weight:
            res = cvs[cw, dw] = {}
            for group in groups:
                idx = [i for i, g in enumerate(langs) if g in group]
                gy, gl = y[idx], [langs[i] for i in idx]
                best: tuple[float, float, np.ndarray] = (-1.0, 0.0, np.zeros(0))
                for c in args.c:
                    cv, oof = cross_validate(
                        [feats[i] for i in idx], gy, gl, joint, c, args.min_df, cw, dw
                    )
                    print(f"[{time.perf_counter() - t0:.0f} s] char {cw} dense {dw} "
                          f"{'+'.join(group)} C={c}: CV macro F1 {100 * cv:.2f}",
                          flush=True)  # fmt: skip
                    if cv > best[0]:
                        best = (cv, c, oof)
                la = np.array(gl)
                for g in sorted(set(group) - {"en"}):
                    plain = float(
                        f1_score(gy[la == g], best[2][la == g].argmax(1), average="macro")
                    )
                    off, f = (
                        (np.zeros(3), plain)
                        if args.no_offsets
                        else tune_offsets(gy[la == g], best[2][la == g])
                    )
                    res[g] = (best[1], plain, off, f)
    # one setting for every language: the best mean CV (with offsets) over the languages
    table_rows = []
    for (cw, dw), res in cvs.items():
        with_off = float(np.mean([r[3] for r in res.values()]))
        plain = float(np.mean([r[1] for r in res.values()]))
        per = " ".join(f"{g} {100 * r[3]:.2f}" for g, r in sorted(res.items()))
        table_rows.append((with_off, cw, dw))
        print(f"CV char {cw} dense {dw}: {per}; mean {100 * with_off:.2f} (plain "
              f"{100 * plain:.2f})", flush=True)  # fmt: skip
    _, cw, dw = max(table_rows, key=lambda r: r[0])  # ties: the first in grid order
    print(f"chosen: char weight {cw}, dense weight {dw}", flush=True)

    table: dict[str, np.ndarray] = {}
    chosen: dict[str, float] = {}
    offsets: dict[str, list[float]] = {}
    for group in groups:
        idx = [i for i, g in enumerate(langs) if g in group]
        gl = [langs[i] for i in idx]
        c = cvs[cw, dw][min(set(group) - {"en"})][0]
        model, vocab = train([feats[i] for i in idx], y[idx], gl, joint, c, args.min_df, cw, dw)
        table.update(export(model, vocab, gl, joint, args.prune, dw))
        for g in sorted(set(group) - {"en"}):
            _, _, off, f = cvs[cw, dw][g]
            table[f"{g}_bias"] = (table[f"{g}_bias"] + off).astype(np.float32)
            offsets[g] = off.tolist()
            print(f"  {g}: C={c}, offsets {off.tolist()} (CV macro F1 with them "
                  f"{100 * f:.2f})", flush=True)  # fmt: skip
        chosen.update({g: c for g in group})
    meta = {"mode": args.mode, "C": chosen, "langs": sorted(tr), "dense": list(DENSE_NAMES),
            "char_weight": cw, "offsets": offsets, "min_df": args.min_df,
            "prune": args.prune}  # fmt: skip
    if dw != 1.0:  # folded into the dense weights: a record, not read at run time
        meta["dense_weight"] = dw
    if NB:  # only then: the plain build keeps the shipped file byte for byte
        meta["nb"] = True
    if MEAN:
        meta["mean_nb"] = True
    table["meta"] = np.frombuffer(json.dumps(meta, sort_keys=True).encode(), dtype=np.uint8)
    digest = save(args.out, table)
    sizes = {g: len(table[f"{g}_weights"]) for g in [*tr, "shared"] if f"{g}_weights" in table}
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB, sha256 {digest}); "
          f"names per language {sizes}")  # fmt: skip

    # Validation figures with the saved file, i.e. exactly what ships.
    from detectors.sentiment_multi import load_lang_models

    shipped, _ = load_lang_models(args.out.read_bytes())
    scores = {}
    for g in sorted(va):
        pred = [("negative", "neutral", "positive").index(s.label)
                for s in shipped[g].predict_many(va[g][0])]  # fmt: skip
        scores[g] = 100 * float(f1_score(va[g][1], pred, average="macro"))
    line = ", ".join(f"{g} {v:.1f}" for g, v in scores.items())
    print(f"UMSAB val macro F1 ({args.mode}): {line}; mean {np.mean(list(scores.values())):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
