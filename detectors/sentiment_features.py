"""Feature extraction for the sentiment model, shared by training (scripts/) and run time.

One function, :func:`extract`, turns a post into sparse feature names (word uni/bi-grams with
negation scope, in-word char n-grams) and a short dense vector (lexicon valences, emoji polarity,
crisis words, punctuation, casing, elongation). Training and scoring must call the same code, so
nothing here may depend on the trained model.

>>> f = extract("I don't like @Acme's new app sooo much!!! http://x.co")
>>> [w for w in f.words if w.startswith("w:")][:6]
['w:i', "w:don't", 'w:like_NEG', 'w:@user_NEG', 'w:new_NEG', 'w:app_NEG']
>>> f.dense[DENSE_NAMES.index("elongated")], round(f.dense[DENSE_NAMES.index("exclaims")], 2)
(1.0, 1.39)
>>> extract("Product recall: salmonella found").dense[DENSE_NAMES.index("crisis")]
2.0
"""

from __future__ import annotations

import html
import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from math import log1p

# Domain words that SemEval tweets rarely contain but that are negative for a brand in crisis.
CRISIS_WORDS: frozenset[str] = frozenset(
    [
        "outage",
        "outages",
        "recall",
        "recalled",
        "recalls",
        "refund",
        "refunds",
        "breach",
        "breached",
        "hacked",
        "salmonella",
        "listeria",
        "ecoli",
        "contaminated",
        "contamination",
        "layoffs",
        "layoff",
        "laid",
        "glitch",
        "glitches",
        "bug",
        "buggy",
        "unsafe",
        "toxic",
        "ripoff",
        "rip-off",
        "scam",
        "scammed",
        "scammers",
        "lawsuit",
        "sued",
        "fraud",
        "fraudulent",
        "boycott",
        "crash",
        "crashed",
        "crashes",
        "broken",
        "down",
        "outrage",
        "leak",
        "leaked",
        "leaks",
        "poisoning",
        "poisoned",
        "injured",
        "explosion",
        "fire",
        "fined",
        "fine",
        "defective",
        "faulty",
        "overcharged",
        "cancelled",
        "canceled",
        "delayed",
        "stranded",
        "lost",
        "stolen",
        "downtime",
        "failure",
        "failed",
        "fail",
        "fails",
        "misleading",
        "deceptive",
    ]
)
# Words that are only crisis words in some senses ("down", "fine", "fire"): lower weight.
_WEAK_CRISIS = frozenset(
    ["down", "fine", "fire", "lost", "bug", "crash", "failed", "fail", "fails", "laid"]
)
NEGATIONS: frozenset[str] = frozenset(
    [
        "not",
        "no",
        "never",
        "none",
        "nobody",
        "nothing",
        "neither",
        "nor",
        "nowhere",
        "cannot",
        "cant",
        "dont",
        "doesnt",
        "didnt",
        "isnt",
        "wasnt",
        "arent",
        "werent",
        "wont",
        "wouldnt",
        "shouldnt",
        "couldnt",
        "hasnt",
        "havent",
        "hadnt",
        "aint",
        "without",
        "n't",
    ]
)
SARCASM_TAGS: frozenset[str] = frozenset({"#sarcasm", "#not", "#irony", "#sarcastic"})
# Sarcasm frames: a positive opener followed by a complaint ("Great, another outage. Thanks").
_SARCASM_OPENERS = frozenset(
    ["great", "wonderful", "fantastic", "awesome", "perfect", "lovely", "nice", "yay"]
)
_SARCASM_CUES = frozenset(["another", "again", "thanks", "thank"])

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w+(?:['’]s)?")
_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_ELONG = re.compile(r"(\w)\1{2,}")
# Tokens: emoticons, words (with inner apostrophes / hyphens), hashtags, @user, punctuation runs,
# and any other single non-space symbol (emoji).
_TOKEN = re.compile(
    r"(?:[<>]?[:;=8xX][\-o\*']?[\)\]\(\[dDpP/\\|@3]+|<3|[\)\]\(\[dDpP/\\|@3]+[\-o\*']?[:;=8])"
    r"|#?@?[\w][\w'’\-]*"
    r"|[!?.]+"
    r"|[^\w\s]",
)
_CLAUSE_END = frozenset({".", ",", ":", ";", "!", "?", "but"})
_POS_EMOTICONS = frozenset(
    [
        ":)",
        ":-)",
        ":d",
        ":-d",
        "=)",
        ":]",
        ";)",
        ";-)",
        ":p",
        ":-p",
        "<3",
        "(:",
        "xd",
        "^_^",
        ":))",
        ":')",
    ]
)
_NEG_EMOTICONS = frozenset(
    [":(", ":-(", ":'(", "=(", ":[", "):", ":/", ":-/", ":|", ">:(", "d:", ":(("]
)

DENSE_NAMES: tuple[str, ...] = (
    "lex_pos",  # summed positive lexicon valence (negation-aware), log-damped
    "lex_neg",
    "lex_max",
    "lex_min",
    "emoji_pos",
    "emoji_neg",
    "crisis",
    "sarcasm",
    "exclaims",
    "questions",
    "allcaps",
    "elongated",
    "negations",
    "bias",
)


@dataclass(frozen=True, slots=True)
class Features:
    """Sparse feature names (each counts once per occurrence) and the dense vector."""

    words: list[str]
    chars: list[str]
    dense: list[float]


@lru_cache(maxsize=1)
def lexicon() -> dict[str, float]:
    """VADER's word valences (MIT licensed, shipped in the vaderSentiment wheel) + crisis words."""
    lex: dict[str, float] = {}
    text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text("utf-8")
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) >= 2:
            lex[parts[0]] = float(parts[1])
    for w in CRISIS_WORDS - _WEAK_CRISIS:
        lex[w] = min(lex.get(w, 0.0), -2.0)
    return lex


@lru_cache(maxsize=1)
def emoji_valence() -> dict[str, float]:
    """Emoji -> valence: VADER's emoji descriptions scored with its own word lexicon."""
    lex = lexicon()
    out: dict[str, float] = {}
    path = resources.files("vaderSentiment").joinpath("emoji_utf8_lexicon.txt")
    for line in path.read_text("utf-8").splitlines():
        emo, _, desc = line.partition("\t")
        vals = [lex[w] for w in desc.lower().split() if w in lex]
        if vals and len(emo) <= 2:
            out[emo] = sum(vals) / len(vals)
    # Descriptions miss a few very common ones.
    out.update({"😂": 1.5, "😍": 2.5, "❤": 2.5, "😭": -1.5, "🙄": -1.5, "😡": -2.5, "🤬": -2.5})
    return out


def normalise(text: str) -> str:
    """Decode escapes and entities, replace URLs and @mentions by placeholders."""
    if "\\u" in text:
        text = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    if "&" in text:
        text = html.unescape(text)
    # Each search only runs when the text holds its literal part ("://" or [wW]. for URLs, "@"
    # for mentions): same result, and most posts have neither.
    if "://" in text or "w." in text or "W." in text:
        text = _URL.sub(" URL ", text)
    if "@" in text:
        text = _MENTION.sub(" @USER ", text)
    return text


def extract(text: str) -> Features:
    """Features of one post (see module docstring)."""
    toks, dense = analyse(text)
    words = ["w:" + t for t in toks]
    words += ["b:" + a + " " + b for a, b in itertools.pairwise(toks)]
    chars: list[str] = []
    for t in toks:
        chars += char_grams(t)
    return Features(words, chars, dense)


_PUNCT, _EMOJI, _CLAUSE, _WORD = range(4)
_Info = tuple[int, str, str, float, float, int, int, int, int, float, float, float, bool]
_RAW_CACHE: dict[str, _Info] = {}  # raw token -> its context-free analysis (pure, bounded)


def _classify(raw: str) -> _Info:
    """``classify`` through the module's bounded cache."""
    info = classify(raw)
    if len(_RAW_CACHE) >= 200_000:
        _RAW_CACHE.clear()
    _RAW_CACHE[raw] = info
    return info


def classify(raw: str) -> _Info:
    """Everything about one raw token that does not depend on its neighbours (pure):
    (kind, token, hashtag, valence, crisis weight, caps, elongated, !, ?, emoji +, emoji -,
    sarcasm tag, negation word)."""
    caps = int(len(raw) > 2 and raw.isupper() and raw.isalpha())
    low = raw.lower()
    el = 0
    if _ELONG.search(low):
        el = 1
        low = _ELONG.sub(r"\1\1", low)
    c0 = low[0]
    info: _Info
    if c0 in "!?.":
        info = (
            _PUNCT,
            low[:3],
            "",
            0.0,
            0.0,
            caps,
            el,
            low.count("!"),
            low.count("?"),
            0.0,
            0.0,
            0.0,
            False,
        )
    elif low in _POS_EMOTICONS:
        info = (_EMOJI, "EMO+", "", 0.0, 0.0, caps, el, 0, 0, 1.0, 0.0, 0.0, False)
    elif low in _NEG_EMOTICONS:
        info = (_EMOJI, "EMO-", "", 0.0, 0.0, caps, el, 0, 0, 0.0, 1.0, 0.0, False)
    elif low in emoji_valence():
        ev = emoji_valence()[low]
        info = (_EMOJI, low, "", 0.0, 0.0, caps, el, 0, 0, max(ev, 0.0), max(-ev, 0.0), 0.0, False)
    else:
        sarc = 1.0 if low in SARCASM_TAGS else 0.0
        tag = ""
        if c0 == "#" and len(low) > 1:
            tag, low = low, low[1:]  # the tag itself, and its word
        if low in _CLAUSE_END:
            info = (_CLAUSE, low, tag, 0.0, 0.0, caps, el, 0, 0, 0.0, 0.0, sarc, False)
        else:
            word = low.replace("'", "").replace("’", "")
            lex = lexicon()
            v = lex.get(low, lex.get(word, 0.0))
            cw = 0.0
            if low in CRISIS_WORDS or word in CRISIS_WORDS:
                cw = 0.5 if word in _WEAK_CRISIS else 1.0
            is_neg = word in NEGATIONS or low.endswith("n't")
            info = (_WORD, low, tag, v, cw, caps, el, 0, 0, 0.0, 0.0, sarc, is_neg)
    return info


def analyse(text: str) -> tuple[list[str], list[float]]:
    """Tokens (lower-cased, negation-marked) and the dense vector; feature names derive from
    the tokens alone, so the model can cache per-token work."""
    norm = normalise(text)
    raw_tokens = _TOKEN.findall(norm)
    toks: list[str] = []
    pos = neg = 0.0
    vmax = vmin = 0.0
    epos = eneg = 0.0
    crisis = sarcasm = 0.0
    allcaps = elong = excl = quest = nneg = 0
    negated = False
    cache = _RAW_CACHE
    for raw in raw_tokens:
        info = cache.get(raw)
        if info is None:
            info = _classify(raw)
        kind, low, tag, v, cw, caps, el, ex, qu, ep, en, sarc, is_neg = info
        allcaps += caps
        elong += el
        if kind == _PUNCT:
            excl += ex
            quest += qu
            negated = False
            toks.append(low)
            continue
        if kind == _EMOJI:
            epos += ep
            eneg += en
            toks.append(low)
            continue
        sarcasm += sarc
        if tag:
            toks.append(tag)
        if kind == _CLAUSE:
            negated = False
            toks.append(low)
            continue
        crisis += cw
        if negated:
            v = -0.74 * v  # VADER's negation scalar
            toks.append(low + "_NEG")
        else:
            toks.append(low)
        if v > 0:
            pos += v
            vmax = max(vmax, v)
        elif v < 0:
            neg -= v
            vmin = min(vmin, v)
        if is_neg:
            negated = True
            nneg += 1
    if toks:
        first = toks[0]
        if first in _SARCASM_OPENERS and crisis and any(t in _SARCASM_CUES for t in toks):
            sarcasm += 1.0
    dense = [
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
    return toks, dense


def char_grams(tok: str) -> list[str]:
    """In-word char 3- and 4-grams with boundary marks (robust to typos and inflection)."""
    if tok.endswith("_NEG"):
        tok = tok[:-4]
    s = "<" + tok + ">"
    n = len(s)
    if n <= 4:
        return [s]
    return [s[i : i + 3] for i in range(n - 2)] + [s[i : i + 4] for i in range(n - 3)]
