"""Pure detection logic: no Kafka, Faust or ClickHouse imports.

The anomaly detectors are River ``AnomalyDetector``s (``learn_one`` / ``score_one`` on dicts); the
others keep a small River-style API (``learn_one`` / ``score_one`` or ``process_one``). Each
takes time as an argument, seeds its randomness, and keeps bounded, picklable state.
"""
