"""crisis-radar: real-time social-media crisis detection (application layer: CLI, stack, ingest)."""

__version__ = "0.1.0"
