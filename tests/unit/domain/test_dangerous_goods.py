"""Dangerous goods on order lines and bookings, and licence terms (ADR 0034): formats, the Class 1 table,
the cross-field rules, and which of them hold only for events taken in."""

from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from corridor.core.domain import dangerous_goods
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import CertificateIssued, OrderPlaced, ShipmentBooked
from corridor.core.domain.validation import InvalidEvent, parse_event
from corridor.demo.story import chromite_story, explosives_story


def _data(cls: type[TradeEvent], story: str = "explosives", **where: Any) -> dict[str, Any]:
    events = (explosives_story if story == "explosives" else chromite_story)().events
    event = next(
        e for e in events if isinstance(e, cls) and all(str(getattr(e, k)) == v for k, v in where.items())
    )
    return copy.deepcopy(event.model_dump(mode="json"))


def _errors(event_type: str, data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidEvent) as info:
        parse_event(event_type, data)
    return {e.field: e.reason for e in info.value.errors}


# -- classification and the table ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", ["1.1D", "1.1B", "1.2D", "1.3G", "1.4S", "1.4B", "1.5D", "1.6N", "5.1", "9"]
)
def test_published_classifications_are_accepted(value: str) -> None:
    assert dangerous_goods.check_classification(value) is None


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("1.5B", "not one of division 1.5 (D)"),  # 1.5 is very insensitive substances with a mass hazard: D
        ("1.4A", "not one of division 1.4"),  # A (primary explosive substance) is 1.1 only
        ("1.6D", "not one of division 1.6 (N)"),
        ("1.1S", "not one of division 1.1"),  # S only in 1.4
        ("1.7D", "division and the compatibility group"),
        ("1.1", "division and the compatibility group"),
        ("1.1d", "division and the compatibility group"),
        ("5.3", "a class or division"),
        ("10", "a class or division"),
    ],
)
def test_impossible_classifications_are_refused(value: str, says: str) -> None:
    reason = dangerous_goods.check_classification(value)
    assert reason is not None and says in reason


@pytest.mark.parametrize(
    ("un", "classification", "name"),
    [
        ("UN0241", "1.1D", "EXPLOSIVE, BLASTING, TYPE E"),  # emulsions
        ("UN0332", "1.5D", "EXPLOSIVE, BLASTING, TYPE E"),  # the same, as a very insensitive substance
        ("UN0082", "1.1D", "EXPLOSIVE, BLASTING, TYPE B"),  # ANFO
        ("UN0331", "1.5D", "EXPLOSIVE, BLASTING, TYPE B"),
        ("UN0029", "1.1B", "DETONATORS, NON-ELECTRIC for blasting"),
        ("UN0360", "1.1B", "DETONATOR ASSEMBLIES, NON-ELECTRIC for blasting"),
        ("UN0456", "1.4S", "DETONATORS, ELECTRIC for blasting"),
        ("UN0065", "1.1D", "CORD, DETONATING, flexible"),
        ("UN0042", "1.1D", "BOOSTERS without detonator"),
    ],
)
def test_the_table_holds_the_published_entries(un: str, classification: str, name: str) -> None:
    entry = dangerous_goods.class1_entries()[un]
    assert (entry.classification, entry.proper_shipping_name) == (classification, name)
    assert dangerous_goods.check_classification(entry.classification) is None


def test_every_table_entry_is_a_class_1_classification_its_division_admits() -> None:
    entries = dangerous_goods.class1_entries()
    assert len(entries) >= 30
    for un, entry in entries.items():
        assert dangerous_goods.is_class1(un), un
        assert dangerous_goods.check_classification(entry.classification) is None, un


def test_lower_case_words_are_description_not_name() -> None:
    entry = dangerous_goods.class1_entries()["UN0456"]
    assert entry.name_proper == "DETONATORS, ELECTRIC"


# -- order lines ----------------------------------------------------------------------------------------


def test_the_story_line_is_accepted() -> None:
    parse_event("OrderPlaced", _data(OrderPlaced))


