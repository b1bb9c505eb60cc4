"""The trade topics: names, partitioning and configs, in one place for the stack, services and docs.

**Partitions are chosen at deployment** (ADR 0040): ``CORRIDOR_TRADE_PARTITIONS`` (default 6, what the
local stack and the test suite run; the production overlay renders 24) sizes the trade topics, the
ledger's retry, dead-letter and accepted topics, the relay's state topic and new partner topics. It is
read once, when this module is imported, so every spec of one process agrees.

Invariant: the trade topics, the retry topics and the accepted stream have **one** partition count.
Partition *i* of each holds the same trades (key = trade id, Kafka's default partitioner), so one ledger
owns a trade's records and the relay's slot *i* is the trade's partition; a component that relies on it
checks it at start with :func:`check_co_partitioned` and refuses to run when the counts differ. A count
is never raised in place (Kafka would move keys to other partitions): more partitions means a new topic
generation, copied in order (``corridor.ops.generation``, docs/operations.md).

**A generation renames where records live, never what the contract calls them** (ADR 0040):
``CORRIDOR_TOPIC_GENERATION`` (default 1) puts every trade-keyed topic of this process in generation
*n* (``trade.orders.v1.g<n>`` for *n* > 1, :func:`generation_name`). The events' ``topic`` and their
registry subjects keep the contract's name (``CONTRACT_*``); :func:`physical` maps a contract name to
where its records live, and every producer, consumer and admin call goes through it.

Decisions are recorded in docs/adr/0002-topics-keys-subjects.md and 0040.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

#: The deployment's setting: partitions of every trade-keyed topic (ADR 0040).
PARTITIONS_ENV = "CORRIDOR_TRADE_PARTITIONS"
#: The local stack's and test suite's count (hundreds of partner topics on one broker stay cheap).
DEFAULT_TRADE_PARTITIONS = 6
#: What ``deploy/k8s/overlays/production`` renders: room for 24 ledger and relay replicas.
PRODUCTION_TRADE_PARTITIONS = 24
#: A ceiling that catches a typo (``240`` for ``24``) before topics are created that cannot shrink.
MAX_TRADE_PARTITIONS = 1000


class PartitionCountError(ValueError):
    """A partition setting that is not usable, or topics that must be co-partitioned and are not."""


def trade_partitions(environ: Mapping[str, str] | None = None) -> int:
    """``CORRIDOR_TRADE_PARTITIONS`` from ``environ`` (default: the process's), else the default.

    Raises :class:`PartitionCountError` naming the variable and the reason for anything but a whole
    number from 1 to :data:`MAX_TRADE_PARTITIONS`."""
    return _whole_number(environ, PARTITIONS_ENV, DEFAULT_TRADE_PARTITIONS, MAX_TRADE_PARTITIONS)


def _whole_number(environ: Mapping[str, str] | None, name: str, default: int, maximum: int) -> int:
    """The setting ``name`` of ``environ`` (default: the process's) as a whole number from 1 to
    ``maximum``, ``default`` when unset; :class:`PartitionCountError` naming it and the reason."""
    env = os.environ if environ is None else environ
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise PartitionCountError(f"{name}={raw!r}: not a whole number") from None
    if not 1 <= value <= maximum:
        raise PartitionCountError(f"{name}={value}: must be from 1 to {maximum}")
    return value


def check_co_partitioned(counts: Mapping[str, int]) -> int:
    """The one partition count of ``counts`` (topic → partitions); :class:`PartitionCountError` naming
    every topic and its count when they differ or a topic has none (missing)."""
    if not counts:
        raise PartitionCountError("no topics to check")
    if any(n <= 0 for n in counts.values()) or len(set(counts.values())) != 1:
        listed = ", ".join(f"{t}={n}" for t, n in sorted(counts.items()))
        raise PartitionCountError(
            "these topics must have one partition count (key = trade id: partition i of each holds the "
            f"same trades; a count of 0 is a missing topic): {listed}. A count cannot be raised in place: "
            "migrate to a new topic generation (docs/operations.md, 'More partitions')"
        )
    return next(iter(counts.values()))


#: Which generation of the trade-keyed topics this deployment reads and writes (ADR 0040).
GENERATION_ENV = "CORRIDOR_TOPIC_GENERATION"
MAX_GENERATION = 9999
_GENERATION = re.compile(r"^(?P<base>.+)\.g(?P<n>[0-9]{1,4})$")


def topic_generation(environ: Mapping[str, str] | None = None) -> int:
    """``CORRIDOR_TOPIC_GENERATION`` from ``environ`` (default: the process's), else 1.

    Raises :class:`PartitionCountError` naming the variable and the reason for anything but a whole
    number from 1 to :data:`MAX_GENERATION`."""
    return _whole_number(environ, GENERATION_ENV, 1, MAX_GENERATION)


def generation_name(topic: str, generation: int) -> str:
    """``trade.orders.v1`` in generation ``n``: itself for 1, ``trade.orders.v1.g<n>`` after (the
    generation of a generation's name is replaced, not stacked)."""
    if not 1 <= generation <= MAX_GENERATION:
        raise ValueError(f"generation {generation}: must be from 1 to {MAX_GENERATION}")
    return contract_name(topic) if generation == 1 else f"{contract_name(topic)}.g{generation}"


def contract_name(topic: str) -> str:
    """The contract's name of a topic of any generation (``trade.orders.v1.g2`` → ``trade.orders.v1``)."""
    found = _GENERATION.match(topic)
    return found["base"] if found else topic


#: This process's generation, read once at import like the partition count.
GENERATION = topic_generation()


def physical(topic: str) -> str:
    """Where the records of the contract's ``topic`` live in this process's generation."""
    return generation_name(topic, GENERATION)


#: The contract's names: the events' ``topic`` and their registry subjects (ADR 0002).
CONTRACT_ORDERS = "trade.orders.v1"
CONTRACT_SHIPMENTS = "trade.shipments.v1"
CONTRACT_CERTIFICATES = "trade.certificates.v1"
CONTRACT_ACCEPTED = "trade.accepted.v1"

ORDERS = physical(CONTRACT_ORDERS)
SHIPMENTS = physical(CONTRACT_SHIPMENTS)
CERTIFICATES = physical(CONTRACT_CERTIFICATES)

TRADE_TOPICS: tuple[str, ...] = (ORDERS, SHIPMENTS, CERTIFICATES)

#: The ledger's decisions (ADR 0027): every event the ledger accepted, once, in the order it applied
#: them, keyed by trade id like the trade topics (so partition p holds the trades of partition p). The
#: relay, and through it the partner topics and webhooks, read only this topic: nothing the ledger
#: refused reaches a partner. Each record is the original record (key, Avro value, CloudEvents headers)
#: plus ``corridor_ledger_seq`` (the ledger's position) and ``corridor_ledger_source``.
ACCEPTED = physical(CONTRACT_ACCEPTED)

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
def accepted_spec(partitions: int) -> TopicSpec:
    return TopicSpec(
        name=ACCEPTED,
        partitions=partitions,
        configs={**_TRADE_TOPIC_CONFIGS, "max.message.bytes": str(1048588 + 65536)},
    )


def trade_topic_specs(partitions: int) -> tuple[TopicSpec, ...]:
    """The three trade topics at ``partitions`` (a deployment's count, or a new generation's)."""
    return tuple(
        TopicSpec(name=name, partitions=partitions, configs=dict(_TRADE_TOPIC_CONFIGS))
        for name in TRADE_TOPICS
    )


#: This process's deployment: ``CORRIDOR_TRADE_PARTITIONS`` as it was when the module was imported.
ACCEPTED_SPEC = accepted_spec(trade_partitions())
TOPIC_SPECS: tuple[TopicSpec, ...] = trade_topic_specs(trade_partitions())
