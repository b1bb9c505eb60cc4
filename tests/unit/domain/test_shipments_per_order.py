"""Several shipments per order, bulk cargo and the road over Khunjerab (issue 18 items 3 and 5, ADR 0029).

Every rule of ``lifecycle.shipment`` and ``lifecycle.quantities`` added for them, and the cross-field rules
of bookings and transport events. Pure: no Kafka, no PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import (
    EquipmentEventRecorded,
    InvoiceIssued,
    ShipmentBooked,
    ShipmentDelivered,
    TransportEventRecorded,
)
from corridor.core.domain.lifecycle import (
    LifecycleViolation,
    OrderStatus,
    PrerequisiteMissing,
    TradeState,
    apply,
    quantities,
    replay,
)
from corridor.demo.story import chromite_story, explosives_story

FIRST, SECOND = "IOL-KHI-TXG-26-0412", "IOL-KHI-TXG-26-0438"
TRUCKS = "NLC-SST-KHG-26-0107"


def like(event: TradeEvent, **changes: Any) -> Any:
    """A new event (new id) like ``event`` with ``changes``."""
    return type(event).model_validate({**event.model_dump(), "event_id": uuid.uuid4(), **changes})


def first(events: list[TradeEvent], cls: type[TradeEvent], **match: Any) -> Any:
    return next(
        e
        for e in events
        if isinstance(e, cls) and all(str(getattr(e, k)) == str(v) for k, v in match.items())
    )


def until(events: list[TradeEvent], stop: TradeEvent) -> TradeState:
    state = replay(events[: events.index(stop)])
    assert state is not None
    return state


def tonnes(value: str) -> dict[str, Any]:
    return {"value": Decimal(value), "unit": "TNE"}


@pytest.fixture(scope="module")
def chromite() -> list[TradeEvent]:
    return chromite_story(trade_id=uuid.UUID(int=18)).events


@pytest.fixture(scope="module")
def explosives() -> list[TradeEvent]:
    return explosives_story(trade_id=uuid.UUID(int=19)).events


# -- vehicles of one shipment ----------------------------------------------------------------------------


def test_a_second_trucks_departure_from_sost_is_its_own_milestone(explosives: list[TradeEvent]) -> None:
    departures = [
        e for e in explosives if isinstance(e, TransportEventRecorded) and e.transport_event_type == "DEPA"
    ]
    state = replay(explosives[: explosives.index(departures[1]) + 1])
    assert state is not None
    shipment = state.shipments[TRUCKS]
    assert shipment.actual_departure == departures[0].occurred_at  # the first truck's
    assert {k for k in shipment.milestones if k.startswith("DEPA@")} == {
        "DEPA@PKZSD!LEB-4471",
        "DEPA@PKZSD!LEB-4472",
    }
    # the same truck departing twice is still a second actual departure
    with pytest.raises(LifecycleViolation, match="second actual DEPA at PKZSD by LEB-4472"):
        apply(state, like(departures[1], occurred_at=departures[1].occurred_at + dt.timedelta(hours=1)))


def test_the_border_crossing_is_a_milestone_of_each_truck(explosives: list[TradeEvent]) -> None:
    state = replay(explosives)
    assert state is not None
    crossings = state.shipments[TRUCKS].border_crossings
    assert [(m.location, m.event_type, m.facility_type) for m in crossings] == [("CNKJP", "ARRI", "BOCR")] * 3
    assert [m.vehicle_reference for m in crossings] == ["LEB-4471", "LEB-4472", "LEB-4473"]
    assert all(m.actual is not None for m in crossings)


# -- the booking against the order ------------------------------------------------------------------------


def test_a_booking_must_carry_the_orders_incoterm_and_mode(chromite: list[TradeEvent]) -> None:
    booking = first(chromite, ShipmentBooked)
    state = until(chromite, booking)
    with pytest.raises(
        LifecycleViolation, match=r"booking-incoterm: .* booked CIF, but order .* is FOB PKKHI"
    ):
        apply(state, like(booking, incoterm="CIF"))
    explosives = explosives_story().events
    road = first(explosives, ShipmentBooked)
    with pytest.raises(LifecycleViolation, match=r"booking-mode: .* by RAIL, but order .* ships by ROAD"):
        apply(until(explosives, road), like(road, transport_mode="RAIL"))
    with pytest.raises(
        LifecycleViolation, match=r"booking-incoterm: .* booked DAP, but order .* is CPT CNKSS"
    ):
        apply(until(explosives, road), like(road, incoterm="DAP"))


def test_allocations_name_the_orders_lines_in_their_units_within_tolerance(
    chromite: list[TradeEvent],
) -> None:
    booking = first(chromite, ShipmentBooked)
    state = until(chromite, booking)
    with pytest.raises(LifecycleViolation, match=r"allocation-line: .* line 2, which order .* does not have"):
        apply(state, like(booking, allocations=[{"line_number": 2, "quantity": tonnes("100")}]))
    with pytest.raises(
        LifecycleViolation, match=r"allocation-unit: .* in KGM, but the line is ordered in TNE"
    ):
        apply(state, like(booking, allocations=[{"line_number": 1, "quantity": {"value": 5, "unit": "KGM"}}]))
    # 5,500 TNE ordered ±10 %: up to 6,050 TNE may be booked in all
    state = apply(state, like(booking, allocations=[{"line_number": 1, "quantity": tonnes("6000")}]))
    with pytest.raises(LifecycleViolation, match=r"allocation-within-order: .* to 6,100 TNE booked"):
        apply(
            state,
            like(booking, shipment_id="X-2", allocations=[{"line_number": 1, "quantity": tonnes("100")}]),
        )
    assert apply(
        state, like(booking, shipment_id="X-2", allocations=[{"line_number": 1, "quantity": tonnes("50")}])
    )


def test_all_bookings_of_an_order_allocate_or_none_do(chromite: list[TradeEvent]) -> None:
    booking = first(chromite, ShipmentBooked)
    state = apply(until(chromite, booking), booking)
    with pytest.raises(LifecycleViolation, match=r"allocation-all-or-none: .* allocates no order lines"):
        apply(state, like(booking, shipment_id="X-2", allocations=[]))
    whole = apply(until(chromite, booking), like(booking, allocations=[]))
    with pytest.raises(
        LifecycleViolation, match=r"allocation-all-or-none: .* the order's earlier bookings carry"
    ):
        apply(whole, like(booking, shipment_id="X-2"))


# -- bulk cargo ----------------------------------------------------------------------------------------------


def test_a_container_event_on_bulk_cargo_is_refused(chromite: list[TradeEvent]) -> None:
    booking = first(chromite, ShipmentBooked)
    state = apply(until(chromite, booking), booking)
    gate_in = EquipmentEventRecorded(
        event_id=uuid.uuid4(),
        trade_id=booking.trade_id,
        occurred_at=booking.occurred_at + dt.timedelta(days=2),
        sender=booking.sender,
        shipment_id=FIRST,
        equipment_event_type="GTIN",
        classifier="ACT",
        location=booking.place_of_loading,
    )
    with pytest.raises(LifecycleViolation, match=r"bulk-no-equipment: GTIN at PKKHI on shipment .* DRY_BULK"):
        apply(state, gate_in)
    containers = apply(until(chromite, booking), like(booking, cargo_type="CONTAINERISED"))
    assert (
        apply(containers, gate_in).shipments[FIRST].milestones
    )  # a container event where there are containers
    nor = first(chromite, TransportEventRecorded, transport_event_type="NOR_TENDERED")
    with pytest.raises(LifecycleViolation, match=r"bulk-milestone: .* booked as CONTAINERISED cargo"):
        apply(containers, nor)


def test_the_final_draft_survey_is_the_quantity_shipped(chromite: list[TradeEvent]) -> None:
    survey = first(chromite, TransportEventRecorded, transport_event_type="FINAL_DRAFT_SURVEY")
    state = apply(until(chromite, survey), survey)
    shipment = state.shipments[FIRST]
    assert quantities.allocated(shipment) == {"TNE": Decimal("2750.000")}
    assert quantities.shipped(shipment) == {"TNE": Decimal("2751.300")}
    before = until(chromite, survey).shipments[FIRST]
    assert quantities.shipped(before) == {"TNE": Decimal("2750.000")}  # no survey yet: what was allocated


# -- deliveries --------------------------------------------------------------------------------------------


def test_a_delivery_before_the_departure_is_held_and_one_timed_before_it_refused(
    chromite: list[TradeEvent],
) -> None:
    departure = first(chromite, TransportEventRecorded, transport_event_type="DEPA", classifier="ACT")
    state = until(chromite, departure)
    delivery = first(chromite, ShipmentDelivered)
    with pytest.raises(
        PrerequisiteMissing, match=f"delivery-after-departure: shipment {FIRST} .* not departed"
    ):
        apply(state, delivery)
    state = apply(state, departure)
    early = like(delivery, occurred_at=departure.occurred_at - dt.timedelta(hours=1))
    with pytest.raises(LifecycleViolation, match=r"delivery-after-departure: .* before it departed"):
        apply(state, early)


def test_short_landing_is_named_for_the_shipment_and_the_order(chromite: list[TradeEvent]) -> None:
    state = replay(chromite)
    assert state is not None
    assert state.shipments[FIRST].quantity_finding == "short landed 2.7 TNE of 2,751.3 TNE shipped"
    found = quantities.order_quantity(state)
    assert found is not None and found.within_tolerance
    assert found.finding == "delivered within tolerance: 5,498.7 of 5,500 TNE ordered"


def _deliveries(chromite: list[TradeEvent], first_tonnes: str, second_tonnes: str) -> TradeState:
    """The chromite trade with the two deliveries weighing ``first_tonnes`` and ``second_tonnes``."""
    state: TradeState | None = None
    received = {FIRST: first_tonnes, SECOND: second_tonnes}
    for event in chromite:
        if isinstance(event, ShipmentDelivered):
            event = like(event, received_quantity=tonnes(received[event.shipment_id]))
        state = apply(state, event)
    assert state is not None
    return state


def test_over_delivery_within_tolerance_closes_the_order(chromite: list[TradeEvent]) -> None:
    state = _deliveries(chromite, "2900", "3000")
    assert state.shipments[SECOND].quantity_finding == "over-landed 238.9 TNE over 2,761.1 TNE shipped"
    found = quantities.order_quantity(state)
    assert found is not None and found.finding == (
        "over-delivered within tolerance: 5,900 of 5,500 TNE ordered (at most 6,050 within tolerance)"
    )
    assert state.order is not None and state.order.status == OrderStatus.CLOSED


def test_beyond_tolerance_the_final_invoice_does_not_close_the_order(chromite: list[TradeEvent]) -> None:
    over = _deliveries(chromite, "3100", "3000")
    assert over.order is not None and over.order.status == OrderStatus.INVOICED
    assert (
        "over-delivered beyond tolerance: 6,100 of 5,500 TNE ordered (at most 6,050 within"
        in over.timeline[-2].summary
    )
    short = _deliveries(chromite, "2400", "2500")
    assert short.order is not None and short.order.status == OrderStatus.INVOICED
    found = quantities.order_quantity(short)
    assert found is not None and found.finding == (
        "short delivered: 4,900 of 5,500 TNE ordered (at least 4,950 within tolerance)"
    )


def test_the_order_closes_when_its_last_partial_shipment_is_delivered(chromite: list[TradeEvent]) -> None:
    """Short delivered after two vessels: a third shipment makes up the balance and closes the order."""
    short = _deliveries(chromite, "2400", "2500")
    booking = first(chromite, ShipmentBooked)
    departure = first(chromite, TransportEventRecorded, transport_event_type="DEPA", classifier="ACT")
    delivery = first(chromite, ShipmentDelivered)
    final = first(chromite, InvoiceIssued, invoice_kind="FINAL")
    later = final.occurred_at + dt.timedelta(days=1)
    third = "IOL-KHI-TXG-26-0470"
    state = apply(
        short,
        like(
            booking,
            shipment_id=third,
            occurred_at=later,
            allocations=[{"line_number": 1, "quantity": tonnes("300")}],
        ),
    )
    state = apply(state, like(departure, shipment_id=third, occurred_at=later + dt.timedelta(days=2)))
    assert state.order is not None and state.order.status == OrderStatus.INVOICED
    state = apply(
        state,
        like(
            delivery,
            shipment_id=third,
            occurred_at=later + dt.timedelta(days=20),
            received_quantity=tonnes("300"),
        ),
    )
    assert state.order is not None and state.order.status == OrderStatus.CLOSED
    assert state.timeline[-1].summary.endswith(
        "order: delivered within tolerance: 5,200 of 5,500 TNE ordered"
    )


def test_trades_booked_without_allocations_close_as_before(chromite: list[TradeEvent]) -> None:
    """Every shipment delivered and a final invoice, whatever the weights: the rule they were stored under."""
    events = [like(e, allocations=[]) if isinstance(e, ShipmentBooked) else e for e in chromite]
    state: TradeState | None = None
    for event in events:
        if isinstance(event, ShipmentDelivered):
            event = like(event, received_quantity=tonnes("10"))
        state = apply(state, event)
    assert state is not None and state.order is not None and state.order.status == OrderStatus.CLOSED
    assert not quantities.allocates(state)


# -- cross-field rules of one event ------------------------------------------------------------------------


def _rule_errors(event: TradeEvent, **changes: Any) -> list[str]:
    with pytest.raises(ValidationError) as info:
        like(event, **changes)
    return [str(e["msg"]) for e in info.value.errors()]


def test_booking_rules(explosives: list[TradeEvent]) -> None:
    booking = first(explosives, ShipmentBooked)
    line = {"line_number": 1, "quantity": tonnes("100")}
    (twice,) = _rule_errors(booking, allocations=[line, line])
    assert "each order line is allocated once per shipment" in twice
    (zero,) = _rule_errors(booking, allocations=[{"line_number": 1, "quantity": tonnes("0")}])
    assert "an allocated quantity is more than zero" in zero
    (bulk,) = _rule_errors(booking, cargo_type="DRY_BULK")
    assert "DRY_BULK cargo travels loose in the hold, without containers" in bulk
    assert like(booking, cargo_type="DRY_BULK", equipment_references=[])


def test_transport_event_rules(chromite: list[TradeEvent]) -> None:
    survey = first(chromite, TransportEventRecorded, transport_event_type="FINAL_DRAFT_SURVEY")
    departure = first(chromite, TransportEventRecorded, transport_event_type="DEPA", classifier="ACT")
    (on_departure,) = _rule_errors(departure, cargo_quantity=tonnes("1"))
    assert "only a draft survey establishes a cargo quantity, not DEPA" in on_departure
    (no_quantity,) = _rule_errors(survey, cargo_quantity=None)
    assert "an actual FINAL_DRAFT_SURVEY states the cargo quantity" in no_quantity
    assert like(survey, cargo_quantity=None, classifier="EST")  # a planned survey has no result yet
    truck = {**survey.transport_call.model_dump(), "mode_of_transport": "TRUCK"}
    (by_truck,) = _rule_errors(survey, transport_call=truck)
    assert "FINAL_DRAFT_SURVEY is a bulk milestone of a vessel or barge, not a TRUCK" in by_truck
