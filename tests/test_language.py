"""detectors.language: platform tags, script shortcuts, the model, and bad input (never raises)."""

from __future__ import annotations

from pathlib import Path

import pytest

from detectors.language import (
    SUPPORTED,
    UNDETERMINED,
    clean,
    identify,
    identify_many,
    normalise_tag,
)

SAMPLE = Path(__file__).parent / "samples" / "languages.tsv"


def _sample() -> list[tuple[str, str]]:
    rows = [ln.split("\t", 1) for ln in SAMPLE.read_text("utf-8").splitlines()]
    return [(r[0], r[1]) for r in rows if len(r) == 2 and not r[0].startswith("#")]


@pytest.mark.parametrize(("lang", "text"), _sample())
def test_each_supported_language_is_identified(lang: str, text: str) -> None:
    assert identify(text) == lang


def test_sample_covers_every_supported_language() -> None:
    assert {lang for lang, _ in _sample()} == SUPPORTED


@pytest.mark.parametrize(
    ("tag", "code"),
    [("pt-BR", "pt"), ("PT_br", "pt"), ("en", "en"), ("zh-Hant-TW", "zh"), ("iw", "he"),
     (["de", "en"], "de"), ("und", None), ("mul", None), ("zxx", None), ("xx-YY", None),
     ("", None), ([], None), (None, None), (42, None), ("english", None), ("e", None)],
)  # fmt: skip
def test_platform_tags_are_cut_to_iso_639_1(tag: object, code: str | None) -> None:
    assert normalise_tag(tag) == code


def test_a_valid_platform_tag_wins_over_the_text() -> None:
    assert identify("my order never arrived", hint="pt-BR") == "pt"
    # a tag that is no language: the text decides
    assert identify("my order never arrived and nobody answers", hint="und") == "en"
    assert identify("my order never arrived and nobody answers", hint="qq-ZZ") == "en"


@pytest.mark.parametrize(
    "text",
    ["", "   ", "😡😡😡", "🔥 🚀 💯 !!!", "@acme #fail https://t.co/xyz 123", "&amp; ... ???",
     "12:30", "\x00\x01", "\n\n\t"],
)  # fmt: skip
def test_nothing_left_after_cleaning_is_und(text: str) -> None:
    assert clean(text) == "" or not any(c.isalpha() for c in clean(text))
    assert identify(text) == UNDETERMINED


@pytest.mark.parametrize(
    ("text", "lang"),
    [("サービスが全然つながらない", "ja"), ("客服电话一直打不通", "zh"),
     ("인터넷이 또 끊겼어요", "ko"), ("อินเทอร์เน็ตใช้ไม่ได้อีกแล้ว", "th"),
     ("το ίντερνετ δεν δουλεύει πάλι", "el"),
     ("האינטרנט לא עובד שוב היום", "he")],
)  # fmt: skip
def test_scripts_of_one_language_decide(text: str, lang: str) -> None:
    assert identify(text) == lang


def test_mixed_scripts_the_dominant_one_decides() -> None:
    assert identify("الخدمة سيئة جدا اليوم والإنترنت مقطوع WiFi") == "ar"
    assert identify("the wifi is down again at the office, 東京") == "en"
    # an even mix still gets one defined answer, never an exception
    assert identify("東京 Tokyo 大阪 Osaka") in {"ja", "zh", "en", UNDETERMINED}


def test_cyrillic_goes_to_the_model() -> None:
    assert identify("интернет опять не работает уже третий день") == "ru"


def test_bad_input_never_raises() -> None:
    for bad in [None, 12, b"bytes", "\ud800 lone surrogate", "a" * 20_000, "x\ny\rz"]:
        assert isinstance(identify(bad), str)  # type: ignore[arg-type]
        assert isinstance(identify("text", hint=bad), str)  # type: ignore[arg-type]


