"""``python -m streams``: same as ``crisis-radar worker`` (same error boundary)."""

import sys

from radar_base.errors import run_boundary
from streams.worker import main

raise SystemExit(run_boundary("crisis-radar worker", main, sys.argv[1:]))
