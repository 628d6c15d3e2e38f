"""Read brands from the watchlist YAML (plain yaml, so the simulator has no detector dependency)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class SimBrand:
    id: str
    name: str
    keywords: tuple[str, ...]
    hashtags: tuple[str, ...]
    handles: tuple[str, ...]
    exclude: tuple[str, ...]
    group: str
    team: str


def _strs(entry: dict[str, Any], key: str) -> tuple[str, ...]:
    return tuple(str(v) for v in (entry.get(key) or []))


def load_brands(path: str | Path) -> list[SimBrand]:
    """Brands in file order; raises ValueError with the file name on a malformed file."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read watchlist {p}: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("brands"), list) or not doc["brands"]:
        raise ValueError(f"{p}: expected a top-level 'brands:' list")
    brands = []
    for i, entry in enumerate(doc["brands"]):
        if not isinstance(entry, dict) or not entry.get("id"):
            raise ValueError(f"{p}: brand #{i} has no 'id'")
        bid = str(entry["id"])
        brands.append(
            SimBrand(
                id=bid,
                name=str(entry.get("name") or bid),
                keywords=_strs(entry, "keywords"),
                hashtags=_strs(entry, "hashtags"),
                handles=_strs(entry, "handles"),
                exclude=_strs(entry, "exclude"),
                group=str(entry.get("group") or bid),
                team=str(entry.get("team") or ""),
            )
        )
    return brands
