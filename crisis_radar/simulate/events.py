"""Labelled scenario events: kinds, their ground truth and random parameters.

Crisis labels (``is_crisis``) and the severity a good detector should reach:
- product_defect, viral_complaint, copy_paste_campaign: crisis on the brand.
- competitor_crisis: a product_defect on a competitor of the named brand (same group). The truth
  row's ``brand`` is the competitor (where the crisis is); ``params.spillover_brand`` is the named
  brand, which only sees comparison chatter and should *not* alert.
- launch_spike: volume up with positive sentiment: not a crisis (severity none).
- launch_rush (not drawn at random; issue 18): a launch that draws queue and sold-out grumbles,
  volume up with a negative share up too. Not a crisis, but loud enough to page a brand that
  has not learned it: the recurring false alarm that analysts' feedback should silence.
- bot_burst: a handful of new low-follower accounts spamming negative posts. Real desks want to
  see it (severity "watch") but it is not a crisis: few authors, no reach. ``is_crisis`` False.

>>> import random
>>> p = draw_params("product_defect", random.Random(0), "food")
>>> 5 <= p["ramp_min"] <= 30 and 3 <= p["peak_multiple"] <= 20
True
>>> 60 <= duration_min("product_defect", p) <= 360
True
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from crisis_radar.simulate import text as tx

KINDS = (
    "product_defect",
    "viral_complaint",
    "copy_paste_campaign",
    "bot_burst",
    "launch_spike",
    "competitor_crisis",
)
# Kinds given by name only (--events), never drawn by random_events: adding one to KINDS would
# change every seed's random scenario.
EXTRA_KINDS = ("launch_rush",)
ALL_KINDS = KINDS + EXTRA_KINDS
IS_CRISIS = {
    "launch_rush": False,
    "product_defect": True,
    "viral_complaint": True,
    "copy_paste_campaign": True,
    "competitor_crisis": True,
    "launch_spike": False,
    "bot_burst": False,
}
SEVERITY = {
    "launch_rush": "watch",
    "product_defect": "crisis",
    "viral_complaint": "crisis",
    "copy_paste_campaign": "crisis",
    "competitor_crisis": "crisis",
    "launch_spike": "none",
    "bot_burst": "watch",
}
# Relative frequency of kinds in random scenarios.
KIND_WEIGHTS = {
    "product_defect": 0.25,
    "viral_complaint": 0.18,
    "copy_paste_campaign": 0.14,
    "bot_burst": 0.15,
    "launch_spike": 0.16,
    "competitor_crisis": 0.12,
}


@dataclass
class EventSpec:
    """What the user asks for: a kind on a brand at a time; params override the random draw."""

    kind: str
    brand: str
    start: datetime
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class TruthEvent:
    brand: str
    kind: str
    start: datetime
    end: datetime
    is_crisis: bool
    severity: str
    params: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "brand": self.brand,
            "kind": self.kind,
            "start": self.start.isoformat().replace("+00:00", "Z"),
            "end": self.end.isoformat().replace("+00:00", "Z"),
            "is_crisis": self.is_crisis,
            "severity": self.severity,
            "params": self.params,
        }


def _logu(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def draw_params(kind: str, rng: random.Random, group: str) -> dict[str, Any]:
    """Random parameters of one event (rounded so the truth file stays readable)."""
    if kind in ("product_defect", "competitor_crisis"):
        p = {
            "ramp_min": rng.randint(5, 30),
            "peak_multiple": round(_logu(rng, 3, 20), 2),
            "plateau_min": rng.randint(20, 150),
            "decay_min": rng.randint(15, 60),
            "negative_share": round(rng.uniform(0.65, 0.9), 2),
            "narrative": rng.choice(tx.NARRATIVE_BY_GROUP.get(group, ["defect", "breach"])),
        }
        spill = round(rng.uniform(0.3, 1.5), 2)  # drawn for both kinds: same stream either way
        if kind == "competitor_crisis":
            p["spillover_multiple"] = spill
        return p
    if kind == "launch_spike":
        return {
            "ramp_min": rng.randint(10, 60),
            "peak_multiple": round(rng.uniform(3, 12), 2),
            "plateau_min": rng.randint(60, 240),
            "decay_min": rng.randint(30, 90),
            "positive_share": round(rng.uniform(0.65, 0.85), 2),
            "product": rng.choice(tx.NEW_PRODUCTS.get(group, ["Model One"])),
        }
    if kind == "launch_rush":
        return {
            "ramp_min": rng.randint(5, 15),
            "peak_multiple": round(rng.uniform(4, 8), 2),
            "plateau_min": rng.randint(30, 90),
            "decay_min": rng.randint(15, 40),
            "negative_share": round(rng.uniform(0.35, 0.5), 2),
            "positive_share": round(rng.uniform(0.3, 0.4), 2),
            "product": rng.choice(tx.NEW_PRODUCTS.get(group, ["Model One"])),
        }
    if kind == "viral_complaint":
        return {
            "reposts": int(_logu(rng, 1000, 6000)),
            "ramp_min": rng.randint(10, 30),
            "decay_min": rng.randint(30, 120),
            "rt_text_share": round(rng.uniform(0.2, 0.5), 2),
            "quote_share": 0.08,
            "chatter_multiple": round(rng.uniform(0.5, 2.0), 2),
        }
    if kind == "copy_paste_campaign":
        return {
            "authors": int(_logu(rng, 150, 1500)),
            "posts_per_author": round(rng.uniform(1.0, 1.6), 2),
            "duration_min": rng.randint(30, 180),
            "template": rng.randrange(len(tx.CAMPAIGN)),
            "new_account_share": 0.3,
        }
    if kind == "bot_burst":
        return {
            "bots": rng.randint(3, 12),
            "posts_per_bot": rng.randint(20, 120),
            "duration_min": rng.randint(20, 90),
            "spam_share": round(rng.uniform(0.4, 0.9), 2),
        }
    raise ValueError(f"unknown event kind {kind!r}; known: {', '.join(ALL_KINDS)}")


def duration_min(kind: str, p: dict[str, Any]) -> int:
    if "duration_min" in p and kind in ("copy_paste_campaign", "bot_burst"):
        return int(p["duration_min"])
    if kind == "viral_complaint":
        return int(p["ramp_min"] + 3 * p["decay_min"])
    return int(p["ramp_min"] + p["plateau_min"] + 3 * p["decay_min"])


def shape(kind: str, p: dict[str, Any], tau: float) -> float:
    """Relative intensity (peak 1) ``tau`` minutes after the start."""
    if tau < 0 or tau >= duration_min(kind, p):
        return 0.0
    if kind in ("copy_paste_campaign", "bot_burst"):
        return 1.0
    ramp, plateau = float(p["ramp_min"]), float(p.get("plateau_min", 0))
    if tau < ramp:
        return (tau + 0.5) / ramp
    if tau < ramp + plateau:
        return 1.0
    return math.exp(-(tau - ramp - plateau) / float(p["decay_min"]))


def end_of(start: datetime, kind: str, p: dict[str, Any]) -> datetime:
    return start + timedelta(minutes=duration_min(kind, p))
