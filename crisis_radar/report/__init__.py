"""Post-crisis report (`crisis-radar report`): HTML + Markdown from ClickHouse (docs/report.md).

Stable API: ``write_report(client, database, brand, start, end, out_dir, alert_id=None) -> Path``.
"""

from crisis_radar.report.build import Report, build_report, default_out_dir, write_report

__all__ = ["Report", "build_report", "default_out_dir", "write_report"]
