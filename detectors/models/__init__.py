"""Model files shipped with the detectors (loaded with importlib.resources)."""
