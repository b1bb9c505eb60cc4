"""The ledger's own topics: three retry tiers for parked events, the dead-letter topic, and the accepted
stream (``trade.accepted.v1``, ADR 0027) its publisher writes the accepted events to.

They are created by the ledger at startup when missing (the stack creates only the trade topics). Like
the trade topics they are keyed by trade id with 6 partitions, so a trade's parked events stay in order.
Retry topics keep records for 7 days (a parked record lives minutes); the dead-letter topic keeps them
forever, for people to inspect and replay.
"""

from __future__ import annotations

import logging

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from corridor.core.kafka import client_security
from corridor.core.logging import get_logger
from corridor.core.topics import ACCEPTED_SPEC, TRADE_TOPICS, TopicSpec

log = get_logger("corridor.ledger.topics")

RETRY_TOPICS: tuple[str, ...] = ("trade.retry.5s.v1", "trade.retry.30s.v1", "trade.retry.5m.v1")
DLQ_TOPIC = "trade.dlq.v1"

_COMMON = {
    "cleanup.policy": "delete",
    "message.timestamp.type": "CreateTime",
    "unclean.leader.election.enable": "false",
    "max.message.bytes": "1048588",
}
_WEEK_MS = str(7 * 24 * 3600 * 1000)

LEDGER_TOPIC_SPECS: tuple[TopicSpec, ...] = (
    *(TopicSpec(name, 6, {**_COMMON, "retention.ms": _WEEK_MS}) for name in RETRY_TOPICS),
    TopicSpec(DLQ_TOPIC, 6, {**_COMMON, "retention.ms": "-1", "retention.bytes": "-1"}),
    ACCEPTED_SPEC,
)

#: What the ledger consumes: the trade topics and its retry tiers.
CONSUMED_TOPICS: tuple[str, ...] = (*TRADE_TOPICS, *RETRY_TOPICS)

_TOPIC_ALREADY_EXISTS = 36


async def ensure_topics(
    bootstrap_servers: str, specs: tuple[TopicSpec, ...] = LEDGER_TOPIC_SPECS
) -> list[str]:
    """Create the missing topics of ``specs``; returns the names created (others raced us or existed)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **client_security(), client_id="corridor-ledger-admin"
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if not missing:
            return []
        cluster = await admin.describe_cluster()
        brokers = max(1, len(cluster["brokers"]))
        new = [
            NewTopic(
                name=s.name,
                num_partitions=s.partitions,
                replication_factor=s.replication_factor(brokers),
                topic_configs=s.configs_for(brokers),
            )
            for s in missing
        ]
        response = await admin.create_topics(new)
        created = []
        for topic_error in getattr(response, "topic_errors", ()):
            name, code = topic_error[0], topic_error[1]
            if code == 0:
                created.append(name)
            elif code != _TOPIC_ALREADY_EXISTS:
                message = topic_error[2] if len(topic_error) > 2 else ""
                raise RuntimeError(f"cannot create topic {name}: error {code} {message}")
        if created:
            log.info("topics_created", topics=created)
        return created
    finally:
        await admin.close()


async def partitions_of(bootstrap_servers: str, topics: tuple[str, ...]) -> list[TopicPartition]:
    """Every partition of ``topics`` (from the cluster's metadata; a missing topic is an error)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **client_security(), client_id="corridor-ledger-admin"
    )
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    found: list[TopicPartition] = []
    for topic in described:
        if topic.get("error_code"):
            raise RuntimeError(f"cannot describe topic {topic['topic']}: error {topic['error_code']}")
        found.extend(TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"])
    return sorted(found)


def quiet_aiokafka() -> None:
    """aiokafka logs routine group coordination (a new group's first lookups) at ERROR; keep WARNING+
    of our own logs readable by raising its threshold."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
