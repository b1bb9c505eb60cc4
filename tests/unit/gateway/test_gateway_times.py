"""The gateway holds an event's times to its clock (ADR 0026): estimates may lie far ahead, an actual and
a created_at may not. Pure: ``to_event`` with the clock passed in."""

from __future__ import annotations

import datetime as dt

import pytest

from corridor.core.domain.validation import InvalidEvent
from corridor.gateway.cloudevents import IncomingEvent, to_event
from tests.unit.gateway.gateway_samples import cast

TRANSPORT = "corridor.trade.shipments.TransportEventRecorded"
NOW = dt.datetime(2026, 12, 5, 2, 0, tzinfo=dt.UTC)
C = cast("t")


def departure(classifier: str, occurred_at: dt.datetime, **more: object) -> IncomingEvent:
    data = next(
        d
        for t, d in C.events
        if t == TRANSPORT and d["transport_event_type"] == "DEPA" and d["classifier"] == classifier
    )
    data = {**data, "occurred_at": occurred_at.isoformat(), **more}
    return IncomingEvent(data["event_id"], TRANSPORT, "/erp", data)


def test_an_eta_a_year_ahead_passes_the_gateway() -> None:
    event = to_event(departure("EST", NOW + dt.timedelta(days=365)), NOW)
    assert event.occurred_at == NOW + dt.timedelta(days=365)
    assert event.created_at is None  # set later by the gateway, after the idempotency digest


def test_an_actual_departure_tomorrow_is_a_422_naming_data_occurred_at() -> None:
    with pytest.raises(InvalidEvent) as caught:
        to_event(departure("ACT", NOW + dt.timedelta(days=1)), NOW)
    ((error,),) = [caught.value.errors]
    assert error.field == "data.occurred_at" and "actual (ACT) DEPA" in error.reason


def test_a_created_at_ahead_of_the_clock_is_a_422_naming_data_created_at() -> None:
    ahead = (NOW + dt.timedelta(hours=2)).isoformat()
    with pytest.raises(InvalidEvent) as caught:
        to_event(departure("EST", NOW + dt.timedelta(days=3), created_at=ahead), NOW)
    assert [e.field for e in caught.value.errors] == ["data.created_at"]


def test_the_skew_is_the_gateways_setting() -> None:
    soon = departure("ACT", NOW + dt.timedelta(minutes=2))
    assert to_event(soon, NOW).occurred_at == NOW + dt.timedelta(minutes=2)  # within the default 5 min
    with pytest.raises(InvalidEvent):
        to_event(soon, NOW, dt.timedelta(seconds=30))
