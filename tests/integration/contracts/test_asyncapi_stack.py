"""The partner server, channels and bindings of contracts/asyncapi.yaml are what a running stack does:
topic names, partitions, replication and configs, the SASL listener and its mechanism, and a partner's
ACLs (its topic, its consumer-group prefix) — compared with the broker's own answers, then used: a stock
aiokafka consumer logs in as the contract says and reads its feed with a group of its prefix."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer

from corridor.core import partners
from corridor.core.contracts import deref, load_asyncapi
from corridor.stack.admin import describe_topics
from corridor.stack.config import PARTNER_LISTENER
from tests.integration.relay.relay_helpers import SecureStack

pytestmark = pytest.mark.integration

DOC = load_asyncapi()


def _declared(kafka: dict[str, Any]) -> dict[str, str]:
    def text(value: Any) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, list):
            return ",".join(map(str, value))
        return str(value)

    return {k: text(v) for k, v in kafka["topicConfiguration"].items()}


def _expected(kafka: dict[str, Any], brokers: int) -> tuple[int, dict[str, str]]:
    """(replicas, configs) the contract promises on a cluster of ``brokers``."""
    configs = _declared(kafka)
    larger = kafka["x-corridor-replication"]
    if brokers >= larger["brokers"]:
        configs["min.insync.replicas"] = str(larger["min.insync.replicas"])
        return larger["replicas"], configs
    return kafka["replicas"], configs


@pytest.fixture(scope="module")
async def partner(partner_stack: SecureStack) -> Any:
    partner_id = f"contract-{uuid.uuid4().hex[:8]}"
    credentials = await partners.grant_kafka_access(partner_stack.bootstrap, partner_id)
    yield partner_id, credentials
    await partners.revoke_kafka_access(partner_stack.bootstrap, partner_id)


async def test_topics_are_as_the_channels_say(partner_stack: SecureStack, partner: Any) -> None:
    partner_id, _ = partner
    brokers = len(partner_stack.status.brokers)
    channels = {ch["address"].replace("{partnerId}", partner_id): ch for ch in DOC["channels"].values()}
    described = await describe_topics(partner_stack.bootstrap, sorted(channels))
    for topic, channel in channels.items():
        kafka = channel["bindings"]["kafka"]
        actual = described[topic]
        assert actual.get("error_code", 0) == 0, f"{topic} does not exist on the stack"
        replicas, configs = _expected(kafka, brokers)
        assert actual["partitions"] == kafka["partitions"], topic
        assert actual["replication_factor"] == replicas, topic
        for name, value in configs.items():
            assert actual["configs"][name] == value, f"{topic}: {name}"


async def test_partner_acls_are_the_feed_channel_and_group_prefix(
    partner_stack: SecureStack, partner: Any
) -> None:
    partner_id, _ = partner
    access = await partners.describe_kafka_access(partner_stack.bootstrap, partner_id)
    scheme = deref(DOC, DOC["servers"]["partners"]["security"][0])
    assert scheme["type"] == "scramSha512" and access["scram"] == ["SCRAM-SHA-512"]
    feed = DOC["channels"]["partnerFeed"]["address"].replace("{partnerId}", partner_id)
    [receive] = [op for op in DOC["operations"].values() if op["channel"]["$ref"] == "#/channels/partnerFeed"]
    prefix = deref(DOC, receive["bindings"])["kafka"]["x-corridor-group-prefix"].replace(
        "{partnerId}", partner_id
    )
    granted = {
        (a["resource_type"], a["resource_name"], a["pattern_type"], a["operation"]) for a in access["acls"]
    }
    assert granted == {
        ("TOPIC", feed, "LITERAL", "READ"),
        ("TOPIC", feed, "LITERAL", "DESCRIBE"),
        ("GROUP", prefix, "PREFIXED", "READ"),
    }
    assert all(a["permission"] == "ALLOW" and a["principal"] == f"User:{partner_id}" for a in access["acls"])


async def test_partner_logs_in_as_the_partners_server_says(partner_stack: SecureStack, partner: Any) -> None:
    partner_id, credentials = partner
    server = DOC["servers"]["partners"]
    local = DOC["servers"]["local"]
    # the partner listener sits at the contract's offset from the client listener, on every stack
    offset = int(server["host"].rsplit(":", 1)[1]) - int(local["host"].rsplit(":", 1)[1])
    assert offset == PARTNER_LISTENER.port_offset
    internal_port = int(partner_stack.bootstrap.split(",")[0].rsplit(":", 1)[1])
    partner_port = int(partner_stack.partner_bootstrap.split(",")[0].rsplit(":", 1)[1])
    assert partner_port - internal_port == offset
    # protocol kafka-secure (TLS) + SCRAM-SHA-512: SASL_SSL, as a stock client is configured from it,
    # trusting the stack's CA with host names checked
    assert server["protocol"] == "kafka-secure" and PARTNER_LISTENER.security_protocol == "SASL_SSL"
    feed = DOC["channels"]["partnerFeed"]["address"].replace("{partnerId}", partner_id)
    consumer = AIOKafkaConsumer(
        feed,
        **partner_stack.partner_login(credentials.username, credentials.password),
        group_id=f"{partner_id}.contract-check",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        assert await consumer.getmany(timeout_ms=2000) == {}  # logged in, joined its group, nothing yet
        assert consumer.assignment(), "the feed's partitions are assigned to the partner's group"
    finally:
        await consumer.stop()
