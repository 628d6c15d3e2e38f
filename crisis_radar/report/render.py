"""Render a ``Report`` as self-contained HTML (PNG data URIs, inline CSS, no script, no external
resource) and as Markdown (charts as PNG files beside it)."""

from __future__ import annotations

import base64
from datetime import datetime
from html import escape

from crisis_radar.report.build import Report

SEVERITY = {0: "none", 1: "watch", 2: "warning", 3: "crisis"}
CHART_TITLES = {
    "volume": "Volume",
    "sentiment": "Sentiment",
    "competitors": "Competitors",
    "platforms": "Feedback per platform",
}


def _t(t: datetime | None) -> str:
    return f"{t:%Y-%m-%d %H:%M} UTC" if t else "—"


def _delay(r: Report, t: datetime | None) -> str:
    d = r.timeline.delay(t)
    return "" if d is None else f"+{d:.0f} min"


def milestones(r: Report) -> list[tuple[str, str, str]]:
    tl = r.timeline
    peak = f"{_t(tl.peak)} ({tl.peak_posts} posts)" if tl.peak else "—"
    return [
        ("first anomalous minute", _t(tl.first_anomalous), ""),
        ("detection (first warning alert)", _t(tl.detection), _delay(r, tl.detection)),
        ("page (first crisis alert raised)", _t(tl.page), _delay(r, tl.page)),
        ("peak (max-volume minute)", peak, _delay(r, tl.peak)),
        ("recovery (sentiment back in baseline band)", _t(tl.recovery), _delay(r, tl.recovery)),
    ]


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    m, s = divmod(round(seconds), 60)
    return f"{m // 60}h {m % 60:02d}m" if m >= 60 else f"{m}m {s:02d}s"


