"""TLS on the partner listener (issue 16, item 2; docs/adr/0028-tls-partner-listener.md), on the
session's default stack as ``corridor stack up`` makes it, with a partner's real SCRAM login:

* SCRAM over plaintext (``SASL_PLAINTEXT``, what partners used before) is refused: the listener wants
  a TLS handshake first, so not even the password's proof leaves the client;
* TLS that does not trust the stack's CA (the system's trust store) fails verification;
* TLS trusting the CA but dialling a name the certificate does not carry fails host name verification;
* TLS trusting the CA with the host name checked logs in, with aiokafka (through the SDK's
  ``tls_context``), confluent-kafka (librdkafka) and the SDK's ``PartnerConsumer`` itself.
"""

from __future__ import annotations

import asyncio
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from corridor.core import partners
from corridor.core.kafka import client_security
from corridor.core.routing import partner_topic
from corridor.sdk import PartnerConsumer, PartnerLoginError, tls_context
from corridor.stack import StackStatus

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

WRONG_NAME = "partners.corridor.invalid"


@pytest.fixture(scope="module")
def partner(kafka_stack: StackStatus) -> Iterator[tuple[str, str]]:
    """A partner with a SCRAM login and its ACLs (what ``partners add`` grants); revoked afterwards."""
    partner_id = f"tls-{uuid.uuid4().hex[:8]}"
    granted = asyncio.run(partners.grant_kafka_access(kafka_stack.bootstrap_servers, partner_id))
    yield partner_id, granted.password
    asyncio.run(partners.revoke_kafka_access(kafka_stack.bootstrap_servers, partner_id))
    asyncio.run(_delete_topic(kafka_stack.bootstrap_servers, partner_topic(partner_id)))


async def _delete_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_security())
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


@pytest.fixture(scope="module")
def ca_file(kafka_stack: StackStatus) -> Path:
    assert kafka_stack.partner_security_protocol == "SASL_SSL", kafka_stack
    assert kafka_stack.partner_ca_file is not None and kafka_stack.partner_ca_file.is_file()
    return kafka_stack.partner_ca_file


def login(kafka_stack: StackStatus, partner: tuple[str, str], **security: Any) -> dict[str, Any]:
    partner_id, password = partner
    assert kafka_stack.partner_bootstrap_servers
    return {
        "bootstrap_servers": kafka_stack.partner_bootstrap_servers,
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": partner_id,
        "sasl_plain_password": password,
        "request_timeout_ms": 5_000,
        **security,
    }


async def own_topic_visible(settings: dict[str, Any], topic: str) -> bool:
    """Log in as the partner; True when the broker's metadata shows its own topic (after a login)."""
    consumer = AIOKafkaConsumer(**settings)
    try:
        await consumer.start()
        return topic in await consumer.topics()
    finally:
        await consumer.stop()


class WrongNameContext(ssl.SSLContext):
    """The stack's CA trusted, but every handshake checks ``WRONG_NAME`` instead of the address
    dialled: what a client sees when the listener is reached under a name its certificate lacks."""

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        kwargs["server_hostname"] = WRONG_NAME
        return super().wrap_bio(*args, **kwargs)


def wrong_name_context(ca_file: Path) -> ssl.SSLContext:
    context = WrongNameContext(ssl.PROTOCOL_TLS_CLIENT)  # verification and host names on by default
    context.load_verify_locations(cafile=ca_file)
    return context


async def test_scram_over_plaintext_is_refused(
    kafka_stack: StackStatus, partner: tuple[str, str], ca_file: Path
) -> None:
    partner_id, _ = partner
    plaintext = login(kafka_stack, partner, security_protocol="SASL_PLAINTEXT")
    with pytest.raises(KafkaConnectionError):
        await own_topic_visible(plaintext, partner_topic(partner_id))


