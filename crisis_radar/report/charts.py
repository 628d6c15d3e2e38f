"""Report charts as PNG bytes (matplotlib, Agg backend: no display, no fonts fetched)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

import matplotlib

matplotlib.use("Agg")  # before pyplot: headless servers, deterministic PNGs
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from crisis_radar.report.timeline import Minute, Timeline

MARKS = (  # (attribute, label, colour)
    ("first_anomalous", "first anomalous", "#9467bd"),
    ("detection", "detection", "#ff7f0e"),
    ("page", "page", "#d62728"),
    ("peak", "peak", "#000000"),
    ("recovery", "recovery", "#2ca02c"),
)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _marks(ax: Axes, tl: Timeline) -> None:
    for attr, label, colour in MARKS:
        t: datetime | None = getattr(tl, attr)
        if t is not None:
            ax.axvline(t, color=colour, linestyle="--", linewidth=1, label=label)


def _time_axis(ax: Axes) -> None:
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz="UTC"))
    ax.grid(alpha=0.3)


def volume_chart(minutes: Sequence[Minute], tl: Timeline, brand: str) -> bytes:
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ts = [m.minute for m in minutes]
    ax.bar(ts, [m.posts for m in minutes], width=1 / 1440, color="#1f77b4", label="posts")
    ax.bar(ts, [m.negative for m in minutes], width=1 / 1440, color="#d62728", label="negative")
    if tl.baseline_end is not None:
        ax.axhline(tl.volume.hi, color="grey", linewidth=0.8, label="baseline band (top)")
    _marks(ax, tl)
    _time_axis(ax)
    ax.set_title(f"{brand}: posts per minute (UTC)")
    ax.legend(loc="upper left", fontsize=7, ncol=4)
    return _png(fig)


def sentiment_chart(minutes: Sequence[Minute], tl: Timeline, brand: str) -> bytes:
    fig, ax = plt.subplots(figsize=(10, 3.2))
    live = [m for m in minutes if m.posts]
    ts = [m.minute for m in live]
    ax.plot(ts, [m.negative_share for m in live], color="#d62728", linewidth=1,
            label="negative share")
    ax.plot(ts, [m.mean_sentiment for m in live], color="#1f77b4", linewidth=1,
            label="mean sentiment")
    if tl.baseline_end is not None and ts:
        ax.fill_between(ts, tl.negative_share.lo, tl.negative_share.hi, color="#d62728",
                        alpha=0.1, label="baseline band")
        ax.fill_between(ts, tl.sentiment.lo, tl.sentiment.hi, color="#1f77b4", alpha=0.1)
    _marks(ax, tl)
    _time_axis(ax)
    ax.set_ylim(-1.05, 1.05)
    ax.set_title(f"{brand}: sentiment per minute (UTC)")
    ax.legend(loc="lower left", fontsize=7, ncol=4)
    return _png(fig)


def competitors_chart(series: dict[str, Sequence[Minute]], tl: Timeline) -> bytes:
    fig, ax = plt.subplots(figsize=(10, 3.2))
    for brand, ms in series.items():
        ax.plot([m.minute for m in ms], [m.posts for m in ms], linewidth=1, label=brand)
    _marks(ax, tl)
    _time_axis(ax)
    ax.set_title("posts per minute, brand and competitors (UTC)")
    ax.legend(loc="upper left", fontsize=7, ncol=4)
    return _png(fig)


def platform_chart(names: Sequence[str], posts: Sequence[int], negative: Sequence[int]) -> bytes:
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.4 * max(1, len(names))))
    ax.barh(list(names), list(posts), color="#1f77b4", label="posts")
    ax.barh(list(names), list(negative), color="#d62728", label="negative")
    ax.invert_yaxis()
    ax.set_title("feedback per platform")
    ax.legend(fontsize=7)
    return _png(fig)
