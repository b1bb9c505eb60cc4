"""The ledger's own topics: three retry tiers for parked events, the dead-letter topic, and the accepted
stream (``trade.accepted.v1``, ADR 0027) its publisher writes the accepted events to.

They are created by the ledger at startup when missing (the stack creates only the trade topics). Like
the trade topics they are keyed by trade id with the deployment's partition count
(``CORRIDOR_TRADE_PARTITIONS``, ADR 0040), so a trade's parked events stay in order and in partition *i*
of every topic; :func:`check_partitions` refuses to start a ledger on topics whose counts differ.
Retry topics keep records for 7 days (a parked record lives minutes); the dead-letter topic keeps them
forever, for people to inspect and replay.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from corridor.core.kafka import client_security, new_topic
from corridor.core.logging import get_logger
from corridor.core.topics import (
    ACCEPTED,
    ACCEPTED_SPEC,
    TRADE_TOPICS,
    TopicSpec,
    accepted_spec,
    check_co_partitioned,
    physical,
    trade_partitions,
)

log = get_logger("corridor.ledger.topics")

#: In this process's topic generation like the trade topics (ADR 0040).
RETRY_TOPICS: tuple[str, ...] = tuple(
    physical(t) for t in ("trade.retry.5s.v1", "trade.retry.30s.v1", "trade.retry.5m.v1")
)
DLQ_TOPIC = physical("trade.dlq.v1")

_COMMON = {
    "cleanup.policy": "delete",
    "message.timestamp.type": "CreateTime",
    "unclean.leader.election.enable": "false",
    "max.message.bytes": "1048588",
}
_WEEK_MS = str(7 * 24 * 3600 * 1000)


def ledger_topic_specs(partitions: int) -> tuple[TopicSpec, ...]:
    """The retry tiers, the dead-letter topic and the accepted stream at ``partitions``."""
    return (
        *(TopicSpec(name, partitions, {**_COMMON, "retention.ms": _WEEK_MS}) for name in RETRY_TOPICS),
        TopicSpec(DLQ_TOPIC, partitions, {**_COMMON, "retention.ms": "-1", "retention.bytes": "-1"}),
        accepted_spec(partitions) if partitions != ACCEPTED_SPEC.partitions else ACCEPTED_SPEC,
    )


#: At this process's deployment count (``CORRIDOR_TRADE_PARTITIONS``).
LEDGER_TOPIC_SPECS: tuple[TopicSpec, ...] = ledger_topic_specs(trade_partitions())

#: What the ledger consumes: the trade topics and its retry tiers.
CONSUMED_TOPICS: tuple[str, ...] = (*TRADE_TOPICS, *RETRY_TOPICS)
#: What must share one partition count for a trade to have one owner and one relay slot (the
#: dead-letter topic need not: nothing consumes it by partition).
CO_PARTITIONED_TOPICS: tuple[str, ...] = (*CONSUMED_TOPICS, ACCEPTED)

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
        new = [new_topic(s, brokers) for s in missing]
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


async def _describe(bootstrap_servers: str, topics: tuple[str, ...]) -> list[dict[str, Any]]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **client_security(), client_id="corridor-ledger-admin"
    )
    await admin.start()
    try:
        described: list[dict[str, Any]] = await admin.describe_topics(list(topics))
        return described
    finally:
        await admin.close()


async def partitions_of(bootstrap_servers: str, topics: tuple[str, ...]) -> list[TopicPartition]:
    """Every partition of ``topics`` (from the cluster's metadata; a missing topic is an error)."""
    described = await _describe(bootstrap_servers, topics)
    found: list[TopicPartition] = []
    for topic in described:
        if topic.get("error_code"):
            raise RuntimeError(f"cannot describe topic {topic['topic']}: error {topic['error_code']}")
        found.extend(TopicPartition(topic["topic"], p["partition"]) for p in topic["partitions"])
    return sorted(found)


async def check_partitions(bootstrap_servers: str, topics: tuple[str, ...] = CO_PARTITIONED_TOPICS) -> int:
    """The partition count ``topics`` share, from the cluster; ``PartitionCountError`` naming each
    topic's count when they differ (a co-partitioning break would split trades between ledgers).
    A topic the cluster does not show yet (missing, or just created and not in this broker's metadata)
    is left out: the ledger creates its own, and the stack or operator the trade topics."""
    described = await _describe(bootstrap_servers, topics)
    counts = {
        topic["topic"]: len(topic["partitions"])
        for topic in described
        if not topic.get("error_code") and topic.get("partitions")
    }
    return check_co_partitioned(counts) if counts else 0


def quiet_aiokafka() -> None:
    """aiokafka logs routine group coordination (a new group's first lookups) at ERROR; keep WARNING+
    of our own logs readable by raising its threshold."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
