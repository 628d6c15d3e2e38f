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
import itertools
import json
import math
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from math import log1p
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from detectors import sentiment_features as sf
from detectors.sentiment_features import DENSE_NAMES, analyse, char_grams

Label = Literal["negative", "neutral", "positive"]
LABELS: tuple[Label, Label, Label] = ("negative", "neutral", "positive")
# Relative weight of the char n-gram block against the word block (train and run time). Stored
# in the model file's meta; files written before it was (2026-12) used 0.5.
CHAR_WEIGHT = 1.0
_OLD_CHAR_WEIGHT = 0.5
MODEL_PATH = Path(__file__).parent / "models" / "sentiment.npz"
_CACHE_MAX = 200_000  # token table rows and cached chunks (~11 MB + ~20 MB at most)
_ZERO = (0.0, 0.0, 0.0)
_findall = sf._TOKEN.findall
_PUNCT, _EMOJI, _CLAUSE = sf._PUNCT, sf._EMOJI, sf._CLAUSE
_OPENERS, _CUES = sf._SARCASM_OPENERS, sf._SARCASM_CUES
# Bigram key: first id * _BI_MUL + second id (unique while ids < _BI_MUL; the table resets at
# _CACHE_MAX). A large odd multiplier spreads keys over the dict's low hash bits: with a shift
# they would share slots per second token and probe long chains.
_BI_MUL = 2_654_435_761
# A raw token's analysis with token-table ids: (kind, hashtag id or -1, token id, then
# sentiment_features.classify's numbers from the valence on).
_Raw = tuple[int, int, int, float, float, int, int, int, int, float, float, float, bool]


