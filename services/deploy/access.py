"""Every topic of the backbone and what each principal may do on the broker: the one source of truth.

Three renderings read this module and nothing else for topics and access:

* the local stack creates :data:`TOPIC_SPECS` of ``corridor.core.topics`` (the ledger, relay and
  ``corridor dlq`` create theirs) and gives a partner :func:`corridor.core.partners.partner_acls`;
* ``deploy/k8s`` gets one Strimzi ``KafkaTopic`` per :func:`backbone_topics` entry and one
  ``KafkaUser`` per :data:`SERVICE_PRINCIPALS` entry (``corridor deploy render``), a partner's
  ``KafkaUser`` and ``KafkaTopic`` from ``corridor deploy partner`` with the same ``partner_acls``;
* ``deploy/compose.yaml`` creates the same topics with the same partitions and configs.

Partition counts come from the deployment (``CORRIDOR_TRADE_PARTITIONS``, ADR 0040): the base and
compose render the default (6); the production overlay patches every topic labelled
``corridor.io/partitions: trade`` (and the services' ConfigMap) to 24.

Services: on the laptop stack (``corridor stack up``, ADR 24) and on a cluster each is
``User:corridor-<service>`` with exactly the bindings below (in compose they still share the internal
listener's ``User:ANONYMOUS``), derived from what its code does: the topics it reads and writes, its
consumer group, its transactional ids. Topics are created by the operator (``KafkaTopic``; ``stack up``
locally), so no service needs ``Create`` except the relay, which creates a new partner's topic when it
meets the partner before the operator has (the same code path as on the laptop).
Partners: exactly :func:`partner_acls`.
Decisions: docs/adr/0020-cluster-deployment.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from corridor.core.partners import AclBinding, partner_acls
from corridor.core.routing import PARTNER_TOPIC_PREFIX, partner_topic_spec
from corridor.core.topics import (
    ACCEPTED,
    TRADE_TOPICS,
    TopicSpec,
    check_co_partitioned,
    generation_name,
    physical,
    trade_partitions,
    trade_topic_specs,
)
from corridor.ledger.settings import DEFAULT_GROUP_ID as LEDGER_GROUP
from corridor.ledger.topics import DLQ_TOPIC, RETRY_TOPICS, ledger_topic_specs
from corridor.ops.dlq import MARKER_SPEC, MARKER_TOPIC, REPLAYER_TRANSACTIONAL_ID
from corridor.relay.settings import DEFAULT_GROUP_ID as RELAY_GROUP
from corridor.relay.state import STATE_TOPIC_CONFIGS
from corridor.webhooks.settings import DEFAULT_GROUP_ID as WEBHOOKS_GROUP

__all__ = [
    "CLUSTER_BROKERS",
    "SERVICE_PRINCIPALS",
    "ServicePrincipal",
    "backbone_topics",
    "partner_acls",
    "partner_topic_spec",
    "relay_state_topic_spec",
    "service_acls",
]

#: Brokers of the production cluster (deploy/k8s, deploy/compose.yaml): replication 3, min ISR 2.
CLUSTER_BROKERS = 3


def relay_state_topic_spec(partitions: int | None = None) -> TopicSpec:
    """The relay's compacted state topic (``<group>.state.v2``), one partition per trade-topic partition
    (default: the deployment's ``CORRIDOR_TRADE_PARTITIONS``)."""
    count = trade_partitions() if partitions is None else partitions
    return TopicSpec(physical(f"{RELAY_GROUP}.state.v2"), count, dict(STATE_TOPIC_CONFIGS))


def backbone_topics(partitions: int | None = None) -> tuple[TopicSpec, ...]:
    """Every topic the backbone needs before its services start (partner topics come per partner), at
    ``partitions`` (default: the deployment's ``CORRIDOR_TRADE_PARTITIONS``, ADR 0040). The
    replay-marker topic keeps its one partition: it is not keyed by trade."""
    count = trade_partitions() if partitions is None else partitions
    specs = (*trade_topic_specs(count), *ledger_topic_specs(count))
    # the relay needs one slot per partition, equal on every trade-keyed topic
    check_co_partitioned({spec.name: spec.partitions for spec in specs})
    return (*specs, MARKER_SPEC, relay_state_topic_spec(count))


@dataclass(frozen=True)
class ServicePrincipal:
    """A service's identity on the broker: ``User:<username>`` with SCRAM-SHA-512."""

    service: str
    username: str
    description: str

    @property
    def principal(self) -> str:
        return f"User:{self.username}"


SERVICE_PRINCIPALS: tuple[ServicePrincipal, ...] = (
    ServicePrincipal("gateway", "corridor-gateway", "produces partners' events to the trade topics"),
    ServicePrincipal("ledger", "corridor-ledger", "consumes the trade topics, parks and dead-letters"),
    ServicePrincipal("relay", "corridor-relay", "copies trade events to partner topics, transactionally"),
    ServicePrincipal("webhooks", "corridor-webhooks", "reads partner topics, pushes to webhooks"),
    ServicePrincipal("monitor", "corridor-monitor", "reads every topic and group for the dashboard"),
    ServicePrincipal("ops", "corridor-ops", "the operator's CLI: lag, trace, dlq replay"),
)


def _topic(principal: str, name: str, *operations: str, pattern: str = "LITERAL") -> list[AclBinding]:
    return [AclBinding("TOPIC", name, pattern, op, principal) for op in operations]


def _group(principal: str, name: str, *operations: str, pattern: str = "LITERAL") -> list[AclBinding]:
    return [AclBinding("GROUP", name, pattern, op, principal) for op in operations]


def _cluster(principal: str, *operations: str) -> list[AclBinding]:
    return [AclBinding("CLUSTER", "kafka-cluster", "LITERAL", op, principal) for op in operations]


def service_acls(service: str, generation: int | None = None) -> list[AclBinding]:
    """The bindings of one service's principal on a cluster (sorted; no duplicates); with
    ``generation``, on that topic generation's trade-keyed topics instead of this process's (ADR 0040:
    ``corridor generation acls`` grants them before the services move)."""
    by_service = {p.service: p for p in SERVICE_PRINCIPALS}
    if service not in by_service:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(sorted(by_service))}")
    who = by_service[service].principal
    state_topic = relay_state_topic_spec().name
    bindings: list[AclBinding] = []
    if service == "gateway":
        # TradeProducer: idempotent (acks=all), keyed by trade id, to the three trade topics; reads their
        # size and timestamp limits (corridor.core.topic_limits: DescribeConfigs) to refuse early.
        for topic in TRADE_TOPICS:
            bindings += _topic(who, topic, "WRITE", "DESCRIBE", "DESCRIBE_CONFIGS")
        bindings += _cluster(who, "IDEMPOTENT_WRITE")
    elif service == "ledger":
        # Consumes trade + retry topics in group corridor-ledger; parks in a retry tier, dead-letters
        # to trade.dlq.v1 (idempotent side producer); lists partitions and its own group's offsets.
        for topic in TRADE_TOPICS:
            bindings += _topic(who, topic, "READ", "DESCRIBE")
        for topic in RETRY_TOPICS:
            bindings += _topic(who, topic, "READ", "WRITE", "DESCRIBE")
        bindings += _topic(who, DLQ_TOPIC, "WRITE", "DESCRIBE")
        # its publisher puts every accepted event on the accepted stream (ADR 0027)
        bindings += _topic(who, ACCEPTED, "WRITE", "DESCRIBE")
        bindings += _group(who, LEDGER_GROUP, "READ", "DESCRIBE")
        bindings += _cluster(who, "IDEMPOTENT_WRITE")
    elif service == "relay":
        # Reads the ledger's accepted stream only (group corridor-relay, static membership; ADR 0027),
        # keeps its routes in the compacted state topic, writes partner topics in transactions
        # corridor-relay-<partition>.
        bindings += _topic(who, ACCEPTED, "READ", "DESCRIBE")
        bindings += _topic(who, state_topic, "READ", "WRITE", "DESCRIBE")
        bindings += _topic(who, PARTNER_TOPIC_PREFIX, "WRITE", "DESCRIBE", "CREATE", pattern="PREFIXED")
        bindings += _group(who, RELAY_GROUP, "READ", "DESCRIBE")
        bindings += [
            AclBinding("TRANSACTIONAL_ID", RELAY_GROUP, "PREFIXED", op, who) for op in ("WRITE", "DESCRIBE")
        ]
        bindings += _cluster(who, "IDEMPOTENT_WRITE", "DESCRIBE")
    elif service == "webhooks":
        # Subscribes to the pattern partner\..+\.v1 in group corridor-webhooks; never writes to Kafka.
        bindings += _topic(who, PARTNER_TOPIC_PREFIX, "READ", "DESCRIBE", pattern="PREFIXED")
        bindings += _group(who, WEBHOOKS_GROUP, "READ", "DESCRIBE")
    elif service == "monitor":
        # Read-only: metadata and offsets of every topic, every group's commits, one record on click.
        bindings += _topic(who, "*", "READ", "DESCRIBE")
        bindings += _group(who, "*", "DESCRIBE")
        bindings += _cluster(who, "DESCRIBE")
    elif service == "ops":
        # `corridor lag/trace/tail` read anything; `corridor dlq replay` reads the dead letters and
        # writes them back to their trade topic with a replay marker, in one transaction.
        bindings += _topic(who, "*", "READ", "DESCRIBE")
        for topic in TRADE_TOPICS:
            bindings += _topic(who, topic, "WRITE")
        bindings += _topic(who, MARKER_TOPIC, "WRITE")
        bindings += _group(who, "*", "DESCRIBE")
        bindings += [
            AclBinding("TRANSACTIONAL_ID", REPLAYER_TRANSACTIONAL_ID, "LITERAL", op, who)
            for op in ("WRITE", "DESCRIBE")
        ]
        bindings += _cluster(who, "IDEMPOTENT_WRITE", "DESCRIBE")
    if generation is not None:
        bindings = [_in_generation(b, generation) for b in bindings]
    return sorted(set(bindings))


def _in_generation(binding: AclBinding, generation: int) -> AclBinding:
    """Every literal topic a service is granted is trade-keyed and follows the generation; prefixes
    (partner topics) and ``*`` do not."""
    if binding.resource_type != "TOPIC" or binding.pattern_type != "LITERAL" or binding.resource_name == "*":
        return binding
    return dataclasses.replace(binding, resource_name=generation_name(binding.resource_name, generation))
