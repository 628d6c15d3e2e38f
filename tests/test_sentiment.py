"""Sentiment model: known cases, score range, determinism, pickling, model size, shipped sample
(tests/samples/sentiment_labelled.tsv, 150 tweets written for this project), and the CLI."""

from __future__ import annotations

import html
import os
import pickle
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors import sentiment
from detectors import sentiment_features as sf
from detectors.sentiment import LABELS, MODEL_PATH, Sentiment, SentimentModel
from detectors.sentiment_features import DENSE_NAMES, analyse, extract

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "samples" / "sentiment_labelled.tsv"


@pytest.fixture(scope="module")
def model() -> SentimentModel:
    return SentimentModel.load_default()


def _sample() -> list[tuple[str, str]]:
    rows = []
    for line in SAMPLE.read_text("utf-8").splitlines():
        if line and not line.startswith("#"):
            label, text = line.split("\t", 1)
            rows.append((label, text))
    return rows


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Product recall: salmonella found in @Brand peanut butter", "negative"),
        ("Great, another outage. Thanks @Telco", "negative"),
        ("love the new phone 😍", "positive"),
        ("The store opens at 9am on Monday.", "neutral"),
        ("Acme announced its quarterly results on Tuesday.", "neutral"),
        ("I don't like the new design at all", "negative"),
        ("soooo happy with my new bike!!!", "positive"),
        ("customers report data breach and toxic leak #fail", "negative"),
    ],
)
def test_known_cases(model: SentimentModel, text: str, label: str) -> None:
    assert model.predict_one(text).label == label


def test_negation_flips_polarity(model: SentimentModel) -> None:
    assert model.predict_one("this is good").score > model.predict_one("this is not good").score
    assert "good_NEG" in analyse("this is not good")[0]


def test_escaped_unicode_and_placeholders() -> None:
    toks, _ = analyse("I\\u2019m at @Acme http://t.co/x")
    assert toks == ["i’m", "at", "@user", "url"]
    assert len(extract("x").dense) == len(DENSE_NAMES)


def test_scores_in_range_and_consistent(model: SentimentModel) -> None:
    texts = [t for _, t in _sample()] + ["", "   ", "!!!", "😡😡😡", "a" * 5000, "#"]
    for s in model.predict_many(texts):
        assert -1.0 <= s.score <= 1.0
        assert abs(sum(s.probs) - 1.0) < 1e-6 or s.probs == (0.0, 1.0, 0.0)
        assert s.label == LABELS[max(range(3), key=lambda k: s.probs[k])]
        assert s.score == pytest.approx(s.probs[2] - s.probs[0])


def test_empty_is_neutral_zero(model: SentimentModel) -> None:
    assert model.predict_one("") == Sentiment("neutral", 0.0, (0.0, 1.0, 0.0))


def test_batch_equals_single_and_is_deterministic(model: SentimentModel) -> None:
    texts = [t for _, t in _sample()][:40]
    many = model.predict_many(texts)
    assert many == [model.predict_one(t) for t in texts]
    fresh = SentimentModel.load(MODEL_PATH)  # cold caches give the same answers
    assert fresh.predict_many(texts) == many
    assert fresh.version == model.version and fresh.version.startswith("sentiment-")


def test_pickle_round_trip(model: SentimentModel) -> None:
    clone = pickle.loads(pickle.dumps(model))
    texts = [t for _, t in _sample()][::5]
    assert clone.predict_many(texts) == model.predict_many(texts)
    assert len(pickle.dumps(model)) < 5_000_000


def test_model_file_ships_and_is_small() -> None:
    data = resources.files("detectors.models").joinpath("sentiment.npz").read_bytes()
    assert 100_000 < len(data) < 4_000_000


def test_shipped_sample_macro_recall(model: SentimentModel) -> None:
    rows = _sample()
    assert len(rows) == 150
    preds = model.predict_many([t for _, t in rows])
    recalls = []
    for label in LABELS:
        idx = [i for i, (gold, _) in enumerate(rows) if gold == label]
        recalls.append(sum(preds[i].label == label for i in idx) / len(idx))
    assert min(recalls) >= 0.8, recalls
    assert sum(recalls) / 3 >= 0.9, recalls  # 0.97 when written


