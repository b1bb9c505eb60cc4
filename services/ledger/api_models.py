"""The JSON answers of the ledger's query API as pydantic models, for its OpenAPI document only.

The handlers build their answers in ``views.py`` (from the lifecycle state); these models describe the
same shapes so a client generated from ``/openapi.json`` gets typed trades, searches and verdicts.
``tests/integration/contracts`` validates real answers against the document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, create_model

from corridor.core.domain.lifecycle.state import (
    CertificateState,
    CustomsControl,
    DocumentState,
    LicenceState,
    Line,
    OrderState,
    PartyRef,
    ShipmentState,
    TimelineEntry,
)


class MilestoneView(BaseModel):
    """A transport or equipment milestone with its planned, estimated and actual times."""

    kind: str
    event_type: str
    location: str
    equipment_reference: str | None
    mode_of_transport: str | None
    vehicle_reference: str | None  # the truck, wagon or vessel of the call (ADR 0029)
    facility_type: str | None  # BOCR: a border crossing
    quantity: str | None  # established by a draft survey
    quantity_unit: str | None
    classifier: str | None
    at: str | None
    planned: str | None
    estimated: str | None
    actual: str | None


def _view(name: str, state: type[BaseModel], **added: Any) -> Any:
    """A model with the fields of a state model (as ``model_dump`` writes them) plus/over ``added``."""
    fields: dict[str, Any] = {
        field: (info.annotation, info) for field, info in state.model_fields.items() if field not in added
    }
    return create_model(name, **fields, **{field: (kind, ...) for field, kind in added.items()})  # type: ignore[call-overload]


CustomsView = _view("CustomsView", CustomsControl, status=str | None)
OrderView = _view(
    "OrderView",
    OrderState,
    revision=int,
    hs_codes=list[str],
    lines=list[Line],
    balance_due=str | None,  # what the final invoices leave to pay after netting the provisional ones
    credit_paid=str,  # paid under the letter of credit so far
)
ShipmentView = _view(
    "ShipmentView",
    ShipmentState,
    milestones=list[MilestoneView],
    customs=list[CustomsView],  # type: ignore[valid-type]
    actual_departure=str | None,
    actual_arrival=str | None,
    customs_status=str | None,
)
CertificateView = _view("CertificateView", CertificateState, status=str, expired=bool)
DocumentView = _view("DocumentView", DocumentState)


class LicenceRemaining(BaseModel):
    """What is left of a licence for one UN number (decimals as strings; null where not limited)."""

    un_number: str
    remaining_net_explosive_mass_kg: str | None
    remaining_quantity: str | None
    unit: str | None


LicenceView = _view("LicenceView", LicenceState, remaining=list[LicenceRemaining])


class TradeView(BaseModel):
    """``GET /v1/trades/{trade_id}``: the whole trade as the ledger knows it."""

    trade_id: str
    status: str
    version: int
    updated_at: str | None
    first_event_at: str | None
    last_event_at: str | None
    hs_codes: list[str]
    order: OrderView | None  # type: ignore[valid-type]
    shipments: list[ShipmentView]  # type: ignore[valid-type]
    certificates: list[CertificateView]  # type: ignore[valid-type]
    documents: list[DocumentView]  # type: ignore[valid-type]
    licences: list[LicenceView]  # type: ignore[valid-type]  # with what each has left (ADR 0034)
    parties: list[PartyRef]
    timeline: list[TimelineEntry]


class TradeSummary(BaseModel):
    """One search hit."""

    trade_id: str
    order_id: str | None
    status: str
    buyer: str | None
    supplier: str | None
    parties: list[str]
    hs_codes: list[str]
    placed_at: str | None
    last_event_at: str | None
    version: int
    updated_at: str | None


class TradePage(BaseModel):
    """``GET /v1/trades``: one page of the trades visible to the caller, newest first."""

    items: list[TradeSummary]
    next_cursor: str | None


class CertificateCheck(BaseModel):
    """``GET /v1/certificates/{number}/verify``: the issuer's signature checked now."""

    certificate_number: str
    verdict: str
    reason: str | None
    key_id: str | None
    signer: str | None
    trade_id: str
    issuer: str
    status: str
    recorded_verdict: str | None


class Readiness(BaseModel):
    """``/readyz``: ready or not, with each check's result."""

    model_config = ConfigDict(extra="allow")

    status: str
    checks: dict[str, str]


class Receipt(BaseModel):
    """The ledger's word on an event its sender published (ADR 0027)."""

    event_id: str
    trade_id: str | None
    type: str | None
    status: str  # accepted | pending | rejected
    position: int | None  # the ledger's position of an accepted event (header corridor_ledger_seq)
    decided_at: str | None
    published_at: str | None  # when it went onto trade.accepted.v1
    rule: str | None  # of a rejection (e.g. LifecycleViolation, TrustViolation, PrerequisiteMissing)
    reason: str | None  # why it was rejected, or what it waits for
    attempts: int | None
    retry_at: str | None  # next attempt of a pending event
