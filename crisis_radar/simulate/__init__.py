"""Scenario simulator: seeded, labelled synthetic posts for demos, tests and detector evaluation."""

from crisis_radar.simulate.events import IS_CRISIS, KINDS, EventSpec, TruthEvent
from crisis_radar.simulate.generator import Scenario, Simulator, post_json, random_events
from crisis_radar.simulate.watchlist import SimBrand, load_brands

__all__ = [
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
