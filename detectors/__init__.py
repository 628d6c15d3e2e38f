"""Pure detection logic: no Kafka, Faust or ClickHouse imports.

Each detector has a small River-style API (``learn_one`` / ``score_one`` or ``process_one``),
takes time as an argument, seeds its randomness, and keeps bounded, picklable state.
"""
