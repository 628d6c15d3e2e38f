"""``python -m bench`` runs every benchmark with defaults; ``python -m bench NAME [args]`` one.

A benchmark is any ``bench/<name>.py`` (not starting with ``_``) defining ``main(argv) -> int``.
"""

from __future__ import annotations

import importlib
import inspect
import sys
import time
from pathlib import Path


def available() -> list[str]:
    return sorted(p.stem for p in Path(__file__).parent.glob("*.py") if not p.stem.startswith("_"))


def run(name: str, argv: list[str]) -> int:
    module = importlib.import_module(f"bench.{name}")
    main = getattr(module, "main", None)
    if not callable(main):
        print(f"bench.{name} has no main()", file=sys.stderr)
        return 2
    takes_args = bool(inspect.signature(main).parameters)
    rc = main(argv) if takes_args else main()
    return int(rc or 0)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    names = available()
    if args and args[0] in ("-h", "--help"):
        print(__doc__.strip() + "\n\nbenchmarks: " + ", ".join(names))
        return 0
    if args:
        name = args[0].removeprefix("bench.").removesuffix(".py")
        if name not in names:
            print(f"unknown benchmark {name!r}; choose from: {', '.join(names)}", file=sys.stderr)
            return 2
        return run(name, args[1:])
    failed = []
    for name in names:
        print(f"== bench.{name}", flush=True)
        t0 = time.perf_counter()
        try:
            rc = run(name, [])
        except Exception as e:  # one broken benchmark must not hide the others' figures
            print(f"bench.{name} failed: {e!r}", file=sys.stderr)
            rc = 1
        print(f"== bench.{name}: exit {rc} in {time.perf_counter() - t0:.1f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
