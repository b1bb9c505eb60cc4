"""How a partner logs in to the broker: SCRAM-SHA-512 over TLS (``SASL_SSL``) on the partner listener,
with the server certificate verified and its host name checked, and the consumer settings Corridor's
partner topics need (``read_committed``: the relay writes them in Kafka transactions; no auto-commit:
the SDK commits what your code handled). docs/adr/0010-partner-isolation.md,
docs/adr/0028-tls-partner-listener.md.

There is no plaintext mode: a partner's password and trade data never cross the network in clear. The
CA to trust is the file ``corridor partners add`` printed (``ssl_cafile``); without one, the system's
trust store (a broker with a publicly trusted certificate).
"""

from __future__ import annotations

import os
import ssl
from typing import Any

__all__ = ["SCRAM_MECHANISM", "kafka_config", "tls_context"]

SCRAM_MECHANISM = "SCRAM-SHA-512"


def tls_context(
    cafile: str | os.PathLike[str] | None = None,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> ssl.SSLContext:
    """A TLS client context for a ``SASL_SSL`` partner listener: the server certificate is verified (by
    ``cafile``, else the system's trust store) and its host name checked; TLS 1.2 at least. ``certfile``
    / ``keyfile`` add a client certificate where the operator asks for one."""
    if cafile is not None and not os.path.isfile(cafile):
        raise ValueError(f"cafile: no file {os.fspath(cafile)!r} (the CA certificate `partners add` printed)")
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    # create_default_context already verifies and checks host names; said again so no edit loses it
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
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
    cafile: str | os.PathLike[str] | None = None,
    start_from: str = "earliest",
    **overrides: Any,
) -> dict[str, Any]:
    """aiokafka consumer settings of a partner (the same names any other Kafka client needs): TLS with
    ``ssl_context``, else :func:`tls_context` of ``cafile`` (verification and host names checked)."""
    if ssl_context is None:
        ssl_context = tls_context(cafile)
    elif cafile is not None:
        raise ValueError("give ssl_context or cafile, not both")
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap,
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": SCRAM_MECHANISM,
        "sasl_plain_username": username,
        "sasl_plain_password": password,
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": start_from,
        "isolation_level": "read_committed",
        "client_id": f"corridor-sdk-{group}",
    }
    config["ssl_context"] = ssl_context
    config.update(overrides)
    return config
