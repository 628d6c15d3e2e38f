"""``crisis-radar`` command line: one sub-command per module in ``crisis_radar.commands``.

Each command module exposes ``main(argv: list[str]) -> int`` and builds its own argparse parser,
so start-up only imports what the chosen command needs (``sentiment`` must not pay for Faust).

Configuration and connection errors of every command end here as one or two lines on stderr
(``crisis_radar.errors``): exit status 2 for usage and configuration errors, 1 for runtime
failures. ``crisis-radar --debug COMMAND ...`` (the flag goes before the command) or
``CRISIS_RADAR_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys

# name -> (module, one-line help). Keep alphabetical within each group.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("crisis_radar.commands.demo", "run the whole pipeline on the local stack"),
    "stack": ("crisis_radar.commands.stack", "up | down | status | logs of the local stack"),
    "doctor": ("crisis_radar.commands.doctor", "check every piece, say how to fix it"),
    "migrate": ("crisis_radar.commands.migrate", "apply ClickHouse migrations"),
    "retention": ("crisis_radar.commands.retention", "drop ClickHouse months past retention"),
    "worker": ("crisis_radar.commands.worker", "run a Faust stream worker"),
    "ingest": ("crisis_radar.commands.ingest", "send posts from files, stdin or a live source"),
    "backfill": ("crisis_radar.commands.backfill", "load history into ClickHouse, warm baselines"),
    "simulate": ("crisis_radar.commands.simulate", "generate a labelled scenario of posts"),
    "backtest": ("crisis_radar.commands.backtest", "replay files through the pipeline offline"),
    "dlq": ("crisis_radar.commands.dlq", "show and replay dead letters"),
    "sentiment": ("crisis_radar.commands.sentiment", "score one text per stdin line"),
    "evaluate": ("crisis_radar.commands.evaluate", "NAB and scenario evaluation of detectors"),
    "report": ("crisis_radar.commands.report", "post-crisis report (HTML + Markdown)"),
    "explain": ("crisis_radar.commands.explain", "why an alert fired, in the terminal"),
    "feedback": ("crisis_radar.commands.feedback", "label an alert or correct a post's sentiment"),
    "expect": ("crisis_radar.commands.expect", "announce a planned event (launch, TV spot...)"),
    "care": ("crisis_radar.commands.care", "unanswered complaints of a brand, to answer first"),
}

# commands that replay history through the pipeline core: no latency to keep (tune_gc)
OFFLINE = frozenset({"backfill", "backtest", "evaluate"})


def _usage() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = ["usage: crisis-radar [--debug] COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "Run 'crisis-radar COMMAND --help' for a command's options."]
    lines += ["--debug (or CRISIS_RADAR_DEBUG=1): tracebacks instead of one-line errors."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--debug":
        os.environ["CRISIS_RADAR_DEBUG"] = "1"  # also for the processes a command starts
        args = args[1:]
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    if args[0] == "--version":
        from crisis_radar import __version__

        print(__version__)
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"crisis-radar: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name = COMMANDS[name][0]
    # Every command that runs the pipeline core (worker, backfill, backtest, evaluate) needs it
    from radar_base.runtime import tune_gc

    tune_gc(offline=name in OFFLINE)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            print(f"crisis-radar: command {name!r} is not built yet", file=sys.stderr)
            return 2
        raise
    from crisis_radar.errors import describe
    from radar_base.errors import run_boundary

    return run_boundary(f"crisis-radar {name}", module.main, rest, describe)


if __name__ == "__main__":
    raise SystemExit(main())
