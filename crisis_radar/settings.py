"""Settings, from ``radar_base.settings`` (below both ``streams`` and ``crisis_radar``): kept here
so ``from crisis_radar.settings import get_settings`` goes on working. Same objects, so
``get_settings.cache_clear()`` here clears the one cache."""

from radar_base.settings import PROJECT_ROOT, Settings, get_settings

__all__ = ["PROJECT_ROOT", "Settings", "get_settings"]
