"""Report charts as PNG bytes (matplotlib, Agg backend: no display, no fonts fetched)."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, ParamSpec

import matplotlib

matplotlib.use("Agg")  # before pyplot: headless servers, deterministic PNGs
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from crisis_radar.report.timeline import Minute, Timeline, rolling

MARKS = (  # (attribute, label, colour)
    ("first_anomalous", "first anomalous", "#9467bd"),
    ("detection", "detection", "#ff7f0e"),
    ("page", "page", "#d62728"),
    ("peak", "peak", "#000000"),
    ("recovery", "recovery", "#2ca02c"),
)

# Chart text (brand and platform names, in any script): matplotlib draws each character with
# the first family of this list that has it (a box if none). Debian packages: `stack up`
# installs them (crisis_radar/stack/_install.py FONT_PACKAGES); family -> file name stem.
# Symbola: monochrome emoji (matplotlib cannot draw Noto Color Emoji's bitmaps).
FALLBACK = {
    "DejaVu Sans": "DejaVuSans",
    "Noto Sans": "NotoSans-Regular",
    "Noto Sans Arabic": "NotoSansArabic-Regular",
    "Noto Sans Hebrew": "NotoSansHebrew-Regular",
    "Noto Sans Devanagari": "NotoSansDevanagari-Regular",
    "Noto Sans Bengali": "NotoSansBengali-Regular",
    "Noto Sans Thai": "NotoSansThai-Regular",
    "Noto Sans CJK JP": "NotoSansCJK-Regular",
    "Symbola": "Symbola",
}
P = ParamSpec("P")


@functools.cache
def font_families() -> list[str]:
    """The families of ``FALLBACK`` matplotlib can use. Fonts installed after matplotlib
    cached its font list (per user, once) are not in it: add their files (no cache rebuild)."""
    fm = font_manager.fontManager
    known = {f.name for f in fm.ttflist}
    if any(family not in known for family in FALLBACK):
        stems = {stem for family, stem in FALLBACK.items() if family not in known}
        for path in font_manager.findSystemFonts():
            if Path(path).stem.split("_")[0] in stems:  # Symbola_hint.ttf
                fm.addfont(path)
        known = {f.name for f in fm.ttflist}
    return [family for family in FALLBACK if family in known]


def _fonts(chart: Callable[P, bytes]) -> Callable[P, bytes]:
    """Draw ``chart`` with the fallback chain (not a global rcParams change)."""

    @functools.wraps(chart)
    def drawn(*args: P.args, **kwargs: P.kwargs) -> bytes:
        with plt.rc_context({"font.family": font_families()}):
            return chart(*args, **kwargs)

    return drawn


def _x(ts: Sequence[datetime]) -> Any:
    """Matplotlib date numbers (its stubs do not take datetimes)."""
    return mdates.date2num(list(ts))  # type: ignore[no-untyped-call]


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _marks(ax: Axes, tl: Timeline) -> None:
    for attr, label, colour in MARKS:
        t: datetime | None = getattr(tl, attr)
        if t is not None:
            ax.axvline(float(_x([t])[0]), color=colour, linestyle="--", linewidth=1, label=label)


def _time_axis(ax: Axes) -> None:
    # Floats from date2num: tell the axis they are dates so ticks land on whole hours.
    loc = mdates.AutoDateLocator(tz="UTC", minticks=4, maxticks=10)  # type: ignore[no-untyped-call]
    fmt = mdates.DateFormatter("%H:%M", tz="UTC")  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(loc)
    ax.xaxis.set_major_formatter(fmt)
    ax.grid(alpha=0.3)


@_fonts
def volume_chart(minutes: Sequence[Minute], tl: Timeline, brand: str) -> bytes:
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ts = _x([m.minute for m in minutes])
    ax.bar(ts, [m.posts for m in minutes], width=1 / 1440, color="#1f77b4", label="posts")
    ax.bar(ts, [m.negative for m in minutes], width=1 / 1440, color="#d62728", label="negative")
    if tl.baseline_end is not None:
        ax.axhline(tl.volume.hi, color="grey", linewidth=0.8, label="baseline band (top)")
    _marks(ax, tl)
    _time_axis(ax)
    ax.set_title(f"{brand}: posts per minute (UTC)")
    ax.legend(loc="upper left", fontsize=7, ncol=4)
    return _png(fig)


@_fonts
def sentiment_chart(minutes: Sequence[Minute], tl: Timeline, brand: str, w: int = 5) -> bytes:
    """Trailing ``w``-minute pooled values: one minute of a quiet brand is 0, 0.5 or 1."""
    fig, ax = plt.subplots(figsize=(10, 3.2))
    roll = rolling(minutes, w)
    ts = _x([r[0] for r in roll])
    ax.plot(
        ts, [r[1] for r in roll], color="#d62728", linewidth=1, label=f"negative share ({w} min)"
    )
    ax.plot(
        ts, [r[2] for r in roll], color="#1f77b4", linewidth=1, label=f"mean sentiment ({w} min)"
    )
    b = tl.baseline
    if b.posts and len(ts):
        ax.axhline(b.share, color="#d62728", linewidth=0.8, linestyle=":", label="baseline share")
        ax.axhline(b.mean, color="#1f77b4", linewidth=0.8, linestyle=":", label="baseline mean")
    _marks(ax, tl)
    _time_axis(ax)
    ax.set_ylim(-1.05, 1.05)
    ax.set_title(f"{brand}: sentiment (UTC)")
    ax.legend(loc="lower left", fontsize=7, ncol=4)
    return _png(fig)


@_fonts
def competitors_chart(series: dict[str, Sequence[Minute]], tl: Timeline) -> bytes:
    fig, ax = plt.subplots(figsize=(10, 3.2))
    for brand, ms in series.items():
        ax.plot(_x([m.minute for m in ms]), [m.posts for m in ms], linewidth=1, label=brand)
    _marks(ax, tl)
    _time_axis(ax)
    ax.set_title("posts per minute, brand and competitors (UTC)")
    ax.legend(loc="upper left", fontsize=7, ncol=4)
    return _png(fig)


@_fonts
def platform_chart(names: Sequence[str], posts: Sequence[int], negative: Sequence[int]) -> bytes:
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.4 * max(1, len(names))))
    ax.barh(list(names), list(posts), color="#1f77b4", label="posts")
    ax.barh(list(names), list(negative), color="#d62728", label="negative")
    ax.invert_yaxis()
    ax.set_title("feedback per platform")
    ax.legend(fontsize=7)
    return _png(fig)