def _share(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def tables(r: Report) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of every table, shared by both renderings."""
    out: list[tuple[str, list[str], list[list[str]]]] = [
        (
            "Timeline",
            ["milestone", "when", "after first anomaly"],
            [list(m) for m in milestones(r)],
        ),
        (
            "Sentiment before / during / after",
            ["phase", "from", "minutes", "posts", "negative share", "mean sentiment"],
            [
                [
                    p.name,
                    _t(p.start),
                    str(p.minutes),
                    str(p.posts),
                    f"{p.negative_share:.1%}",
                    f"{p.mean_sentiment:+.3f}",
                ]
                for p in r.phases
            ],
        ),
        (
            "Response before / during / after",
            [
                "phase",
                "complaints",
                "answered within 15 min",
                "answered within 1 h",
                "median first response",
                "brand replies",
                "replies per complaint",
            ],
            [
                [
                    p.name,
                    str(p.complaints),
                    _share(p.answered_15m_share),
                    _share(p.answered_1h_share),
                    _dur(p.median_first_response_s),
                    str(p.replies),
                    _ratio(p.replies_per_complaint),
                ]
                for p in r.response
            ],
        ),
        (
            "Alerts",
            ["minute", "severity", "score", "raised", "summary"],
            [
                [
                    _t(a["minute"]),
                    SEVERITY.get(int(a["severity"]), "?"),
                    f"{a['score']:.2f}",
                    _t(a["created_at"]),
                    a["summary"],
                ]
                for a in r.alerts
            ],
        ),
        (
            "Top posts by reach (during)",
            ["time", "platform", "author", "followers", "engagement", "sentiment", "text"],
            [
                [
                    f"{p.created_at:%H:%M:%S}",
                    p.platform,
                    p.author,
                    str(p.followers),
                    str(p.engagement),
                    p.sentiment,
                    p.text[:200],
                ]
                for p in r.top_posts
            ],
        ),
        (
            "Top terms (during vs before)",
            ["term", "posts during", "posts before", "lift"],
            [[t.term, str(t.during), str(t.before), f"{t.lift:.1f}"] for t in r.terms],
        ),
        (
            "Duplicate clusters and campaigns (during)",
            ["posts", "distinct authors", "campaign", "first seen", "reach", "example"],
            [
                [
                    str(c.posts),
                    str(c.authors),
                    "yes" if c.campaign else "",
                    _t(c.first_seen),
                    str(c.reach),
                    c.example[:160],
                ]
                for c in r.clusters
            ],
        ),
        (
            "Competitors (same group), same window",
            [
                "brand",
                "posts before",
                "negative share before",
                "posts during",
                "negative share during",
            ],
            [
                [
                    c.brand,
                    str(c.before_posts),
                    f"{c.before_negative_share:.1%}",
                    str(c.during_posts),
                    f"{c.during_negative_share:.1%}",
                ]
                for c in r.competitors
            ],
        ),
        (
            "Feedback per platform",
            ["platform", "posts", "negative", "mean sentiment"],
            [
                [p.platform, str(p.posts), str(p.negative), f"{p.mean_sentiment:+.3f}"]
                for p in r.platforms
            ],
        ),
        (
            "Posts per language",
            ["language", "posts", "negative", "negative share"],
            [
                [
                    x.lang,
                    str(x.posts),
                    str(x.negative),
                    "no model" if x.negative_share is None else f"{x.negative_share:.1%}",
                ]
                for x in r.languages
            ],
        ),
    ]
    return out


def _title(r: Report) -> str:
    return f"Post-crisis report: {r.brand}, {_t(r.start)} to {_t(r.end)}"


def _md_cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def markdown(r: Report) -> str:
    lines = [f"# {_title(r)}", ""]
    if r.alert:
        lines += [f"Alert `{r.alert['alert_id']}`: {r.alert['summary']}", ""]
    for stem in ("volume", "sentiment"):
        if stem in r.charts:
            lines += [f"![{CHART_TITLES[stem]}]({stem}.png)", ""]
    for title, head, rows in tables(r):
        lines += [f"## {title}", ""]
        if not rows:
            lines += ["(none)", ""]
            continue
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
        lines.append("")
        if title.startswith("Competitors") and "competitors" in r.charts:
            lines += ["![Competitors](competitors.png)", ""]
        if title.startswith("Feedback") and "platforms" in r.charts:
            lines += ["![Feedback per platform](platforms.png)", ""]
    return "\n".join(lines)


# Posts quote emoji and any script: a fallback chain of fonts (Debian's, installed by
# `stack up`; the others are their usual names on macOS/Windows), generic last.
FONTS = (
    '"DejaVu Sans","Noto Sans","Noto Sans Arabic","Noto Sans Hebrew","Noto Sans Devanagari",'
    '"Noto Sans Thai","Noto Sans CJK SC","Noto Sans CJK JP","Noto Color Emoji",'
    '"Apple Color Emoji","Segoe UI Emoji",sans-serif'
)
_CSS = (
    "body{font-family:" + FONTS + ";margin:2em;max-width:1100px;color:#222}"
    "table{border-collapse:collapse;margin:0.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:left;"
    "vertical-align:top}th{background:#f3f3f3}img{max-width:100%}"
)


def _img(r: Report, stem: str) -> str:
    data = base64.b64encode(r.charts[stem]).decode()
    return f'<img alt="{escape(CHART_TITLES[stem])}" src="data:image/png;base64,{data}">'


def html(r: Report) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(_title(r))}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(_title(r))}</h1>",
    ]
    if r.alert:
        parts.append(
            f"<p>Alert <code>{escape(r.alert['alert_id'])}</code>: {escape(r.alert['summary'])}</p>"
        )
    parts += [_img(r, s) for s in ("volume", "sentiment") if s in r.charts]
    for title, head, rows in tables(r):
        parts.append(f"<h2>{escape(title)}</h2>")
        if not rows:
            parts.append("<p>(none)</p>")
        else:
            parts.append("<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>")
            parts += [
                "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows
            ]
            parts.append("</table>")
        if title.startswith("Competitors") and "competitors" in r.charts:
            parts.append(_img(r, "competitors"))
        if title.startswith("Feedback") and "platforms" in r.charts:
            parts.append(_img(r, "platforms"))
    parts.append("</body></html>")
    return "\n".join(parts)
