"""Who may publish what about which trade: the gateway's authorisation rules (pure, no I/O).

A partner may publish an event when all of these hold (docs/adr/0005-gateway.md):

1. its role may publish the event type (``roles.PUBLISHER_ROLES``);
2. ``data.sender`` is its own partner id;
3. it is a party to the trade, where the parties of a trade are those the gateway recorded from the
   trade's accepted events (:data:`JOIN_FIELDS`: buyer and supplier of OrderPlaced, carrier of
   ShipmentBooked, issuer of certificate events, the customs office of customs events). Besides the
   recorded parties:

   * an OrderPlaced of a trade the gateway has not seen is allowed for its buyer: it opens the trade,
     and the buyer and the supplier it names become parties;
   * a carrier, issuing authority, inspection body or customs office that the event itself names in
     its own role (``carrier``, ``issuer``, ``customs``, ``authority``) joins the trade with it, known
     or not: that is how a booking, a certificate or a customs control brings its publisher in;
   * anything else about an unknown trade, or from a partner that is not a party, is refused (403).

Buyers and suppliers never join a trade later: they are fixed by the OrderPlaced that opened it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import Party, PartyRole
from corridor.core.domain.roles import PUBLISHER_ROLES, may_publish
from corridor.core.domain.validation import FieldError

_ORDERS = "corridor.trade.orders."
_SHIPMENTS = "corridor.trade.shipments."
_CERTIFICATES = "corridor.trade.certificates."
ORDER_PLACED = _ORDERS + "OrderPlaced"

#: Event type → the Party fields whose parties become parties of the trade once the event is accepted.
JOIN_FIELDS: dict[str, tuple[str, ...]] = {
    ORDER_PLACED: ("buyer", "supplier"),
    _SHIPMENTS + "ShipmentBooked": ("carrier",),
    _SHIPMENTS + "CustomsEventRecorded": ("authority",),
    _CERTIFICATES + "CertificateIssued": ("issuer",),
    _CERTIFICATES + "CertificateAmended": ("issuer",),
    _CERTIFICATES + "CertificateRevoked": ("issuer",),
    _CERTIFICATES + "CertificatePresented": ("customs",),
    _CERTIFICATES + "CertificateVerified": ("customs",),
    _CERTIFICATES + "PreferenceDecided": ("customs",),
}

#: Roles that join a trade by being named in their own role in an event they publish.
JOINING_ROLES = frozenset(
    {PartyRole.CARRIER, PartyRole.ISSUING_AUTHORITY, PartyRole.INSPECTION_BODY, PartyRole.CUSTOMS}
)


@dataclass(frozen=True)
class Member:
    """A party of a trade as recorded: partner id and the role it plays in that trade."""

    party_id: str
    role: str


def joining_parties(event: TradeEvent) -> list[Member]:
    """The parties an accepted event makes parties of its trade."""
    members = []
    for name in JOIN_FIELDS.get(event.avro_name, ()):
        party = getattr(event, name, None)
        if isinstance(party, Party):
            members.append(Member(party.party_id, str(party.role)))
    return members


def _short(event_type: str) -> str:
    return event_type.rsplit(".", 1)[-1]


def role_errors(role: str, event_type: str) -> list[FieldError]:
    """Rule 1 alone (it needs only the type, so it runs before the event's data is validated)."""
    if may_publish(role, event_type):
        return []
    allowed = " or ".join(sorted(PUBLISHER_ROLES.get(event_type, ()))) or "no partner"
    return [
        FieldError("type", f"a {role} may not publish {_short(event_type)}; it is published by {allowed}")
    ]


def check(
    partner_id: str, role: str, event: TradeEvent, members: Iterable[Member] | None
) -> list[FieldError]:
    """Why ``partner_id`` (acting as ``role``) may not publish ``event``; empty when it may.

    ``members`` are the recorded parties of the event's trade (``None`` or empty: unknown trade).
    """
    event_type = event.avro_name
    refused = role_errors(role, event_type)
    if refused:
        return refused
    if event.sender != partner_id:
        return [FieldError("data.sender", f"must be your partner id {partner_id!r}, not {event.sender!r}")]
    known = {m.party_id for m in members or ()}
    if partner_id in known:
        return []
    joining = joining_parties(event)
    if event_type == ORDER_PLACED:
        if not known and any(m.party_id == partner_id and m.role == PartyRole.BUYER for m in joining):
            return []
        reason = (
            f"trade {event.trade_id} was opened by another order; its buyer and supplier are fixed"
            if known
            else "an order is placed by its buyer"
        )
        return [FieldError("data.trade_id", reason)]
    if role in JOINING_ROLES and any(m.party_id == partner_id and m.role == role for m in joining):
        return []
    if not known:
        reason = (
            f"trade {event.trade_id} is unknown to the gateway; it starts with the buyer's OrderPlaced, "
            f"and a {_short(event_type)} from a partner it does not name in its own role cannot open it"
        )
    else:
        reason = f"partner {partner_id!r} is not a party to trade {event.trade_id}"
    return [FieldError("data.trade_id", reason)]


@dataclass
class TradeView:
    """The recorded parties of some trades, updated as the events of one request are admitted in order,
    so that a batch may open a trade and continue it (OrderPlaced, then OrderAmended …)."""

    members: dict[uuid.UUID, set[Member]] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Mapping[uuid.UUID, Iterable[Member]]) -> TradeView:
        return cls({trade: set(members) for trade, members in rows.items()})

    def check(self, partner_id: str, role: str, event: TradeEvent) -> list[FieldError]:
        return check(partner_id, role, event, self.members.get(event.trade_id))

    def admit(self, event: TradeEvent) -> list[Member]:
        """Record what an allowed event adds; returns the new members."""
        current = self.members.setdefault(event.trade_id, set())
        new = [m for m in joining_parties(event) if m not in current]
        current.update(new)
        return new
