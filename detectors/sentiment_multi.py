"""Sentiment in many languages: the model for the post's language, or a marked ``unknown``.

English keeps :class:`detectors.sentiment.SentimentModel` (trained on ~45k SemEval tweets, with
an English lexicon and negation scope). Arabic, German, Spanish, French, Hindi (mostly romanised
Hinglish in the training data), Italian and Portuguese use :class:`LangModel`: a linear model over
word uni/bi-grams and in-word char 2-5-grams (robust to inflection, typos and any script) plus
emoji/punctuation features, trained by ``scripts/train_sentiment_multi.py`` on the UMSAB training
splits and shipped in ``detectors/models/sentiment_multi.npz``. Any other language gets
``unknown`` (score 0): never scored as English, and detectors count it as no evidence.

>>> sm = MultiSentiment.load_default(identify=None)
>>> [s.label for s in sm.predict_many(["Adoro questo telefono, bellissimo!", "Das ist furchtbar"],
...                                    ["it", "de"])]
['positive', 'negative']
>>> sm.predict_many(["Bu telefon harika"], ["tr"])[0].label   # no Turkish model
'unknown'
>>> sm.language("pt-BR", "…"), sm.language(None, "hi") # no identifier: untagged is English
('pt', 'en')
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from importlib import resources
from math import log1p
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from detectors import sentiment_features as sf
from detectors.sentiment import LABELS, Sentiment, SentimentModel

MODEL_PATH = Path(__file__).parent / "models" / "sentiment_multi.npz"
UNDETERMINED = "und"
UNKNOWN = Sentiment("unknown", 0.0, (0.0, 0.0, 0.0))
_BLANK = Sentiment("neutral", 0.0, (0.0, 1.0, 0.0))
# Relative weight of the char n-gram block against the word block (train and run time): the
# model file's meta holds the value it was trained with; files without it used 0.5.
CHAR_WEIGHT = 0.5
_OLD_CHAR_WEIGHT = 0.5
GRAM_MIN, GRAM_MAX = 2, 5
_CACHE_MAX = 200_000  # token / raw-token table rows per language before a reset

# Combining marks of Devanagari and Arabic are not \w in Python's re: without them a Hindi or
# vowelled Arabic word would split at every vowel sign.
_MARKS = (
    "\u0300-\u036f\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    "\u0900-\u0903\u093a-\u094f\u0951-\u0957\u0962\u0963"
)
_TOKEN = re.compile(
    r"(?:[<>]?[:;=8xX][\-o\*']?[\)\]\(\[dDpP/\\|@3]+|<3|[\)\]\(\[dDpP/\\|@3]+[\-o\*']?[:;=8])"
    rf"|#?@?(?:\w|[{_MARKS}])(?:[\w'’{_MARKS}]|-(?=\w))*"
    r"|[!?]+"
    r"|[^\w\s.,;:\"()\[\]{}*/\\|_~`^=+<>-]"
)
_ELONG = re.compile(r"(\w)\1{2,}")
_DIGIT = re.compile(r"\d")
# lex_*: VADER's English word valences. English words are common in tweets in any language
# (and make up much of romanised Hindi tweets); the joint model weighs them per language.
DENSE_NAMES: tuple[str, ...] = (
    "emoji_pos", "emoji_neg", "exclaims", "questions", "elongated", "lex_pos", "lex_neg",
)  # fmt: skip
# raw token -> (its feature tokens, emoji +, emoji -, lexicon +, lexicon -, !, ?, elongated)
_RawInfo = tuple[tuple[str, ...], float, float, float, float, int, int, int]
# raw token -> (first feature token, "b:" + last one + " ", number of feature tokens, summed word
# rows (3), summed char n-gram rows (3), number of char n-grams, dense counts or None)
_RawRow = tuple[str, str, int, float, float, float, float, float, float, float,
                tuple[float, float, float, float, int, int, int] | None]  # fmt: skip


def _raw_info(raw: str) -> _RawInfo:
    """Everything about one raw token that does not depend on its neighbours (pure)."""
    low = raw.lower()
    if low in sf._POS_EMOTICONS:
        return ("EMO+",), 1.0, 0.0, 0.0, 0.0, 0, 0, 0
    if low in sf._NEG_EMOTICONS:
        return ("EMO-",), 0.0, 1.0, 0.0, 0.0, 0, 0, 0
    c0 = low[0]
    if c0 in "!?":
        return (low[:3],), 0.0, 0.0, 0.0, 0.0, low.count("!"), low.count("?"), 0
    ev = sf.emoji_valence().get(low)
    if ev is not None:
        return (low,), max(ev, 0.0), max(-ev, 0.0), 0.0, 0.0, 0, 0, 0
    el = 0
    if _ELONG.search(low):
        el = 1
        low = _ELONG.sub(r"\1\1", low)
    if _DIGIT.search(low):  # one C scan; str.isdigit-only characters were never replaced
        low = _DIGIT.sub("0", low)
    toks = (low, low[1:]) if c0 == "#" and len(low) > 1 else (low,)  # a tag, and its word
    v = sf.lexicon().get(toks[-1], 0.0)
    return toks, 0.0, 0.0, max(v, 0.0), max(-v, 0.0), 0, 0, el


def char_grams(tok: str) -> list[str]:
    """In-word char 2- to 5-grams with boundary marks; none for symbols, tags and mentions."""
    if not tok[0].isalnum():
        return []
    s = "<" + tok + ">"
    n = len(s)
    out: list[str] = []
    for k in range(GRAM_MIN, GRAM_MAX + 1):
        out += [s[i : i + k] for i in range(n - k + 1)]
    return out


def tokens(text: str) -> tuple[list[str], list[float]]:
    """Feature tokens and the dense vector of one post (training and run time)."""
    toks: list[str] = []
    ep = en = lp = ln = 0.0
    ex = qu = el = 0
    for raw in _TOKEN.findall(sf.normalise(text)):
        t, p, n, a, b, e, q, g = _raw_info(raw)
        toks += t
        ep += p
        en += n
        lp += a
        ln += b
        ex += e
        qu += q
        el += g
    return toks, _dense(ep, en, lp, ln, ex, qu, el)


def _dense(ep: float, en: float, lp: float, ln: float, ex: int, qu: int, el: int) -> list[float]:
    return [log1p(ep), log1p(en), log1p(ex), log1p(qu), float(el > 0), log1p(lp), log1p(ln)]


def features(text: str) -> tuple[list[str], list[str], list[float]]:
    """(word names, char n-gram names, dense vector): what the training matrix is built from."""
    toks, dense = tokens(text)
    words = ["w:" + t for t in toks]
    words += ["b:" + a + " " + b for a, b in itertools.pairwise(toks)]
    chars: list[str] = []
    for t in toks:
        chars += char_grams(t)
    return words, chars, dense


Row = tuple[float, float, float]


def _table(vocab: list[str], weights: npt.NDArray[Any]) -> dict[str, Row]:
    if weights.shape != (len(vocab), 3):
        raise ValueError("model arrays do not match the vocabulary")
    rows = np.asarray(weights).astype(np.float64).tolist()
    return {n: (r[0], r[1], r[2]) for n, r in zip(vocab, rows, strict=True)}


class LangModel:
    """One language's linear model: its own weights plus, for the joint model, the weights
    shared by all languages (one table in memory, whatever the number of languages).

    Scoring is plain Python over cached weight sums per raw token (tokens follow Zipf's law, so
    nearly every lookup hits): one lookup per raw token plus its bigram, no numpy per post."""

    def __init__(
        self,
        lang: str,
        vocab: list[str],
        weights: npt.NDArray[Any],
        dense_weights: npt.NDArray[Any],
        bias: npt.NDArray[Any],
        shared: dict[str, Row] | None = None,
        char_weight: float = CHAR_WEIGHT,
    ) -> None:
        if dense_weights.shape != (len(DENSE_NAMES), 3):
            raise ValueError(f"{lang}: dense weights do not match the dense feature list")
        self.lang = lang
        self.vocab = vocab
        self.weights = np.asarray(weights, dtype=np.float32)
        self.dense_weights = np.asarray(dense_weights, dtype=np.float32)
        self.bias = np.asarray(bias, dtype=np.float32)
        self.shared = shared
        self.char_weight = char_weight
        self._own = _table(vocab, self.weights)
        self._shared: dict[str, Row] = shared or {}
        self._dw: list[list[float]] = self.dense_weights.astype(np.float64).tolist()
        self._b: list[float] = self.bias.astype(np.float64).tolist()
        self._tok: dict[str, tuple[float, ...]] = {}
        self._raw: dict[str, _RawRow] = {}
        self._filled = False

    def _fill(self) -> None:
        """The vocabulary's words are the frequent tokens: sum their char n-grams at once on
        the language's first post (~0.25 s), not one by one over a stream's first posts."""
        self._filled = True
        words = [name[2:] for name in self.vocab if name.startswith("w:")]
        if len(words) < _CACHE_MAX // 2:  # else the table would reset while filling
            for w in words:
                self._new_token(w)

    def __getstate__(self) -> dict[str, Any]:
        keys = ("lang", "vocab", "weights", "dense_weights", "bias", "shared", "char_weight")
        return {k: getattr(self, k) for k in keys}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)  # type: ignore[misc]

    def row(self, name: str) -> Row | None:
        """The weights of one feature name: shared + this language's own (None if neither)."""
        a = self._own.get(name)
        b = self._shared.get(name)
        if a is None or b is None:
            return a or b
        return a[0] + b[0], a[1] + b[1], a[2] + b[2]

    def _new_token(self, tok: str) -> tuple[float, ...]:
        row = self.row if self._shared else self._own.get
        w = row("w:" + tok) or (0.0, 0.0, 0.0)
        grams = char_grams(tok)
        rows = [r for r in map(row, grams) if r is not None]
        c0 = c1 = c2 = 0.0
        if rows:  # zip + sum: C loops, not three Python additions per n-gram
            c0, c1, c2 = (sum(col) for col in zip(*rows, strict=True))
        out = (w[0], w[1], w[2], c0, c1, c2, float(len(grams)))
        if len(self._tok) >= _CACHE_MAX:
            self._tok.clear()  # bounded memory; the vocabulary's words refill on the next post
            self._filled = False
        self._tok[tok] = out
        return out

    def _new_raw(self, raw: str) -> _RawRow:
        """A raw token's whole contribution, its feature tokens' rows and the bigram inside a
        #tag summed once, so a post costs one lookup per raw token (plus its bigram)."""
        toks, p, n, pa, nb, e, q, g = _raw_info(raw)
        w0 = w1 = w2 = c0 = c1 = c2 = nc = 0.0
        tok_get = self._tok.get
        for t in toks:
            a = tok_get(t) or self._new_token(t)
            w0 += a[0]
            w1 += a[1]
            w2 += a[2]
            c0 += a[3]
            c1 += a[4]
            c2 += a[5]
            nc += a[6]
        row = self.row if self._shared else self._own.get
        for x, y in itertools.pairwise(toks):
            b = row("b:" + x + " " + y)
            if b is not None:
                w0 += b[0]
                w1 += b[1]
                w2 += b[2]
        dense = (p, n, pa, nb, e, q, g) if (p or n or pa or nb or e or q or g) else None
        out = (toks[0], "b:" + toks[-1] + " ", len(toks), w0, w1, w2, c0, c1, c2, nc, dense)
        if len(self._raw) >= _CACHE_MAX:
            self._raw.clear()
        self._raw[raw] = out
        return out

    def logits_one(self, text: str) -> tuple[float, float, float]:
        """Class scores of one post: same arithmetic as the training matrix (word block /
        sqrt(#word names), char block * char_weight / sqrt(#char names), dense, bias)."""
        if not self._filled:
            self._fill()
        raw_get = self._raw.get
        row = self.row if self._shared else self._own.get  # one lookup when nothing is shared
        w0 = w1 = w2 = c0 = c1 = c2 = nc = 0.0
        ep = en = lp = ln = 0.0
        ex = qu = el = nt = 0
        prev = ""
        for raw in _TOKEN.findall(sf.normalise(text)):
            r = raw_get(raw) or self._new_raw(raw)
            first, bpre, k, a0, a1, a2, b0, b1, b2, n, dn = r
            w0 += a0
            w1 += a1
            w2 += a2
            c0 += b0
            c1 += b1
            c2 += b2
            nc += n
            if nt:
                b = row(prev + first)
                if b is not None:
                    w0 += b[0]
                    w1 += b[1]
                    w2 += b[2]
            prev = bpre
            nt += k
            if dn is not None:
                ep += dn[0]
                en += dn[1]
                lp += dn[2]
                ln += dn[3]
                ex += dn[4]
                qu += dn[5]
                el += dn[6]
        sw = 1.0 / math.sqrt(2 * nt - 1) if nt else 0.0
        sc = self.char_weight / math.sqrt(nc) if nc > 0 else 0.0
        d = _dense(ep, en, lp, ln, ex, qu, el)
        dw, bias = self._dw, self._b
        z = [w0 * sw + c0 * sc + bias[0], w1 * sw + c1 * sc + bias[1], w2 * sw + c2 * sc + bias[2]]
        for k in range(len(d)):
            x = d[k]
            if x:
                rw = dw[k]
                z[0] += x * rw[0]
                z[1] += x * rw[1]
                z[2] += x * rw[2]
        return z[0], z[1], z[2]

    def predict_one(self, text: str) -> Sentiment:
        """Prediction for one post; a blank text is neutral 0.0 (as in the English model)."""
        if not text.strip():
            return _BLANK
        z = self.logits_one(text)
        m = max(z)
        e0, e1, e2 = math.exp(z[0] - m), math.exp(z[1] - m), math.exp(z[2] - m)
        s = e0 + e1 + e2
        probs = (e0 / s, e1 / s, e2 / s)
        best = 0 if z[0] >= z[1] and z[0] >= z[2] else (1 if z[1] >= z[2] else 2)
        return Sentiment(LABELS[best], min(1.0, max(-1.0, probs[2] - probs[0])), probs)

    def predict_many(self, texts: Iterable[str]) -> list[Sentiment]:
        return [self.predict_one(t) for t in texts]


