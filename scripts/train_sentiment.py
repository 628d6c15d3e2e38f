"""Train the default sentiment model (reproducible: fixed seeds, deterministic file).

    .venv/bin/python scripts/train_sentiment.py [--data /work/shared/data/sentiment] [--out PATH]

Trains on the SemEval 2013-2016 task A tweets, minus every tweet whose text also occurs in the
TweetEval validation split (so the validation figure is honest), tunes C and per-class logit
offsets for macro recall on a held-out 10% of the TRAINING data, refits on all training data,
then prints macro recall on the TweetEval validation split. scikit-learn is used here only.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import recall_score
from sklearn.model_selection import train_test_split
from sklearn.multiclass import OneVsRestClassifier

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from detectors.sentiment import CHAR_WEIGHT, LABELS, MODEL_PATH
from detectors.sentiment_features import DENSE_NAMES, Features, extract

SEED = 0
_ESC = re.compile(r"\\u([0-9a-fA-F]{4})")


def _key(text: str) -> str:
    """Text identity for the overlap check: decoded, case-folded, whitespace-collapsed."""
    text = _ESC.sub(lambda m: chr(int(m.group(1), 16)), text)
    return " ".join(text.strip().strip('"').casefold().split())


def load_train(data: Path) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for path in sorted(data.glob("twitter-*-A.tsv")):
        for line in path.read_text("utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[1] in LABELS:
                texts.append(parts[2])
                labels.append(LABELS.index(parts[1]))
    return texts, labels


def load_val(data: Path) -> tuple[list[str], list[int]]:
    texts = (data / "tweeteval-val_text.txt").read_text("utf-8").splitlines()
    labels = [int(x) for x in (data / "tweeteval-val_labels.txt").read_text().split()]
    return texts, labels


def build_vocab(feats: list[Features], min_word: int, min_char: int) -> dict[str, int]:
    df: Counter[str] = Counter()
    for f in feats:
        df.update(set(f.words) | set(f.chars))
    keep = sorted(k for k, n in df.items() if n >= (min_char if k[1] != ":" else min_word))
    return {k: i for i, k in enumerate(keep)}


def matrix(feats: list[Features], vocab: dict[str, int]) -> sparse.csr_matrix:
    """Same arithmetic as SentimentModel._scores: block-normalised counts + dense features."""
    rows, cols, vals = [], [], []
    nv = len(vocab)
    for r, f in enumerate(feats):
        for names, scale in ((f.words, 1.0), (f.chars, CHAR_WEIGHT)):
            idx = [vocab[n] for n in names if n in vocab]
            if idx:
                w = scale / np.sqrt(len(names))  # all names, so pruning keeps the scale
                rows += [r] * len(idx)
                cols += idx
                vals += [w] * len(idx)
        rows += [r] * len(f.dense)
        cols += range(nv, nv + len(f.dense))
        vals += f.dense
    shape = (len(feats), nv + len(DENSE_NAMES))
    return sparse.csr_matrix((vals, (rows, cols)), shape=shape, dtype=np.float64)


def macro_recall(y: list[int] | np.ndarray, logits: np.ndarray, offsets: np.ndarray) -> float:
    return float(recall_score(y, (logits + offsets).argmax(1), average="macro"))


def tune_offsets(y: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Grid search of negative/positive logit offsets (neutral fixed at 0) for macro recall."""
    best, best_off = -1.0, np.zeros(3)
    grid = np.round(np.arange(-1.0, 1.01, 0.05), 2)
    for a in grid:
        for c in grid:
            off = np.array([a, 0.0, c])
            r = macro_recall(y, logits, off)
            if r > best + 1e-9:
                best, best_off = r, off
    return best_off


def fit(x: sparse.csr_matrix, y: np.ndarray, c: float) -> OneVsRestClassifier:
    # liblinear one-vs-rest converges in seconds here; lbfgs multinomial took many minutes.
    lr = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", random_state=SEED)
    return OneVsRestClassifier(lr).fit(x, y)