@dataclass(frozen=True, slots=True)
class Sentiment:
    """One prediction: ``score`` = P(positive) - P(negative); ``probs`` in LABELS order.
    "unknown" (detectors.sentiment_multi): no model for the post's language, probs all 0."""

    label: Label | Literal["unknown"]
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
        char_weight: float = CHAR_WEIGHT,
    ) -> None:
        if weights.shape != (len(vocab), 3) or dense_weights.shape != (len(DENSE_NAMES), 3):
            raise ValueError("model arrays do not match the vocabulary / dense feature list")
        self.vocab = vocab
        self.index = {name: i for i, name in enumerate(vocab)}
        self.weights = weights.astype(np.float32)
        self.dense_weights = dense_weights.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.version = version
        self.char_weight = char_weight
        w64 = self.weights.astype(np.float64)
        self._w64 = w64
        # Bigram "a b" -> weight row; unigram / char n-gram name -> row as Python floats (used
        # once per distinct token, when it enters the token table).
        self._bigram = {n[2:]: i for i, n in enumerate(vocab) if n.startswith("b:")}
        # Bigrams by each of their tokens, to key them by token ids as tokens enter the table.
        self._bi_first: dict[str, list[tuple[str, int]]] = {}
        self._bi_second: dict[str, list[tuple[str, int]]] = {}
        for name, j in self._bigram.items():
            a, b = name.split(" ")
            self._bi_first.setdefault(a, []).append((b, j))
            self._bi_second.setdefault(b, []).append((a, j))
        w64_rows = w64.tolist()
        self._bi_py: dict[int, list[float]] = {i: w64_rows[i] for i in self._bigram.values()}
        self._rows: dict[str, tuple[float, float, float]] = {
            n: (r[0], r[1], r[2])
            for n, r in zip(vocab, w64_rows, strict=True)
            if not n.startswith("b:")
        }
        self._reset_tokens()

    def _reset_tokens(self) -> None:
        # Token table: token -> row of (unigram w0..w2, summed char-gram c0..c2, #char grams).
        self._tok_ids: dict[str, int] = {}
        self._tok_names: list[str] = []
        self._tok_py: list[tuple[float, ...]] = []  # same rows as Python floats (single posts)
        self._tok_arr = np.zeros((4096, 7), dtype=np.float64)
        # Bigram rows keyed by token-id pairs (ints hash for free, "a b" strings do not), and
        # raw token -> _Raw, so the batch path never builds token strings.
        self._bi_ids: dict[int, int] = {}
        self._raw: dict[str, _Raw] = {}
        self._neg: dict[int, int] = {}  # token id -> id of the token + "_NEG", made when first seen
        # Whitespace-separated chunk -> its raw tokens' _Raw: most chunks recur, so most posts
        # never run the tokenizer regex. Tokens never hold whitespace (\s is str.isspace) and
        # the regex has no lookaround, so findall(text) == findall of each chunk, in order.
        self._chunks: dict[str, tuple[_Raw, ...]] = {}

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
        cw = float(meta.get("char_weight", _OLD_CHAR_WEIGHT))
        return cls(vocab, arrays["weights"], arrays["dense_weights"], arrays["bias"], version, cw)

    def __getstate__(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in ("vocab", "weights", "dense_weights", "bias", "version", "char_weight")
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def _new_token(self, tok: str) -> int:
        """Add a token to the table (tokens follow Zipf's law: most lookups hit)."""
        w = self._rows.get("w:" + tok, _ZERO)
        grams = char_grams(tok)
        c0 = c1 = c2 = 0.0
        for g in grams:
            r = self._rows.get(g)
            if r is not None:
                c0 += r[0]
                c1 += r[1]
                c2 += r[2]
        i = len(self._tok_ids)
        if i == len(self._tok_arr):
            self._tok_arr = np.concatenate([self._tok_arr, np.zeros_like(self._tok_arr)])
        row = (w[0], w[1], w[2], c0, c1, c2, float(len(grams)))
        self._tok_arr[i] = row
        self._tok_py.append(row)
        self._tok_names.append(tok)
        ids = self._tok_ids
        ids[tok] = i
        for other, j in self._bi_first.get(tok, ()):
            k = ids.get(other)
            if k is not None:
                self._bi_ids[i * _BI_MUL + k] = j
        for other, j in self._bi_second.get(tok, ()):
            k = ids.get(other)
            if k is not None:
                self._bi_ids[k * _BI_MUL + i] = j
        return i

    def _token_id(self, tok: str) -> int:
        i = self._tok_ids.get(tok)
        return self._new_token(tok) if i is None else i

    def _new_raw(self, raw: str) -> _Raw:
        kind, low, tag, *rest = sf.classify(raw)
        e: _Raw = (kind, self._token_id(tag) if tag else -1, self._token_id(low), *rest)  # type: ignore[assignment]
        self._raw[raw] = e
        return e

    def _negated_id(self, tid: int) -> int:
        nid = self._neg[tid] = self._token_id(self._tok_names[tid] + "_NEG")
        return nid

    def _new_chunk(self, chunk: str) -> tuple[_Raw, ...]:
        get = self._raw.get
        ents = tuple(get(r) or self._new_raw(r) for r in _findall(chunk))
        self._chunks[chunk] = ents
        return ents

    def logits(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """Raw class scores, shape (len(texts), 3): the dot product of features and weights.

        Same arithmetic as the training matrix: word block / sqrt(#word names), char block *
        char_weight / sqrt(#char names), plus dense features and bias. Python only maps tokens
        to table rows; numpy does the sums (bincount adds each post's terms in token order, so a
        post scores the same alone or in a batch).
        """
        if len(self._tok_ids) > _CACHE_MAX or len(self._chunks) > _CACHE_MAX:
            self._reset_tokens()  # bounded memory; refills within a few thousand posts
        n = len(texts)
        if n == 1:
            return self._logits_one(texts[0])
        ids: list[int] = []
        ntoks: list[int] = []
        bi_rows: list[int] = []
        bi_post: list[int] = []
        dense_rows: list[list[float]] = []
        scan = self._scan
        start = 0
        for r, text in enumerate(texts):
            dense_rows.append(scan(text, r, ids, bi_rows, bi_post))
            ntoks.append(len(ids) - start)
            start = len(ids)
        nt = np.asarray(ntoks, dtype=np.float64)
        post = np.repeat(np.arange(n), np.asarray(ntoks, dtype=np.intp))
        # fromiter: a plain C loop over the ints, no shape/dtype discovery per element
        v = self._tok_arr[np.fromiter(ids, dtype=np.intp, count=len(ids))]
        sums = np.stack([np.bincount(post, weights=v[:, k], minlength=n) for k in range(7)], 1)
        word = sums[:, :3]
        if bi_rows:
            bw = self._w64[np.fromiter(bi_rows, dtype=np.intp, count=len(bi_rows))]
            bp = np.fromiter(bi_post, dtype=np.intp, count=len(bi_post))
            word += np.stack([np.bincount(bp, weights=bw[:, k], minlength=n) for k in range(3)], 1)
        cw = self.char_weight
        with np.errstate(divide="ignore"):
            sw = np.where(nt > 0, 1.0 / np.sqrt(np.maximum(2 * nt - 1, 1)), 0.0)
            sc = np.where(sums[:, 6] > 0, cw / np.sqrt(np.maximum(sums[:, 6], 1)), 0.0)
        sparse_part = word * sw[:, None] + sums[:, 3:6] * sc[:, None]
        flat = itertools.chain.from_iterable(dense_rows)
        dense = np.fromiter(flat, dtype=np.float64, count=n * len(DENSE_NAMES)).reshape(n, -1)
        # Elementwise product + sum, not a matmul: BLAS may round differently per batch size.
        dw = self.dense_weights.astype(np.float64)
        out: npt.NDArray[np.float64] = (dense[:, :, None] * dw[None]).sum(axis=1)
        return out + self.bias.astype(np.float64) + sparse_part

    def _scan(
        self, text: str, r: int, ids: list[int], bi_rows: list[int], bi_post: list[int]
    ) -> list[float]:
        """``analyse`` fused with the token-table lookups: appends the post's token ids and
        bigram rows, returns its dense vector. Mirrors ``sentiment_features.analyse`` step for
        step (same float operations in the same order; tests/test_sentiment.py compares them)."""
        get = self._chunks.get
        new = self._new_chunk
        nget = self._neg.get
        bget = self._bi_ids.get
        start = len(ids)
        pos = neg = 0.0
        vmax = vmin = 0.0
        epos = eneg = 0.0
        crisis = sarcasm = 0.0
        allcaps = elong = excl = quest = nneg = 0
        negated = False
        prev = -1
        for e in [e for c in sf.normalise(text).split() for e in (get(c) or new(c))]:
            kind, tag, tid, v, cw, caps, el, ex, qu, ep, en, sarc, is_neg = e
            allcaps += caps
            elong += el
            if kind == _PUNCT:
                excl += ex
                quest += qu
                negated = False
            elif kind == _EMOJI:
                epos += ep
                eneg += en
            else:
                sarcasm += sarc
                if tag >= 0:
                    ids.append(tag)
                    if prev >= 0:
                        j = bget(prev * _BI_MUL + tag)
                        if j is not None:
                            bi_rows.append(j)
                            bi_post.append(r)
                    prev = tag
                if kind == _CLAUSE:
                    negated = False
                else:
                    crisis += cw
                    if negated:
                        v = -0.74 * v  # VADER's negation scalar
                        nid = nget(tid)
                        tid = self._negated_id(tid) if nid is None else nid
                    if v > 0:
                        pos += v
                        vmax = max(vmax, v)
                    elif v < 0:
                        neg -= v
                        vmin = min(vmin, v)
                    if is_neg:
                        negated = True
                        nneg += 1
            ids.append(tid)
            if prev >= 0:
                j = bget(prev * _BI_MUL + tid)
                if j is not None:
                    bi_rows.append(j)
                    bi_post.append(r)
            prev = tid
        if crisis and len(ids) > start:
            names = self._tok_names
            if names[ids[start]] in _OPENERS and any(names[i] in _CUES for i in ids[start:]):
                sarcasm += 1.0
        return [
            log1p(pos),
            log1p(neg),
            vmax,
            vmin,
            log1p(epos),
            log1p(eneg),
            crisis,
            sarcasm,
            log1p(excl),
            log1p(quest),
            log1p(allcaps),
            float(elong > 0),
            float(nneg > 0),
            1.0,
        ]

    def _logits_one(self, text: str) -> npt.NDArray[np.float64]:
        """``logits`` for one post in plain Python (numpy per call would cost ~60 us). Adds the
        same terms in the same order as the batch path, so results are bit-identical."""
        toks, d = analyse(text)
        get = self._tok_ids.get
        bget = self._bigram.get
        rows = self._tok_py
        w0 = w1 = w2 = c0 = c1 = c2 = nc = b0 = b1 = b2 = 0.0
        prev = None
        for t in toks:
            i = get(t)
            a = rows[self._new_token(t) if i is None else i]
            w0 += a[0]
            w1 += a[1]
            w2 += a[2]
            c0 += a[3]
            c1 += a[4]
            c2 += a[5]
            nc += a[6]
            if prev is not None:
                j = bget(f"{prev} {t}")
                if j is not None:
                    b = self._bi_py[j]
                    b0 += b[0]
                    b1 += b[1]
                    b2 += b[2]
            prev = t
        sw = 1.0 / math.sqrt(max(2 * len(toks) - 1, 1)) if toks else 0.0
        sc = self.char_weight / math.sqrt(max(nc, 1.0)) if nc > 0 else 0.0
        sparse_part = np.array(
            [[(w0 + b0) * sw + c0 * sc, (w1 + b1) * sw + c1 * sc, (w2 + b2) * sw + c2 * sc]]
        )
        dense = np.array([d], dtype=np.float64)
        dw = self.dense_weights.astype(np.float64)
        out: npt.NDArray[np.float64] = (dense[:, :, None] * dw[None]).sum(axis=1)
        out = out + self.bias.astype(np.float64) + sparse_part
        return out

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