def load_lang_models(data: bytes) -> tuple[dict[str, LangModel], str]:
    """Language models from a file written by ``scripts/train_sentiment_multi.py``."""
    arrays: dict[str, Any] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        for name in zf.namelist():
            arrays[name.removesuffix(".npy")] = np.load(io.BytesIO(zf.read(name)))
    meta = json.loads(bytes(arrays["meta"]).decode())
    if tuple(meta["dense"]) != DENSE_NAMES:
        raise ValueError("model file was trained with a different dense feature list")
    shared = None
    if "shared_vocab" in arrays:
        words = bytes(arrays["shared_vocab"]).decode("utf-8").split("\n")
        shared = _table(words, arrays["shared_weights"])
    cw = float(meta.get("char_weight", _OLD_CHAR_WEIGHT))
    models = {}
    for lang in meta["langs"]:
        vocab = bytes(arrays[f"{lang}_vocab"]).decode("utf-8").split("\n")
        models[lang] = LangModel(
            lang, vocab, arrays[f"{lang}_weights"], arrays[f"{lang}_dense"],
            arrays[f"{lang}_bias"], shared, cw,
        )  # fmt: skip
    return models, "sentiment-multi-" + hashlib.sha256(data).hexdigest()[:12]


def base_language(tag: str | None) -> str | None:
    """'pt-BR' / 'en_US' / 'DE' -> 'pt' / 'en' / 'de'; None or junk -> None."""
    if not tag:
        return None
    base = tag.replace("_", "-").split("-", 1)[0].strip().lower()
    return base if 2 <= len(base) <= 3 and base.isascii() and base.isalpha() else None