def test_explosives_without_dangerous_goods_data_are_refused_naming_the_field() -> None:
    data = _data(OrderPlaced)
    data["lines"][0]["dangerous_goods"] = None
    errors = _errors("OrderPlaced", data)
    assert list(errors) == ["lines[0].dangerous_goods"]
    assert "explosives" in errors["lines[0].dangerous_goods"]


def test_hs_3602_without_a_un_number_still_needs_dangerous_goods_data() -> None:
    data = _data(OrderPlaced)
    data["lines"][0]["un_number"] = None
    data["lines"][0]["dangerous_goods"] = None
    assert list(_errors("OrderPlaced", data)) == ["lines[0].dangerous_goods"]


def test_an_order_accepted_before_dangerous_goods_existed_still_decodes() -> None:
    """The requirement holds on intake only: a record taken in before it is still read (ADR 0034)."""
    data = _data(OrderPlaced)
    data["lines"][0]["dangerous_goods"] = None
    assert OrderPlaced.model_validate(data).lines[0].dangerous_goods is None


def test_goods_that_are_not_dangerous_need_no_dangerous_goods_data() -> None:
    parse_event("OrderPlaced", _data(OrderPlaced, "chromite"))


@pytest.mark.parametrize(
    ("change", "field", "says"),
    [
        ({"classification": "1.5D"}, "classification", "classified 1.1D"),
        ({"classification": "1.5B"}, "classification", "not one of division 1.5"),
        ({"classification": "5.1"}, "classification", "not a Class 1 classification"),
        ({"proper_shipping_name": "EMULSION"}, "proper_shipping_name", "EXPLOSIVE, BLASTING, TYPE E"),
        ({"net_explosive_mass_kg": None}, "net_explosive_mass_kg", "required for Class 1"),
        ({"net_explosive_mass_kg": "0.000"}, "net_explosive_mass_kg", "above zero"),
        ({"packages": None}, "packages", "required for Class 1"),
        ({"packages": {"count": 8000, "kind": "ZZZ"}}, "packages.kind", "Rec 21"),
        ({"packages": {"count": 0, "kind": "CT"}}, "packages.count", ""),
    ],
)
def test_each_particular_is_checked(change: dict[str, Any], field: str, says: str) -> None:
    data = _data(OrderPlaced)
    data["lines"][0]["dangerous_goods"].update(change)
    errors = _errors("OrderPlaced", data)
    assert f"lines[0].dangerous_goods.{field}" in errors, errors
    assert says in errors[f"lines[0].dangerous_goods.{field}"]


def test_the_name_is_matched_without_case_or_descriptive_words() -> None:
    data = _data(OrderPlaced)
    data["lines"][0]["dangerous_goods"]["proper_shipping_name"] = "explosive, blasting, type e"
    parse_event("OrderPlaced", data)


def test_the_line_and_its_particulars_name_one_un_number() -> None:
    data = _data(OrderPlaced)
    data["lines"][0]["un_number"] = "UN0332"
    errors = _errors("OrderPlaced", data)
    assert "must be UN0241" in errors["lines[0].un_number"]


def test_a_class_1_un_number_outside_the_table_is_held_to_the_format_only() -> None:
    data = _data(OrderPlaced)
    line = data["lines"][0]
    line["un_number"] = "UN0081"
    line["dangerous_goods"].update(un_number="UN0081", proper_shipping_name="EXPLOSIVE, BLASTING, TYPE A")
    parse_event("OrderPlaced", data)  # in the table, 1.1D
    line["un_number"] = line["dangerous_goods"]["un_number"] = "UN0333"  # fireworks 1.1G: not in the table
    line["dangerous_goods"].update(classification="1.1G", proper_shipping_name="FIREWORKS")
    parse_event("OrderPlaced", data)


# -- bookings -------------------------------------------------------------------------------------------


def test_the_story_booking_is_accepted() -> None:
    parse_event("ShipmentBooked", _data(ShipmentBooked))


