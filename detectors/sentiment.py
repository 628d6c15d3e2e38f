"""Tweet sentiment: negative / neutral / positive with a score in [-1, 1].

A linear model (multinomial logistic regression trained by ``scripts/train_sentiment.py``) over
word uni/bi-grams with negation scope, in-word char n-grams and a few dense lexicon features
(:mod:`detectors.sentiment_features`). Run time is pure Python + numpy: feature names are looked
up in a pruned vocabulary and their float16 weight rows summed. The model file ships in the
package (``detectors/models/sentiment.npz``); nothing is downloaded.

>>> model = SentimentModel.load_default()
>>> model.predict_one("love the new phone 😍").label
'positive'
>>> model.predict_one("Product recall: salmonella found in @Brand peanut butter").label
'negative'
>>> s = model.predict_one("The store opens at 9am on Monday.")
>>> s.label, -1.0 <= s.score <= 1.0
('neutral', True)
>>> [p.label for p in model.predict_many(["I hate this", ""])]
['negative', 'neutral']
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from detectors.sentiment_features import DENSE_NAMES, analyse, char_grams

Label = Literal["negative", "neutral", "positive"]
LABELS: tuple[Label, Label, Label] = ("negative", "neutral", "positive")
# Relative weight of the char n-gram block against the word block (train and run time).
CHAR_WEIGHT = 0.5
MODEL_PATH = Path(__file__).parent / "models" / "sentiment.npz"
_CACHE_MAX = 100_000  # per-token cache entries (~20 MB at most)
_ZERO = (0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Sentiment:
    """One prediction: ``score`` = P(positive) - P(negative); ``probs`` in LABELS order."""

    label: Label
    score: float
    probs: tuple[float, float, float]


_NEUTRAL = Sentiment("neutral", 0.0, (0.0, 1.0, 0.0))


class SentimentModel:
    """Scores posts; immutable after loading, so safe to share and picklable (state < 5 MB)."""

    def __init__(
        self,
        vocab: list[str],
        weights: npt.NDArray[np.float32],
        dense_weights: npt.NDArray[np.float32],
        bias: npt.NDArray[np.float32],
        version: str = "custom",
    ) -> None:
        if weights.shape != (len(vocab), 3) or dense_weights.shape != (len(DENSE_NAMES), 3):
            raise ValueError("model arrays do not match the vocabulary / dense feature list")
        self.vocab = vocab
        self.index = {name: i for i, name in enumerate(vocab)}
        self.weights = weights.astype(np.float32)
        self.dense_weights = dense_weights.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.version = version
        # name -> weight row as Python floats: per-name numpy indexing costs more than the sum.
        self._rows: dict[str, tuple[float, float, float]] = {
            name: (float(a), float(b), float(c))
            for name, (a, b, c) in zip(vocab, self.weights.tolist(), strict=True)
        }
        self._cache: dict[str, tuple[float, float, float, float, float, float, int]] = {}

    @classmethod
    def load(cls, path: str | Path) -> SentimentModel:
        """Load a model file written by ``scripts/train_sentiment.py``."""
        return cls._from_bytes(Path(path).read_bytes())

    @classmethod
    def load_default(cls) -> SentimentModel:
        """The model shipped in the package (cached: loading takes ~0.2 s)."""
        return _default()

    @classmethod
    def _from_bytes(cls, data: bytes) -> SentimentModel:
        arrays: dict[str, Any] = {}
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name in zf.namelist():
                arrays[name.removesuffix(".npy")] = np.load(io.BytesIO(zf.read(name)))
        vocab = bytes(arrays["vocab"]).decode("utf-8").split("\n")
        meta = json.loads(bytes(arrays["meta"]).decode())
        if tuple(meta["dense"]) != DENSE_NAMES:
            raise ValueError("model file was trained with a different dense feature list")
        version = "sentiment-" + hashlib.sha256(data).hexdigest()[:12]
        return cls(vocab, arrays["weights"], arrays["dense_weights"], arrays["bias"], version)

    def __getstate__(self) -> dict[str, Any]:
        return {
            k: getattr(self, k) for k in ("vocab", "weights", "dense_weights", "bias", "version")
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def _token(self, tok: str) -> tuple[float, float, float, float, float, float, int]:
        """Unigram weights, summed char n-gram weights and n-gram count of one token (cached:
        tokens follow Zipf's law, so most posts only hit the cache)."""
        hit = self._cache.get(tok)
        if hit is not None:
            return hit
        w = self._rows.get("w:" + tok, _ZERO)
        grams = char_grams(tok)
        c0 = c1 = c2 = 0.0
        for g in grams:
            r = self._rows.get(g)
            if r is not None:
                c0 += r[0]
                c1 += r[1]
                c2 += r[2]
        out = (w[0], w[1], w[2], c0, c1, c2, len(grams))
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()  # bounded memory; refills within a few thousand posts
        self._cache[tok] = out
        return out

    def logits(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """Raw class scores, shape (len(texts), 3): the dot product of features and weights.

        Same arithmetic as the training matrix: word block / sqrt(#word names), char block *
        CHAR_WEIGHT / sqrt(#char names), plus dense features and bias.
        """
        n = len(texts)
        # Python lists, converted once: per-row numpy assignment costs ~1 us per post.
        sparse_rows: list[tuple[float, float, float]] = []
        dense_rows: list[list[float]] = []
        rows = self._rows
        token = self._token
        cached = self._cache.get
        for text in texts:
            toks, d = analyse(text)
            dense_rows.append(d)
            if not toks:
                sparse_rows.append(_ZERO)
                continue
            w0 = w1 = w2 = c0 = c1 = c2 = 0.0
            nc = 0
            prev = ""
            for t in toks:
                a = cached(t)
                if a is None:
                    a = token(t)
                w0 += a[0]
                w1 += a[1]
                w2 += a[2]
                c0 += a[3]
                c1 += a[4]
                c2 += a[5]
                nc += a[6]
                if prev:
                    b = rows.get("b:" + prev + " " + t)
                    if b is not None:
                        w0 += b[0]
                        w1 += b[1]
                        w2 += b[2]
                prev = t
            sw = 1.0 / math.sqrt(2 * len(toks) - 1)
            sc = CHAR_WEIGHT / math.sqrt(nc)
            sparse_rows.append((w0 * sw + c0 * sc, w1 * sw + c1 * sc, w2 * sw + c2 * sc))
        # Elementwise product + sum, not a matmul: BLAS may round differently per batch size,
        # and a post must score the same alone or in a batch.
        dense = np.array(dense_rows, dtype=np.float64).reshape(n, len(DENSE_NAMES))
        sparse_part = np.array(sparse_rows, dtype=np.float64).reshape(n, 3)
        dw = self.dense_weights.astype(np.float64)
        out: npt.NDArray[np.float64] = (dense[:, :, None] * dw[None]).sum(axis=1)
        return out + self.bias.astype(np.float64) + sparse_part

    def predict_many(self, texts: Iterable[str]) -> list[Sentiment]:
        """Predictions in input order; empty or blank texts are neutral 0.0."""
        items = list(texts)
        todo = [i for i, t in enumerate(items) if t.strip()]
        out = [_NEUTRAL] * len(items)
        if not todo:
            return out
        z = self.logits([items[i] for i in todo])
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        best = p.argmax(axis=1)
        for j, i in enumerate(todo):
            pj = p[j]
            probs = (float(pj[0]), float(pj[1]), float(pj[2]))
            score = min(1.0, max(-1.0, probs[2] - probs[0]))
            out[i] = Sentiment(LABELS[int(best[j])], score, probs)
        return out

    def predict_one(self, text: str) -> Sentiment:
        """Prediction for one post."""
        return self.predict_many([text])[0]


@lru_cache(maxsize=1)
def _default() -> SentimentModel:
    data = resources.files("detectors.models").joinpath("sentiment.npz").read_bytes()
    return SentimentModel._from_bytes(data)
