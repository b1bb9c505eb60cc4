"""``apply(state, event) -> state``: the one entry point of the lifecycle state machines.

A trade comes into existence with its ``OrderPlaced``; any other event about a trade not seen yet raises
``PrerequisiteMissing`` (park it and retry), an event that contradicts the trade raises
``LifecycleViolation`` (dead-letter it). Applying an event a second time (same ``event_id``) returns the
state unchanged, so redelivery is harmless. Pure: no I/O, no clock — time comes from the events.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from corridor.core.domain import trust
from corridor.core.domain.base import TradeEvent, subject_of
from corridor.core.domain.events import (
    CertificateAmended,
    CertificateIssued,
    CertificatePresented,
    CertificateRevoked,
    CertificateVerified,
    CustomsEventRecorded,
    EquipmentEventRecorded,
    InvoiceIssued,
    LetterOfCreditEventRecorded,
    OrderAmended,
    OrderCancelled,
    OrderPlaced,
    OrderResponded,
    OriginDataTransmitted,
    Party,
    PartyAdmitted,
    PartyWithdrawn,
    PreferenceDecided,
    ShipmentBooked,
    ShipmentDelivered,
    TransportDocumentEventRecorded,
    TransportEventRecorded,
    VerificationAnswered,
    VerificationRequested,
)
from corridor.core.domain.lifecycle import certificate, credit, document, licence, order, quantities, shipment
from corridor.core.domain.lifecycle.errors import LifecycleViolation, PrerequisiteMissing
from corridor.core.domain.lifecycle.state import PartyRef, TimelineEntry, TradeState
from corridor.core.domain.lifecycle.summary import summarize

_Step = Callable[[TradeState, Any], TradeState]


def _admission(trade: TradeState, e: PartyAdmitted | PartyWithdrawn) -> TradeState:
    """Admissions change only the trade's trust facts (folded for every event in :func:`apply`)."""
    return trade


_STEPS: dict[type[TradeEvent], _Step] = {
    OrderPlaced: order.placed,
    OrderResponded: order.responded,
    OrderAmended: order.amended,
    OrderCancelled: order.cancelled,
    PartyAdmitted: _admission,
    PartyWithdrawn: _admission,
    InvoiceIssued: order.invoiced,
    LetterOfCreditEventRecorded: credit.recorded,
    ShipmentBooked: shipment.booked,
    TransportEventRecorded: shipment.transport_event,
    EquipmentEventRecorded: shipment.equipment_event,
    CustomsEventRecorded: shipment.customs_event,
    ShipmentDelivered: shipment.delivered,
    TransportDocumentEventRecorded: document.recorded,
    CertificateIssued: licence.issued,  # certificate.issued, and the licence terms (ADR 0034)
    CertificateAmended: licence.amended,
    CertificateRevoked: licence.revoked,  # certificate.revoked, and a revoked licence (ADR 0045)
    CertificatePresented: certificate.presented,
    CertificateVerified: certificate.verified,
    PreferenceDecided: certificate.preference_decided,
    OriginDataTransmitted: certificate.origin_data_transmitted,
    VerificationRequested: certificate.verification_requested,
    VerificationAnswered: certificate.verification_answered,
}

#: Fields of event types that name a party (with its role in the trade).
_PARTY_FIELDS = (
    "buyer",
    "supplier",
    "carrier",
    "authority",
    "customs",
    "issuer",
    "exporter",
    "consignee",
    "shipper",
    "notify_party",
)


#: Per event type: the fields naming parties.
_PARTIES = {cls: tuple(f for f in _PARTY_FIELDS if f in cls.model_fields) for cls in _STEPS}


def _parties_of(event: TradeEvent) -> Iterable[Party]:
    for name in _PARTIES.get(type(event), ()):
        value = getattr(event, name)
        if isinstance(value, Party):
            yield value


