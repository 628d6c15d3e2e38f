"""Scenario simulator: seeded, labelled synthetic posts for demos, tests and detector evaluation.

Outputs of ``crisis-radar simulate``:
- posts: JSONL, one canonical ``schemas.Post.model_dump_json()`` per line, event-time order,
  ``platform="simulated"``, ``source="simulate"``; Kafka key ``simulated:<post_id>``.
- truth (``--truth``): ``{"seed", "scenario": {...config...}, "brands": {id: profile},
  "crisis_kinds": [...], "events": [{"brand", "kind", "start", "end", "is_crisis", "severity",
  "params"}]}``; times are ISO UTC with ``Z``. ``brand`` is where the signal is (for
  ``competitor_crisis``: the competitor; ``params.spillover_brand`` is the named brand).
  ``severity`` is what a good detector should reach: crisis | watch (bot_burst) | none (launch).
- labels (``--labels``): JSONL ``{"post_id", "brand", "sentiment", "event", "role", "lang"}``
  with the intended brand ("" = should match none: off-topic excluded phrases, the
  ``foreign_share`` posts), the intended sentiment, the event index in truth ``events`` (-1 =
  baseline), the role (baseline, support, offtopic, foreign, spillover, or the event kind) and
  the intended language (``--crowd-langs``/``--crisis-lang``: docs/languages.md, "Simulated
  multilingual crowds"; a crowd post in another language keeps its brand).
"""

from crisis_radar.simulate.events import ALL_KINDS, IS_CRISIS, KINDS, EventSpec, TruthEvent
from crisis_radar.simulate.generator import Scenario, Simulator, post_json, random_events
from crisis_radar.simulate.watchlist import SimBrand, load_brands

__all__ = [
    "ALL_KINDS",
    "IS_CRISIS",
    "KINDS",
    "EventSpec",
    "Scenario",
    "SimBrand",
    "Simulator",
    "TruthEvent",
    "load_brands",
    "post_json",
    "random_events",
]