def test_batch_form_is_the_single_form() -> None:
    texts = [t for _, t in _sample()] + ["", "😡"]
    hints: list[str | None] = [None] * len(texts)
    hints[0] = "es-MX"
    assert identify_many(texts, hints) == [
        identify(t, h) for t, h in zip(texts, hints, strict=True)
    ]
    assert identify_many(texts) == [identify(t) for t in texts]
    with pytest.raises(ValueError):
        identify_many(texts, hints[:-1])


@pytest.mark.parametrize(
    "text",
    ["thodi si frequency badha dijiye yaar", "Agye tum log chennai se kab ??",
     "situation itna kharab", "phir se network gaya"],
)  # fmt: skip
def test_learned_romanised_hindi_words(text: str) -> None:
    # one word of the learned list is enough (itna, yaar, phir, kab...)
    assert identify(text) == "hi"


def test_learned_list_is_hindi_not_topic_or_other_languages() -> None:
    from detectors.hinglish import LEARNED

    assert {"nahi", "bhi", "kya", "yaar"} <= LEARNED
    # names and topics of the training tweets are not language evidence
    assert not LEARNED & {"salman", "khan", "kejriwal", "bjp", "delhi", "url", "sir"}
    # frequent words of the other supported Latin-script languages are not in it
    others = {"the", "and", "die", "und", "que", "les", "che", "não", "de", "la", "il", "to"}
    assert not LEARNED & others
    # English, German and Portuguese posts stay what they are
    assert identify("my order never arrived and nobody answers the phone") == "en"
    assert identify("Die Bahn ist schon wieder zu spät, unglaublich") == "de"


@pytest.mark.parametrize("text", ["network gayab hai subah se"])
def test_hinglish_classifier_catches_what_the_word_lists_miss(text: str) -> None:
    from detectors.language import _romanised_hindi, hinglish_score

    words = clean(text).lower().split()
    assert not _romanised_hindi(words)  # no listed word: the classifier decides
    assert hinglish_score(words) > 3.5
    assert identify(text) == "hi"


def test_english_word_salads_are_not_hindi() -> None:
    """bench.pipeline's posts: eight random English words after a brand. At the CV-chosen
    threshold (1.5) the classifier called 2.7 % of them Hindi, and an English-only brand loses
    a post called Hindi; the shipped threshold calls none of them so."""
    import random

    words = ["network", "outage", "refund", "support", "order", "delivery", "late", "broken",
             "love", "great", "new", "price", "app", "update", "crash", "store", "phone", "bill",
             "service", "recall", "taste", "fresh", "launch", "deal", "slow", "fast"]  # fmt: skip
    rng = random.Random(7)
    texts = [f"{rng.choice(['telvana', 'crunchly', 'orbitel'])} {' '.join(rng.choices(words, k=8))}"
             for _ in range(3000)]  # fmt: skip
    assert [t for t in texts if identify(t) == "hi"] == []


@pytest.mark.parametrize(
    "text",
    ["my order never arrived and nobody answers the support line",
     "returned my Nimbus tablet, total waste of money",
     "at work, 7 weeks and still no reply from nexa mobile customer service",
     "great, another Nexa Mobile outage. thanks Nexa Mobile 😒"],
)  # fmt: skip
def test_english_complaints_are_not_hinglish(text: str) -> None:
    # the Hindi training folder is a third plain English: its classifier gets no say where
    # fastText is fairly sure (HINGLISH cap), and needs a clear margin elsewhere
    assert identify(text) == "en"


def test_hinglish_classifier_is_not_asked_when_the_model_is_sure() -> None:
    from detectors.language import _is_hinglish, _model_hinglish

    words = ["kab", "tak", "chalega", "ye", "sab"]
    assert _model_hinglish().cap < 0.9
    assert _is_hinglish(words, 0.5) and not _is_hinglish(words, 0.95)


