"""One line of key facts per event, for the trade timeline (English, amounts exact, codes as sent)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from corridor.core.domain.base import TradeEvent


def _amount(value: Decimal) -> str:
    text = f"{value:,.4f}".rstrip("0").rstrip(".")
    return text


def _quantity(q: Any) -> str:
    return f"{_amount(q.value)} {q.unit}"


def _money(m: Any) -> str:
    return f"{m.currency} {m.amount:,.2f}"


def _place(location: Any) -> str:
    return f"{location.name} ({location.unlocode})" if location.name else str(location.unlocode)


def _lines(lines: Iterable[Any]) -> str:
    return "; ".join(
        f"{_quantity(line.quantity)} HS {line.hs_code} @ {_money(line.unit_price)}" for line in lines
    )


def _order_placed(e: Any) -> str:
    return (
        f"{e.order_id}: {_lines(e.lines)}, {e.incoterm.value} {_place(e.incoterm_place)}, "
        f"{e.payment_terms.value.replace('_', ' ').lower()}"
    )


def _order_responded(e: Any) -> str:
    text = f"{e.order_id} revision {e.responds_to_revision}: {e.response.value}"
    if e.counter_lines:
        text += f" — {_lines(e.counter_lines)}"
    return text + (f" ({e.reason})" if e.reason else "")


def _transport(e: Any) -> str:
    call = e.transport_call
    vessel = f" {call.vessel_name}" if call.vessel_name else ""
    return (
        f"{e.shipment_id} {e.transport_event_type.value} {e.classifier.value} {_place(call.location)} "
        f"by {call.mode_of_transport.value.lower()}{vessel}"
        + (f" (corrects {e.corrects_event_id})" if e.corrects_event_id else "")
    )


def _equipment(e: Any) -> str:
    ref = f" {e.equipment_reference}" if e.equipment_reference else ""
    return (
        f"{e.shipment_id} {e.equipment_event_type.value} {e.classifier.value}{ref} at {_place(e.location)}"
        + (f" (corrects {e.corrects_event_id})" if e.corrects_event_id else "")
    )


def _dangerous_goods(e: Any) -> str:
    """A booking's dangerous goods and the licences it draws on (ADR 0034), when it has them."""
    goods = [
        f"{p.un_number} {p.classification}"
        + (f" NEM {_amount(p.net_explosive_mass_kg)} kg" if p.net_explosive_mass_kg is not None else "")
        for p in (item.particulars for item in e.dangerous_goods)
    ]
    text = f", dangerous goods {'; '.join(goods)} (DGD {e.dangerous_goods_declaration})" if goods else ""
    if e.licences:
        text += ", drawing on " + ", ".join(ref.certificate_number for ref in e.licences)
    return text


def _authorised(a: Any) -> str:
    parts = [a.un_number]
    if a.net_explosive_mass_kg is not None:
        parts.append(f"NEM {_amount(a.net_explosive_mass_kg)} kg")
    if a.quantity is not None:
        parts.append(_quantity(a.quantity))
    return " ".join(parts)


def _certificate_issued(e: Any) -> str:
    text = f"{e.certificate_kind.value} {e.certificate_number} by {e.issuer.name_en}"
    if e.results:
        text += " — " + ", ".join(f"{r.parameter} {_amount(r.value)} {r.unit}" for r in e.results)
    if e.valid_until:
        text += f", valid until {e.valid_until.isoformat()}"
    if e.licence is not None:
        text += ", authorising " + "; ".join(_authorised(a) for a in e.licence.authorised)
    return text


_DOCUMENT_VERBS = {"ISSU": "issued", "AMND": "amended", "SURR": "surrendered", "VOID": "voided"}

