"""``crisis-radar worker [--metrics-port P]``: run the Faust stream worker (all stages).

The worker's start-up lives with the worker (``streams.worker``): ``streams`` never imports
``crisis_radar``."""

from __future__ import annotations

from streams.worker import main

__all__ = ["main"]
