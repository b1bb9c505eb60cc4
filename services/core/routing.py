"""Which partners receive an event, and where each partner reads them (pure, no I/O).

A partner receives the events of the trades it was admitted to, cut to its role's need to know: the
policy is data in ``corridor.core.domain.trust`` (docs/adr/0016-trade-admission-and-need-to-know.md),
the same the gateway, the ledger and the ledger's query API apply. Naming a partner in a payload
admits nobody: the parties of a trade are its buyer and supplier (OrderPlaced) and whoever they
admitted (PartyAdmitted) and did not withdraw (PartyWithdrawn).

:class:`TradeRoute` is what the relay knows of one trade (its trust facts, the parties that received
it in join order, and the events relayed so far with their types, in relay order) and :func:`route` is
the one routing rule: an event that breaks a trust rule goes to nobody; otherwise it goes to every
active party whose role receives it, and a party admitted with it first receives every earlier event
of the trade its role receives, in the order the others received them (back-fill). A withdrawn party
receives its withdrawal and nothing after it.

Partner topics are ``partner.<partner id>.v1``, keyed by trade id like the trade topics (so a trade's
events keep their order in one partition), with as many partitions as the trade topics.
Decisions: docs/adr/0010-partner-isolation.md, docs/adr/0011-relay-exactly-once.md, ADR 0016.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Generic, TypeVar

from corridor.core.domain import trust as policy
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import Party
from corridor.core.domain.validators import check_party_id
from corridor.core.topics import TopicSpec, trade_partitions

__all__ = [
    "PARTNER_TOPIC_CONFIGS",
    "PARTNER_TOPIC_PARTITIONS",
    "PARTNER_TOPIC_PREFIX",
    "PARTNER_TOPIC_SUFFIX",
    "Delivery",
    "TradeRoute",
    "group_prefix",
    "parties_of",
    "partner_of_topic",
    "partner_topic",
    "partner_topic_spec",
    "party_fields",
    "route",
]

PARTNER_TOPIC_PREFIX = "partner."
PARTNER_TOPIC_SUFFIX = ".v1"
#: Like the trade topics: key = trade id, so a trade's events stay in one partition, in order; as many
#: partitions as the deployment's trade topics (``CORRIDOR_TRADE_PARTITIONS``, ADR 0040) let a partner
#: spread its consumer group over that many members.
PARTNER_TOPIC_PARTITIONS = trade_partitions()
#: A partner topic is the partner's copy of its trades: kept as long as the trade topics (forever).
PARTNER_TOPIC_CONFIGS: dict[str, str] = {
    "cleanup.policy": "delete",
    "retention.ms": "-1",
    "retention.bytes": "-1",
    "max.message.bytes": "1048588",
    "message.timestamp.type": "CreateTime",
    "unclean.leader.election.enable": "false",
}


def partner_topic(partner_id: str) -> str:
    """``partner.<partner id>.v1``: the one topic a partner may read."""
    reason = check_party_id(partner_id)
    if reason:
        raise ValueError(f"invalid partner id {partner_id!r}: {reason}")
    return f"{PARTNER_TOPIC_PREFIX}{partner_id}{PARTNER_TOPIC_SUFFIX}"


def partner_of_topic(topic: str) -> str | None:
    """The partner id of a partner topic name, or None for any other topic."""
    if not (topic.startswith(PARTNER_TOPIC_PREFIX) and topic.endswith(PARTNER_TOPIC_SUFFIX)):
        return None
    partner_id = topic[len(PARTNER_TOPIC_PREFIX) : -len(PARTNER_TOPIC_SUFFIX)]
    return partner_id if check_party_id(partner_id) is None else None


def group_prefix(partner_id: str) -> str:
    """Consumer groups a partner may use start with ``<partner id>.`` (e.g. ``acme.erp``).

    Partner ids never contain a dot, so no partner's prefix is a prefix of another partner's groups.
    """
    partner_topic(partner_id)  # validates
    return f"{partner_id}."


def partner_topic_spec(partner_id: str, partitions: int = PARTNER_TOPIC_PARTITIONS) -> TopicSpec:
    return TopicSpec(partner_topic(partner_id), partitions, dict(PARTNER_TOPIC_CONFIGS))


# -- who is entitled ------------------------------------------------------------------------------


def _is_party(annotation: Any) -> bool:
    if annotation is Party:
        return True
    return any(_is_party(arg) for arg in getattr(annotation, "__args__", ()) or ())


@cache
def party_fields(event_type: type[TradeEvent]) -> tuple[str, ...]:
    """The fields of an event type that name a party (typed ``Party``, optional or not)."""
    return tuple(name for name, info in event_type.model_fields.items() if _is_party(info.annotation))


def parties_of(event: TradeEvent) -> set[str]:
    """The partner ids an event makes parties of its trade: every party it names, and its sender."""
    found = {event.sender}
    for name in party_fields(type(event)):
        party = getattr(event, name, None)
        if isinstance(party, Party):
            found.add(party.party_id)
    return found


# -- accumulated parties and back-fill ------------------------------------------------------------

Ref = TypeVar("Ref", bound=Hashable)


@dataclass(frozen=True)
class TradeRoute(Generic[Ref]):
    """What the relay knows of one trade: its trust facts, the parties that received it in the order
    they joined, and references to the events relayed so far (with their types), in the order every
    party received them. Immutable: :func:`route` returns a new one, so an aborted transaction simply
    drops it."""

    parties: tuple[str, ...] = ()
    events: tuple[Ref, ...] = ()
    types: tuple[str, ...] = ()  # the full event type of each of ``events``
    trust: policy.TrustState = field(default_factory=policy.TrustState)

    def __contains__(self, partner_id: object) -> bool:
        return partner_id in self.parties


@dataclass(frozen=True)
class Delivery(Generic[Ref]):
    """Send event ``ref`` to ``partner_id``; ``backfill`` marks an earlier event of the trade sent to a
    party that joined later."""

    partner_id: str
    ref: Ref
    backfill: bool = False


def route(
    current: TradeRoute[Ref] | None, ref: Ref, event: TradeEvent
) -> tuple[TradeRoute[Ref], list[Delivery[Ref]], list[policy.Violation]]:
    """Route ``event`` (relayed as ``ref``) within its trade.

    Returns the trade's new route, the deliveries in the order to produce them (first, for each party
    admitted with this event, every earlier event its role receives; then this event to each party that
    receives it), and the trust rules the event breaks (then: no deliveries, route unchanged).
    """
    current = current or TradeRoute()
    broken = policy.check(current.trust, event)
    if broken:
        return current, [], broken
    after = policy.admit(current.trust, event)
    joining = [p for p in after.parties if p not in current.parties]
    deliveries: list[Delivery[Ref]] = []
    for partner_id in joining:
        role = after.role_of(partner_id) or ""
        deliveries += [
            Delivery(partner_id, earlier, backfill=True)
            for earlier, event_type in zip(current.events, current.types, strict=True)
            if policy.backfills(role, event_type)
        ]
    deliveries += [Delivery(partner_id, ref) for partner_id in policy.recipients(after, event)]
    new = TradeRoute(
        (*current.parties, *joining), (*current.events, ref), (*current.types, event.avro_name), after
    )
    return new, deliveries, []
