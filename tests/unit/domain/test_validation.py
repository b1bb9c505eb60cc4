"""Errors come back per field, with rule violations expanded to the field they concern."""

from __future__ import annotations

import pytest

from corridor.core.domain.validation import FieldError, InvalidEvent, parse_event
from corridor.demo.story import explosives_story


def test_parse_event_lists_every_bad_field() -> None:
    booking = next(e for e in explosives_story().events if e.avro_name.endswith("ShipmentBooked"))
    data = booking.model_dump(mode="json")
    data["incoterm"] = "FOB"
    data["place_of_loading"]["unlocode"] = "PK-KHI"
    data["un_numbers"] = ["0241"]
    with pytest.raises(InvalidEvent) as exc:
        parse_event("ShipmentBooked", data)
    fields = {e.field for e in exc.value.errors}
    assert fields == {
        "place_of_loading.unlocode",
        "un_numbers",
    }  # field errors first; rules need a valid shape
    data["place_of_loading"]["unlocode"] = "PKZSD"
    data["un_numbers"] = ["UN0241"]
    with pytest.raises(InvalidEvent) as exc:
        parse_event("corridor.trade.shipments.ShipmentBooked", data)
    assert exc.value.errors == [
        FieldError("incoterm", exc.value.errors[0].reason),
    ]
    assert "sea-only" in exc.value.errors[0].reason
    assert str(exc.value).startswith("invalid corridor.trade.shipments.ShipmentBooked: incoterm: FOB")


def test_json_input_round_trips_to_the_same_event() -> None:
    for event in explosives_story().events:
        assert parse_event(event.avro_name, event.model_dump(mode="json")) == event


def test_unknown_type() -> None:
    with pytest.raises(InvalidEvent) as exc:
        parse_event("OrderTeleported", {})
    assert exc.value.errors[0].field == "type"
