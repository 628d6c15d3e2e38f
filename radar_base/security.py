"""Connection options for Kafka and ClickHouse clients, built from Settings in one place.

Kafka: PLAINTEXT (local stack), SSL, SASL_PLAINTEXT or SASL_SSL with PLAIN or SCRAM-SHA-256/512.
ClickHouse: user/password and TLS (``secure``, CA bundle, verification). Passwords come from
``CRISIS_RADAR_*_PASSWORD`` or, preferred in production, from a file named by
``CRISIS_RADAR_*_PASSWORD_FILE`` (Docker/Kubernetes secrets), so they never appear in a command
line or a compose file.

>>> from radar_base.settings import Settings
>>> kafka_python_kwargs(Settings())
{'security_protocol': 'PLAINTEXT'}
>>> s = Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="SCRAM-SHA-512",
...              kafka_sasl_username="worker", kafka_sasl_password="pw")
>>> sorted(kafka_python_kwargs(s).items())  # doctest: +NORMALIZE_WHITESPACE
[('sasl_mechanism', 'SCRAM-SHA-512'), ('sasl_plain_password', 'pw'),
 ('sasl_plain_username', 'worker'), ('security_protocol', 'SASL_PLAINTEXT')]
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from radar_base.settings import Settings

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


class SecurityConfigError(ValueError):
    """Settings that cannot give a working, safe connection."""


def secret(value: str | None, file: Path | None) -> str | None:
    """The secret from ``file`` (trailing newline stripped) if set, else ``value``."""
    if file is None:
        return value
    try:
        return Path(file).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise SecurityConfigError(f"cannot read secret file {file}: {exc.strerror}") from exc


def _kafka_common(s: Settings) -> tuple[str, dict[str, Any]]:
    proto = s.kafka_security_protocol.upper()
    if proto not in PROTOCOLS:
        raise SecurityConfigError(
            f"CRISIS_RADAR_KAFKA_SECURITY_PROTOCOL={proto!r}; "
            f"expected one of {', '.join(PROTOCOLS)}"
        )
    out: dict[str, Any] = {"security_protocol": proto}
    if proto.startswith("SASL"):
        mech = (s.kafka_sasl_mechanism or "").upper()
        if mech not in MECHANISMS:
            raise SecurityConfigError(
                f"{proto} needs CRISIS_RADAR_KAFKA_SASL_MECHANISM in {', '.join(MECHANISMS)}"
            )
        password = secret(s.kafka_sasl_password, s.kafka_sasl_password_file)
        if not s.kafka_sasl_username or not password:
            raise SecurityConfigError(
                f"{proto} needs CRISIS_RADAR_KAFKA_SASL_USERNAME and a password "
                "(CRISIS_RADAR_KAFKA_SASL_PASSWORD or CRISIS_RADAR_KAFKA_SASL_PASSWORD_FILE)"
            )
        out |= {
            "sasl_mechanism": mech,
            "sasl_plain_username": s.kafka_sasl_username,
            "sasl_plain_password": password,
        }
    return proto, out


def kafka_ssl_context(s: Settings) -> ssl.SSLContext:
    """Verifying TLS context (hostname checked) with the optional CA and client certificate."""
    ctx = ssl.create_default_context(cafile=str(s.kafka_ssl_cafile) if s.kafka_ssl_cafile else None)
    if s.kafka_ssl_certfile:
        ctx.load_cert_chain(
            str(s.kafka_ssl_certfile), str(s.kafka_ssl_keyfile) if s.kafka_ssl_keyfile else None
        )
    return ctx


def kafka_python_kwargs(s: Settings) -> dict[str, Any]:
    """For ``KafkaProducer`` / ``KafkaConsumer`` / ``KafkaAdminClient`` (kafka-python)."""
    proto, out = _kafka_common(s)
    if proto.endswith("SSL"):
        out |= {
            k: str(v)
            for k, v in (
                ("ssl_cafile", s.kafka_ssl_cafile),
                ("ssl_certfile", s.kafka_ssl_certfile),
                ("ssl_keyfile", s.kafka_ssl_keyfile),
            )
            if v
        }
        out["ssl_check_hostname"] = True
    return out


def aiokafka_kwargs(s: Settings) -> dict[str, Any]:
    """For ``AIOKafkaProducer`` / ``AIOKafkaConsumer``."""
    proto, out = _kafka_common(s)
    if proto.endswith("SSL"):
        out["ssl_context"] = kafka_ssl_context(s)
    return out


def faust_kwargs(s: Settings) -> dict[str, Any]:
    """Extra ``faust.App(...)`` options: ``broker_credentials`` unless PLAINTEXT."""
    import faust

    proto, out = _kafka_common(s)
    if proto == "PLAINTEXT":
        return {}
    ctx = kafka_ssl_context(s) if proto.endswith("SSL") else None
    if proto == "SSL":
        return {"broker_credentials": faust.SSLCredentials(ctx)}
    return {
        "broker_credentials": faust.SASLCredentials(
            username=out["sasl_plain_username"],
            password=out["sasl_plain_password"],
            ssl_context=ctx,
            mechanism=out["sasl_mechanism"],
        )
    }


def clickhouse_kwargs(s: Settings) -> dict[str, Any]:
    """For ``clickhouse_driver.Client`` (user, password, TLS)."""
    out: dict[str, Any] = {
        "user": s.clickhouse_user,
        "password": secret(s.clickhouse_password, s.clickhouse_password_file) or "",
        "secure": s.clickhouse_secure,
    }
    if s.clickhouse_secure:
        out["verify"] = s.clickhouse_verify
        if s.clickhouse_ca_certs:
            out["ca_certs"] = str(s.clickhouse_ca_certs)
    return out