def save(path: Path, arrays: dict[str, np.ndarray]) -> str:
    """npz with fixed zip timestamps so the same weights give the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            b = io.BytesIO()
            np.save(b, arr, allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, b.getvalue())
    data = buf.getvalue()
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/sentiment"))
    ap.add_argument("--out", type=Path, default=MODEL_PATH)
    ap.add_argument("--c", type=float, nargs="+", default=[0.5], help="C grid (default 0.5)")
    ap.add_argument("--min-word", type=int, default=2)
    ap.add_argument("--min-char", type=int, default=3)
    ap.add_argument("--prune", type=float, default=0.02, help="drop features with max |w| below")
    args = ap.parse_args(argv)

    texts, labels = load_train(args.data)
    vtexts, vlabels = load_val(args.data)
    vkeys = {_key(t) for t in vtexts}
    seen: set[str] = set()
    tr_t, tr_y = [], []
    overlap = dupes = 0
    for t, y in zip(texts, labels, strict=True):
        k = _key(t)
        if k in vkeys:
            overlap += 1
        elif k in seen:
            dupes += 1
        else:
            seen.add(k)
            tr_t.append(t)
            tr_y.append(y)
    print(
        f"train rows {len(texts)}; removed {overlap} overlapping the val split, {dupes} dupes;"
        f" kept {len(tr_t)} {dict(Counter(LABELS[y] for y in tr_y))}"
    )

    t0 = time.perf_counter()
    feats = [extract(t) for t in tr_t]
    print(f"features in {time.perf_counter() - t0:.1f} s", flush=True)
    y = np.array(tr_y)
    idx_a, idx_b = train_test_split(np.arange(len(y)), test_size=0.1, random_state=SEED, stratify=y)
    vocab_a = build_vocab([feats[i] for i in idx_a], args.min_word, args.min_char)
    xa = matrix([feats[i] for i in idx_a], vocab_a)
    xb = matrix([feats[i] for i in idx_b], vocab_a)
    print(f"vocab {len(vocab_a)}, matrix {xa.shape} nnz {xa.nnz}", flush=True)
    best = (-1.0, 0.0, np.zeros(3))
    for c in args.c:
        clf = fit(xa, y[idx_a], c)
        logits = clf.decision_function(xb)
        off = tune_offsets(y[idx_b], logits)
        r0, r1 = macro_recall(y[idx_b], logits, np.zeros(3)), macro_recall(y[idx_b], logits, off)
        print(
            f"[{time.perf_counter() - t0:.0f} s] C={c}: held-out macro recall {r0:.4f}, "
            f"with offsets {off} {r1:.4f}",
            flush=True,
        )
        if r1 > best[0]:
            best = (r1, c, off)
    _, c, off = best

    vocab = build_vocab(feats, args.min_word, args.min_char)
    clf = fit(matrix(feats, vocab), y, c)
    coef = np.vstack([e.coef_[0] for e in clf.estimators_]).T  # (features, 3)
    intercept = np.array([e.intercept_[0] for e in clf.estimators_])
    nv = len(vocab)
    keep = np.flatnonzero(np.abs(coef[:nv]).max(1) >= args.prune)
    names = sorted(vocab)
    kept_names = [names[i] for i in keep]
    w16 = coef[keep].astype(np.float16)
    dense_w = coef[nv:].astype(np.float32)
    bias = (intercept + off).astype(np.float32)
    arrays = {
        "vocab": np.frombuffer("\n".join(kept_names).encode("utf-8"), dtype=np.uint8),
        "weights": w16,
        "dense_weights": dense_w,
        "bias": bias,
        "meta": np.frombuffer(
            json.dumps({"C": c, "offsets": off.tolist(), "dense": list(DENSE_NAMES)}).encode(),
            dtype=np.uint8,
        ),
    }
    digest = save(args.out, arrays)
    print(
        f"C={c}, vocab {nv} -> kept {len(keep)}; wrote {args.out} "
        f"({args.out.stat().st_size / 1e6:.2f} MB, sha256 {digest})"
    )

    # Validation figure with the saved (pruned, float16) model, i.e. exactly what ships.
    from detectors.sentiment import SentimentModel

    model = SentimentModel.load(args.out)
    pred = [LABELS.index(s.label) for s in model.predict_many(vtexts)]
    rec = recall_score(vlabels, pred, average=None)
    print(
        f"TweetEval val macro recall {100 * rec.mean():.2f} "
        f"(neg {100 * rec[0]:.1f}, neu {100 * rec[1]:.1f}, pos {100 * rec[2]:.1f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
