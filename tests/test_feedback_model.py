"""Sentiment corrections with bounded influence and alert labels with capped sensitivity
(detectors/feedback.py), on the real base model: pure Python, no services.

The corrections teach the model a kind of post it gets wrong: sarcastic thanks for a billing
mistake ("oh wonderful, telvana doubled my bill again, thanks so much"), which the base model
reads as positive. The held-out paraphrases below were written for this test and are never
corrected; the controls are unrelated posts that must keep the base model's label.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

from detectors.crisis import CrisisScorer
from detectors.feedback import (
    MAX_RAISE,
    MAX_TOLERANCE,
    MIN_MOOD,
    MIN_VOLUME,
    BrandFeedback,
    SentimentCorrections,
)
from detectors.sentiment import SentimentModel
from schemas.models import BrandMinute, Severity

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
OPENERS = ["oh wonderful", "oh great", "wow amazing", "fantastic", "just perfect", "lovely"]
MISTAKES = ["telvana doubled my bill again", "telvana charged me twice again",
            "telvana billed me for a plan i cancelled", "telvana overcharged my account again",
            "telvana added mystery fees to my bill"]  # fmt: skip
CLOSERS = ["thanks so much", "thanks a lot", "really appreciate it", "best company ever"]
# Held out: never corrected; close paraphrases (other wording of the same complaint).
PARAPHRASES = [
    "oh wonderful, telvana doubled my bill again this month, thanks so much",
    "wow amazing, telvana charged me twice again, thanks a lot telvana",
    "lovely, telvana overcharged my account again, really appreciate it guys",
    "fantastic, telvana added mystery fees to my bill, best company ever",
    "oh great telvana billed me for a plan i cancelled, thanks a lot",
]
CONTROLS = [  # must keep the base model's label
    "telvana support fixed my router in ten minutes, thanks so much",
    "the new telvana one phone looks fantastic",
    "telvana network down again in the whole city, nothing works",
    "telvana store opens at nine tomorrow",
]


def corrections_texts(n: int, seed: int = 1) -> list[str]:
    combos = list(itertools.product(OPENERS, MISTAKES, CLOSERS))
    random.Random(seed).shuffle(combos)
    held = {p.lower() for p in PARAPHRASES}
    texts = [f"{o}, {m}, {c}" for o, m, c in combos]
    return [t for t in texts if t not in held][:n]


def labels(model: SentimentModel, corr: SentimentCorrections, texts: list[str]) -> list[str]:
    out = []
    for t in texts:
        base = model.predict_one(t).label
        fixed = corr.correct(t, base)
        out.append(base if fixed is None else fixed[0])
    return out


def test_the_base_model_gets_the_paraphrases_wrong() -> None:
    model = SentimentModel.load_default()
    assert sum(model.predict_one(t).label != "negative" for t in PARAPHRASES) >= 3


def test_one_author_moves_no_more_than_the_bound() -> None:
    model = SentimentModel.load_default()
    corr = SentimentCorrections()
    texts = corrections_texts(120)
    before = labels(model, corr, PARAPHRASES + CONTROLS + texts[:20])
    results = [corr.learn(f"f{i}", texts[i % len(texts)], "negative", "mallory",
                          T0 + timedelta(minutes=i)) for i in range(200)]  # fmt: skip
    # the bound: at most per_author_day corrections a day count, and one author never
    # reaches the min_authors an override needs: no prediction moves, even on the texts
    # corrected themselves
    assert results.count("learned") == corr.per_author_day == 5
    assert results.count("capped") == 195
    assert labels(model, corr, PARAPHRASES + CONTROLS + texts[:20]) == before
    # a second day counts 5 more, still one author: still nothing moves
    for i in range(200):
        corr.learn(f"g{i}", texts[i % len(texts)], "negative", "mallory", T0 + timedelta(days=1))
    assert corr.learned == 10
    assert labels(model, corr, PARAPHRASES + CONTROLS) == before[: len(PARAPHRASES + CONTROLS)]


def test_fifty_analysts_change_close_paraphrases_only() -> None:
    model = SentimentModel.load_default()
    corr = SentimentCorrections()
    texts = corrections_texts(200)
    controls_before = labels(model, corr, CONTROLS)
    for i, text in enumerate(texts):  # 200 corrections, 4 per analyst
        assert corr.learn(f"f{i}", text, "negative", f"analyst{i % 50}", T0) == "learned"
    assert labels(model, corr, PARAPHRASES) == ["negative"] * len(PARAPHRASES)
    assert labels(model, corr, CONTROLS) == controls_before


def test_a_flood_from_one_author_cannot_outvote_analysts() -> None:
    """Analysts taught 'negative'; one author's 200 'positive' count 5 and convince no text."""
    model = SentimentModel.load_default()
    corr = SentimentCorrections()
    texts = corrections_texts(200)
    for i, text in enumerate(texts[:100]):
        corr.learn(f"a{i}", text, "negative", f"analyst{i % 25}", T0)
    for i in range(200):
        corr.learn(f"m{i}", texts[i % 100], "positive", "mallory", T0)
    assert labels(model, corr, PARAPHRASES) == ["negative"] * len(PARAPHRASES)


