"""The service principals of services/deploy/access.py on a real broker with the authorizer: each
service, logged in with SCRAM through ``client_security`` (CORRIDOR_KAFKA_*), can do what its code does
and is refused the rest. This is what a cluster's KafkaUsers grant (deploy/k8s/base/kafka/users.yaml).

Runs on the session's isolated stack with the SASL listener (tests/integration/relay/relay_helpers.py),
with the principals its ``stack up`` made (services/stack/api.py, _ensure_principals)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    CommitFailedError,
    GroupAuthorizationFailedError,
    IllegalGenerationError,
    RebalanceInProgressError,
    TopicAuthorizationFailedError,
    UnknownMemberIdError,
)

from corridor.core.credentials import kafka_password_file
from corridor.core.kafka import client_security
from corridor.core.partners import kafka_admin
from corridor.core.topics import ACCEPTED
from corridor.deploy import access
from corridor.ledger.topics import DLQ_TOPIC, RETRY_TOPICS
from corridor.ops.dlq import MARKER_TOPIC, REPLAYER_TRANSACTIONAL_ID
from tests.integration.relay.relay_helpers import SecureStack, secure_stack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

ORDERS = "trade.orders.v1"


@pytest.fixture(scope="session")
def secured(request: pytest.FixtureRequest) -> SecureStack:
    return secure_stack(request)


@pytest.fixture(scope="module")
async def logins(secured: SecureStack) -> AsyncIterator[dict[str, dict[str, Any]]]:
    """Every service principal as ``stack up`` made it (docs/adr/0024-kafka-principals.md): its ACLs on the
    broker are exactly ``access.service_acls``, its password in the stack's credentials; each logs in on
    the internal listener through ``client_security`` as the stack's services do."""
    found: dict[str, dict[str, Any]] = {}
    async with kafka_admin._KafkaAdmin(secured.bootstrap) as kafka:
        for principal in access.SERVICE_PRINCIPALS:
            granted = await kafka_admin._describe_acls(kafka, principal.principal)
            assert sorted(set(granted)) == access.service_acls(principal.service), principal
            password_file = kafka_password_file(secured.config.state_dir, principal.username)
            assert password_file.stat().st_mode & 0o077 == 0
            env = {
                "CORRIDOR_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "CORRIDOR_KAFKA_SASL_USERNAME": principal.username,
                "CORRIDOR_KAFKA_SASL_PASSWORD_FILE": str(password_file),
            }
            found[principal.service] = {"bootstrap_servers": secured.bootstrap, **client_security(env)}
    yield found


async def produce(
    login: dict[str, Any],
    topic: str,
    *,
    idempotent: bool = True,
    value: bytes | None = b"acl-check",
    key: bytes = b"acl-check",
    **extra: Any,
) -> None:
    """One record to ``topic`` (idempotent like every Corridor producer, unless told otherwise)."""
    producer = AIOKafkaProducer(
        **login, acks="all", enable_idempotence=idempotent, request_timeout_ms=10_000, **extra
    )
    await producer.start()
    try:
        if "transactional_id" in extra:
            # Accepted by the broker proves the ACL; aborted, so no read_committed reader (the session's
            # relay restoring its state topic, a partner) ever sees a record it could not decode.
            await producer.begin_transaction()
            await producer.send_and_wait(topic, value, key=key)
            await producer.abort_transaction()
        else:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()


#: Commit refusals a group's coordinator gives a client that is not one of its members.
NOT_A_MEMBER = (CommitFailedError, UnknownMemberIdError, IllegalGenerationError, RebalanceInProgressError)


async def fetch_one(login: dict[str, Any], topic: str, group: str | None = None) -> None:
    """Read partition 0 of ``topic`` from its start (and commit, with a group)."""
    consumer = AIOKafkaConsumer(**login, group_id=group, enable_auto_commit=False, request_timeout_ms=10_000)
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        await consumer.getmany(tp, timeout_ms=1000)
        if group is not None:
            # The group may be the running service's own (the session's stack runs the relay, the
            # ledger …): commit what it committed already, so its offsets never move. The broker checks
            # the group's READ ACL before membership, so a refusal for not being a member still proves
            # the commit was authorised (an unauthorised one is GroupAuthorizationFailedError).
            # A group without commits gets the partition's log start: where the services' groups
            # (auto_offset_reset=earliest) start anyway.
            committed = await consumer.committed(tp)
            if committed is None:
                committed = (await consumer.beginning_offsets([tp]))[tp]
            try:
                await consumer.commit({tp: committed})
            except NOT_A_MEMBER:
                pass
    finally:
        await consumer.stop()