_SUMMARIES: dict[str, Callable[[Any], str]] = {
    "OrderPlaced": _order_placed,
    "OrderResponded": _order_responded,
    "OrderAmended": lambda e: (
        f"{e.order_id} revision {e.revision}: {_lines(e.lines)} — {e.reason}"
        + (" (accepts the counter-offer)" if e.accepts_counter_offer else "")
    ),
    "OrderCancelled": lambda e: f"{e.order_id} cancelled: {e.reason}",
    "PartyAdmitted": lambda e: f"{e.party_id} admitted as {e.role.value}" + (f": {e.note}" if e.note else ""),
    "PartyWithdrawn": lambda e: (
        f"{e.party_id} ({e.role.value}) withdrawn" + (f": {e.reason}" if e.reason else "")
    ),
    "InvoiceIssued": lambda e: (
        f"{e.invoice_kind.value} invoice {e.invoice_number} on {e.order_id}: {_money(e.total)}"
    ),
    "ShipmentBooked": lambda e: (
        f"{e.shipment_id} {e.transport_mode.value} {_place(e.place_of_loading)} → "
        f"{_place(e.place_of_discharge)}"
        + (f" on {e.vessel_name}" if e.vessel_name else "")
        + _dangerous_goods(e)
    ),
    "TransportEventRecorded": _transport,
    "EquipmentEventRecorded": _equipment,
    "CustomsEventRecorded": lambda e: (
        f"{e.shipment_id} {e.customs_event_type.value} at {_place(e.location)}"
        + (f", checks {', '.join(e.checks)}" if e.checks else "")
    ),
    "ShipmentDelivered": lambda e: (
        f"{e.shipment_id} delivered at {_place(e.location)}"
        + (f", received {_quantity(e.received_quantity)}" if e.received_quantity else "")
    ),
    "TransportDocumentEventRecorded": lambda e: (
        f"{e.document_type.value} {e.document_number} {_DOCUMENT_VERBS[e.document_event_type.value]}"
        + (f" ({e.bill_of_lading_type.value})" if e.bill_of_lading_type else "")
        + (f" for {', '.join(e.shipment_ids)}" if e.shipment_ids else "")
        + (f": {e.reason}" if e.reason else "")
    ),
    "LetterOfCreditEventRecorded": lambda e: (
        f"L/C {e.lc_number} presentation {e.presentation_number}: "
        + e.credit_event_type.value.replace("_", " ").lower()
        + (f" ({', '.join(d.value for d in e.documents)})" if e.documents else "")
        + (f": {'; '.join(e.discrepancies)}" if e.discrepancies else "")
        + (f", {_money(e.amount)}" if e.amount else "")
    ),
    "CertificateIssued": _certificate_issued,
    "CertificateAmended": lambda e: (
        f"{e.certificate_number} supersedes {e.supersedes_certificate_number}: {e.reason}"
    ),
    "CertificateRevoked": lambda e: f"{e.certificate_number} revoked: {e.reason}",
    "CertificatePresented": lambda e: (
        f"{e.certificate_number} presented on declaration {e.declaration_number} at {_place(e.location)}"
    ),
    "CertificateVerified": lambda e: (
        f"{e.certificate_number} {e.result.value}" + (f": {'; '.join(e.mismatches)}" if e.mismatches else "")
    ),
    "PreferenceDecided": lambda e: (
        f"{e.certificate_number} preference {e.decision.value}" + (f" ({e.reason})" if e.reason else "")
    ),
    "OriginDataTransmitted": lambda e: (
        f"{e.certificate_number} origin data to {e.customs.party_id}: {len(e.goods)} item(s)"
    ),
    "VerificationRequested": lambda e: (
        f"{e.certificate_number} verification requested of {e.certificate_issuer}"
        + (f" by {e.reply_by.isoformat()}" if e.reply_by else "")
        + f": {e.reason}"
    ),
    "VerificationAnswered": lambda e: (
        f"{e.certificate_number} verification {e.answer.value}"
        + (f": {'; '.join(e.findings)}" if e.findings else "")
    ),
}


def summarize(event: TradeEvent) -> str:
    fn = _SUMMARIES.get(type(event).__name__)
    return fn(event) if fn else type(event).__name__
