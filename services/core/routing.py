"""Which partners are entitled to an event, and where each partner reads them (pure, no I/O).

A partner is entitled to every event of the trades it is party to (docs/domain.md §2: a supplier, buyer,
carrier, inspection body, issuing authority or customs office "sees its own trades"). The parties of
a trade are the union over its events of :func:`parties_of`: the party ids named in the event's
``Party`` fields (buyer, supplier, carrier, issuer, exporter, consignee, customs, authority) and its
``sender``. That is the same set the ledger keeps as a trade's parties (``TradeState.parties``), so a
partner reads in its topic exactly the trades the ledger's query API shows it.

Parties accumulate: a carrier joins with ``ShipmentBooked``, an inspection body or an issuing authority
with its first certificate, customs with its first control. :class:`TradeRoute` is what the relay knows
of one trade (its parties in join order, and the events relayed so far, in relay order) and
:func:`route` is the one routing rule: the current event goes to every party, and a party that joins
with it first receives every earlier event of the trade, in the same order the others received them
(back-fill). So every party of a trade sees all of its events, once, in one order.

Partner topics are ``partner.<partner id>.v1``, keyed by trade id like the trade topics (so a trade's
events keep their order in one partition), with as many partitions as the trade topics.
Decisions: docs/adr/0010-partner-isolation.md and docs/adr/0011-relay-exactly-once.md.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import Party
from corridor.core.domain.validators import check_party_id
from corridor.core.topics import TopicSpec

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
#: Like the trade topics: key = trade id, so a trade's events stay in one partition, in order; six
#: partitions let a partner spread its consumer group over up to six members.
PARTNER_TOPIC_PARTITIONS = 6
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
    """What the relay knows of one trade: its parties in the order they joined, and references to the
    events relayed so far, in the order every party received them. Immutable: :func:`route` returns a
    new one, so a transaction that aborts simply drops it."""

    parties: tuple[str, ...] = ()
    events: tuple[Ref, ...] = ()

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
    current: TradeRoute[Ref] | None, ref: Ref, parties: Iterable[str]
) -> tuple[TradeRoute[Ref], list[Delivery[Ref]]]:
    """Route event ``ref``, which names ``parties`` (:func:`parties_of`), within its trade.

    Returns the trade's new route and the deliveries, in the order to produce them: first, for each
    party that joins with this event (in sorted order), every earlier event of the trade, then this
    event to every party. Per partner, that order is the trade's relay order.
    """
    current = current or TradeRoute()
    joining = sorted(set(parties) - set(current.parties))
    deliveries: list[Delivery[Ref]] = [
        Delivery(partner_id, earlier, backfill=True) for partner_id in joining for earlier in current.events
    ]
    everyone = (*current.parties, *joining)
    deliveries += [Delivery(partner_id, ref) for partner_id in everyone]
    return TradeRoute(everyone, (*current.events, ref)), deliveries