def test_false_alarms_raise_paging_levels_capped_and_real_never_lowers_sensitivity() -> None:
    fb = BrandFeedback()
    for i in range(3):
        fb.label(f"f{i}", f"a{i}", "false_alarm", 0.62, 2, "ann", T0, "")
    assert round(fb.raise_, 2) == 0.15 == MAX_RAISE  # 3 x 0.05, the cap
    for i in range(10):
        fb.label(f"g{i}", f"b{i}", "false_alarm", 0.62, 2, "ann", T0, "", 0.9)
    assert round(fb.enter(2), 2) == 0.65 and round(fb.enter(3), 2) == 0.85
    assert fb.enter(1) == 0.3  # watch is never raised
    assert fb.tolerance == MAX_TOLERANCE  # a 90 % negative "false alarm" still stops at 55 %
    raised = fb.raise_
    fb.label("r1", "c1", "real", 0.99, 3, "bob", T0, "")  # a real crisis at 0.99 still pages
    assert fb.raise_ == raised
    fb.label("r2", "c2", "real", 0.58, 2, "bob", T0, "", 0.5)  # confirmed: must page again
    assert fb.enter(2) <= 0.58 and fb.raise_ < raised
    assert not fb.tolerated(0.5)  # nor may its negative share be tolerated
    fb.label("e1", "c3", "expected", 0.7, 2, "bob", T0, "")
    assert fb.enter(2) <= 0.58
    assert [c.label for c in fb.changes][-3:] == ["real", "real", "expected"]


def test_feedback_silences_the_false_alarms_pattern_not_a_negative_turn() -> None:
    """Three false alarms on a mixed crowd (45 % negative, mean sentiment -0.05): a surge as
    mixed as they were (x6, half negative, a third positive) stays at watch; the same volume and
    negative share with nobody positive (a one-sided negative turn, a defect's mood) meets the
    levels as built: crisis."""
    from detectors.crisis import CrisisScorer
    from schemas.models import BrandMinute, Severity

    def bm(i: int, posts: int, neg: int, pos: int = 0) -> BrandMinute:
        return BrandMinute(brand="acme", minute=T0 + timedelta(minutes=i), posts=posts,
                           unique_posts=posts, unique_authors=posts, negative=neg, positive=pos,
                           neutral=posts - neg - pos,
                           sentiment_sum=-0.5 * neg + 0.5 * pos)  # fmt: skip

    peaks = {}
    for name, pos in (("mixed", 20), ("one-sided", 0)):
        cs = CrisisScorer()
        fb = cs.feedback_of("acme")  # smooths the brand's share and mood from the start
        for i in range(240):
            cs.process_one(bm(i, 10, 1 + i % 2))
        for j in range(3):
            fb.label(f"f{j}", f"a{j}", "false_alarm", 0.9, 3, "ann", T0, "", 0.45, -0.05)
        assert round(fb.mood, 2) == -0.2 and fb.tolerance == MAX_TOLERANCE
        peaks[name] = max(cs.process_one(bm(240 + k, 60, 30, pos)).severity for k in range(5))
    assert peaks == {"mixed": Severity.WATCH, "one-sided": Severity.CRISIS}


