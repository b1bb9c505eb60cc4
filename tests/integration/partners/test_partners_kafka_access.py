"""Broker-enforced isolation: ``corridor partners add`` gives a partner SCRAM credentials and ACLs, and the
broker itself (not our code) refuses everything else.

Logged in on the partner listener as partner A with plain Kafka clients (aiokafka and confluent-kafka with
SASL settings, not the SDK): A reads its own topic with a group of its own; partner B's topic and the
trade topics are refused (TOPIC_AUTHORIZATION_FAILED), a group outside ``<A>.*`` too
(GROUP_AUTHORIZATION_FAILED), and so is producing, even to its own topic. ``rotate-key`` replaces the
password, ``disable`` removes credential and ACLs, ``enable`` issues a new password.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from confluent_kafka import Consumer, Producer
from confluent_kafka import KafkaError as ConfluentError

from corridor.core import partners
from corridor.core.kafka import client_security
from corridor.core.routing import partner_topic
from tests.integration.relay.relay_helpers import SecureStack, add_partner, partners_cli

pytestmark = pytest.mark.integration


def sasl(stack: SecureStack, username: str, password: str) -> dict[str, Any]:
    return stack.partner_login(username, password)  # SCRAM over TLS, the stack's CA trusted


def confluent(stack: SecureStack, username: str, password: str, group: str) -> Consumer:
    return Consumer(
        {
            **stack.confluent_login(username, password),
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )


def first_error(stack: SecureStack, creds: dict[str, Any], topic: str, group: str) -> str | None:
    """Subscribe as the partner and poll: the name of the first error the broker answers, or None."""
    consumer = confluent(stack, creds["username"], creds["password"], group)
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error():
                return str(message.error().name())
            if message is not None:
                return None
        return None
    finally:
        consumer.close()


async def read_own(stack: SecureStack, creds: dict[str, Any], group: str, expected: int) -> list[bytes]:
    """Read the partner's own topic with aiokafka as the partner, and commit."""
    consumer = AIOKafkaConsumer(
        partner_topic(creds["username"]),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level="read_committed",
        **sasl(stack, creds["username"], creds["password"]),
    )
    await consumer.start()
    try:
        values: list[bytes] = []
        deadline = time.monotonic() + 20
        while len(values) < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                values += [r.value for r in records]
        await consumer.commit()
        return values
    finally:
        await consumer.stop()


async def can_log_in(stack: SecureStack, username: str, password: str) -> bool:
    producer = AIOKafkaProducer(**sasl(stack, username, password), request_timeout_ms=5000)
    try:
        await producer.start()
    except KafkaConnectionError:
        return False
    finally:
        await producer.stop()
    return True


