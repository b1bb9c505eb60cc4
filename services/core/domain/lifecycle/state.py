"""Immutable state of a trade: its order, shipments, certificates, parties and timeline.

Every model is a frozen pydantic model: the state machines return new instances (``evolve``) and
never mutate, and the ledger stores a trade's whole state as JSON (``model_dump_json``) and reads it
back (``model_validate_json``). Status values that follow from facts (an order is CLOSED once it is
final-invoiced and its quantity delivered, ``lifecycle.quantities``) are stored alongside the facts,
recomputed on each apply.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, model_validator

from corridor.core.domain.events import (
    CertificateKind,
    CustomsEventType,
    EventClassifier,
    InvoiceKind,
    OrderResponseCode,
    PreferenceDecision,
    VerificationResult,
)
from corridor.core.domain.reference import canonical_locode
from corridor.core.domain.trust import TrustState, certificate_key


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def evolve(self, **changes: Any) -> Self:
        """A copy with ``changes`` (values of the fields' types; not validated, like ``model_copy``).

        The state machines copy states on every event; this skips ``model_copy``'s generic handling of
        extra and private attributes, which these models do not have.
        """
        new = self.__class__.__new__(self.__class__)
        values = self.__dict__.copy()
        values.update(changes)
        object.__setattr__(new, "__dict__", values)
        object.__setattr__(new, "__pydantic_fields_set__", self.__pydantic_fields_set__ | changes.keys())
        object.__setattr__(new, "__pydantic_extra__", None)
        object.__setattr__(new, "__pydantic_private__", None)
        return new


# -- orders --------------------------------------------------------------------------------------------


class OrderStatus(StrEnum):
    """Where an order stands (DOMAIN §3): negotiation, invoicing, or one of the three ends."""

    PLACED = "PLACED"  # revision 0 awaits the supplier's response
    ACCEPTED = "ACCEPTED"
    ACCEPTED_WITH_AMENDMENT = "ACCEPTED_WITH_AMENDMENT"
    AMENDED = "AMENDED"  # the latest revision (n ≥ 1) awaits a response
    INVOICED = "INVOICED"  # at least one invoice issued; see ``invoice_stage``
    CLOSED = "CLOSED"  # final invoice issued and every shipment delivered
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"  # the supplier rejected the original order


TERMINAL_ORDER_STATUSES = frozenset({OrderStatus.CLOSED, OrderStatus.CANCELLED, OrderStatus.REJECTED})


class InvoiceStage(StrEnum):
    PROVISIONAL = "PROVISIONAL"
    FINAL = "FINAL"


class Line(Frozen):
    line_number: int
    hs_code: str
    description: str
    quantity: Decimal
    unit: str
    unit_price: Decimal
    currency: str
    un_number: str | None = None
    tolerance_percent: Decimal = Decimal(0)  # ± percent of ``quantity`` the order allows
    #: Dangerous goods particulars (OrderLine.dangerous_goods; ADR 0034): None for goods not dangerous.
    hazard_classification: str | None = None  # e.g. 1.1D
    proper_shipping_name: str | None = None
    net_explosive_mass_kg: Decimal | None = None
    #: The goods as customs reads them (OrderLine; ADR 0039): None on lines sent before they existed.
    hs_edition: str | None = None  # None: the edition in force on the event's date
    pk_tariff_code: str | None = None
    cn_tariff_code: str | None = None
    country_of_origin: str | None = None

    @property
    def most(self) -> Decimal:
        """The largest quantity the tolerance allows."""
        return self.quantity * (1 + self.tolerance_percent / 100)


class Revision(Frozen):
    """Revision 0 is the order as placed; revision n the n-th amendment, with the supplier's answer."""

    revision: int
    event_id: uuid.UUID
    sent_at: dt.datetime
    lines: tuple[Line, ...]
    reason: str | None = None
    delivery_latest: dt.date | None = None
    response: OrderResponseCode | None = None
    responded_at: dt.datetime | None = None
    response_reason: str | None = None
    counter_lines: tuple[Line, ...] = ()


class InvoicedLine(Frozen):
    line_number: int
    hs_code: str
    quantity: Decimal
    unit: str


class Invoice(Frozen):
    invoice_number: str
    kind: InvoiceKind
    total: Decimal
    currency: str
    issued_at: dt.datetime
    due_date: dt.date | None = None
    lines: tuple[InvoicedLine, ...] = ()
    #: A final invoice: the provisional invoices it settles (every one not settled by an earlier final
    #: invoice), and what remains to pay — its total less theirs; negative when the buyer overpaid.
    nets: tuple[str, ...] = ()
    balance: Decimal | None = None


class CreditTerms(Frozen):
    """The order's letter of credit as its OrderPlaced stated it (UCP 600; docs/domain.md §3)."""

    lc_number: str
    issuing_bank: str
    advising_bank: str
    amount: Decimal
    currency: str
    expiry_date: dt.date
    latest_shipment_date: dt.date
    partial_shipments_allowed: bool = True
    transhipment_allowed: bool = True
    documents_required: tuple[str, ...] = ()


class Presentation(Frozen):
    """One presentation of documents under the credit, with what the banks made of it."""

    presentation_number: str
    presented_by: str
    presented_at: dt.datetime
    documents: tuple[str, ...]
    invoice_numbers: tuple[str, ...] = ()
    transport_document_numbers: tuple[str, ...] = ()
    amount: Decimal
    #: Facts the ledger notes for the examining bank (it refuses nothing for them: the bank decides).
    missing_documents: tuple[str, ...] = ()  # required by the credit, not presented
    after_expiry: bool = False  # presented after the credit's expiry date
    discrepancies: tuple[str, ...] = ()
    discrepancy_noted_at: dt.datetime | None = None
    paid: Decimal = Decimal(0)
    paid_at: dt.datetime | None = None


class OrderState(Frozen):
    order_id: str
    buyer: str
    supplier: str
    placed_at: dt.datetime
    incoterm: str
    incoterm_place: str
    transport_mode: str
    payment_terms: str
    delivery_earliest: dt.date
    delivery_latest: dt.date
    required_certificates: tuple[CertificateKind, ...] = ()
    revisions: tuple[Revision, ...]
    agreed_revision: int | None = None
    agreed_lines: tuple[Line, ...] = ()
    invoices: tuple[Invoice, ...] = ()
    invoice_stage: InvoiceStage | None = None
    cancelled_at: dt.datetime | None = None
    cancel_reason: str | None = None
    closed_at: dt.datetime | None = None
    status: OrderStatus = OrderStatus.PLACED
    letter_of_credit: CreditTerms | None = None
    presentations: tuple[Presentation, ...] = ()

    @property
    def revision(self) -> int:
        """The latest revision number (0 until the first amendment)."""
        return self.revisions[-1].revision

    @property
    def lines(self) -> tuple[Line, ...]:
        """The lines in force: as agreed, or as requested while nothing is agreed yet."""
        return self.agreed_lines or self.revisions[-1].lines

    @property
    def hs_codes(self) -> tuple[str, ...]:
        return tuple(sorted({line.hs_code for line in self.lines}))

    @property
    def counter_offer(self) -> Revision | None:
        """The latest revision when the supplier answered it with a counter-offer the buyer has not
        accepted yet (it binds only once the buyer's next amendment accepts it)."""
        latest = self.revisions[-1]
        return latest if latest.response == OrderResponseCode.ACCEPTED_WITH_AMENDMENT else None

    @property
    def balance_due(self) -> Decimal | None:
        """What the final invoices leave to pay after netting the provisional ones (None before a final
        invoice); credit notes are not netted here, they are shown as issued."""
        balances = [i.balance for i in self.invoices if i.balance is not None]
        return sum(balances, Decimal(0)) if balances else None

    @property
    def credit_paid(self) -> Decimal:
        """What the banks paid under the letter of credit so far."""
        return sum((p.paid for p in self.presentations), Decimal(0))

    @property
    def rejected_at(self) -> dt.datetime | None:
        first = self.revisions[0]
        return first.responded_at if first.response == OrderResponseCode.REJECTED else None

    @property
    def ended_at(self) -> dt.datetime | None:
        """When the order was cancelled or rejected (a shipment booked after that is a violation)."""
        return self.cancelled_at or self.rejected_at


# -- shipments -----------------------------------------------------------------------------------------


class ShipmentStatus(StrEnum):
    BOOKED = "BOOKED"
    DEPARTED = "DEPARTED"  # an actual departure is recorded
    ARRIVED = "ARRIVED"  # an actual arrival at the place of discharge is recorded
    DELIVERED = "DELIVERED"


class CustomsStatus(StrEnum):
    SELECTED_FOR_SCAN = "SELECTED_FOR_SCAN"  # CUSS
    SELECTED_FOR_INSPECTION = "SELECTED_FOR_INSPECTION"  # CUSI
    RELEASED = "RELEASED"  # CUSR


class Slot(Frozen):
    at: dt.datetime
    event_id: uuid.UUID
    #: When the event was created (its ``created_at``; None for events without it): successive planned
    #: or estimated times replace each other in this order (domain/timing.py ``supersedes``).
    created_at: dt.datetime | None = None


_RANK = {EventClassifier.PLN: 0, EventClassifier.EST: 1, EventClassifier.ACT: 2}


class Milestone(Frozen):
    """One (event type, place[, equipment]) of a shipment with its planned, estimated and actual times.

    The best-known time is the actual, else the estimate, else the plan: an estimate never overwrites
    an actual, however late it arrives.
    """

    kind: str  # "TRANSPORT" or "EQUIPMENT"
    event_type: str  # DEPA, ARRI, LOAD, DISC, GTIN …
    location: str  # UN/LOCODE
    equipment_reference: str | None = None
    mode_of_transport: str | None = None
    vehicle_reference: str | None = None  # the truck, wagon or vessel of this call (several per shipment)
    facility_type: str | None = None  # BOCR: the call is a border crossing
    quantity: Decimal | None = None  # established by a draft survey
    quantity_unit: str | None = None
    planned: Slot | None = None
    estimated: Slot | None = None
    actual: Slot | None = None

    @property
    def classifier(self) -> EventClassifier | None:
        if self.actual is not None:
            return EventClassifier.ACT
        if self.estimated is not None:
            return EventClassifier.EST
        if self.planned is not None:
            return EventClassifier.PLN
        return None

    @property
    def at(self) -> dt.datetime | None:
        best = self.actual or self.estimated or self.planned
        return best.at if best else None

    def slot(self, classifier: EventClassifier) -> Slot | None:
        return {
            EventClassifier.PLN: self.planned,
            EventClassifier.EST: self.estimated,
            EventClassifier.ACT: self.actual,
        }[classifier]

    @staticmethod
    def rank(classifier: EventClassifier) -> int:
        return _RANK[classifier]


class CustomsControl(Frozen):
    """Customs control of the goods at one place."""

    location: str
    authority: str
    declaration_number: str | None = None
    selection: CustomsEventType | None = None  # CUSS or CUSI
    selected_at: dt.datetime | None = None
    checks: tuple[str, ...] = ()
    released_at: dt.datetime | None = None

    @property
    def status(self) -> CustomsStatus | None:
        selected = self.selected_at
        if self.released_at is not None and (selected is None or self.released_at >= selected):
            return CustomsStatus.RELEASED
        if self.selection == CustomsEventType.CUSI:
            return CustomsStatus.SELECTED_FOR_INSPECTION
        if self.selection == CustomsEventType.CUSS:
            return CustomsStatus.SELECTED_FOR_SCAN
        return None


class Allocation(Frozen):
    """The quantity of one order line a shipment carries (ShipmentBooked.allocations)."""

    line_number: int
    quantity: Decimal
    unit: str


class CarriedDangerousGoods(Frozen):
    """Dangerous goods of one order line on a shipment (ShipmentBooked.dangerous_goods; ADR 0034)."""

    line_number: int
    un_number: str
    classification: str
    proper_shipping_name: str
    net_explosive_mass_kg: Decimal | None = None
    package_count: int | None = None
    package_kind: str | None = None  # Rec 21


class ShipmentState(Frozen):
    shipment_id: str
    order_id: str
    carrier: str
    transport_mode: str
    incoterm: str
    place_of_loading: str
    place_of_discharge: str
    route: tuple[str, ...] = ()
    vessel_name: str | None = None
    voyage_number: str | None = None
    un_numbers: tuple[str, ...] = ()
    cargo_type: str | None = None  # CONTAINERISED, BREAK_BULK, DRY_BULK, LIQUID_BULK
    allocations: tuple[Allocation, ...] = ()  # empty: the booking did not say (quantities.py)
    dangerous_goods: tuple[CarriedDangerousGoods, ...] = ()
    dangerous_goods_declaration: str | None = None
    licences: tuple[str, ...] = ()  # keys (``licence_key``) of the licences the shipment draws on
    booked_at: dt.datetime
    milestones: dict[str, Milestone] = {}
    customs: dict[str, CustomsControl] = {}
    delivered_at: dt.datetime | None = None
    delivered_to: str | None = None
    received_quantity: Decimal | None = None
    received_unit: str | None = None
    #: What the delivery showed against the quantity shipped (lifecycle.quantities), e.g. "short landed
    #: 8.2 TNE of 2,750 TNE shipped"; None before delivery or when nothing was weighed.
    quantity_finding: str | None = None
    status: ShipmentStatus = ShipmentStatus.BOOKED

    @property
    def is_bulk(self) -> bool:
        return self.cargo_type in ("DRY_BULK", "LIQUID_BULK")

    def milestone(self, event_type: str, location: str) -> Milestone | None:
        return self.milestones.get(transport_key(event_type, location))

    @property
    def actual_departure(self) -> dt.datetime | None:
        """Time of the first actual departure (from the place of loading when recorded there)."""
        times = [
            m.actual.at
            for m in self.milestones.values()
            if m.kind == "TRANSPORT" and m.event_type == "DEPA" and m.actual is not None
        ]
        return min(times) if times else None

    @property
    def actual_arrival(self) -> dt.datetime | None:
        """Time of the first actual arrival at the place of discharge (of any of its vehicles)."""
        times = [
            m.actual.at
            for m in self.milestones.values()
            if m.kind == "TRANSPORT"
            and m.event_type == "ARRI"
            and m.location == canonical_locode(self.place_of_discharge)
            and m.actual is not None
        ]
        return min(times) if times else None

    @property
    def border_crossings(self) -> tuple[Milestone, ...]:
        """Actual calls at border crossings (facility BOCR, e.g. the Khunjerab Pass), in time order."""
        found = [m for m in self.milestones.values() if m.facility_type == "BOCR" and m.actual is not None]
        return tuple(sorted(found, key=lambda m: (m.at or dt.datetime.min, m.event_type)))

    @property
    def customs_status(self) -> CustomsStatus | None:
        """Status at the control most recently acted on."""
        latest: tuple[dt.datetime, CustomsStatus] | None = None
        for control in self.customs.values():
            status = control.status
            when = max(t for t in (control.selected_at, control.released_at) if t is not None)
            if status is not None and (latest is None or when >= latest[0]):
                latest = (when, status)
        return latest[1] if latest else None


def transport_key(event_type: str, location: str, vehicle_reference: str | None = None) -> str:
    # aliases of one place are one milestone (docs/domain.md §6); each vehicle of a shipment has its own
    key = f"{event_type}@{canonical_locode(location)}"
    return f"{key}!{vehicle_reference}" if vehicle_reference else key


def equipment_key(event_type: str, location: str, equipment_reference: str | None) -> str:
    return f"{event_type}@{canonical_locode(location)}#{equipment_reference or ''}"


# -- certificates --------------------------------------------------------------------------------------


class CertificateStatus(StrEnum):
    ISSUED = "ISSUED"
    PRESENTED = "PRESENTED"
    VERIFIED = "VERIFIED"  # see ``verification`` (MATCHED / NOT_MATCHED)
    PREFERENCE_SUSPENDED = "PREFERENCE_SUSPENDED"  # verification requested, security taken (ADR 0038)
    PREFERENCE_GRANTED = "PREFERENCE_GRANTED"
    PREFERENCE_DENIED = "PREFERENCE_DENIED"
    SUPERSEDED = "SUPERSEDED"  # replaced by an amended certificate
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"  # only ever computed for a date (``effective_status``), never stored


#: Statuses in which a certificate can no longer support a claim, whatever the date.
DEAD_CERTIFICATE_STATUSES = frozenset({CertificateStatus.SUPERSEDED, CertificateStatus.REVOKED})


class CertifiedItem(Frozen):
    """One item of a certificate's goods as the origin data is matched on (boxes 6 and 9)."""

    item_number: int
    hs_code: str
    quantity: str  # "<value> <Rec 20 unit>", exact as certified
    gross_weight: str | None = None


class OriginData(Frozen):
    """The origin data the issuer transmitted to the importing customs ahead of the goods (ADR 0038)."""

    transmitted_at: dt.datetime
    customs: str
    exporter: str
    consignee: str
    goods: tuple[CertifiedItem, ...]


class VerificationRequest(Frozen):
    """The importing customs' verification request to the issuer and where it stands (ADR 0038)."""

    customs: str
    requested_at: dt.datetime
    reason: str
    reply_by: dt.date
    answer: str | None = None  # CONFIRMED / NOT_CONFIRMED; NOT_ANSWERED once decided without one
    answered_at: dt.datetime | None = None
    findings: tuple[str, ...] = ()

    def outcome(self, on: dt.date) -> str:
        """OPEN while the issuer may still answer; its answer; NOT_ANSWERED once ``reply_by`` passed."""
        if self.answer is not None:
            return self.answer
        return "NOT_ANSWERED" if on > self.reply_by else "OPEN"


class CertificateState(Frozen):
    certificate_number: str
    kind: CertificateKind
    issuer: str
    exporter: str | None = None
    consignee: str | None = None
    order_id: str
    issued_at: dt.datetime
    valid_until: dt.date | None = None
    hs_codes: tuple[str, ...] = ()
    goods: tuple[CertifiedItem, ...] = ()
    supersedes: str | None = None
    superseded_by: str | None = None
    superseded_at: dt.datetime | None = None
    amendment_reason: str | None = None
    declaration_number: str | None = None
    presented_at: dt.datetime | None = None
    presented_to: str | None = None
    verification: VerificationResult | None = None
    verified_at: dt.datetime | None = None
    mismatches: tuple[str, ...] = ()
    preference: PreferenceDecision | None = None
    decided_at: dt.datetime | None = None
    decision_reason: str | None = None
    revoked_at: dt.datetime | None = None
    revoke_reason: str | None = None
    origin_data: OriginData | None = None
    origin_findings: tuple[str, ...] = ()  # presentation against the transmitted origin data
    verification_request: VerificationRequest | None = None
    status: CertificateStatus = CertificateStatus.ISSUED

    def expired(self, on: dt.date) -> bool:
        """Whether ``valid_until`` has passed on day ``on`` (the certificate is valid through that day)."""
        return self.valid_until is not None and on > self.valid_until

    def effective_status(self, on: dt.date) -> CertificateStatus:
        """The status as of day ``on``: EXPIRED once ``valid_until`` passed, unless already used up,
        superseded or revoked (those say more)."""
        if self.status in (CertificateStatus.ISSUED, CertificateStatus.PRESENTED) and self.expired(on):
            return CertificateStatus.EXPIRED
        return self.status


# -- licences ------------------------------------------------------------------------------------------


def licence_key(issuer: str, certificate_number: str) -> str:
    """A licence is known by its issuer and number (two issuers may use the same number)."""
    return f"{issuer}/{certificate_number}"


class LicensedAmount(Frozen):
    """What a licence authorises of one UN number, and how much of it the trade's shipments drew."""

    un_number: str
    net_explosive_mass_kg: Decimal | None = None  # authorised; None: not limited by mass
    quantity: Decimal | None = None  # authorised; None: not limited by quantity
    unit: str | None = None  # Rec 20 unit of ``quantity``
    drawn_net_explosive_mass_kg: Decimal = Decimal(0)
    drawn_quantity: Decimal = Decimal(0)

    @property
    def remaining_net_explosive_mass_kg(self) -> Decimal | None:
        m = self.net_explosive_mass_kg
        return None if m is None else m - self.drawn_net_explosive_mass_kg

    @property
    def remaining_quantity(self) -> Decimal | None:
        q = self.quantity
        return None if q is None else q - self.drawn_quantity


class Drawdown(Frozen):
    """One shipment's draw on a licence, for one UN number (``trade_id``: the trade that booked it;
    None on drawdowns recorded before licences were drawn across trades, ADR 0045)."""

    shipment_id: str
    trade_id: uuid.UUID | None = None
    at: dt.datetime
    un_number: str
    net_explosive_mass_kg: Decimal = Decimal(0)
    quantity: Decimal = Decimal(0)
    unit: str | None = None


class LicenceState(Frozen):
    """A licence with terms (CertificateIssued.licence) and its running total (lifecycle.licence).

    One licence, one running total across every trade that books on it (ADR 0045): the ledger keeps
    the authoritative copy in its ``licences`` table, keyed by (issuer, number), and lays it over a
    trade's state before applying an event that names the licence; a trade's ``licences`` hold the copy
    as of its last such event. ``issued_in`` is the trade the licence was issued into; ``status`` is
    ISSUED, or SUPERSEDED / REVOKED once its issuer amended or revoked it (in whatever trade).
    """

    issuer: str
    certificate_number: str
    kind: CertificateKind
    holder: str
    valid_from: dt.date
    valid_until: dt.date | None = None
    authorised: tuple[LicensedAmount, ...] = ()
    drawdowns: tuple[Drawdown, ...] = ()
    issued_in: uuid.UUID | None = None
    status: CertificateStatus = CertificateStatus.ISSUED
    superseded_by: str | None = None

    def same_terms(self, other: LicenceState) -> bool:
        """Whether ``other`` states the same licence: kind, holder, validity and amounts authorised."""

        def terms(lic: LicenceState) -> tuple[object, ...]:
            amounts = tuple(
                (a.un_number, a.net_explosive_mass_kg, a.quantity, a.unit) for a in lic.authorised
            )
            return (lic.kind, lic.holder, lic.valid_from, lic.valid_until, amounts)

        return terms(self) == terms(other)

    def amount(self, un_number: str) -> LicensedAmount | None:
        return next((a for a in self.authorised if a.un_number == un_number), None)


# -- the trade -----------------------------------------------------------------------------------------


class PartyRef(Frozen):
    """A party named in the trade's events, with every role it played in them."""

    party_id: str
    roles: tuple[str, ...] = ()
    name_en: str | None = None
    name_local: str | None = None
    country: str | None = None


class TimelineEntry(Frozen):
    occurred_at: dt.datetime
    event_id: uuid.UUID
    type: str  # short event type name, e.g. "OrderPlaced"
    sender: str
    subject: str  # order/<id>, shipment/<id>, certificate/<number>
    summary: str  # the key facts, one line
    audience: tuple[str, ...] = ()  # an addressed event (trust.ADDRESSED_TYPES): who besides the principals


class DocumentStatus(StrEnum):
    """Where a transport document stands (DCSA document events): issued (and perhaps amended), then
    surrendered (bills of lading only) or voided; the last two are final."""

    ISSUED = "ISSUED"
    SURRENDERED = "SURRENDERED"
    VOIDED = "VOIDED"


class DocumentState(Frozen):
    """A transport document as its events left it (``lifecycle.document``)."""

    document_number: str
    document_type: str  # BILL_OF_LADING, SEA_WAYBILL, CMR, TIR_CARNET; never changes
    carrier: str  # who issued it; the only party that amends, surrenders or voids it
    status: DocumentStatus = DocumentStatus.ISSUED
    bill_of_lading_type: str | None = None
    number_of_originals: int | None = None
    place_of_issue: str | None = None  # UN/LOCODE, canonical
    date_of_issue: dt.date | None = None
    shipper: str | None = None
    consignee: str | None = None
    notify_party: str | None = None
    shipment_ids: tuple[str, ...] = ()
    container_numbers: tuple[str, ...] = ()
    seal_numbers: tuple[str, ...] = ()
    vessel_imo_number: str | None = None
    issued_at: dt.datetime
    amendments: int = 0
    amended_at: dt.datetime | None = None
    surrendered_at: dt.datetime | None = None
    voided_at: dt.datetime | None = None
    reason: str | None = None  # of the last amendment or of the voiding


class TradeState(Frozen):
    """Everything the ledger knows about one trade. A trade exists once its order was placed."""

    trade_id: uuid.UUID
    order: OrderState | None = None
    shipments: dict[str, ShipmentState] = {}
    certificates: dict[str, CertificateState] = {}  # by trust.certificate_key(issuer, number)
    licences: dict[str, LicenceState] = {}  # licences with terms, by ``licence_key``
    documents: dict[str, DocumentState] = {}  # transport documents by number
    parties: dict[str, PartyRef] = {}  # every party named in its events (names for display only)
    trust: TrustState = TrustState()  # who is admitted, and what the actor rules need (trust.py)
    timeline: tuple[TimelineEntry, ...] = ()
    applied: frozenset[uuid.UUID] = frozenset()
    version: int = 0  # number of events applied; the ledger's optimistic-concurrency token

    @model_validator(mode="before")
    @classmethod
    def _issuer_keys(cls, data: Any) -> Any:
        """A state stored before certificates were keyed by (issuer, number) keyed them by number: read
        back, they are keyed anew (ADR 0033)."""
        if not isinstance(data, dict) or not data.get("certificates"):
            return data
        rekeyed = {
            certificate_key(c["issuer"], c["certificate_number"]) if isinstance(c, dict) else key: c
            for key, c in data["certificates"].items()
        }
        return {**data, "certificates": rekeyed}

    def certificate(self, issuer: str, number: str) -> CertificateState | None:
        """The certificate ``number`` of ``issuer``, if this trade has it."""
        return self.certificates.get(certificate_key(issuer, number))

    @property
    def status(self) -> str:
        """The trade's status for search: its order's status."""
        return self.order.status.value if self.order else "UNKNOWN"

    @property
    def party_ids(self) -> tuple[str, ...]:
        """Who may read the trade: its admitted parties that were not withdrawn (not whoever an event
        names: naming a partner admits nobody, docs/adr/0016-trade-admission-and-need-to-know.md)."""
        return self.trust.parties

    @property
    def hs_codes(self) -> tuple[str, ...]:
        codes = set(self.order.hs_codes if self.order else ())
        for cert in self.certificates.values():
            codes.update(cert.hs_codes)
        return tuple(sorted(codes))

    @property
    def first_at(self) -> dt.datetime | None:
        return self.timeline[0].occurred_at if self.timeline else None

    @property
    def last_at(self) -> dt.datetime | None:
        return self.timeline[-1].occurred_at if self.timeline else None
