"""JSON views of a trade for the query API (shapes partners read; no I/O).

A view is cut to the reader's role (``corridor.core.domain.trust.RECEIVES``): the order and its
invoices only for a role that receives OrderPlaced / InvoiceIssued, shipments for one that receives
ShipmentBooked, certificates for one that receives CertificateIssued, transport documents for one that
receives TransportDocumentEventRecorded, the letter of credit and its presentations for one that
receives LetterOfCreditEventRecorded (a bank), licences with what they have left (ADR 0034) for one that
receives CertificateIssued (what a licence has left, and other trades' drawdowns on it, only for its holder
and issuer: ADR 0045), and timeline entries of the event
types the role receives (plus the admission naming the reader). An addressed event of a certificate's
verification loop (``trust.ADDRESSED_TYPES``) and the loop's state on the certificate are shown besides
the principals only to the certificate's issuer and the importing customs (ADR 0038). The buyer and
supplier see everything.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from corridor.core.domain import trust
from corridor.core.domain.lifecycle import TradeState, licence
from corridor.core.domain.lifecycle.state import Milestone


def _time(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def _milestone(m: Milestone) -> dict[str, Any]:
    return {
        "kind": m.kind,
        "event_type": m.event_type,
        "location": m.location,
        "equipment_reference": m.equipment_reference,
        "mode_of_transport": m.mode_of_transport,
        "vehicle_reference": m.vehicle_reference,
        "facility_type": m.facility_type,
        "quantity": str(m.quantity) if m.quantity is not None else None,
        "quantity_unit": m.quantity_unit,
        "classifier": m.classifier.value if m.classifier else None,
        "at": _time(m.at),
        "planned": _time(m.planned.at) if m.planned else None,
        "estimated": _time(m.estimated.at) if m.estimated else None,
        "actual": _time(m.actual.at) if m.actual else None,
    }


def trade_view(
    state: TradeState, updated_at: dt.datetime | None, today: dt.date, reader: str | None = None
) -> dict[str, Any]:
    """The trade as party ``reader`` may see it, cut to its role's need to know (``None``: all of it,
    for the operator's tools): order, shipments, certificates (status as of ``today``), parties,
    timeline. A reader that is not an active party of the trade sees nothing: callers answer 404."""
    view = _whole_view(state, updated_at, today)
    if reader is None:
        return view
    role = state.trust.role_of(reader)

    def sees(event_type: str) -> bool:
        return role is not None and trust.receives_type(role, event_type)

    order = view["order"]
    if not sees("OrderPlaced"):
        # a customs office gets the commercial invoices (customs value), not the negotiation
        invoices = order.get("invoices") if isinstance(order, dict) else None
        cut = {"invoices": invoices} if invoices is not None and sees("InvoiceIssued") else {}
        if isinstance(order, dict) and sees("LetterOfCreditEventRecorded"):
            # a bank of the credit: the credit's terms and presentations, still not the negotiation
            cut.update({k: order[k] for k in ("letter_of_credit", "presentations", "credit_paid")})
        view["order"] = cut or None
        view["hs_codes"] = [] if not sees("CertificateIssued") else view["hs_codes"]
    if not sees("ShipmentBooked"):
        view["shipments"] = []
    if not sees("CertificateIssued"):
        view["certificates"] = []
    if not sees("CertificateIssued"):
        view["licences"] = []
    view["licences"] = [_licence_cut(lic, reader, str(state.trade_id)) for lic in view["licences"]]
    if not sees("TransportDocumentEventRecorded"):
        view["documents"] = []
    own = f"party/{reader}"
    principal = role in trust.PRINCIPAL_ROLES

    def addressed_to_reader(entry: dict[str, Any]) -> bool:
        # an addressed event (ADR 0038) is the principals' and its addressees' only
        return principal or not entry.get("audience") or reader in entry["audience"]

    view["timeline"] = [
        t for t in view["timeline"] if (sees(t["type"]) and addressed_to_reader(t)) or t["subject"] == own
    ]
    if not principal:
        view["certificates"] = [_loop_cut(c, reader) for c in view["certificates"]]
    visible = set(state.trust.parties)
    view["parties"] = [p for p in view["parties"] if p["party_id"] in visible]
    return view


def _licence_cut(lic: dict[str, Any], reader: str, trade_id: str) -> dict[str, Any]:
    """A licence is drawn by every trade booked on it (ADR 0045): its holder and issuer see all of it;
    anyone else sees only this trade's drawdowns, the amounts drawn by them, and not what is left (which
    would tell them how much the holder shipped in trades they are no party to)."""
    if reader in (lic.get("holder"), lic.get("issuer")):
        return lic
    ours = [d for d in lic.get("drawdowns", []) if d.get("trade_id") in (None, trade_id)]
    authorised = []
    for amount in lic.get("authorised", []):
        mine = [d for d in ours if d.get("un_number") == amount.get("un_number")]
        authorised.append(
            {
                **amount,
                "drawn_net_explosive_mass_kg": str(sum(Decimal(d["net_explosive_mass_kg"]) for d in mine)),
                "drawn_quantity": str(sum(Decimal(d["quantity"]) for d in mine)),
            }
        )
    return {**lic, "drawdowns": ours, "authorised": authorised, "remaining": []}


#: A certificate's verification loop (ADR 0038): only its issuer and the importing customs it concerns
#: (and the trade's buyer and supplier) see it; anyone else sees the certificate as presented.
_LOOP_FIELDS = ("origin_data", "origin_findings", "verification_request")


def _loop_cut(cert: dict[str, Any], reader: str) -> dict[str, Any]:
    request = cert.get("verification_request") or {}
    data = cert.get("origin_data") or {}
    concerned = {cert.get("issuer"), cert.get("presented_to"), request.get("customs"), data.get("customs")}
    if reader in concerned:
        return cert
    cut = {k: v for k, v in cert.items() if k not in _LOOP_FIELDS}
    if cut.get("status") == "PREFERENCE_SUSPENDED":
        cut["status"] = "VERIFIED" if cut.get("verification") else "PRESENTED"
    return cut


def _whole_view(state: TradeState, updated_at: dt.datetime | None, today: dt.date) -> dict[str, Any]:
    data = state.model_dump(
        mode="json",
        exclude={"applied", "shipments", "certificates", "licences", "documents", "parties", "timeline"},
    )
    order = state.order
    if order is not None:
        data["order"].update(
            revision=order.revision,
            hs_codes=list(order.hs_codes),
            lines=[line.model_dump(mode="json") for line in order.lines],
            balance_due=None if order.balance_due is None else str(order.balance_due),
            credit_paid=str(order.credit_paid),
        )
    shipments = []
    for shipment in sorted(state.shipments.values(), key=lambda s: (s.booked_at, s.shipment_id)):
        view = shipment.model_dump(mode="json", exclude={"milestones", "customs"})
        customs_status = shipment.customs_status
        view.update(
            actual_departure=_time(shipment.actual_departure),
            actual_arrival=_time(shipment.actual_arrival),
            customs_status=customs_status.value if customs_status else None,
            milestones=[
                _milestone(m)
                for m in sorted(
                    shipment.milestones.values(),
                    key=lambda m: (m.at or dt.datetime.max.replace(tzinfo=dt.UTC), m.event_type),
                )
            ],
            customs=[
                {**c.model_dump(mode="json"), "status": c.status.value if c.status else None}
                for c in shipment.customs.values()
            ],
        )
        shipments.append(view)
    certificates = []
    for cert in sorted(state.certificates.values(), key=lambda c: (c.issued_at, c.certificate_number)):
        view = cert.model_dump(mode="json")
        view.update(status=cert.effective_status(today).value, expired=cert.expired(today))
        certificates.append(view)
    return {
        "trade_id": str(state.trade_id),
        "status": state.status,
        "version": state.version,
        "updated_at": _time(updated_at),
        "first_event_at": _time(state.first_at),
        "last_event_at": _time(state.last_at),
        "hs_codes": list(state.hs_codes),
        "order": data["order"],
        "shipments": shipments,
        "certificates": certificates,
        "documents": [
            d.model_dump(mode="json")
            for d in sorted(state.documents.values(), key=lambda d: (d.issued_at, d.document_number))
        ],
        "licences": [
            {**lic.model_dump(mode="json"), "remaining": licence.remaining(lic)}
            for lic in sorted(state.licences.values(), key=lambda lic: (lic.issuer, lic.certificate_number))
        ],
        "parties": [
            p.model_dump(mode="json") for p in sorted(state.parties.values(), key=lambda p: p.party_id)
        ],
        "timeline": [t.model_dump(mode="json") for t in state.timeline],
    }


def summary_view(row: Any) -> dict[str, Any]:
    """One search hit (a ``ledger.trades`` row)."""
    return {
        "trade_id": str(row["trade_id"]),
        "order_id": row["order_id"],
        "status": row["status"],
        "buyer": row["buyer"],
        "supplier": row["supplier"],
        "parties": list(row["parties"]),
        "hs_codes": list(row["hs_codes"]),
        "placed_at": _time(row["placed_at"]),
        "last_event_at": _time(row["last_at"]),
        "version": row["version"],
        "updated_at": _time(row["updated_at"]),
    }


def encode_cursor(placed_at: dt.datetime, trade_id: uuid.UUID) -> str:
    raw = f"{placed_at.astimezone(dt.UTC).isoformat()}|{trade_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    """The (placed_at, trade_id) a cursor points after; ValueError when it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        placed, trade = raw.split("|", 1)
        return dt.datetime.fromisoformat(placed), uuid.UUID(trade)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"invalid cursor {cursor!r}") from exc