async def put(stack: SecureStack, topic: str, value: bytes) -> None:
    """Write as the operator (a super user) (what the relay does)."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, **client_security())
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"trade")
    finally:
        await producer.stop()


@pytest.fixture
def two_partners(partner_stack: SecureStack) -> tuple[dict[str, Any], dict[str, Any]]:
    suffix = uuid.uuid4().hex[:8]
    a = add_partner(partner_stack, f"buyer-a-{suffix}", "BUYER")
    b = add_partner(partner_stack, f"supplier-b-{suffix}", "SUPPLIER")
    return a, b


def test_add_prints_the_kafka_login_once_with_the_key(partner_stack: SecureStack, two_partners: Any) -> None:
    a, _ = two_partners
    partner_id = a["partner"]["partner_id"]
    kafka = a["kafka"]
    assert kafka["username"] == partner_id and len(kafka["password"]) == 43
    assert kafka["mechanism"] == "SCRAM-SHA-512" and kafka["security_protocol"] == "SASL_SSL"
    assert kafka["ssl_cafile"] == str(partner_stack.ca_file)  # the CA certificate the partner trusts
    assert kafka["topic"] == f"partner.{partner_id}.v1" and kafka["group_prefix"] == f"{partner_id}."
    assert kafka["bootstrap_servers"] == partner_stack.partner_bootstrap
    assert a["api_key"].startswith(f"cor_{partner_id}_")

    access = asyncio.run(partners.describe_kafka_access(partner_stack.bootstrap, partner_id))
    assert access["scram"] == ["SCRAM-SHA-512"]
    acls = {
        (x["resource_type"], x["resource_name"], x["pattern_type"], x["operation"]) for x in access["acls"]
    }
    assert acls == {
        ("TOPIC", f"partner.{partner_id}.v1", "LITERAL", "READ"),
        ("TOPIC", f"partner.{partner_id}.v1", "LITERAL", "DESCRIBE"),
        ("GROUP", f"{partner_id}.", "PREFIXED", "READ"),
    }
    assert all(x["permission"] == "ALLOW" and x["principal"] == f"User:{partner_id}" for x in access["acls"])

    listed = partners_cli(partner_stack, "list", "--json")
    assert kafka["password"] not in listed.stdout  # shown once, stored only by the broker, salted

    carrier = f"carrier-{uuid.uuid4().hex[:8]}"
    human = partners_cli(partner_stack, "add", carrier, "--role", "CARRIER", "--name", "x")
    assert human.exit_code == 0
    assert f"Kafka login (SCRAM-SHA-512, shown only now): username {carrier} password " in human.stdout
    assert f"over SASL_SSL: trust the CA certificate {partner_stack.ca_file}" in human.stdout


def test_the_broker_refuses_everything_but_the_own_topic(
    partner_stack: SecureStack, two_partners: Any
) -> None:
    a, b = two_partners
    a_id, b_id = a["partner"]["partner_id"], b["partner"]["partner_id"]
    asyncio.run(put(partner_stack, partner_topic(a_id), b"for A"))
    asyncio.run(put(partner_stack, partner_topic(b_id), b"for B"))
    creds = a["kafka"]

    # its own topic, with a group of its own: read and commit
    assert asyncio.run(read_own(partner_stack, creds, f"{a_id}.erp", expected=1)) == [b"for A"]
    assert first_error(partner_stack, creds, partner_topic(a_id), f"{a_id}.audit") is None

    # another partner's topic and the trade topics: the broker says no
    refused = "TOPIC_AUTHORIZATION_FAILED"
    assert first_error(partner_stack, creds, partner_topic(b_id), f"{a_id}.erp") == refused
    for trade_topic in ("trade.orders.v1", "trade.shipments.v1", "trade.certificates.v1"):
        assert first_error(partner_stack, creds, trade_topic, f"{a_id}.erp") == refused
    # a consumer group outside <A>.*, even B's, and the bare prefix's look-alikes
    for group in (f"{b_id}.erp", "erp", f"{a_id}-erp"):
        assert first_error(partner_stack, creds, partner_topic(a_id), group) == "GROUP_AUTHORIZATION_FAILED"

    # writing is refused, even to its own topic
    producer = Producer(
        {
            **partner_stack.confluent_login(creds["username"], creds["password"]),
            "message.timeout.ms": 10000,
        }
    )
    errors: list[Any] = []
    producer.produce(partner_topic(a_id), b"forged", callback=lambda err, _msg: errors.append(err))
    producer.flush(15)
    assert errors and errors[0] is not None
    assert errors[0].code() == ConfluentError.TOPIC_AUTHORIZATION_FAILED

    # B's copy was never touched
    assert asyncio.run(read_own(partner_stack, b["kafka"], f"{b_id}.erp", expected=1)) == [b"for B"]


def test_rotate_disable_enable(partner_stack: SecureStack, two_partners: Any) -> None:
    a, _ = two_partners
    partner_id, old = a["partner"]["partner_id"], a["kafka"]["password"]
    assert asyncio.run(can_log_in(partner_stack, partner_id, old))

    rotated = partners_cli(partner_stack, "rotate-key", partner_id, "--json")
    assert rotated.exit_code == 0, rotated.output
    body = json.loads(rotated.stdout)
    new = body["kafka"]["password"]
    assert new != old and body["api_key"] != a["api_key"]
    assert not asyncio.run(can_log_in(partner_stack, partner_id, old))
    assert asyncio.run(can_log_in(partner_stack, partner_id, new))

    disabled = partners_cli(partner_stack, "disable", partner_id, "--json")
    assert disabled.exit_code == 0, disabled.output
    body = json.loads(disabled.stdout)
    assert body["partner"]["status"] == "disabled"
    assert body["kafka"] == {"scram_credential_deleted": True, "acls_deleted": 3}
    assert not asyncio.run(can_log_in(partner_stack, partner_id, new))
    access = asyncio.run(partners.describe_kafka_access(partner_stack.bootstrap, partner_id))
    assert access == {"scram": [], "acls": []}

    enabled = partners_cli(partner_stack, "enable", partner_id, "--json")
    assert enabled.exit_code == 0, enabled.output
    again = json.loads(enabled.stdout)["kafka"]["password"]
    assert again not in (old, new)
    assert asyncio.run(can_log_in(partner_stack, partner_id, again))
    login = {"username": partner_id, "password": again}
    assert asyncio.run(read_own(partner_stack, login, f"{partner_id}.x", 0)) == []


def test_unreachable_kafka_fails_rotate_and_disable_but_not_add(partner_stack: SecureStack) -> None:
    from click.testing import CliRunner

    from corridor.cli.partners import partners as partners_group

    env = {"CORRIDOR_DATABASE_URL": partner_stack.database_url, "CORRIDOR_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    runner = CliRunner()
    partner_id = f"offline-{uuid.uuid4().hex[:8]}"
    args = ["add", partner_id, "--role", "CARRIER", "--name", "x", "--json"]
    added = runner.invoke(partners_group, args, env=env)
    assert added.exit_code == 0, added.output
    assert "unreachable" in json.loads(added.stdout)["kafka"]["error"]
    for command in ("rotate-key", "disable"):
        result = runner.invoke(partners_group, [command, partner_id], env=env)
        assert result.exit_code == 1 and "Kafka access was not changed" in result.output, result.output
    skipped = runner.invoke(partners_group, ["enable", partner_id, "--no-kafka", "--json"], env=env)
    assert skipped.exit_code == 0 and json.loads(skipped.stdout)["kafka"] is None