def test_a_crisis_like_false_alarm_cannot_widen_the_pattern_past_the_bound() -> None:
    fb = BrandFeedback()
    assert not fb.looks_like(0.0, 10.0)  # no false alarm yet: nothing is the pattern
    fb.label("f1", "a1", "false_alarm", 0.9, 3, "ann", T0, "", 0.8, -0.7)
    assert fb.mood == MIN_MOOD and not fb.looks_like(-0.45, 10.0)  # a defect's mood stays out
    assert fb.enter(2, pattern=False) == 0.5 < fb.enter(2)
    # a confirmed crisis at a mixed mood narrows the pattern: never less sensitive
    fb.label("r1", "a2", "real", 0.9, 3, "bob", T0, "", 0.5, -0.3)
    assert round(fb.mood, 2) == -0.15 and not fb.looks_like(-0.3, 10.0)


def _mixed(i: int, posts: int, neg: int, pos: int) -> BrandMinute:
    return BrandMinute(brand="acme", minute=T0 + timedelta(minutes=i), posts=posts,
                       unique_posts=posts, unique_authors=posts, negative=neg, positive=pos,
                       neutral=posts - neg - pos, sentiment_sum=-0.5 * neg + 0.5 * pos)  # fmt: skip


def _taught(feedback: bool) -> CrisisScorer:
    """Four quiet hours at 10 posts a minute; with ``feedback``, three false alarms like a launch
    rush's (5x the expected volume, 45 % negative, a mixed mood of -0.05)."""
    cs = CrisisScorer()
    fb = cs.feedback_of("acme")
    for i in range(240):
        cs.process_one(_mixed(i, 10, 1 + i % 2, 2))
    if feedback:
        for j in range(3):
            fb.label(f"f{j}", f"a{j}", "false_alarm", 0.9, 3, "ann", T0, "", 0.45, -0.05, 5.0)
    return cs


def test_a_crisis_rising_slower_than_the_false_alarms_pages_as_without_feedback() -> None:
    """Seed 4141's delay: a competitor's crisis spilling over at 1.3-1.7x the usual volume, half
    negative, a mood (-0.15) as mixed as the launch rushes' labelled false alarms. Inside the mood
    pattern, but not their volume shape (5x): it pages at the same minutes as without feedback
    (the mood pattern alone held it at watch for all 12 minutes)."""
    runs = {}
    for feedback in (False, True):
        cs = _taught(feedback)
        runs[feedback] = [cs.process_one(_mixed(240 + k, 16, 8, 3)).severity for k in range(12)]
    assert runs[True] == runs[False]
    assert Severity.WARNING in runs[True] and runs[True][-1] == Severity.CRISIS
    fb = _taught(True).feedback_of("acme")
    assert fb.volume_floor == 2.5 and fb.looks_like(-0.15, 2.5) and not fb.looks_like(-0.15, 1.4)


def test_the_false_alarms_shape_still_stays_at_watch_through_its_tail() -> None:
    """The same mix at 6x (the rush) stays at watch, and so does its fading tail at 1.8x while
    the evidence lingers: the shape is the smoothed ratio's recent peak (half-life ~70 min)."""
    cs = _taught(True)
    rush = [cs.process_one(_mixed(240 + k, 60, 27, 20)).severity for k in range(20)]
    tail = [cs.process_one(_mixed(260 + k, 18, 8, 6)) for k in range(15)]
    assert max(rush) == Severity.WATCH and max(a.severity for a in tail) == Severity.WATCH
    assert tail[0].score >= 0.9  # without the held peak these minutes page (crisis levels)
    control = _taught(False)
    for k in range(20):
        control.process_one(_mixed(240 + k, 60, 27, 20))
    assert control.process_one(_mixed(260, 18, 8, 6)).severity == Severity.CRISIS