@pytest.mark.parametrize(
    ("text", "hint"),
    [("", "qme"), ("😡😡😡", "xx-YY"), ("@acme #fail", "zxx"), ("!!! ???", "klingon"),
     ("🔥", ""), ("   ", None), ("https://t.co/x", "und"), ("😀 ... 123", "mul")],
)  # fmt: skip
def test_unknown_codes_with_nothing_to_read_are_und(text: str, hint: str | None) -> None:
    # an unknown platform code is ignored; then nothing is left after cleaning: und
    assert identify(text, hint) == UNDETERMINED
    assert identify_many([text], [hint]) == [UNDETERMINED]


@pytest.mark.parametrize(
    "text",
    ["東京 Tokyo 大阪 Osaka", "مرحبا hello 你好 привет", "नमस्ते hello سلام", "😡 ok 東",
     "a\u0301\u0301\u0301", "\u200b\u200d\ufeff", "Ｔｅｌｖａｎａ ｆａｉｌ"],
)  # fmt: skip
def test_mixed_and_odd_scripts_get_a_defined_code(text: str) -> None:
    lang = identify(text)
    assert lang == UNDETERMINED or normalise_tag(lang) == lang  # a real ISO 639-1 code or und


def test_tag_words_count_only_beside_other_words() -> None:
    assert clean("Heute wieder #keine #lust auf #arbeit") == "Heute wieder keine lust auf arbeit"
    assert clean("#keine #lust #arbeit @acme") == ""  # tags alone are no text
    assert clean("#keine #lust", tags=False) == "" and identify("#keine #lust #arbeit") == "und"


def test_no_classifier_file_leaves_the_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    import detectors.language as lid

    monkeypatch.setattr(lid, "_HINGLISH", "no-such-file.json")
    monkeypatch.setattr(lid, "_hinglish", None)
    assert identify("yrr network phirse gayab") == "en"  # the classifier's catch is gone
    assert identify("bhai yeh network kab theek hoga") == "hi"  # the word lists remain
    assert identify("my order never arrived and nobody answers") == "en"


