"""``python -m streams``: same as ``crisis-radar worker``."""

import sys

from streams.worker import main

raise SystemExit(main(sys.argv[1:]))
