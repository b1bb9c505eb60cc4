"""The transport document's state machine (DCSA document events; docs/domain.md §4, ADR 0026).

issued (ISSU) → amended (AMND, any number of times, same number and kind) → surrendered (SURR, a bill of
lading only: its originals handed back) or voided (VOID). Surrendered and voided are final: nothing is
amended, surrendered or voided after them, and a surrendered bill is not voided. A document covers
shipments that are booked in this trade; the carrier that issued it is the only one that changes it
(also a trust rule, ``trust.py`` "document-issuer", so the gateway and the relay refuse it too).
"""

from __future__ import annotations

from typing import Any

from corridor.core.domain.events import TransportDocumentEventRecorded, TransportDocumentEventType
from corridor.core.domain.lifecycle.errors import LifecycleViolation, PrerequisiteMissing
from corridor.core.domain.lifecycle.state import DocumentState, DocumentStatus, TradeState
from corridor.core.domain.reference import canonical_locode


def _content(e: TransportDocumentEventRecorded) -> dict[str, Any]:
    """What an issue or an amendment says about the document."""
    return {
        "bill_of_lading_type": e.bill_of_lading_type.value if e.bill_of_lading_type else None,
        "number_of_originals": e.number_of_originals,
        "place_of_issue": canonical_locode(e.place_of_issue.unlocode) if e.place_of_issue else None,
        "date_of_issue": e.date_of_issue,
        "shipper": e.shipper.party_id if e.shipper else None,
        "consignee": e.consignee.party_id if e.consignee else None,
        "notify_party": e.notify_party.party_id if e.notify_party else None,
        "shipment_ids": tuple(e.shipment_ids),
        "container_numbers": tuple(q.container_number for q in e.equipment),
        "seal_numbers": tuple(s for q in e.equipment for s in q.seal_numbers),
        "vessel_imo_number": e.vessel_imo_number,
    }


def recorded(trade: TradeState, e: TransportDocumentEventRecorded) -> TradeState:
    number = e.document_number
    kind = e.document_event_type
    if trade.order is None:
        raise PrerequisiteMissing(f"document {number}: trade {trade.trade_id} has no order yet")
    for shipment_id in e.shipment_ids:
        if shipment_id not in trade.shipments:
            raise PrerequisiteMissing(
                f"document {number} covers shipment {shipment_id}, which is not booked yet"
            )
    doc = trade.documents.get(number)
    if kind == TransportDocumentEventType.ISSU:
        if doc is not None:
            raise LifecycleViolation(
                f"document {number} is already issued (at {doc.issued_at.isoformat()}); "
                "amend it (AMND) instead"
            )
        doc = DocumentState(
            document_number=number,
            document_type=e.document_type.value,
            carrier=e.carrier.party_id,
            issued_at=e.occurred_at,
            **_content(e),
        )
        return trade.evolve(**{"documents": {**trade.documents, number: doc}})
    if doc is None:
        raise PrerequisiteMissing(f"{kind.value} of document {number}: it is not issued yet")
    if doc.document_type != e.document_type.value:
        raise LifecycleViolation(
            f"document {number} is a {doc.document_type}, not a {e.document_type.value}; "
            "its kind never changes"
        )
    if doc.status != DocumentStatus.ISSUED:
        raise LifecycleViolation(
            f"document {number} was {doc.status.value.lower()}; nothing changes it any more "
            f"({kind.value} refused)"
        )
    if kind == TransportDocumentEventType.AMND:
        doc = doc.evolve(
            **_content(e), amendments=doc.amendments + 1, amended_at=e.occurred_at, reason=e.reason
        )
    elif kind == TransportDocumentEventType.SURR:
        if doc.document_type != "BILL_OF_LADING":
            raise LifecycleViolation(
                f"document {number} is a {doc.document_type}; only a bill of lading is surrendered"
            )
        doc = doc.evolve(status=DocumentStatus.SURRENDERED, surrendered_at=e.occurred_at)
    else:  # VOID
        doc = doc.evolve(status=DocumentStatus.VOIDED, voided_at=e.occurred_at, reason=e.reason)
    return trade.evolve(**{"documents": {**trade.documents, number: doc}})