def test_cli_scores_stdin_in_order() -> None:
    lines = ["I love this so much", "", "Great, another outage. Thanks @Telco", "It is Tuesday"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "crisis_radar.cli", "sentiment"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    out = [line.split("\t") for line in proc.stdout.splitlines()]
    assert [o[0] for o in out] == ["positive", "neutral", "negative", "neutral"]
    assert out[1][1] == "0.0000"
    assert all(len(o[1].split(".")[1]) == 4 and -1 <= float(o[1]) <= 1 for o in out)
    lb = subprocess.run(
        [sys.executable, "-m", "crisis_radar.cli", "sentiment", "--line-buffered", "--probs"],
        input="awful\n",
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=ROOT,
        timeout=60,
    )
    label, score, *probs = lb.stdout.strip().split("\t")
    assert label == "negative" and float(score) < 0 and len(probs) == 3


def test_cli_bad_model_path_is_a_clear_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "crisis_radar.cli", "sentiment", "--model", "/nonexistent.npz"],
        input="x\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 2 and "cannot load model" in proc.stderr


# Tokens that exercise every branch of the analysis: negation scope and its resets, hashtags
# (incl. clause words and sarcasm tags), punctuation runs, emoticons, emoji, caps, elongation,
# crisis words, the sarcasm frame, escapes, entities, URLs and mentions.
_PIECES = [
    "not", "don't", "never", "no", "good", "bad", "great", "Great,", "another", "outage", "thanks",
    "love", "LOVE", "sooo", "happy", "recall", "down", "fine", "#sarcasm", "#but", "#not", "#fail",
    "#Acme", "but", ",", ".", "!!!", "?!", ":)", ":-(", "<3", "xD", "😍", "😡", "❤", "@acme",
    "@acme's", "http://x.co/a", "WWW.x.com", "&amp;", "\\u2019", "I\\u2019m", "it's", "cant",
    "a", "9am", "x", "_", "-", "'", "good_NEG", "😂😂", "¿", "ça", "ÉPIC",
]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_PIECES), max_size=14), min_size=1, max_size=8),
       st.sampled_from([" ", "", "  "]))  # fmt: skip
def test_batch_logits_equal_single_post_path(texts: list[list[str]], sep: str) -> None:
    """The batch path (fused scan, token-id bigram keys) adds the same terms in the same order
    as the single-post path built on ``analyse``: bit-identical logits."""
    model = SentimentModel.load_default()
    batch = [sep.join(t) or "x" for t in texts] + ["filler one", "filler two"]
    many = model.logits(batch)
    one = np.vstack([model._logits_one(t) for t in batch])
    assert many.tobytes() == one.tobytes()


def test_token_table_reset_keeps_predictions(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [t for _, t in _sample()]
    expected = SentimentModel.load(MODEL_PATH).predict_many(texts)
    monkeypatch.setattr(sentiment, "_CACHE_MAX", 40)  # reset before nearly every batch
    small = SentimentModel.load(MODEL_PATH)
    got = [s for i in range(0, len(texts), 9) for s in small.predict_many(texts[i : i + 9])]
    assert got == expected
    assert len(small._tok_ids) < 400  # the tables were really emptied


@given(st.text(alphabet="wW.:/h@tps x's’_é1&", max_size=30))
def test_normalise_prechecks_do_not_change_results(text: str) -> None:
    """normalise skips a regex when its literal part is absent: same output as always running."""
    ref = text
    if "\\u" in ref:
        ref = sf._ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), ref)
    if "&" in ref:
        ref = html.unescape(ref)
    assert sf.normalise(text) == sf._MENTION.sub(" @USER ", sf._URL.sub(" URL ", ref))


def test_whitespace_chunks_tokenise_like_the_whole_text() -> None:
    """The model tokenises whitespace-separated chunks (cached) instead of the whole text: valid
    because str.split's whitespace is exactly the regex's \\s and no token holds whitespace."""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    assert [c for c in chars if c.isspace()] == [c for c in chars if re.fullmatch(r"\s", c)]
    text = "I\u2003don't\u00a0LOVE\tit:( xDrive #not,good!!! 😍😍 @acme's  http://x.y ok"
    norm = sf.normalise(text)
    assert sf._TOKEN.findall(norm) == [t for c in norm.split() for t in sf._TOKEN.findall(c)]


@given(st.lists(st.sampled_from(_PIECES), max_size=20), st.sampled_from(["", " ", "\u2003", "\n"]))
def test_chunked_tokens_equal_findall(pieces: list[str], sep: str) -> None:
    norm = sf.normalise(sep.join(pieces))
    assert sf._TOKEN.findall(norm) == [t for c in norm.split() for t in sf._TOKEN.findall(c)]


