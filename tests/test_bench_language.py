"""bench.language's count of Hindi-folder texts that hold no Hindi (the Hindi ceiling)."""

from __future__ import annotations

import pytest

from bench.language import hindi_ceiling, hindi_kind

_WORDS = "game tomorrow i m excited hair cutting the joke is on us free wifi"
VOCAB = frozenset(_WORDS.split(" "))


@pytest.mark.parametrize(
    ("text", "kind"),
    [("game 3 tomorrow !!! i'm excited", "english"), ("Hair cutting ", "english"),
     ("the joke is on us delhi.free wifi", "english but one"),  # one name in 4+ words
     ("Hair kejriwal", "other"), ("guddu harami", "other"),  # unknown words
     ("Koi nhi ", "hindi word"), ("bhai game tomorrow", "hindi word"),
     ("नमस्ते game", "devanagari"), ("😄😄 @user", "no words")],
)  # fmt: skip
def test_hindi_kind(text: str, kind: str) -> None:
    assert hindi_kind(text, VOCAB) == kind


def test_ceiling_leaves_the_english_out(monkeypatch: pytest.MonkeyPatch) -> None:
    import bench.language as bl

    monkeypatch.setattr(bl, "english_vocabulary", lambda: VOCAB)
    pairs = [("hi", "Hair cutting"), ("hi", "Koi nhi"), ("hi", "kya scene hai"), ("en", "x"),
             ("de", "y")]  # fmt: skip
    preds = ["en", "hi", "hi", "en", "en"]
    c = hindi_ceiling(pairs, preds)
    assert c["hi_texts"] == 3 and c["hi_texts_no_hindi_word"] == 1
    assert c["best_hi"] == round(2 / 3, 4)
    assert c["best_overall_others_as_measured"] == round((1 + 2) / 5, 4)  # en right, de wrong
    assert c["best_overall_others_perfect"] == round((2 + 2) / 5, 4)
