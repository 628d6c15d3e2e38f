"""``crisis-radar doctor [--json]``: check the installation, one line per piece, exit 1 on FAIL."""

from __future__ import annotations

import argparse

_DESCRIPTION = (
    "Check settings, watchlist, Kafka (and topics), ClickHouse (migrations, clock), Prometheus "
    "(worker scrape, rules, Alertmanager link), Alertmanager (receivers) and free disk. Prints "
    "OK/WARN/FAIL with a fix for each problem; exits 1 when a check FAILs (WARN does not). "
    "Every service call times out after 2 s."
)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="crisis-radar doctor", description=_DESCRIPTION)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)

    from crisis_radar import doctor

    checks = doctor.run()
    print(doctor.as_json(checks) if args.json else doctor.table(checks))
    return 1 if doctor.failed(checks) else 0
