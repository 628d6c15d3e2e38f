"""Benchmarks: ``python -m bench [name] [args]``; each module has ``main(argv) -> int``."""
