"""A user's history through the pipeline core: ``crisis-radar backfill`` and ``backtest``."""
