"""A trade's timeline as people read it: local time of the party, who, what, and the key facts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from corridor.core.domain import reference
from corridor.core.kafka import TradeRecord

#: Where people read times: Pakistan is UTC+5, China UTC+8 (DOMAIN §6).
COUNTRY_TZ = {
    "PK": dt.timezone(dt.timedelta(hours=5), "PKT"),
    "CN": dt.timezone(dt.timedelta(hours=8), "CST"),
}


def _place(location: Any) -> str:
    return f"{location.name or reference.location_name(location.unlocode)} ({location.unlocode})"


def _qty(q: Any) -> str:
    return f"{q.value:,.3f}".rstrip("0").rstrip(".") + f" {q.unit}"


def _money(m: Any) -> str:
    return f"{m.currency} {m.amount:,.2f}"


def _lines(lines: list[Any]) -> str:
    return "; ".join(
        f"{_qty(line.quantity)} HS {line.hs_code[:4]}.{line.hs_code[4:]} @ {_money(line.unit_price)}"
        for line in lines
    )


_FACTS: dict[str, Callable[[Any], str]] = {
    "OrderPlaced": lambda e: (
        f"{e.order_id}: {_lines(e.lines)} {e.incoterm} {_place(e.incoterm_place)}, "
        f"{e.payment_terms.replace('_', ' ').lower()}"
    ),
    "OrderResponded": lambda e: (
        f"{e.order_id} rev {e.responds_to_revision}: {e.response}" + (f" ({e.reason})" if e.reason else "")
    ),
    "OrderAmended": lambda e: f"{e.order_id} rev {e.revision}: {_lines(e.lines)} — {e.reason}",
    "OrderCancelled": lambda e: f"{e.order_id}: {e.reason}",
    "InvoiceIssued": lambda e: f"{e.invoice_kind} {e.invoice_number}: {_money(e.total)}",
    "PartyAdmitted": lambda e: f"{e.party_id} admitted as {e.role}" + (f" ({e.note})" if e.note else ""),
    "PartyWithdrawn": lambda e: f"{e.party_id} ({e.role}) withdrawn" + (f": {e.reason}" if e.reason else ""),
    "ShipmentBooked": lambda e: (
        f"{e.shipment_id} {e.transport_mode} {_place(e.place_of_loading)} → "
        f"{_place(e.place_of_discharge)}"
        + (f" on {e.vessel_name} {e.voyage_number}" if e.vessel_name else "")
    ),
    "EquipmentEventRecorded": lambda e: f"{e.equipment_event_type} {e.classifier} at {_place(e.location)}",
    "TransportEventRecorded": lambda e: (
        f"{e.shipment_id} {e.transport_event_type} {e.classifier} "
        f"{_place(e.transport_call.location)} ({e.transport_call.mode_of_transport}"
        + (f" {e.transport_call.vehicle_reference}" if e.transport_call.vehicle_reference else "")
        + ")"
        + (f", {_qty(e.cargo_quantity)}" if e.cargo_quantity else "")
    ),
    "CustomsEventRecorded": lambda e: (
        f"{e.shipment_id} {e.customs_event_type} at {_place(e.location)}"
        + (f" checks {', '.join(e.checks)}" if e.checks else "")
    ),
    "ShipmentDelivered": lambda e: (
        f"{e.shipment_id} at {_place(e.location)}"
        + (f", received {_qty(e.received_quantity)}" if e.received_quantity else "")
    ),
    "CertificateIssued": lambda e: (
        f"{e.certificate_kind} {e.certificate_number}"
        + (
            f" — {', '.join(f'{r.parameter} {r.value.normalize():f}' for r in e.results[:2])}"
            if e.results
            else ""
        )
    ),
    "TransportDocumentEventRecorded": lambda e: (
        f"{e.document_event_type} {e.document_type} {e.document_number}"
        + (f" ({e.bill_of_lading_type})" if e.bill_of_lading_type else "")
    ),
    "LetterOfCreditEventRecorded": lambda e: (
        f"{e.credit_event_type} L/C {e.lc_number} ({e.presentation_number})"
        + (f" {_money(e.amount)}" if e.amount else "")
    ),
    "CertificateAmended": lambda e: f"{e.certificate_number} supersedes {e.supersedes_certificate_number}",
    "CertificateRevoked": lambda e: f"{e.certificate_number}: {e.reason}",
    "CertificatePresented": lambda e: f"{e.certificate_number} on declaration {e.declaration_number}",
    "CertificateVerified": lambda e: f"{e.certificate_number}: {e.result}",
    "PreferenceDecided": lambda e: (
        f"{e.certificate_number}: preference {e.decision}" + (f" ({e.reason})" if e.reason else "")
    ),
    "OriginDataTransmitted": lambda e: f"{e.certificate_number} to {e.customs.party_id}",
    "VerificationRequested": lambda e: f"{e.certificate_number}: {e.reason}",
    "VerificationAnswered": lambda e: f"{e.certificate_number}: {e.answer}",
}


def key_facts(event: Any) -> str:
    fn = _FACTS.get(type(event).__name__)
    return fn(event) if fn else ""


def local_time(when: dt.datetime, country: str) -> str:
    tz = COUNTRY_TZ.get(country, dt.UTC)
    local = when.astimezone(tz)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname() if tz is not dt.UTC else 'UTC'}"


def where(event: Any) -> str | None:
    """Country of the place an event happened at, when it names one (shipment milestones, customs)."""
    location = getattr(event, "location", None) or getattr(
        getattr(event, "transport_call", None), "location", None
    )
    return location.unlocode[:2] if location is not None else None


def render(records: Iterable[TradeRecord], parties: dict[str, Any]) -> str:
    """A fixed-width table, one row per event, in event-time order.

    Times are local where the event happened (a Tianjin arrival in China Standard Time), else local to
    the party that sent it.
    """
    rows = sorted(records, key=lambda r: (r.event.occurred_at, r.topic, r.offset))
    out = []
    for r in rows:
        party = parties.get(r.event.sender)
        country = where(r.event) or (party.country if party else "")
        who = party.name_en if party else r.event.sender
        who = who if len(who) <= 34 else who[:33] + "…"
        out.append(
            f"{local_time(r.event.occurred_at, country):<21} {who:<34} {type(r.event).__name__:<23} "
            f"{key_facts(r.event)}"
        )
    return "\n".join(out)
