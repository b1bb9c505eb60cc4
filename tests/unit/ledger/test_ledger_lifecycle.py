"""The lifecycle state machines (services/core/domain/lifecycle): every rule, without Kafka or PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import (
    CertificateAmended,
    CertificateIssued,
    CertificatePresented,
    CertificateRevoked,
    CertificateVerified,
    CustomsEventRecorded,
    EquipmentEventRecorded,
    InvoiceIssued,
    OrderCancelled,
    PreferenceDecided,
    ShipmentBooked,
    ShipmentDelivered,
    TransportEventRecorded,
)
from corridor.core.domain.lifecycle import (
    CertificateStatus,
    CustomsStatus,
    InvoiceStage,
    LifecycleViolation,
    OrderStatus,
    PrerequisiteMissing,
    ShipmentStatus,
    TradeState,
    apply,
    replay,
)
from corridor.core.domain.trust import certificate_key
from corridor.demo.story import chromite_story, explosives_story

# -- helpers -------------------------------------------------------------------------------------------


def again(event: TradeEvent, **changes: Any) -> TradeEvent:
    """A new event (new event id) like ``event`` with ``changes``."""
    data = {**event.model_dump(), "event_id": uuid.uuid4(), **changes}
    return type(event).model_validate(data)


def first(events: list[TradeEvent], cls: type[TradeEvent], **match: Any) -> Any:
    for event in events:
        if isinstance(event, cls) and all(str(getattr(event, k)) == str(v) for k, v in match.items()):
            return event
    raise LookupError(f"no {cls.__name__} with {match}")


def until(events: list[TradeEvent], stop: TradeEvent) -> TradeState:
    """State after every event before ``stop``."""
    state = replay(events[: events.index(stop)])
    assert state is not None
    return state


@pytest.fixture
def chromite() -> list[TradeEvent]:
    return chromite_story().events


@pytest.fixture
def explosives() -> list[TradeEvent]:
    return explosives_story().events


def violation(state: TradeState | None, event: TradeEvent, *fragments: str) -> str:
    with pytest.raises(LifecycleViolation) as info:
        apply(state, event)
    for fragment in fragments:
        assert fragment in info.value.reason
    return info.value.reason


def missing(state: TradeState | None, event: TradeEvent, *fragments: str) -> str:
    with pytest.raises(PrerequisiteMissing) as info:
        apply(state, event)
    for fragment in fragments:
        assert fragment in info.value.reason
    return info.value.reason


# -- the stories ---------------------------------------------------------------------------------------


def test_chromite_story_ends_closed_delivered_and_granted(chromite: list[TradeEvent]) -> None:
    state = replay(chromite)
    assert state is not None and state.order is not None
    order = state.order
    assert order.status == OrderStatus.CLOSED
    assert order.invoice_stage == InvoiceStage.FINAL
    assert order.revision == 1 and order.agreed_revision == 1
    assert order.lines[0].quantity == Decimal("5500.000")
    assert [i.kind.value for i in order.invoices] == ["PROVISIONAL", "FINAL"]
    assert order.invoices[1].nets == ("ZVC-INV-2026-0031",)
    assert order.balance_due == Decimal("1578676.7700") - Decimal("1573790.2000")
    assert order.letter_of_credit is not None and order.credit_paid == Decimal("1573790.2000")
    assert order.closed_at == first(chromite, InvoiceIssued, invoice_kind="FINAL").occurred_at

    shipment, second = state.shipments.values()  # two vessels, 2,750 TNE allocated to each
    assert shipment.status == second.status == ShipmentStatus.DELIVERED
    assert shipment.cargo_type == "DRY_BULK" and not any(
        m.kind == "EQUIPMENT" for m in shipment.milestones.values()
    )
    depa = shipment.milestone("DEPA", "PKKHI")
    assert depa is not None and depa.classifier is not None and depa.classifier.value == "ACT"
    act_depa = first(chromite, TransportEventRecorded, transport_event_type="DEPA", classifier="ACT")
    assert shipment.actual_departure == act_depa.occurred_at == depa.at
    assert depa.planned is not None and depa.estimated is not None  # kept, but the actual wins
    arri = first(chromite, TransportEventRecorded, transport_event_type="ARRI")
    assert shipment.actual_arrival == arri.occurred_at
    assert shipment.customs_status == CustomsStatus.RELEASED
    assert shipment.received_quantity + second.received_quantity == Decimal("5498.700")
    assert shipment.quantity_finding == "short landed 2.7 TNE of 2,751.3 TNE shipped"
    assert second.quantity_finding == "short landed 11 TNE of 2,761.1 TNE shipped"
    delivered = [t.summary for t in state.timeline if t.type == "ShipmentDelivered"]
    assert delivered[0].endswith(
        "order: 2,748.6 of 5,500 TNE ordered delivered so far, 1 shipment still to deliver"
    )
    assert delivered[1].endswith("order: delivered within tolerance: 5,498.7 of 5,500 TNE ordered")

    coo = state.certificates[TDAP_COO]
    assert coo.status == CertificateStatus.PREFERENCE_GRANTED
    assert coo.verification is not None and coo.verification.value == "MATCHED"
    assert (
        state.certificates[certificate_key("sgs-pakistan", "SGS-KHI-MIN-26-03391")].status
        == CertificateStatus.ISSUED
    )

    assert state.status == "CLOSED"
    assert state.version == len(chromite) == len(state.timeline)
    assert [t.occurred_at for t in state.timeline] == sorted(e.occurred_at for e in chromite)
    assert set(state.party_ids) == {
        "tianjin-rongda-smelting",
        "zhob-valley-chromite",
        "sgs-pakistan",
        "tdap",
        "indus-ocean-lines",
        "gacc-tianjin",
        "haihe-commercial-bank",
        "indus-commercial-bank",
    }
    assert state.parties["zhob-valley-chromite"].roles == ("SUPPLIER",)
    assert state.parties["gacc-tianjin"].roles == ("CUSTOMS",)
    assert state.hs_codes == ("261000",)


def test_explosives_story_ends_accepted_and_arrived_with_both_licences(explosives: list[TradeEvent]) -> None:
    state = replay(explosives)
    assert state is not None and state.order is not None
    assert state.order.status == OrderStatus.ACCEPTED  # delivered in full, not invoiced yet
    assert state.order.invoice_stage is None
    (shipment,) = state.shipments.values()
    assert shipment.status == ShipmentStatus.DELIVERED
    # three trucks, each departing Sost and crossing at Khunjerab as its own milestone, each with its CMR
    departures = [m for m in shipment.milestones.values() if m.event_type == "DEPA"]
    assert sorted(m.vehicle_reference or "" for m in departures) == ["LEB-4471", "LEB-4472", "LEB-4473"]
    assert [m.location for m in shipment.border_crossings] == ["CNKJP"] * 3
    assert sorted(d.document_type for d in state.documents.values()) == ["CMR"] * 3
    assert shipment.transport_mode == "ROAD" and shipment.un_numbers == ("UN0241",)
    assert {c.kind.value: c.status for c in state.certificates.values()} == {
        "EXPLOSIVES_EXPORT_LICENCE": CertificateStatus.ISSUED,
        "EXPLOSIVES_IMPORT_APPROVAL": CertificateStatus.ISSUED,
        "CPFTA_ORIGIN": CertificateStatus.ISSUED,  # TDAP's, every box filled (ADR 0033)
    }
    assert {"cn-miit", "pk-department-of-explosives", "nlc-sost", "wah-nobel"} <= set(state.party_ids)


def test_state_round_trips_through_json(chromite: list[TradeEvent]) -> None:
    state = replay(chromite)
    assert state is not None
    assert TradeState.model_validate_json(state.model_dump_json()) == state


def test_redelivery_changes_nothing(chromite: list[TradeEvent]) -> None:
    state = replay(chromite)
    assert state is not None
    for event in chromite:
        assert apply(state, event) is state


# -- existence and parking -----------------------------------------------------------------------------


@pytest.mark.parametrize("index", range(1, 22))
def test_every_event_before_the_order_waits_for_it(chromite: list[TradeEvent], index: int) -> None:
    missing(None, chromite[index], "no order yet")


def test_a_trade_has_one_order(chromite: list[TradeEvent]) -> None:
    state = replay(chromite[:1])
    violation(state, again(chromite[0], order_id="OTHER-PO-1"), "already has order TJRD-PO-2026-0117")


def test_events_naming_another_order_are_violations(chromite: list[TradeEvent]) -> None:
    state = replay(chromite[:2])
    violation(state, again(chromite[1], order_id="OTHER-PO-1", responds_to_revision=0), "names order")
    booking = first(chromite, ShipmentBooked)
    violation(replay(chromite[:4]), again(booking, order_id="OTHER-PO-1"), "names order OTHER-PO-1")
    cert = first(chromite, CertificateIssued)
    violation(replay(chromite[:4]), again(cert, order_id="OTHER-PO-1"), "names order OTHER-PO-1")


def test_an_event_of_another_trade_is_refused(chromite: list[TradeEvent]) -> None:
    state = replay(chromite[:1])
    violation(state, again(chromite[1], trade_id=uuid.uuid4()), "applied to trade")


# -- orders --------------------------------------------------------------------------------------------


def test_order_negotiation_statuses(chromite: list[TradeEvent]) -> None:
    placed, accepted, amendment, accepted_1 = chromite[:4]
    state = apply(None, placed)
    assert state.order is not None and state.order.status == OrderStatus.PLACED
    state = apply(state, accepted)
    assert state.order is not None and state.order.status == OrderStatus.ACCEPTED
    state = apply(state, amendment)
    assert state.order is not None and state.order.status == OrderStatus.AMENDED
    assert state.order.lines[0].quantity == Decimal("5000.000")  # still the agreed lines
    state = apply(state, accepted_1)
    assert state.order is not None and state.order.status == OrderStatus.ACCEPTED
    assert state.order.lines[0].quantity == Decimal("5500.000")


def test_a_counter_offer_binds_only_once_the_buyer_accepts_it(chromite: list[TradeEvent]) -> None:
    placed, accepted, amendment = chromite[:3]
    counter = [{**placed.model_dump()["lines"][0], "quantity": {"value": Decimal("4800.000"), "unit": "TNE"}}]
    state = replay(
        [placed, again(accepted, response="ACCEPTED_WITH_AMENDMENT", counter_lines=counter, reason="stock")]
    )
    assert state is not None and state.order is not None
    assert state.order.status == OrderStatus.ACCEPTED_WITH_AMENDMENT  # the counter-offer awaits the buyer
    assert state.order.agreed_revision is None
    assert state.order.lines[0].quantity == Decimal("5000.000")  # still the order as placed
    state = apply(state, again(amendment, lines=counter, accepts_counter_offer=True, reason="agreed"))
    assert state.order is not None and state.order.status == OrderStatus.ACCEPTED
    assert (state.order.agreed_revision, state.order.lines[0].quantity) == (1, Decimal("4800.000"))


def test_rejecting_the_order_ends_it(chromite: list[TradeEvent]) -> None:
    placed, accepted, amendment = chromite[:3]
    state = replay([placed, again(accepted, response="REJECTED", reason="no capacity")])
    assert state is not None and state.order is not None
    assert state.order.status == OrderStatus.REJECTED
    violation(state, amendment, "after order TJRD-PO-2026-0117 was rejected")
    violation(state, first(chromite, ShipmentBooked), "which was rejected")


def test_rejecting_an_amendment_keeps_the_agreed_revision(chromite: list[TradeEvent]) -> None:
    placed, accepted, amendment, accepted_1 = chromite[:4]
    state = replay([placed, accepted, amendment, again(accepted_1, response="REJECTED", reason="too much")])
    assert state is not None and state.order is not None
    assert state.order.status == OrderStatus.ACCEPTED
    assert state.order.agreed_revision == 0
    assert state.order.lines[0].quantity == Decimal("5000.000")


def test_response_to_a_revision_that_does_not_exist(chromite: list[TradeEvent]) -> None:
    state = replay(chromite[:2])
    violation(state, again(chromite[1], responds_to_revision=3), "revision 3", "does not exist")


def test_response_to_a_superseded_revision(chromite: list[TradeEvent]) -> None:
    state = replay([chromite[0], chromite[2]])  # amended before the supplier answered revision 0
    violation(state, chromite[1], "revision 0", "revision 1 superseded")


def test_a_revision_is_answered_once(chromite: list[TradeEvent]) -> None:
    state = replay(chromite[:2])
    violation(state, again(chromite[1], response="REJECTED", reason="changed mind"), "already answered")


def test_amendments_come_in_sequence(chromite: list[TradeEvent]) -> None:
    state = replay(chromite[:2])
    violation(state, again(chromite[2], revision=2), "out of sequence", "expected revision 1")
    state = replay(chromite[:4])
    violation(state, again(chromite[2], revision=1), "expected revision 2")


def test_cancellation_ends_the_order(chromite: list[TradeEvent]) -> None:
    placed = chromite[0]
    cancel = OrderCancelled(
        event_id=uuid.uuid4(),
        trade_id=placed.trade_id,
        occurred_at=placed.occurred_at + dt.timedelta(days=2),
        sender=placed.sender,
        order_id="TJRD-PO-2026-0117",
        reason="smelter outage",
    )
    state = replay([*chromite[:2], cancel])
    assert state is not None and state.order is not None
    assert state.order.status == OrderStatus.CANCELLED
    violation(state, chromite[2], "after order TJRD-PO-2026-0117 was cancelled")
    violation(state, again(cancel), "a cancellation after")
    violation(state, first(chromite, InvoiceIssued), "was cancelled")
    booking = first(chromite, ShipmentBooked)
    violation(state, booking, "shipment IOL-KHI-TXG-26-0412 booked for order", "cancelled")
    # a booking made before the cancellation is history, even when it is processed after it
    early = again(booking, occurred_at=placed.occurred_at + dt.timedelta(days=1))
    after = apply(state, early)
    assert "IOL-KHI-TXG-26-0412" in after.shipments


def test_no_cancellation_after_delivery(chromite: list[TradeEvent]) -> None:
    delivered = first(chromite, ShipmentDelivered)
    state = replay(chromite[: chromite.index(delivered) + 1])
    cancel = OrderCancelled(
        event_id=uuid.uuid4(),
        trade_id=delivered.trade_id,
        occurred_at=delivered.occurred_at + dt.timedelta(days=1),
        sender="tianjin-rongda-smelting",
        order_id="TJRD-PO-2026-0117",
        reason="too late",
    )
    violation(state, cancel, "after its goods left (shipments IOL-KHI-TXG-26-0412, IOL-KHI-TXG-26-0438)")


def test_invoices(chromite: list[TradeEvent]) -> None:
    provisional = first(chromite, InvoiceIssued, invoice_kind="PROVISIONAL")
    final = first(chromite, InvoiceIssued, invoice_kind="FINAL")
    violation(replay(chromite[:1]), again(provisional), "never accepted")
    state = until(chromite, provisional)
    state = apply(state, provisional)
    assert state.order is not None
    assert (state.order.status, state.order.invoice_stage) == (OrderStatus.INVOICED, InvoiceStage.PROVISIONAL)
    violation(state, again(provisional), "already issued")
    state = apply(state, final)  # final before delivery: invoiced, not closed
    assert state.order is not None
    assert (state.order.status, state.order.invoice_stage) == (OrderStatus.INVOICED, InvoiceStage.FINAL)
    violation(state, again(final, invoice_number="ZVC-INV-2026-0039"), "after the final invoice")
    violation(state, again(provisional, invoice_number="ZVC-INV-2026-0040"), "after the final invoice")
    violation(state, again(chromite[2], revision=2), "after its final invoice")


def test_closed_once_final_invoice_and_delivery_whatever_their_order(chromite: list[TradeEvent]) -> None:
    final = first(chromite, InvoiceIssued, invoice_kind="FINAL")
    delivered = first(chromite, ShipmentDelivered)
    without = [e for e in chromite if e not in (final, delivered)]
    for tail in ([final, delivered], [delivered, final]):
        state = replay([*without, *tail])
        assert state is not None and state.order is not None
        assert state.order.status == OrderStatus.CLOSED
        assert state.order.closed_at == max(final.occurred_at, delivered.occurred_at)


def test_after_closure(chromite: list[TradeEvent]) -> None:
    state = replay(chromite)
    final = first(chromite, InvoiceIssued, invoice_kind="FINAL")
    later = final.occurred_at + dt.timedelta(days=1)
    violation(state, again(chromite[2], revision=2, occurred_at=later), "was closed")
    violation(state, again(first(chromite, ShipmentBooked), shipment_id="IOL-2", occurred_at=later), "closed")
    violation(
        state,
        again(first(chromite, TransportEventRecorded), transport_event_type="ARRI", occurred_at=later),
        "after order TJRD-PO-2026-0117 was closed",
    )
    credit = again(
        final,
        invoice_number="ZVC-CN-2026-0002",
        invoice_kind="CREDIT_NOTE",
        occurred_at=later,
    )
    state = apply(state, credit)  # a credit note still corrects a closed order
    assert state.order is not None and state.order.status == OrderStatus.CLOSED


# -- shipments -----------------------------------------------------------------------------------------


def _depa(chromite: list[TradeEvent], classifier: str) -> TradeEvent:
    return first(chromite, TransportEventRecorded, transport_event_type="DEPA", classifier=classifier)


def test_act_beats_est_beats_pln_whatever_the_arrival_order(chromite: list[TradeEvent]) -> None:
    pln, est, act = (_depa(chromite, c) for c in ("PLN", "EST", "ACT"))
    base = until(chromite, pln)
    results = {}
    for order in ([pln, est, act], [act, est, pln], [est, act, pln], [pln, act, est]):
        state = replay(order, base)
        assert state is not None
        milestone = state.shipments["IOL-KHI-TXG-26-0412"].milestone("DEPA", "PKKHI")
        assert milestone is not None and milestone.classifier is not None
        results[tuple(e.classifier.value for e in order)] = (milestone.classifier.value, milestone.at)
    assert set(results.values()) == {("ACT", act.occurred_at)}


def test_an_estimate_never_overwrites_an_actual(chromite: list[TradeEvent]) -> None:
    act = _depa(chromite, "ACT")
    state = replay([act], until(chromite, _depa(chromite, "PLN")))
    late_estimate = again(_depa(chromite, "EST"), occurred_at=act.occurred_at + dt.timedelta(hours=30))
    state = apply(state, late_estimate)
    assert state is not None
    milestone = state.shipments["IOL-KHI-TXG-26-0412"].milestone("DEPA", "PKKHI")
    assert milestone is not None and milestone.at == act.occurred_at
    assert milestone.estimated is not None and milestone.estimated.at == late_estimate.occurred_at
    assert state.shipments["IOL-KHI-TXG-26-0412"].actual_departure == act.occurred_at


def test_a_newer_estimate_replaces_the_older(chromite: list[TradeEvent]) -> None:
    est = _depa(chromite, "EST")
    state = apply(until(chromite, est), est)
    newer = again(est, occurred_at=est.occurred_at + dt.timedelta(hours=5))
    state = apply(state, newer)
    milestone = state.shipments["IOL-KHI-TXG-26-0412"].milestone("DEPA", "PKKHI")
    assert milestone is not None and milestone.at == newer.occurred_at


def test_a_second_actual_departure_from_the_same_call_is_a_violation(chromite: list[TradeEvent]) -> None:
    act = _depa(chromite, "ACT")
    state = apply(until(chromite, act), act)
    violation(state, again(act, occurred_at=act.occurred_at + dt.timedelta(hours=2)), "second actual DEPA")
    arri = first(chromite, TransportEventRecorded, transport_event_type="ARRI")
    state = apply(state, arri)
    violation(state, again(arri), "second actual ARRI")


def test_a_departure_from_another_call_is_not_a_second_departure(chromite: list[TradeEvent]) -> None:
    act = _depa(chromite, "ACT")
    state = apply(until(chromite, act), act)
    onward = act.model_dump()
    onward["transport_call"]["location"] = {"unlocode": "LKCMB", "name": "Colombo", "facility_type": "POTE"}
    state = apply(state, again(act, transport_call=onward["transport_call"]))
    shipment = state.shipments["IOL-KHI-TXG-26-0412"]
    assert shipment.milestone("DEPA", "LKCMB") is not None
    assert shipment.actual_departure == act.occurred_at


def test_a_correction_replaces_the_actual(chromite: list[TradeEvent]) -> None:
    act = _depa(chromite, "ACT")
    state = apply(until(chromite, act), act)
    corrected_at = act.occurred_at + dt.timedelta(hours=3)
    state = apply(state, again(act, occurred_at=corrected_at, corrects_event_id=act.event_id))
    assert state.shipments["IOL-KHI-TXG-26-0412"].actual_departure == corrected_at
    violation(state, again(act, corrects_event_id=uuid.uuid4()), "not a milestone")


def _containerised(chromite: list[TradeEvent]) -> tuple[TradeState, EquipmentEventRecorded]:
    """The chromite trade up to its first booking, booked as containers, and a container LOAD for it."""
    booking = first(chromite, ShipmentBooked)
    state = apply(until(chromite, booking), again(booking, cargo_type="CONTAINERISED"))
    load = EquipmentEventRecorded(
        event_id=uuid.uuid4(),
        trade_id=booking.trade_id,
        occurred_at=booking.occurred_at + dt.timedelta(days=9),
        sender=booking.sender,
        shipment_id=booking.shipment_id,
        equipment_event_type="LOAD",
        classifier="ACT",
        location=booking.place_of_loading,
        equipment_reference="TGHU1234567",
    )
    return state, load


def test_equipment_milestones(chromite: list[TradeEvent]) -> None:
    state, load = _containerised(chromite)
    state = apply(state, load)
    # bulk loaded in parts: a later actual LOAD is recorded in the timeline, the first time stays
    state = apply(state, again(load, occurred_at=load.occurred_at + dt.timedelta(hours=4)))
    (milestone,) = [
        m for m in state.shipments["IOL-KHI-TXG-26-0412"].milestones.values() if m.event_type == "LOAD"
    ]
    assert milestone.at == load.occurred_at
    est = again(load, classifier="EST", occurred_at=load.occurred_at + dt.timedelta(hours=9))
    after = apply(state, est).shipments["IOL-KHI-TXG-26-0412"]
    (updated,) = [m for m in after.milestones.values() if m.event_type == "LOAD"]
    assert updated.classifier is not None and updated.classifier.value == "ACT"
    assert updated.at == load.occurred_at
    assert updated.estimated is not None and updated.estimated.at == est.occurred_at


def test_shipment_statuses(chromite: list[TradeEvent]) -> None:
    def status_after(event: TradeEvent) -> ShipmentStatus:
        state = replay(chromite[: chromite.index(event) + 1])
        assert state is not None
        return state.shipments["IOL-KHI-TXG-26-0412"].status

    assert status_after(first(chromite, ShipmentBooked)) == ShipmentStatus.BOOKED
    assert status_after(_depa(chromite, "EST")) == ShipmentStatus.BOOKED
    assert status_after(_depa(chromite, "ACT")) == ShipmentStatus.DEPARTED
    assert status_after(first(chromite, TransportEventRecorded, transport_event_type="ARRI")) == (
        ShipmentStatus.ARRIVED
    )
    assert status_after(first(chromite, ShipmentDelivered)) == ShipmentStatus.DELIVERED


def test_events_of_a_shipment_not_booked_yet_wait(chromite: list[TradeEvent]) -> None:
    state = replay(chromite[:4])
    missing(state, _depa(chromite, "PLN"), "shipment IOL-KHI-TXG-26-0412 is not booked yet")
    missing(state, first(chromite, ShipmentDelivered), "not booked yet")
    missing(state, first(chromite, CustomsEventRecorded), "not booked yet")


def test_a_shipment_is_booked_and_delivered_once(chromite: list[TradeEvent]) -> None:
    booking = first(chromite, ShipmentBooked)
    violation(replay(chromite[: chromite.index(booking) + 1]), again(booking), "already booked")
    delivered = first(chromite, ShipmentDelivered)
    state = replay(chromite[: chromite.index(delivered) + 1])
    violation(state, again(delivered, occurred_at=delivered.occurred_at), "delivered twice")


def test_customs_selection_and_release(chromite: list[TradeEvent]) -> None:
    cusi = first(chromite, CustomsEventRecorded, customs_event_type="CUSI")
    cusr = first(chromite, CustomsEventRecorded, customs_event_type="CUSR")
    base = until(chromite, cusi)
    state = apply(base, cusi)
    shipment = state.shipments["IOL-KHI-TXG-26-0412"]
    assert shipment.customs_status == CustomsStatus.SELECTED_FOR_INSPECTION
    assert shipment.customs["CNTXG"].checks == ("RADIATION", "SAMPLING")
    assert apply(state, cusr).shipments["IOL-KHI-TXG-26-0412"].customs_status == CustomsStatus.RELEASED
    # release first, inspect later: a selection after the release is the newer fact
    later = again(cusi, customs_event_type="CUSS", occurred_at=cusr.occurred_at + dt.timedelta(days=1))
    state = replay([cusr, later], base)
    assert state is not None
    assert state.shipments["IOL-KHI-TXG-26-0412"].customs_status == CustomsStatus.SELECTED_FOR_SCAN
    # …and the release processed after the (earlier) selection still releases
    state = replay([cusr, cusi], base)
    assert state is not None
    assert state.shipments["IOL-KHI-TXG-26-0412"].customs_status == CustomsStatus.RELEASED


def test_explosives_do_not_leave_before_their_licences(explosives: list[TradeEvent]) -> None:
    depa = first(explosives, TransportEventRecorded, transport_event_type="DEPA")
    licences = [e for e in explosives if isinstance(e, CertificateIssued)]
    booking = first(explosives, ShipmentBooked)
    before = [e for e in explosives[: explosives.index(booking)] if e not in licences]
    # a booking that draws on the licences waits for them (ADR 0034) ...
    missing(replay(before), booking, "licences[0]", "EL-01-2026-0311", "which is not issued yet")
    # ... one recorded before bookings drew on licences does not, and its departure still waits for them
    legacy = again(booking, licences=[], dangerous_goods=[], dangerous_goods_declaration=None)
    without = [
        legacy if e is booking else e for e in explosives[: explosives.index(depa)] if e not in licences
    ]
    state = replay(without)
    missing(state, depa, "EXPLOSIVES_EXPORT_LICENCE is not issued yet")
    state = apply(state, licences[0])
    missing(state, depa, "EXPLOSIVES_IMPORT_APPROVAL is not issued yet")
    late = again(licences[1], occurred_at=depa.occurred_at + dt.timedelta(days=1))
    violation(apply(state, late), depa, "without a valid EXPLOSIVES_IMPORT_APPROVAL")
    state = apply(state, licences[1])
    revoke = CertificateRevoked(
        event_id=uuid.uuid4(),
        trade_id=depa.trade_id,
        occurred_at=depa.occurred_at - dt.timedelta(days=1),
        sender="cn-miit",
        certificate_number=licences[1].certificate_number,
        issuer=licences[1].issuer,
        reason="quota withdrawn",
    )
    violation(apply(state, revoke), depa, "without a valid EXPLOSIVES_IMPORT_APPROVAL")
    assert apply(state, depa).shipments["NLC-SST-KHG-26-0107"].status == ShipmentStatus.DEPARTED


# -- certificates --------------------------------------------------------------------------------------

COO = "CPFTA-PK-2026-118734"
TDAP_COO = certificate_key("tdap", COO)  # certificates are known by issuer and number (ADR 0033)


def _coo_events(chromite: list[TradeEvent]) -> tuple[Any, Any, Any, Any]:
    return (
        first(chromite, CertificateIssued, certificate_kind="CPFTA_ORIGIN"),
        first(chromite, CertificatePresented),
        first(chromite, CertificateVerified),
        first(chromite, PreferenceDecided),
    )


def _amendment(issued: Any, number: str = "CPFTA-PK-2026-118990", **changes: Any) -> CertificateAmended:
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "trade_id": issued.trade_id,
        "occurred_at": issued.occurred_at + dt.timedelta(days=1),
        "sender": issued.sender,
        "certificate_number": number,
        "supersedes_certificate_number": issued.certificate_number,
        "issuer": issued.issuer,
        "goods": issued.model_dump()["goods"],
        "reason": "gross weight corrected",
    }
    return CertificateAmended.model_validate({**fields, **changes})


def _revocation(issued: Any, **changes: Any) -> CertificateRevoked:
    fields: dict[str, Any] = {
        "event_id": uuid.uuid4(),
        "trade_id": issued.trade_id,
        "occurred_at": issued.occurred_at + dt.timedelta(days=2),
        "sender": issued.sender,
        "certificate_number": issued.certificate_number,
        "issuer": issued.issuer,
        "reason": "issued in error",
    }
    return CertificateRevoked.model_validate({**fields, **changes})


def test_certificate_closed_loop(chromite: list[TradeEvent]) -> None:
    issued, presented, verified, decided = _coo_events(chromite)
    state = apply(until(chromite, issued), issued)
    assert state.certificates[TDAP_COO].status == CertificateStatus.ISSUED
    assert state.certificates[TDAP_COO].valid_until == dt.date(2027, 3, 1)
    state = replay([presented], state)
    assert state is not None and state.certificates[TDAP_COO].status == CertificateStatus.PRESENTED
    state = apply(state, verified)
    assert state.certificates[TDAP_COO].status == CertificateStatus.VERIFIED
    state = apply(state, decided)
    assert state.certificates[TDAP_COO].status == CertificateStatus.PREFERENCE_GRANTED
    violation(state, again(decided), "already granted")
    violation(state, again(presented), "already granted")


def test_amendment_supersedes(chromite: list[TradeEvent]) -> None:
    issued, presented, _, _ = _coo_events(chromite)
    state = apply(until(chromite, issued), issued)
    amendment = _amendment(issued)
    state = apply(state, amendment)
    old, new = (
        state.certificates[TDAP_COO],
        state.certificates[certificate_key("tdap", "CPFTA-PK-2026-118990")],
    )
    assert old.status == CertificateStatus.SUPERSEDED and old.superseded_by == new.certificate_number
    assert new.status == CertificateStatus.ISSUED and new.supersedes == COO
    assert new.kind == old.kind and new.valid_until == old.valid_until and new.order_id == old.order_id
    violation(state, presented, f"certificate {COO} was superseded by CPFTA-PK-2026-118990")
    violation(state, _amendment(issued, "CPFTA-PK-2026-119000"), "superseded")
    state = apply(state, again(presented, certificate_number="CPFTA-PK-2026-118990"))
    assert (
        state.certificates[certificate_key("tdap", "CPFTA-PK-2026-118990")].status
        == CertificateStatus.PRESENTED
    )


def test_amendment_rules(chromite: list[TradeEvent]) -> None:
    issued = first(chromite, CertificateIssued, certificate_kind="CPFTA_ORIGIN")
    assay = first(chromite, CertificateIssued, certificate_kind="ASSAY")
    state = apply(until(chromite, issued), issued)
    violation(state, _amendment(issued, issuer=assay.issuer.model_dump()), "issued by tdap, not sgs-pakistan")
    # the amendment may bear a number SGS also used: numbers are unique per issuer only (ADR 0033)
    both = apply(state, _amendment(issued, assay.certificate_number))
    assert both.certificate("tdap", assay.certificate_number) is not None
    assert both.certificate("sgs-pakistan", assay.certificate_number) is not None
    violation(both, _amendment(issued, assay.certificate_number), "superseded")
    missing(state, _amendment(issued, supersedes_certificate_number="CPFTA-PK-2026-000001"), "not issued yet")


def test_revoked_certificates_cannot_be_used(chromite: list[TradeEvent]) -> None:
    issued, presented, verified, decided = _coo_events(chromite)
    state = apply(until(chromite, issued), issued)
    state = apply(state, _revocation(issued))
    assert state.certificates[TDAP_COO].status == CertificateStatus.REVOKED
    violation(state, presented, "was revoked", "issued in error")
    violation(state, _revocation(issued), "was revoked")
    violation(state, _amendment(issued), "was revoked")
    state_presented = replay([presented], until(chromite, presented))
    assert state_presented is not None
    revoked = apply(state_presented, _revocation(issued, occurred_at=presented.occurred_at))
    violation(revoked, verified, "was revoked")
    violation(revoked, decided, "was revoked")


def test_only_the_issuer_revokes(chromite: list[TradeEvent]) -> None:
    issued = first(chromite, CertificateIssued, certificate_kind="CPFTA_ORIGIN")
    assay = first(chromite, CertificateIssued, certificate_kind="ASSAY")
    state = apply(until(chromite, issued), issued)
    violation(state, _revocation(issued, issuer=assay.issuer.model_dump()), "was issued by tdap")


def test_expired_certificates(chromite: list[TradeEvent]) -> None:
    issued, presented, _, _ = _coo_events(chromite)
    short = again(issued, valid_until=dt.date(2026, 3, 10))
    state = apply(until(chromite, issued), short)
    cert = state.certificates[TDAP_COO]
    assert cert.effective_status(dt.date(2026, 3, 10)) == CertificateStatus.ISSUED
    assert cert.effective_status(dt.date(2026, 3, 11)) == CertificateStatus.EXPIRED
    violation(state, presented, "expired after 2026-03-10")
    granted = replay(chromite)
    assert granted is not None  # used before it expired: the decision stands, it does not "expire"
    assert (
        granted.certificates[TDAP_COO].effective_status(dt.date(2030, 1, 1))
        == CertificateStatus.PREFERENCE_GRANTED
    )


def test_verification_and_decision_need_the_presentation(chromite: list[TradeEvent]) -> None:
    issued, presented, verified, decided = _coo_events(chromite)
    state = apply(until(chromite, issued), issued)
    violation(state, verified, "never presented")
    violation(state, decided, "never presented")
    state = apply(state, presented)
    violation(state, again(verified, declaration_number="020220260009999"), "presented on declaration")
    violation(state, again(presented, declaration_number="020220260009999"), "already claimed")
    violation(state, decided, "never verified")
    not_matched = again(verified, result="NOT_MATCHED", mismatches=["gross weight"])
    state_nm = apply(state, not_matched)
    violation(state_nm, decided, "did not match")
    denied = apply(state_nm, again(decided, decision="DENIED", reason="box 9 weight differs"))
    assert denied.certificates[TDAP_COO].status == CertificateStatus.PREFERENCE_DENIED


def test_certificate_events_wait_for_the_certificate(chromite: list[TradeEvent]) -> None:
    issued, presented, verified, decided = _coo_events(chromite)
    state = until(chromite, issued)
    for event in (presented, verified, decided, _revocation(issued)):
        missing(state, event, f"certificate {COO} is not issued yet")
    violation(apply(state, issued), again(issued), "already issued")


# -- the trade across topics ---------------------------------------------------------------------------


def test_timeline_is_in_event_time_whatever_the_processing_order(chromite: list[TradeEvent]) -> None:
    orders = [e for e in chromite if e.topic == "trade.orders.v1"]
    others = [e for e in chromite if e.topic != "trade.orders.v1"]
    state = replay([*orders, *others])
    assert state is not None
    assert [t.event_id for t in state.timeline] == [
        e.event_id for e in sorted(chromite, key=lambda e: e.occurred_at)
    ]
    entry = state.timeline[0]
    assert (entry.type, entry.sender, entry.subject) == (
        "OrderPlaced",
        "tianjin-rongda-smelting",
        "order/TJRD-PO-2026-0117",
    )
    assert "5,000 TNE" in entry.summary and "FOB" in entry.summary


def _play(events: list[TradeEvent]) -> TradeState | None:
    """What the ledger does: apply; park what waits for something; retry the parked after each success."""
    state: TradeState | None = None
    parked: list[TradeEvent] = []
    for event in events:
        try:
            state = apply(state, event)
        except PrerequisiteMissing:
            parked.append(event)
            continue
        progress = True
        while progress and parked:
            progress = False
            for waiting in list(parked):
                try:
                    state = apply(state, waiting)
                except PrerequisiteMissing:
                    continue
                parked.remove(waiting)
                progress = True
    assert not parked, [type(e).__name__ for e in parked]
    return state


def _comparable(state: TradeState | None) -> dict[str, Any]:
    assert state is not None
    return state.model_dump(exclude={"timeline"})


@pytest.mark.parametrize("story", [chromite_story, explosives_story])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_interleaving_of_the_three_topics_ends_in_the_same_state(story: Any, data: st.DataObject) -> None:
    """Per-topic order holds (one partition per topic per trade); across topics anything goes."""
    events = story(trade_id=uuid.UUID(int=7)).events
    expected = replay(events)
    streams = {t: [e for e in events if e.topic == t] for t in {e.topic for e in events}}
    order = data.draw(st.permutations([t for t, s in streams.items() for _ in s]))
    cursors = dict.fromkeys(streams, 0)
    interleaved = []
    for topic in order:
        interleaved.append(streams[topic][cursors[topic]])
        cursors[topic] += 1
    assert _comparable(_play(interleaved)) == _comparable(expected)