def test_time_split_dates_and_splits() -> None:
    """The time-split proxy (scripts/train_sentiment.py --time-split): snowflake ids give the
    posting date, pre-2010 ids none; each split's test part is newer than its training part."""
    import datetime as dt

    from scripts.train_sentiment import SPLITS, tweet_date

    assert tweet_date("619950566786113536") == dt.date(2015, 7, 11)
    assert tweet_date("264183816548130816") == dt.date(2012, 11, 2)
    assert tweet_date("100000000000") is None and tweet_date("NA") is None
    rows = [
        ("twitter-2013train-A.tsv", None),
        ("twitter-2015test-A.tsv", dt.date(2014, 10, 4)),
        ("twitter-2016train-A.tsv", dt.date(2015, 9, 1)),
        ("twitter-2016test-A.tsv", dt.date(2015, 12, 1)),
    ]
    assert [SPLITS["years"][1](f, d) for f, d in rows] == [False, False, True, True]
    assert [SPLITS["late2015"][1](f, d) for f, d in rows] == [False, False, False, True]


def test_char_weight_comes_from_the_model_file(tmp_path: Path) -> None:
    """The char block's weight is stored in the file's meta (scripts/train_sentiment.py
    --char-weight); files written before it was stored were trained with 0.5."""
    import json

    from scripts.train_sentiment import save

    def write(meta: dict[str, object]) -> SentimentModel:
        arrays = {
            "vocab": np.frombuffer(b"<go\nw:good", dtype=np.uint8),
            "weights": np.array([[0, 0, 1], [-1, 0, 1]], dtype=np.float16),
            "dense_weights": np.zeros((len(DENSE_NAMES), 3), dtype=np.float32),
            "bias": np.zeros(3, dtype=np.float32),
            "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
        }
        path = tmp_path / f"m{len(list(tmp_path.iterdir()))}.npz"
        save(path, arrays)
        return SentimentModel.load(path)

    old = write({"dense": list(DENSE_NAMES)})
    new = write({"dense": list(DENSE_NAMES), "char_weight": 2.0})
    assert (old.char_weight, new.char_weight) == (0.5, 2.0)
    # "good": word block 1/sqrt(1) * w:good; char block cw / sqrt(#grams) * w(<go)
    grams = len(sf.char_grams("good"))
    for m in (old, new):
        want = np.array([-1.0, 0.0, 1.0 + m.char_weight / np.sqrt(grams)])
        assert m.logits(["good"])[0] == pytest.approx(want)
        assert m.logits(["good", "good"])[1] == pytest.approx(want)
        assert pickle.loads(pickle.dumps(m)).char_weight == m.char_weight


def test_training_vocabulary_options() -> None:
    """scripts/train_sentiment.py's vocabulary filters and offset-tuning recall."""
    from sklearn.metrics import recall_score

    from scripts.train_sentiment import _macro_recall_fast, build_vocab, name_words

    feats = [extract("@Bowie not good at URL http://x.y #Bowie")] * 3
    vocab = build_vocab(feats, 2, 3)
    assert "b:@user not" in vocab and "w:#bowie" in vocab and "b:at_NEG url_NEG" in vocab
    no_ph = build_vocab(feats, 2, 3, placeholder_bigrams=False)
    assert "b:@user not" not in no_ph and "b:at_NEG url_NEG" not in no_ph
    assert "b:not good_NEG" in no_ph and "w:@user" in no_ph
    assert "w:not" not in build_vocab(feats, 4, 3) and "<go" in build_vocab(feats, 4, 3)
    dropped = build_vocab(feats, 2, 3, drop=frozenset({"bowie"}))
    assert "w:#bowie" not in dropped and "w:bowie" not in dropped and "w:good_NEG" in dropped
    spread = build_vocab(feats, 2, 3, periods=["2013", "2013", "2016"], min_periods=3)
    assert "w:good_NEG" not in spread and "<go" in spread
    texts = ["so I met Bowie today", "was Bowie there?", "love Bowie", "Great day", "a great day"]
    assert name_words(texts, 0.8) == frozenset({"bowie"})  # "Great" starts the tweet
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    logits = rng.normal(size=(300, 3))
    fast = _macro_recall_fast(y, [y == k for k in range(3)], logits)
    assert fast == pytest.approx(recall_score(y, logits.argmax(1), average="macro"), abs=1e-12)