def test_a_booking_of_explosives_names_its_licences() -> None:
    data = _data(ShipmentBooked)
    data["licences"] = []
    assert list(_errors("ShipmentBooked", data)) == ["licences"]


def test_a_carried_un_number_is_declared() -> None:
    data = _data(ShipmentBooked)
    data["dangerous_goods"] = []
    data["dangerous_goods_declaration"] = None
    errors = _errors("ShipmentBooked", data)
    assert list(errors) == ["un_numbers[0]"]
    assert "not declared in dangerous_goods" in errors["un_numbers[0]"]


def test_a_booking_accepted_before_dangerous_goods_existed_still_decodes() -> None:
    data = _data(ShipmentBooked)
    data.update(dangerous_goods=[], dangerous_goods_declaration=None, licences=[])
    assert ShipmentBooked.model_validate(data).un_numbers == ["UN0241"]


def test_declared_dangerous_goods_need_their_declaration_and_un_numbers() -> None:
    data = _data(ShipmentBooked)
    data["dangerous_goods_declaration"] = None
    data["un_numbers"] = []
    errors = _errors("ShipmentBooked", data)
    assert set(errors) == {"dangerous_goods_declaration", "un_numbers"}
    assert "UN0241" in errors["un_numbers"]


def test_a_booking_names_each_licence_once() -> None:
    data = _data(ShipmentBooked)
    data["licences"].append(data["licences"][0])
    assert "once" in _errors("ShipmentBooked", data)["licences"]


# -- licence terms --------------------------------------------------------------------------------------


def _licence(kind: str = "EXPLOSIVES_EXPORT_LICENCE") -> dict[str, Any]:
    return _data(CertificateIssued, certificate_kind=kind)


def test_the_story_licences_are_accepted() -> None:
    for kind in ("EXPLOSIVES_EXPORT_LICENCE", "EXPLOSIVES_IMPORT_APPROVAL"):
        assert parse_event("CertificateIssued", _licence(kind)).licence is not None  # type: ignore[attr-defined]


def test_only_a_licence_carries_terms() -> None:
    data = _licence()
    data["certificate_kind"] = "NON_PREFERENTIAL_ORIGIN"
    assert "only an explosives licence" in _errors("CertificateIssued", data)["licence"]


def test_the_holder_is_the_licensed_party() -> None:
    export = _licence()
    export["licence"]["holder"] = export["consignee"]
    assert "exporter" in _errors("CertificateIssued", export)["licence.holder.party_id"]
    approval = _licence("EXPLOSIVES_IMPORT_APPROVAL")
    approval["licence"]["holder"] = approval["exporter"]
    assert "consignee" in _errors("CertificateIssued", approval)["licence.holder.party_id"]


def test_a_licence_has_a_validity() -> None:
    data = _licence()
    data["valid_until"] = None
    assert "last day" in _errors("CertificateIssued", data)["valid_until"]
    data = _licence()
    data["licence"]["valid_from"] = (
        dt.date.fromisoformat(data["valid_until"]) + dt.timedelta(days=1)
    ).isoformat()
    assert "must not be after" in _errors("CertificateIssued", data)["licence.valid_from"]


def test_a_licence_authorises_something_once() -> None:
    data = _licence()
    data["licence"]["authorised"] = []
    assert "at least one" in _errors("CertificateIssued", data)["licence.authorised"]
    data = _licence()
    entry = data["licence"]["authorised"][0]
    data["licence"]["authorised"].append(dict(entry))
    assert "twice" in _errors("CertificateIssued", data)["licence.authorised[1].un_number"]
    data = _licence()
    data["licence"]["authorised"][0].update(net_explosive_mass_kg=None, quantity=None)
    assert "or both" in _errors("CertificateIssued", data)["licence.authorised[0]"]
    data = _licence()
    data["licence"]["authorised"][0]["net_explosive_mass_kg"] = str(Decimal(0))
    errors = _errors("CertificateIssued", data)
    assert "more than zero" in errors["licence.authorised[0].net_explosive_mass_kg"]
