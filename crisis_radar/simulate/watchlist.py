"""Read brands from the watchlist YAML (validated by ``schemas.watchlist``, so the simulator has
no detector dependency)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from schemas.watchlist import load_watchlist


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
    official: tuple[str, ...] = ()  # its official accounts on the simulated platform
    # (language, keyword) of the keywords that count in one language only (a local name, a
    # transliteration): multilingual crowds mention the brand with them (simulate.langs)
    lang_keywords: tuple[tuple[str, str], ...] = ()


def load_brands(path: str | Path) -> list[SimBrand]:
    """Brands in file order; raises ``WatchlistError`` (a ValueError: ``file:line: path: what``)
    on a malformed file."""
    return [
        SimBrand(
            id=b.id,
            name=b.name or b.id,
            # the keywords of every language (per-language ones only when there are none)
            keywords=b.terms_of_every_language("keywords") or b.all_keywords,
            hashtags=tuple(b.hashtags or ()),
            handles=tuple(b.handles or ()),
            exclude=b.terms_of_every_language("exclude"),
            group=b.group or b.id,
            team=b.team or "",
            official=tuple((b.official or {}).get("simulated", ())),
            lang_keywords=tuple((lg, t) for lg, t in b.terms_by_language("keywords") if lg),
        )
        for b in load_watchlist(path).brands
    ]
