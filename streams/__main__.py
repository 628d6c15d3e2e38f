"""``python -m streams``: same as ``crisis-radar worker``."""

import sys

from crisis_radar.commands.worker import main

raise SystemExit(main(sys.argv[1:]))
