"""Cross-field rules: an invalid event cannot even be built, and the error names field and reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from corridor.core.domain.events import OrderPlaced, OrderResponded, PreferenceDecided, ShipmentBooked
from corridor.demo.story import chromite_story, explosives_story


def _data(event: Any, **changes: Any) -> dict[str, Any]:
    data = event.model_dump()
    data.update(changes)
    return data


def _errors(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return "\n".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.value.errors())


def test_both_stories_are_valid() -> None:
    assert len(chromite_story().events) == 40  # 6 admissions, 2 letter-of-credit events; two vessels
    # 4 of them admissions; three trucks, three CMRs; TDAP's CPFTA certificate
    assert len(explosives_story().events) == 23


def test_sea_only_incoterm_on_a_road_shipment_is_refused() -> None:
    booking = next(e for e in explosives_story().events if isinstance(e, ShipmentBooked))
    with pytest.raises(ValidationError) as exc:
        ShipmentBooked.model_validate(_data(booking, incoterm="FOB"))
    assert "incoterm: FOB is a sea-only Incoterm" in _errors(exc)
    assert "ROAD shipment" in _errors(exc)


def test_sea_only_incoterm_on_a_road_order_is_refused() -> None:
    order = next(e for e in explosives_story().events if isinstance(e, OrderPlaced))
    with pytest.raises(ValidationError) as exc:
        OrderPlaced.model_validate(_data(order, incoterm="CIF"))
    assert "incoterm: CIF is a sea-only Incoterm" in _errors(exc)


def test_explosives_need_both_licences() -> None:
    order = next(e for e in explosives_story().events if isinstance(e, OrderPlaced))
    with pytest.raises(ValidationError) as exc:
        OrderPlaced.model_validate(_data(order, required_certificates=["EXPLOSIVES_EXPORT_LICENCE"]))
    assert "EXPLOSIVES_IMPORT_APPROVAL" in _errors(exc)


def test_field_level_errors_name_the_nested_field() -> None:
    order = chromite_story().events[0]
    data = _data(order)
    data["lines"][0]["hs_code"] = "2610.00"
    data["lines"][0]["unit_price"]["amount"] = Decimal("-1")
    data["buyer"]["legal_id"] = "91120116MA05K7QX3Z"
    data["incoterm_place"]["unlocode"] = "XXKHI"
    with pytest.raises(ValidationError) as exc:
        OrderPlaced.model_validate(data)
    text = _errors(exc)
    assert "lines.0.hs_code: " in text and "6-digit HS 2022" in text
    assert "lines.0.unit_price.amount: " in text and "must not be negative" in text
    assert "incoterm_place.unlocode: " in text


def test_uscc_check_character_is_enforced_on_parties() -> None:
    order = chromite_story().events[0]
    data = _data(order)
    data["buyer"]["legal_id"] = data["buyer"]["legal_id"][:17] + (
        "0" if data["buyer"]["legal_id"][17] != "0" else "1"
    )
    with pytest.raises(ValidationError) as exc:
        OrderPlaced.model_validate(data)
    assert "buyer.legal_id: USCC check character" in _errors(exc)


def test_naive_and_out_of_range_timestamps_are_refused() -> None:
    order = chromite_story().events[0]
    for bad, reason in (
        (dt.datetime(2026, 3, 1, 9, 0), "UTC offset"),
        (dt.datetime(1960, 1, 1, tzinfo=dt.UTC), "2000"),
    ):
        with pytest.raises(ValidationError) as exc:
            OrderPlaced.model_validate(_data(order, occurred_at=bad))
        assert reason in _errors(exc)


def test_timestamps_are_normalised_to_utc_milliseconds() -> None:
    order = chromite_story().events[0]
    pkt = dt.timezone(dt.timedelta(hours=5))
    event = OrderPlaced.model_validate(
        _data(order, occurred_at=dt.datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=pkt))
    )
    assert event.occurred_at == dt.datetime(2026, 3, 1, 4, 0, 0, 123000, tzinfo=dt.UTC)


def test_too_many_decimal_places_and_unknown_enum_symbols_are_refused() -> None:
    order = chromite_story().events[0]
    data = _data(order, incoterm="FOBX")
    data["lines"][0]["unit_price"]["amount"] = Decimal("285.50001")
    with pytest.raises(ValidationError) as exc:
        OrderPlaced.model_validate(data)
    text = _errors(exc)
    assert "incoterm: Input should be 'EXW'" in text
    assert "lines.0.unit_price.amount: Decimal input should have no more than 4 decimal places" in text


def test_response_rules() -> None:
    response = chromite_story().events[1]
    with pytest.raises(ValidationError) as exc:
        OrderResponded.model_validate(_data(response, response="REJECTED"))
    assert "reason: a rejection must give its reason" in _errors(exc)
    with pytest.raises(ValidationError) as exc:
        OrderResponded.model_validate(_data(response, response="ACCEPTED_WITH_AMENDMENT"))
    assert "counter_lines: at least one line" in _errors(exc)


def test_preference_denied_needs_a_reason() -> None:
    decided = next(e for e in chromite_story().events if isinstance(e, PreferenceDecided))
    with pytest.raises(ValidationError) as exc:
        PreferenceDecided.model_validate(_data(decided, decision="DENIED"))
    assert "reason: a denial must give its reason" in _errors(exc)


def test_unknown_fields_are_refused() -> None:
    order = chromite_story().events[0]
    with pytest.raises(ValidationError) as exc:
        OrderPlaced.model_validate(_data(order, colour="red"))
    assert "colour: Extra inputs are not permitted" in _errors(exc)


def test_the_stories_traders_carry_their_customs_registrations() -> None:
    order = chromite_story().events[0]
    assert isinstance(order, OrderPlaced)
    assert [(r.scheme, r.value) for r in order.supplier.registrations] == [("STRN", "24-00-4271-931-56")]
    assert [(r.scheme, r.value) for r in order.buyer.registrations] == [("CN_CUSTOMS_CODE", "1201961234")]


def test_registrations_are_checked_by_scheme_and_country() -> None:
    order = chromite_story().events[0]
    data = _data(order)
    data["supplier"]["registrations"] = [
        {"scheme": "STRN", "value": "4271931-6"},  # an NTN written where the STRN belongs
        {"scheme": "CN_CUSTOMS_CODE", "value": "1201961234"},  # a Chinese registration on a PK party
    ]
    data["buyer"]["registrations"] = [
        {"scheme": "CN_CUSTOMS_CODE", "value": "1201961234"},
        {"scheme": "CN_CUSTOMS_CODE", "value": "1201961234"},
    ]
    with pytest.raises(ValidationError) as exc:
        OrderPlaced.model_validate(data)
    text = _errors(exc)
    assert "supplier.registrations[0].value: a Pakistan STRN is 13 digits" in text
    assert "supplier.registrations[1].scheme: CN_CUSTOMS_CODE is issued in CN" in text
    assert "buyer.registrations[1].value: CN_CUSTOMS_CODE 1201961234 is given twice" in text
    assert "buyer.registrations[0]" not in text


def test_a_party_without_registrations_is_still_valid() -> None:
    order = chromite_story().events[0]
    data = _data(order)
    del data["supplier"]["registrations"]
    assert OrderPlaced.model_validate(data).supplier.registrations is None
