"""The trade topics: names, partitioning and configs, in one place for the stack, services and docs.

Decisions are recorded in docs/adr/0002-topics-keys-subjects.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ORDERS = "trade.orders.v1"
SHIPMENTS = "trade.shipments.v1"
CERTIFICATES = "trade.certificates.v1"

TRADE_TOPICS: tuple[str, ...] = (ORDERS, SHIPMENTS, CERTIFICATES)

#: The ledger's decisions (ADR 0027): every event the ledger accepted, once, in the order it applied
#: them, keyed by trade id like the trade topics (so partition p holds the trades of partition p). The
#: relay, and through it the partner topics and webhooks, read only this topic: nothing the ledger
#: refused reaches a partner. Each record is the original record (key, Avro value, CloudEvents headers)
#: plus ``corridor_ledger_seq`` (the ledger's position) and ``corridor_ledger_source``.
ACCEPTED = "trade.accepted.v1"

# Trade events are contracts and customs decisions: keep them (no time-based deletion). Compaction
# would lose history, so the policy is plain delete with infinite retention.
_TRADE_TOPIC_CONFIGS: dict[str, str] = {
    "cleanup.policy": "delete",
    "retention.ms": "-1",
    "retention.bytes": "-1",
    "max.message.bytes": "1048588",
    "message.timestamp.type": "CreateTime",
    "unclean.leader.election.enable": "false",
}


@dataclass(frozen=True)
class TopicSpec:
    """A topic as the stack creates it; replication adapts to the cluster size."""

    name: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)

    def replication_factor(self, brokers: int) -> int:
        return min(3, brokers)

    def configs_for(self, brokers: int) -> dict[str, str]:
        rf = self.replication_factor(brokers)
        return {**self.configs, "min.insync.replicas": str(2 if rf >= 3 else 1)}


#: The accepted stream keeps what the trade topics keep; its records carry two headers more than the
#: original, so it allows a little more than the trade topics' largest record.
ACCEPTED_SPEC = TopicSpec(
    name=ACCEPTED, partitions=6, configs={**_TRADE_TOPIC_CONFIGS, "max.message.bytes": str(1048588 + 65536)}
)

TOPIC_SPECS: tuple[TopicSpec, ...] = tuple(
    TopicSpec(name=name, partitions=6, configs=dict(_TRADE_TOPIC_CONFIGS)) for name in TRADE_TOPICS
)