# The second opinion for posts the model is unsure about (EVIDENCE_GATE): short posts whose
# function words or diacritics name their language. Each was read wrong before it.
@pytest.mark.parametrize(
    ("text", "lang", "before"),
    [("Socorro tô nervosa", "pt", "ar"), ("träum was schönes", "de", "en"),
     ("Namaria tá de pijama?", "pt", "es"), ("ti seguo! :)", "it", "pt"),
     ("Eoliennes : l’armée vent debout", "fr", "en")],
)  # fmt: skip
def test_function_words_decide_when_the_model_is_unsure(
    text: str, lang: str, before: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import detectors.language as lid

    assert identify(text) == lang
    monkeypatch.setattr(lid, "EVIDENCE_GATE", 0.0)  # without the second opinion
    assert identify(text) == before


@pytest.mark.parametrize(
    "text",
    ["love this café so much", "Beyoncé was amazing tonight", "Müller is the best player",
     "Jalapeño poppers for dinner", "naïve question about the update"],
)  # fmt: skip
def test_english_with_loanword_accents_stays_english(text: str) -> None:
    # a diacritic is weak evidence against the model's English and English function words
    assert identify(text) == "en"


def test_evidence_counts_function_words_and_diacritics() -> None:
    from detectors.language import (
        _FUNCTION_WORDS,
        _LATIN_SUPPORTED,
        EVIDENCE_WEIGHT,
        MARK_WEIGHT,
        _evidence,
    )

    ev = dict(zip(_LATIN_SUPPORTED, _evidence(["und", "nicht"], "und nicht ß"), strict=True))
    assert ev["de"] == 2 * EVIDENCE_WEIGHT + MARK_WEIGHT and ev["en"] == ev["fr"] == 0
    ev = dict(zip(_LATIN_SUPPORTED, _evidence(["café"], "café"), strict=True))
    assert ev["en"] == ev["de"] == 0 and ev["pt"] == ev["fr"] == MARK_WEIGHT / 4  # é: 4 langs
    assert not any(_evidence(["zzz"], "zzz"))  # nothing to go by: the model decides
    # words common in English are nobody else's evidence (short English posts stay English)
    english_too = {"a", "me", "no", "do", "in", "on", "so", "was", "as", "an", "man", "come"}
    for lang, words in _FUNCTION_WORDS.items():
        assert lang == "en" or not words & english_too, lang


def test_a_sure_model_or_an_unsupported_top_guess_is_not_second_guessed() -> None:
    # the model is sure (>= EVIDENCE_GATE): its answer stays, whatever the function words
    assert identify("Die Bahn ist schon wieder zu spät, unglaublich") == "de"
    assert identify("my crème brûlée recipe") == "fr"  # model: fr 0.59, unchanged rule
    # a confident unsupported language stays itself (Dutch, Turkish: unknown sentiment)
    assert identify("Mapleberry siparişim 10 gün oldu hâlâ gelmedi") == "tr"


@pytest.mark.parametrize(
    ("text", "lang"),
    [("Ban Ki-moon: il est grand temps d'agir contre les changements climatiques", "fr"),
     ("Toh, che novità. Non l'ho già sentita una headline simile?", "it")],
)  # fmt: skip
def test_one_hindi_word_gives_way_to_a_sure_model(text: str, lang: str) -> None:
    # "ki" (Ban Ki-moon), "toh": one listed word in a post the model is >= 0.9 sure of
    from detectors.language import _one_hindi_word, _romanised_hindi

    words = clean(text).lower().split()
    assert _romanised_hindi(words) and _one_hindi_word(words)
    assert identify(text) == lang
    # more Hindi evidence, or a model that is not sure: still Hindi
    assert identify("ki baat hai") == "hi"
    assert identify("mujhe kaise pata chega ki aap aa gaye") == "hi"


@pytest.mark.parametrize(
    ("text", "lang", "asks_model"),
    [("the refund is still not here and my order is late", "en", False),
     ("why is the app down again, this is the worst", "en", False),
     ("o app da acme is down e the support não responde", "pt", True),  # Portuguese words
     ("the café is great and my crème brûlée was perfect", "en", True),  # not ASCII
     ("network outage refund support order", "en", True),  # no function words
     ("yaar the app is down and my bill is wrong", "hi", False),  # Hindi words decide first
     ("I really don't want to go to ISS tomorrow", "en", False)],  # "iss": a learned word
)  # fmt: skip
def test_plain_english_needs_no_model_call(
    monkeypatch: pytest.MonkeyPatch, text: str, lang: str, asks_model: bool
) -> None:
    from detectors import language

    calls: list[str] = []
    ranked = language._ranked
    monkeypatch.setattr(
        language, "_ranked", lambda t, k=language.TOP_K: calls.append(t) or ranked(t, k)
    )
    assert identify(text) == lang
    assert bool(calls) == asks_model
    assert language._EN_ONLY.isdisjoint(language._OTHER_WORDS)


@pytest.mark.parametrize(
    "text",
    ["big fan of Crunchly 🔥",  # the model: Frisian at 0.92
     "got the Mapleberry tracking email, eta 2 hours"],  # the model: Basque
)  # fmt: skip
def test_short_english_is_not_a_seldom_posted_language(text: str) -> None:
    assert identify(text) == "en"


def test_english_cues_need_two_words_or_english_among_the_guesses() -> None:
    from detectors.language import _english_cues

    frisian = [(0.92, "fy"), (0.07, "en")]
    assert _english_cues(["big", "fan", "of"], frisian)
    assert not _english_cues(["big", "fan", "of"], [(0.92, "fy"), (0.05, "nl")])
    assert _english_cues(["got", "the", "email"], [(0.58, "eu")])
    assert not _english_cues(["the", "de", "la"], frisian)  # another supported language's words
