"""The local broker's infrastructure security (issue 16, docs/adr/0024-kafka-principals.md), on the
session's default stack as ``corridor stack up`` makes it:

* nobody is anonymous: on every listener of every node (internal, controller, partner) a client that
  has not authenticated gets nothing but the handshake itself; aiokafka without a login cannot start;
* a wrong password is refused; the operator's login (what the CLI and the tests use) works;
* each service principal is refused outside its ACLs, and no service can mint credentials or ACLs.

Nothing here writes a record: every write it tries is one the broker refuses.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from corridor.core import partners
from corridor.core.credentials import kafka_password_file
from corridor.core.kafka import client_security
from corridor.core.partners import kafka_admin
from corridor.core.settings import get_settings
from corridor.deploy import access
from corridor.ledger.topics import DLQ_TOPIC
from corridor.sdk import tls_context
from corridor.stack import StackConfig, StackStatus, recorded_config

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

ORDERS = "trade.orders.v1"
API_VERSIONS, DESCRIBE_CLUSTER, METADATA = 18, 60, 3


@pytest.fixture(scope="module")
def config(kafka_stack: StackStatus) -> StackConfig:
    return recorded_config(StackConfig.from_settings(get_settings()))


def listener_ports(config: StackConfig, status: StackStatus) -> dict[str, tuple[int, bool]]:
    """Every listener of every node: its port and whether it speaks TLS."""
    brokers = len(status.bootstrap_servers.split(","))
    return {
        f"{listener.name} of node {node}": (config.port(node, listener), listener.tls)
        for node in config.node_ids(brokers)
        for listener in config.listeners
    }


# -- the wire: requests sent before any login ------------------------------------------------------------


def _frame(api_key: int, version: int, body: bytes, *, flexible: bool) -> bytes:
    """One request: header v1 (v2 with an empty tag buffer for flexible versions), then ``body``."""
    client_id = b"corridor-security-test"
    header = struct.pack(">hhih", api_key, version, 7, len(client_id)) + client_id
    if flexible:
        header += b"\x00"
    return struct.pack(">i", len(header) + len(body)) + header + body


def exchange(port: int, request: bytes, tls: ssl.SSLContext | None = None) -> bytes | None:
    """The broker's answer to ``request`` on a new connection (inside a TLS session with ``tls``), or
    None if it closed the connection."""
    with contextlib.ExitStack() as stack:
        sock: socket.socket = stack.enter_context(socket.create_connection(("127.0.0.1", port), timeout=10))
        if tls is not None:
            sock = stack.enter_context(tls.wrap_socket(sock, server_hostname="127.0.0.1"))
        sock.sendall(request)
        head = b""
        try:
            while len(head) < 4:
                chunk = sock.recv(4 - len(head))
                if not chunk:
                    return None
                head += chunk
            size = struct.unpack(">i", head)[0]
            answer = b""
            while len(answer) < size:
                chunk = sock.recv(size - len(answer))
                if not chunk:
                    return None
                answer += chunk
        except (ConnectionResetError, ssl.SSLEOFError):
            return None
        return answer
    raise AssertionError("unreachable")


def test_no_listener_answers_an_anonymous_request(config: StackConfig, kafka_stack: StackStatus) -> None:
    """Each listener answers ApiVersions (allowed before a SASL handshake: proof it is alive and the
    framing right) and closes the connection on DescribeCluster and Metadata sent without a login; a
    PLAINTEXT listener would answer both (the controllers serve DescribeCluster since KIP-919). The
    partner listener is asked inside a TLS session that trusts the stack's CA (ADR 28)."""
    ports = listener_ports(config, kafka_stack)
    assert len(ports) >= 3, ports
    assert any(tls for _port, tls in ports.values()), "the partner listener speaks TLS"
    assert config.tls_ca_file is not None
    for name, (port, tls) in ports.items():
        context = tls_context(config.tls_ca_file) if tls else None
        versions = exchange(port, _frame(API_VERSIONS, 0, b"", flexible=False), context)
        assert versions is not None and versions[:4] == struct.pack(">i", 7), f"{name} did not answer"
        assert versions[4:6] == b"\x00\x00", f"{name}: ApiVersions error {versions[4:6]!r}"
        describe = _frame(DESCRIBE_CLUSTER, 0, b"\x00\x00", flexible=True)
        assert exchange(port, describe, context) is None, f"{name} answered DescribeCluster anonymously"
        metadata = _frame(METADATA, 0, struct.pack(">i", 0), flexible=False)
        assert exchange(port, metadata, context) is None, f"{name} answered Metadata anonymously"


