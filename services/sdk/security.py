"""How a partner logs in to the broker: SCRAM-SHA-512 over the partner listener, plain locally
(``SASL_PLAINTEXT``) or with TLS in production (``SASL_SSL``), and the consumer settings Corridor's
partner topics need (``read_committed``: the relay writes them in Kafka transactions; no auto-commit:
the SDK commits what your code handled). docs/adr/0010-partner-isolation.md.
"""

from __future__ import annotations

import ssl
from typing import Any

__all__ = ["SCRAM_MECHANISM", "kafka_config", "tls_context"]

SCRAM_MECHANISM = "SCRAM-SHA-512"


def tls_context(
    cafile: str | None = None, *, certfile: str | None = None, keyfile: str | None = None
) -> ssl.SSLContext:
    """A TLS client context for a ``SASL_SSL`` partner listener: the server certificate is verified (by
    ``cafile``, else the system's trust store) and its host name checked; TLS 1.2 at least. ``certfile``
    / ``keyfile`` add a client certificate where the operator asks for one."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if certfile is not None:
        context.load_cert_chain(certfile, keyfile)
    return context


def kafka_config(
    *,
    bootstrap: str,
    username: str,
    password: str,
    group: str,
    ssl_context: ssl.SSLContext | None = None,
    start_from: str = "earliest",
    **overrides: Any,
) -> dict[str, Any]:
    """aiokafka consumer settings of a partner (the same names any other Kafka client needs)."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "security_protocol": "SASL_SSL" if ssl_context is not None else "SASL_PLAINTEXT",
        "sasl_mechanism": SCRAM_MECHANISM,
        "sasl_plain_username": username,
        "sasl_plain_password": password,
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": start_from,
        "isolation_level": "read_committed",
        "client_id": f"corridor-sdk-{group}",
    }
    if ssl_context is not None:
        config["ssl_context"] = ssl_context
    config.update(overrides)
    return config