def _merge_parties(parties: dict[str, PartyRef], event: TradeEvent) -> dict[str, PartyRef]:
    merged: dict[str, PartyRef] | None = None
    for party in _parties_of(event):
        known = (merged or parties).get(party.party_id)
        role = party.role.value
        if known is not None and role in known.roles and known.name_en is not None:
            continue
        merged = merged if merged is not None else dict(parties)
        merged[party.party_id] = PartyRef(
            party_id=party.party_id,
            roles=tuple(sorted({*(known.roles if known else ()), role})),
            name_en=party.name_en,
            name_local=party.name_local,
            country=party.country,
        )
    if event.sender not in (merged or parties):
        merged = merged if merged is not None else dict(parties)
        merged[event.sender] = PartyRef(party_id=event.sender)
    return parties if merged is None else merged


def timeline_entry(event: TradeEvent) -> TimelineEntry:
    return TimelineEntry(
        occurred_at=event.occurred_at,
        event_id=event.event_id,
        type=type(event).__name__,
        sender=event.sender,
        subject=subject_of(event),
        summary=summarize(event),
        audience=tuple(sorted(trust.addressees(event))),
    )


def _with_findings(entry: TimelineEntry, trade: TradeState, event: TradeEvent) -> TimelineEntry:
    """A delivery's entry names what it showed: the shipment's quantity against what it shipped and the
    order's delivered quantity against what was ordered (``lifecycle.quantities``)."""
    if not isinstance(event, ShipmentDelivered):
        return entry
    notes = [trade.shipments[event.shipment_id].quantity_finding]
    if quantities.allocates(trade):
        notes.append(f"order: {quantities.order_progress(trade)}")
    text = "; ".join(n for n in notes if n)
    return entry.evolve(**{"summary": f"{entry.summary} — {text}"}) if text else entry


def _insert(timeline: tuple[TimelineEntry, ...], entry: TimelineEntry) -> tuple[TimelineEntry, ...]:
    """The timeline with ``entry`` in event-time order (ties keep arrival order)."""
    at = bisect.bisect_right(timeline, entry.occurred_at, key=lambda t: t.occurred_at)
    return (*timeline[:at], entry, *timeline[at:])


def new_trade(trade_id: uuid.UUID) -> TradeState:
    return TradeState(trade_id=trade_id)


def apply(state: TradeState | None, event: TradeEvent) -> TradeState:
    """The trade's state after ``event``; ``state`` is None for a trade not seen yet.

    Raises ``PrerequisiteMissing`` when the event needs something the trade does not know yet, and
    ``LifecycleViolation`` when it contradicts the trade.
    """
    if state is not None and event.event_id in state.applied:
        return state
    if state is None:
        if not isinstance(event, OrderPlaced):
            raise PrerequisiteMissing(
                f"{type(event).__name__} about trade {event.trade_id}, which has no order yet"
            )
        state = new_trade(event.trade_id)
    elif event.trade_id != state.trade_id:
        raise LifecycleViolation(f"event of trade {event.trade_id} applied to trade {state.trade_id}")
    step = _STEPS.get(type(event))
    if step is None:
        raise LifecycleViolation(f"{type(event).__name__} is not a trade event the ledger knows")
    after = order.settle(step(state, event))
    return after.evolve(
        **{
            "parties": _merge_parties(after.parties, event),
            "trust": trust.admit(after.trust, event),
            "timeline": _insert(after.timeline, _with_findings(timeline_entry(event), after, event)),
            "applied": after.applied | {event.event_id},
            "version": after.version + 1,
        }
    )


def replay(events: Iterable[TradeEvent], state: TradeState | None = None) -> TradeState | None:
    """Apply events in order, raising on the first that does not apply."""
    for event in events:
        state = apply(state, event)
    return state


__all__ = [
    "LifecycleViolation",
    "PrerequisiteMissing",
    "apply",
    "new_trade",
    "replay",
    "subject_of",
    "timeline_entry",
]