async def start_admin(bootstrap: str, **login: Any) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5_000, **login)
    try:
        await admin.start()
        await admin.describe_cluster()
    finally:
        await admin.close()


async def test_aiokafka_needs_a_login(config: StackConfig, kafka_stack: StackStatus) -> None:
    assert client_security()["sasl_plain_username"] == "corridor-operator"
    await start_admin(kafka_stack.bootstrap_servers, **client_security())  # the operator: the CLI, tests
    anonymous = [kafka_stack.bootstrap_servers, kafka_stack.partner_bootstrap_servers]
    for bootstrap in anonymous:
        assert bootstrap
        with pytest.raises(KafkaConnectionError):
            await start_admin(bootstrap)
    wrong = {**service_login(config, "gateway"), "sasl_plain_password": "not-the-password"}
    wrong.pop("bootstrap_servers")
    with pytest.raises(KafkaConnectionError):
        await start_admin(kafka_stack.bootstrap_servers, **wrong)


# -- the services' principals -----------------------------------------------------------------------------


def service_login(config: StackConfig, service: str) -> dict[str, Any]:
    """The login ``stack up`` hands ``service`` (services/stack/services.py), from its password file."""
    username = next(p.username for p in access.SERVICE_PRINCIPALS if p.service == service)
    path = kafka_password_file(config.state_dir, username)
    assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"
    env = {
        "CORRIDOR_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "CORRIDOR_KAFKA_SASL_USERNAME": username,
        "CORRIDOR_KAFKA_SASL_PASSWORD_FILE": str(path),
    }
    return {"bootstrap_servers": config.bootstrap_servers(1), **client_security(env)}


async def refused_read(login: dict[str, Any], topic: str) -> None:
    consumer = AIOKafkaConsumer(**login, enable_auto_commit=False, request_timeout_ms=10_000)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        with pytest.raises(TopicAuthorizationFailedError):
            await consumer.seek_to_beginning(tp)
            await consumer.getmany(tp, timeout_ms=2000)
    finally:
        await consumer.stop()


async def invisible(login: dict[str, Any], topic: str) -> None:
    """Without DESCRIBE the broker hides the topic from the login's metadata (and so never fetches it)."""
    consumer = AIOKafkaConsumer(**login, request_timeout_ms=10_000)
    await consumer.start()
    try:
        visible = await consumer.topics()  # the login worked (start() connected); may see nothing yet
        assert topic not in visible, visible
    finally:
        await consumer.stop()


async def refused_write(login: dict[str, Any], topic: str) -> None:
    """A write the broker refuses (so nothing reaches ``topic``, which the session's services read)."""
    producer = AIOKafkaProducer(**login, acks="all", enable_idempotence=False, request_timeout_ms=10_000)
    await producer.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(topic, b"refused", key=b"refused")
    finally:
        await producer.stop()


async def test_each_service_is_refused_outside_its_acls(config: StackConfig) -> None:
    logins = {p.service: service_login(config, p.service) for p in access.SERVICE_PRINCIPALS}
    await refused_read(logins["gateway"], ORDERS)  # the gateway only writes trade events
    await invisible(logins["webhooks"], ORDERS)  # the webhooks read partner topics only
    await invisible(logins["relay"], DLQ_TOPIC)
    await invisible(logins["gateway"], DLQ_TOPIC)
    await refused_write(logins["ledger"], ORDERS)  # the ledger never writes trade events
    await refused_write(logins["relay"], ORDERS)  # the relay writes partner topics only
    await refused_write(logins["monitor"], ORDERS)  # the monitor writes nothing
    await refused_write(logins["ops"], DLQ_TOPIC)
    await refused_write(logins["gateway"], DLQ_TOPIC)


async def test_no_service_can_mint_credentials_or_acls(config: StackConfig) -> None:
    """Altering SCRAM credentials and ACLs needs ALTER on the cluster: super users only."""
    for principal in access.SERVICE_PRINCIPALS:
        login = service_login(config, principal.service)
        bootstrap = login.pop("bootstrap_servers")
        async with kafka_admin._KafkaAdmin(bootstrap, login=login) as admin:
            with pytest.raises(partners.KafkaAccessError, match="ClusterAuthorizationFailed"):
                await kafka_admin._upsert_scram(admin, principal.username, "a-password-of-my-own")
            grant = partners.AclBinding("TOPIC", "*", "LITERAL", "ALL", principal.principal)
            with pytest.raises(partners.KafkaAccessError, match="ClusterAuthorizationFailed"):
                await kafka_admin._create_acls(admin, [grant])
