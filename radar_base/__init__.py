"""What the worker (``streams/``) and the application layer (``crisis_radar/``) both need, below
both: settings (``radar_base.settings``), the Kafka/ClickHouse connection options
(``radar_base.security``), the ClickHouse client factory (``radar_base.clickhouse``), the
migration files and the schema check (``radar_base.migrations``) and the operator errors with
their boundary (``radar_base.errors``).

Imports only third-party libraries, never ``streams`` or ``crisis_radar`` (tests/test_layers.py),
so neither of those needs the other to start: ``crisis_radar`` imports ``streams``, not the
other way round.
"""