Identify = Callable[[str, str | None], str]


def default_identify() -> Identify | None:
    """``detectors.language.identify`` when the language identifier is installed, else None."""
    try:
        from detectors import language  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    fn: Identify = language.identify
    return fn


_NO_IDENTIFY: Any = object()


class MultiSentiment:
    """Routes each post to the sentiment model of its language.

    Language: the platform's tag when it has one, else ``identify(text)`` (the language
    identifier) when there is one, else English (the behaviour before languages). A language
    without a model, or "und" (undetermined), gives ``unknown``, except a post with no words
    at all (emoji, emoticons, punctuation, mentions, links): its signals are language-free and
    the English model scores them.
    """

    def __init__(
        self,
        english: SentimentModel,
        others: dict[str, LangModel],
        identify: Identify | None,
        version: str = "custom",
    ) -> None:
        self.english = english
        self.others = others
        self.identify = identify
        self.languages = frozenset({"en", *others})
        self.version = f"{english.version}+{version}"

    @classmethod
    def load_default(cls, identify: Identify | None = _NO_IDENTIFY) -> MultiSentiment:
        """The shipped models; ``identify`` defaults to the installed language identifier."""
        models, version = _default_multi()
        ident = default_identify() if identify is _NO_IDENTIFY else identify
        return cls(SentimentModel.load_default(), models, ident, version)

    def language(self, tag: str | None, text: str) -> str:
        """The language a post is scored in (ISO 639-1 code or "und")."""
        if self.identify is not None:
            try:
                return base_language(self.identify(text, tag)) or UNDETERMINED
            except Exception:  # identification must never drop a post
                return base_language(tag) or UNDETERMINED
        if tag is None:
            return "en"
        return base_language(tag) or UNDETERMINED

    def predict_many(
        self, texts: Sequence[str], langs: Sequence[str | None] | None = None
    ) -> list[Sentiment]:
        """Predictions in input order; ``langs`` parallel to ``texts`` (platform tags or None);
        resolved with :meth:`language`."""
        tags: Sequence[str | None] = langs if langs is not None else [None] * len(texts)
        resolved = [self.language(tag, t) for t, tag in zip(texts, tags, strict=True)]
        return self.predict_resolved(texts, resolved)

    def predict_resolved(self, texts: Sequence[str], langs: Sequence[str]) -> list[Sentiment]:
        """Predictions for texts whose language is already resolved (ISO 639-1 or "und")."""
        out: list[Sentiment] = [UNKNOWN] * len(texts)
        en_idx: list[int] = []
        others = self.others
        for i, (text, lang) in enumerate(zip(texts, langs, strict=True)):
            m = others.get(lang)
            if not text.strip():
                out[i] = _BLANK  # as the English model: nothing said is neutral, any language
            elif m is not None:
                out[i] = m.predict_one(text)
            elif lang == "en" or (lang == UNDETERMINED and not has_words(text)):
                en_idx.append(i)
        if en_idx:
            for i, s in zip(en_idx, self.english.predict_many([texts[i] for i in en_idx]),
                            strict=True):  # fmt: skip
                out[i] = s
        return out


def has_words(text: str) -> bool:
    """Does the post hold any word (not counting @mentions, #tags and links)?"""
    for raw in _TOKEN.findall(sf.normalise(text)):
        c = raw[0]
        if (c.isalpha() or c.isdigit()) and raw not in ("URL", "USER"):
            return True
    return False


@lru_cache(maxsize=1)
def _default_multi() -> tuple[dict[str, LangModel], str]:
    data = resources.files("detectors.models").joinpath("sentiment_multi.npz").read_bytes()
    return load_lang_models(data)
