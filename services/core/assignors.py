"""A co-partitioned assignor: partition *i* of every subscribed topic goes to the same group member.

The ledger reads the three trade topics and the retry topics, all keyed by trade id with the same
partition count, so one trade's records are in partition *i* of each. It can only apply an event when
it owns its trade's order, shipment and earlier events, and it parks and retries them in the same
partition of a retry topic: a trade's partitions must have one owner, for any number of ledgers.
aiokafka's default (round robin over all topic-partitions) gives that only when the member count
divides the partition count; :func:`co_partitioned` gives it always (docs/adr/0006-ledger.md).

Partition indexes are dealt to the members in turn (sorted by member id, so every member computes the
same plan), which balances them within one index. A topic with fewer partitions than the others
simply has no index *i* for the members that get it.

:class:`CoPartitionedAssignor` adapts the pure function to aiokafka. A consumer lists it first and
round robin second, so a group whose older members only know round robin still forms (Kafka picks a
protocol every member supports) and moves to co-partitioned once every member knows it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

NAME = "corridor-copartitioned"


def co_partitioned(
    subscriptions: Mapping[str, Iterable[str]], partitions: Mapping[str, int]
) -> dict[str, dict[str, list[int]]]:
    """Member id → topic → partitions. ``subscriptions``: each member's topics; ``partitions``: each
    known topic's partition count (topics without one are left out). Every partition of every
    subscribed topic is assigned exactly once, to a member subscribed to it; partition *i* of the
    topics a member subscribes to goes to one member."""
    members = sorted(subscriptions)
    plan: dict[str, dict[str, list[int]]] = {m: defaultdict(list) for m in members}
    if not members:
        return {}
    topics = sorted({t for m in members for t in subscriptions[m] if t in partitions})
    width = max((partitions[t] for t in topics), default=0)
    for index in range(width):
        for topic in topics:
            if index >= partitions[topic]:
                continue
            # the member for this index among those subscribed to the topic (all of them, normally)
            subscribed = [m for m in members if topic in set(subscriptions[m])]
            plan[subscribed[index % len(subscribed)]][topic].append(index)
    return {m: dict(by_topic) for m, by_topic in plan.items()}


def _assignor_class() -> type[Any]:
    from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
    from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment, ConsumerProtocolMemberMetadata

    class CoPartitionedAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
        name = NAME
        version = 0

        @classmethod
        def assign(
            cls, cluster: Any, members: Mapping[str, ConsumerProtocolMemberMetadata]
        ) -> dict[str, ConsumerProtocolMemberAssignment]:
            subscriptions = {m: list(meta.subscription) for m, meta in members.items()}
            counts: dict[str, int] = {}
            for topic in {t for topics in subscriptions.values() for t in topics}:
                found = cluster.partitions_for_topic(topic)
                if found:
                    counts[topic] = len(found)
            plan = co_partitioned(subscriptions, counts)
            return {
                member: ConsumerProtocolMemberAssignment(
                    cls.version, sorted(plan.get(member, {}).items()), b""
                )
                for member in members
            }

        @classmethod
        def metadata(cls, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
            return ConsumerProtocolMemberMetadata(cls.version, list(topics), b"")

        @classmethod
        def on_assignment(cls, assignment: ConsumerProtocolMemberAssignment) -> None:
            return None

    return CoPartitionedAssignor


def assignment_strategy() -> tuple[Any, ...]:
    """aiokafka's ``partition_assignment_strategy`` for a consumer whose topics are co-partitioned:
    this assignor first, round robin (aiokafka's default, what older members run) second."""
    from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor

    return (_assignor_class(), RoundRobinPartitionAssignor)