def test_labels_without_a_volume_ratio_get_the_widest_shape_the_bound_allows() -> None:
    fb = BrandFeedback()
    assert fb.volume_floor == MIN_VOLUME  # older pickles and labels read it too
    fb.label("f1", "a1", "false_alarm", 0.9, 3, "ann", T0, "", 0.4, -0.1)  # stored before 0022
    assert fb.volume_floor == MIN_VOLUME and not fb.looks_like(0.0, 1.2)
    fb.label("f2", "a2", "false_alarm", 0.9, 3, "ann", T0, "", 0.4, -0.1, 1.1)  # at the usual
    assert fb.volume_floor == MIN_VOLUME  # volume: cannot cover every minute of the brand


def _rush_taught(feedback: bool) -> tuple[CrisisScorer, int, list[Severity]]:
    """Four quiet hours (10 posts a minute, 15 % negative, 25 % positive), then three launch
    rushes (5x, 42 % negative, 30 % positive: a mixed crowd) that page; with
    ``feedback`` each page is labelled ``false_alarm`` once it is over, as ``crisis-radar
    feedback alert`` would (the alert minute's share, a rush's dip of a mood -0.28 as on seed
    5151, its volume ratio; the page's positive mix from the scorer's own minutes). Then a fourth
    rush. The scorer, the next minute, and the fourth rush's severities."""
    cs = CrisisScorer()
    i = 0

    def run(minutes: list[tuple[int, int, int]]) -> list[Severity]:
        nonlocal i
        out = []
        for posts, neg, pos in minutes:
            out.append(cs.process_one(_mixed(i, posts, neg, pos)).severity)
            i += 1
        return out

    quiet = [(10, 1 + k % 2, 2 + k % 2) for k in range(240)]
    rush = [(50, 21, 15)] * 60
    run(quiet)
    fourth: list[Severity] = []
    for day in range(4):
        start = i
        fourth = run(rush)
        run(quiet)
        page = next((start + k for k, s in enumerate(fourth) if s >= Severity.WARNING), None)
        if feedback and page is not None and day < 3:
            minute = T0 + timedelta(minutes=page)
            cs.feedback_of("acme").label(f"f{day}", f"a{day}", "false_alarm", 0.9, 3, "ann",
                                         minute, "", 0.42, -0.28, 5.0,
                                         cs.page_mix("acme", minute))  # fmt: skip
    return cs, i, fourth


def test_a_negative_turn_at_a_rushs_volume_and_mood_pages_as_without_feedback() -> None:
    """Seed 5151's delay: crunchly's competitor crisis arrived like its labelled launch rushes
    (4-9x the volume, about half negative, a smoothed mood of -0.25 to -0.4, inside the mood
    floor -0.4 and the tolerated 55 %) and was held at watch for 4 minutes (here: for good).
    But its crowd had few positives (7 % against the usual 25 % and the rushes' 30 %): not the
    usual or a positive mix, a negative turn. It pages at the same minute as without feedback,
    while the fourth rush still stays at watch."""
    crisis = [(25, 6, 2), (40, 14, 3), (55, 24, 3)] + [(60, 28, 4)] * 8  # 2.5-6x, 45 % negative
    first = {}
    for feedback in (False, True):
        cs, i, fourth = _rush_taught(feedback)
        if feedback:
            fb = cs.feedback_of("acme")
            assert fb.raise_ == MAX_RAISE and round(fb.tolerance, 2) == 0.52  # 42 % + 10
            assert fb.mood == MIN_MOOD and fb.mix_floor > 0.8  # the rushes' mix: >= ~their usual
            assert max(fourth) == Severity.WATCH  # the pattern learned is still silenced
        else:
            assert max(fourth) == Severity.CRISIS
        sev = [cs.process_one(_mixed(i + k, *m)) for k, m in enumerate(crisis)]
        if feedback:  # inside the mood, volume and share pattern: only the mix tells it apart
            fb = cs.feedback_of("acme")
            assert fb.smoothed_mood() >= fb.mood and fb.smoothed_share() <= fb.tolerance
            assert fb.smoothed_volume() >= fb.volume_floor
            assert cs.brands["acme"].mix < 0.5 * fb.mix_floor  # (without the mix: held at watch)
        first[feedback] = next(k for k, a in enumerate(sev) if a.severity >= Severity.WARNING)
    assert first[True] <= first[False]