async def visible_topics(login: dict[str, Any]) -> set[str]:
    """The topics the broker's metadata shows this login: only those it may describe."""
    consumer = AIOKafkaConsumer(**login, request_timeout_ms=10_000)
    await consumer.start()
    try:
        return set(await consumer.topics())
    finally:
        await consumer.stop()


async def test_gateway_writes_the_trade_topics_and_nothing_else(logins: dict[str, dict[str, Any]]) -> None:
    for topic in ("trade.orders.v1", "trade.shipments.v1", "trade.certificates.v1"):
        await produce(logins["gateway"], topic)
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(logins["gateway"], DLQ_TOPIC)
    with pytest.raises(TopicAuthorizationFailedError):
        await fetch_one(logins["gateway"], ORDERS)


async def test_ledger_reads_trades_parks_and_dead_letters(logins: dict[str, dict[str, Any]]) -> None:
    ledger = logins["ledger"]
    await fetch_one(ledger, ORDERS, group="corridor-ledger")
    await fetch_one(ledger, RETRY_TOPICS[0], group="corridor-ledger")
    await produce(ledger, RETRY_TOPICS[0])
    await produce(ledger, DLQ_TOPIC)
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(ledger, ORDERS)  # the ledger never writes trade events
    with pytest.raises(GroupAuthorizationFailedError):
        await fetch_one(ledger, ORDERS, group="corridor-relay")


async def test_relay_writes_partner_topics_in_its_transactions(logins: dict[str, dict[str, Any]]) -> None:
    relay = logins["relay"]
    topic = f"partner.acl-{uuid.uuid4().hex[:8]}.v1"
    admin = AIOKafkaAdminClient(**relay)  # the relay creates a partner topic the operator has not
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    # it reads the ledger's accepted stream, never the trade topics (ADR 27: nothing undecided)
    await fetch_one(relay, ACCEPTED, group="corridor-relay")
    visible = await visible_topics(relay)  # no DESCRIBE on the trade topics: they do not exist for it
    assert ACCEPTED in visible and not visible & {ORDERS, "trade.shipments.v1", "trade.certificates.v1"}
    await produce(relay, topic, transactional_id="corridor-relay-acl-0")
    # A tombstone for a key no trade has: the session's relay shares this state topic, and a record it
    # cannot read stops it (a state record only the relay writes is trusted or nothing is).
    tombstone = f"acl-check-{uuid.uuid4().hex}".encode()
    state = access.relay_state_topic_spec().name
    await produce(relay, state, value=None, key=tombstone, transactional_id="corridor-relay-acl-0")
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(relay, ORDERS, transactional_id="corridor-relay-acl-0")


async def test_webhooks_only_read_partner_topics(logins: dict[str, dict[str, Any]]) -> None:
    topic = f"partner.acl-{uuid.uuid4().hex[:8]}.v1"
    admin = AIOKafkaAdminClient(**logins["relay"])
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    await fetch_one(logins["webhooks"], topic, group="corridor-webhooks")
    visible = await visible_topics(logins["webhooks"])
    assert topic in visible and all(t.startswith("partner.") for t in visible)
    with pytest.raises(ClusterAuthorizationFailedError):
        await produce(logins["webhooks"], topic)  # no idempotent producer
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(logins["webhooks"], topic, idempotent=False)


async def test_monitor_reads_everything_and_writes_nothing(logins: dict[str, dict[str, Any]]) -> None:
    monitor = logins["monitor"]
    await fetch_one(logins["ledger"], ORDERS, group="corridor-ledger")
    assert {s.name for s in access.backbone_topics()} <= await visible_topics(monitor)
    for topic in (ORDERS, DLQ_TOPIC):
        await fetch_one(monitor, topic)
    admin = AIOKafkaAdminClient(**monitor)
    await admin.start()
    try:
        groups = {g[0] for g in await admin.list_consumer_groups()}
        assert "corridor-ledger" in groups
    finally:
        await admin.close()
    with pytest.raises(ClusterAuthorizationFailedError):
        await produce(monitor, ORDERS)
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(monitor, ORDERS, idempotent=False)


async def test_ops_replays_dead_letters_in_its_transaction(logins: dict[str, dict[str, Any]]) -> None:
    ops = logins["ops"]
    await fetch_one(ops, DLQ_TOPIC)
    await produce(ops, ORDERS, transactional_id=REPLAYER_TRANSACTIONAL_ID)
    await produce(ops, MARKER_TOPIC, transactional_id=REPLAYER_TRANSACTIONAL_ID)
    with pytest.raises(TopicAuthorizationFailedError):
        await produce(ops, DLQ_TOPIC)
