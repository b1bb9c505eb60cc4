"""Locations are compared as one UN/LOCODE per place (docs/domain.md §6, ADR 0026): a booking to CNSHG
and an arrival at CNSHA (both Shanghai) match. Pure: no Kafka, no PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from corridor.core.domain import reference
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import ShipmentBooked, TransportEventRecorded
from corridor.core.domain.lifecycle import LifecycleViolation, ShipmentStatus, apply, replay
from corridor.core.domain.validation import InvalidEvent, parse_event
from corridor.demo.story import chromite_story
from corridor.webhooks import subscriptions as subs

SHIPMENT = "IOL-KHI-TXG-26-0412"


def at(location: dict[str, Any], unlocode: str, name: str) -> dict[str, Any]:
    return {**location, "unlocode": unlocode, "name": name}


def like(event: TradeEvent, **changes: Any) -> Any:
    return type(event).model_validate({**event.model_dump(), "event_id": uuid.uuid4(), **changes})


@pytest.mark.parametrize(
    ("code", "canonical"),
    [("CNSHG", "CNSHA"), ("CNSGH", "CNSHA"), ("CNSHA", "CNSHA"), ("CNQDG", "CNTAO"), ("CNQIN", "CNTAO")],
)
def test_aliases_of_one_port_are_one_code(code: str, canonical: str) -> None:
    assert reference.canonical_locode(code) == canonical


def test_codes_without_an_alias_are_themselves() -> None:
    assert reference.canonical_locode("CNTXG") == "CNTXG"
    assert reference.canonical_locode("PKZSD") == "PKZSD"


def test_deployments_add_aliases_and_chains_resolve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORRIDOR_LOCODE_ALIASES", "pkzkj=PKZSD, XXAAA=CNSHG")
    assert reference.canonical_locode("PKZKJ") == "PKZSD"
    assert reference.canonical_locode("XXAAA") == "CNSHA"  # XXAAA → CNSHG → CNSHA
    monkeypatch.setenv("CORRIDOR_LOCODE_ALIASES", "AAAAA=BBBBB,BBBBB=AAAAA")  # a cycle ends, somewhere
    assert reference.canonical_locode("AAAAA") in {"AAAAA", "BBBBB"}


def _shanghai_trade() -> tuple[Any, TransportEventRecorded]:
    """The chromite story booked to Shanghai as CNSHG, up to its arrival (which it reports at CNSHA)."""
    events = chromite_story().events
    booking = next(e for e in events if isinstance(e, ShipmentBooked))
    arrival = next(
        e for e in events if isinstance(e, TransportEventRecorded) and e.transport_event_type.value == "ARRI"
    )
    to_shanghai = booking.model_copy(
        update={"place_of_discharge": booking.place_of_discharge.model_copy(update={"unlocode": "CNSHG"})}
    )
    before = [to_shanghai if e is booking else e for e in events[: events.index(arrival)]]
    state = replay(before)
    call = arrival.transport_call.model_dump()
    call["location"] = at(call["location"], "CNSHA", "Shanghai")
    return state, like(arrival, transport_call=call)


def test_a_booking_to_cnshg_and_an_arrival_at_cnsha_match() -> None:
    state, arrival = _shanghai_trade()
    assert state.shipments[SHIPMENT].status == ShipmentStatus.DEPARTED
    shipment = apply(state, arrival).shipments[SHIPMENT]
    assert shipment.place_of_discharge == "CNSHA"
    assert shipment.actual_arrival == arrival.occurred_at
    assert shipment.status == ShipmentStatus.ARRIVED
    # looked up under any of the port's codes, it is the same milestone
    assert shipment.milestone("ARRI", "CNSHG") is shipment.milestone("ARRI", "CNSHA") is not None


def test_a_second_actual_arrival_under_the_other_alias_is_the_same_milestone() -> None:
    state, arrival = _shanghai_trade()
    state = apply(state, arrival)
    call = arrival.transport_call.model_dump()
    call["location"] = at(call["location"], "CNSGH", "Shanghai")
    with pytest.raises(LifecycleViolation) as info:
        apply(state, like(arrival, transport_call=call))
    assert "second actual ARRI" in info.value.reason


def test_a_booking_between_two_codes_of_one_port_is_refused() -> None:
    booking = next(e for e in chromite_story().events if isinstance(e, ShipmentBooked))
    data = booking.model_dump(mode="json")
    data["place_of_loading"] = at(data["place_of_loading"], "CNSHA", "Shanghai")
    data["place_of_discharge"] = at(data["place_of_discharge"], "CNSHG", "Shanghai")
    data["incoterm"] = "CFR"
    with pytest.raises(InvalidEvent) as info:
        parse_event("ShipmentBooked", data)
    ((error,),) = [[e for e in info.value.errors if e.field == "place_of_discharge"]]
    assert "CNSHA and CNSHG are the same place" in error.reason


def test_a_webhook_filter_on_one_code_of_a_port_matches_events_at_another() -> None:
    _, arrival = _shanghai_trade()
    subscription = subs.Subscription(
        id=uuid.uuid4(),
        partner_id="tianjin-rongda-smelting",
        callback_url="https://erp.example.com/hooks",
        secret="s" * 20,
        filters=subs.Filters(location="CNSHG"),
    )
    assert subscription.matches(arrival)
    assert not subs.Subscription(
        id=uuid.uuid4(),
        partner_id="tianjin-rongda-smelting",
        callback_url="https://erp.example.com/hooks",
        secret="s" * 20,
        filters=subs.Filters(location="CNTXG"),
    ).matches(arrival)