async def test_tls_without_the_stacks_ca_fails_verification(
    kafka_stack: StackStatus, partner: tuple[str, str], ca_file: Path
) -> None:
    partner_id, _ = partner
    untrusted = login(kafka_stack, partner, security_protocol="SASL_SSL", ssl_context=tls_context())
    with pytest.raises(KafkaConnectionError):
        await own_topic_visible(untrusted, partner_topic(partner_id))
    # the reason, as the handshake itself gives it
    host, _, port = kafka_stack.partner_bootstrap_servers.split(",")[0].rpartition(":")  # type: ignore[union-attr]
    with pytest.raises(ssl.SSLCertVerificationError, match="self-signed certificate in certificate chain"):
        _handshake(tls_context(), host, int(port), host)


async def test_tls_with_the_ca_and_a_wrong_host_name_fails(
    kafka_stack: StackStatus, partner: tuple[str, str], ca_file: Path
) -> None:
    partner_id, _ = partner
    wrong = login(kafka_stack, partner, security_protocol="SASL_SSL", ssl_context=wrong_name_context(ca_file))
    with pytest.raises(KafkaConnectionError):
        await own_topic_visible(wrong, partner_topic(partner_id))
    host, _, port = kafka_stack.partner_bootstrap_servers.split(",")[0].rpartition(":")  # type: ignore[union-attr]
    with pytest.raises(ssl.SSLCertVerificationError, match=f"Hostname mismatch.*{WRONG_NAME}"):
        _handshake(tls_context(ca_file), host, int(port), WRONG_NAME)
    for name in ("127.0.0.1", "localhost"):  # the names the local certificate carries
        _handshake(tls_context(ca_file), host, int(port), name)


def _handshake(context: ssl.SSLContext, host: str, port: int, server_hostname: str) -> None:
    import socket

    with socket.create_connection((host, port), timeout=10) as sock:
        with context.wrap_socket(sock, server_hostname=server_hostname) as tls:
            assert tls.version() in ("TLSv1.3", "TLSv1.2")


async def test_tls_with_the_ca_and_host_name_checked_logs_in(
    kafka_stack: StackStatus, partner: tuple[str, str], ca_file: Path
) -> None:
    partner_id, password = partner
    topic = partner_topic(partner_id)
    trusted = login(kafka_stack, partner, security_protocol="SASL_SSL", ssl_context=tls_context(ca_file))
    assert await own_topic_visible(trusted, topic)

    # librdkafka: its own TLS stack, the CA file and host name verification (https identification)
    admin = AdminClient(
        {
            "bootstrap.servers": kafka_stack.partner_bootstrap_servers,
            "security.protocol": "SASL_SSL",
            "ssl.ca.location": str(ca_file),
            "ssl.endpoint.identification.algorithm": "https",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": partner_id,
            "sasl.password": password,
        }
    )
    assert topic in admin.list_topics(timeout=15).topics
    untrusting = AdminClient(
        {
            "bootstrap.servers": kafka_stack.partner_bootstrap_servers,
            "security.protocol": "SASL_SSL",
            "ssl.ca.location": "probe",  # the system's trust store, which knows nothing of the stack's CA
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": partner_id,
            "sasl.password": password,
        }
    )
    with pytest.raises(KafkaException):
        untrusting.list_topics(timeout=5)

    # the SDK: TLS with the CA file `partners add` printed; without it, a clear error naming the cause
    async with PartnerConsumer(
        bootstrap=kafka_stack.partner_bootstrap_servers or "",
        username=partner_id,
        password=password,
        partner_id=partner_id,
        registry_url=kafka_stack.schema_registry_url,
        group=f"{partner_id}.tls-check",
        cafile=ca_file,
    ) as consumer:
        assert consumer.topic == topic
    refused = PartnerConsumer(
        bootstrap=kafka_stack.partner_bootstrap_servers or "",
        username=partner_id,
        password=password,
        partner_id=partner_id,
        registry_url=kafka_stack.schema_registry_url,
        group=f"{partner_id}.tls-check",
        request_timeout_ms=5_000,
    )
    with pytest.raises(PartnerLoginError, match="certificate that does not verify"):
        await refused.start()
