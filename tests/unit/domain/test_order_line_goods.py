"""The goods on an order line as customs reads them (ADR 0039): national tariff lines, HS edition, country of
origin, gross and net weight, number and kind of packages; which rules hold always and which at intake."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from corridor.core.domain import reference
from corridor.core.domain import validators as v
from corridor.core.domain.events import OrderPlaced, OrderResponded
from corridor.core.domain.validation import InvalidEvent, parse_event
from corridor.demo.story import chromite_story, explosives_story


def _order(story: str = "chromite") -> dict[str, Any]:
    events = (explosives_story if story == "explosives" else chromite_story)().events
    return copy.deepcopy(next(e for e in events if isinstance(e, OrderPlaced)).model_dump(mode="json"))


def _errors(data: dict[str, Any], event_type: str = "OrderPlaced") -> dict[str, str]:
    with pytest.raises(InvalidEvent) as info:
        parse_event(event_type, data)
    return {e.field: e.reason for e in info.value.errors}


def _line(data: dict[str, Any], **fields: Any) -> dict[str, Any]:
    data["lines"][0].update(fields)
    return data


def test_both_stories_carry_the_goods_as_customs_reads_them() -> None:
    chromite, explosives = (parse_event("OrderPlaced", _order(s)) for s in ("chromite", "explosives"))
    ore, cartons = chromite.lines[0], explosives.lines[0]  # type: ignore[attr-defined]
    assert (ore.pk_tariff_code, ore.cn_tariff_code, ore.country_of_origin) == ("26100000", "2610000000", "PK")
    assert ore.package_type == "VR" and ore.number_of_packages is None  # bulk: a kind, no count
    assert (cartons.number_of_packages, cartons.package_type) == (8000, "CT")
    assert cartons.pk_tariff_code[:6] == cartons.cn_tariff_code[:6] == cartons.hs_code == "360200"


# -- national tariff lines ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("pk_tariff_code", "2610.0000", "8 digits without dots"),  # as the PCT prints it
        ("pk_tariff_code", "2610000", "8 digits"),
        ("pk_tariff_code", "2610000000", "8 digits"),  # a Chinese line in the Pakistani field
        ("cn_tariff_code", "26100000", "10 digits"),
        ("cn_tariff_code", "２６１００００００0", "10 digits"),  # full-width digits are not digits here
        ("cn_tariff_code", "2603000000", "not the line's HS code 261000"),  # copper ores' line on chromite
        ("pk_tariff_code", "26030000", "not the line's HS code 261000"),
    ],
)
def test_a_tariff_line_is_refused_naming_its_field(field: str, value: str, fragment: str) -> None:
    errors = _errors(_line(_order(), **{field: value}))
    assert list(errors) == [f"lines[0].{field}"] and fragment in errors[f"lines[0].{field}"]


def test_a_tariff_line_subdivides_the_lines_hs_code_even_in_stored_events() -> None:
    """The prefix rule is about the new fields' own content: it holds when history is read too."""
    data = _line(_order(), cn_tariff_code="2603000000")
    with pytest.raises(ValueError, match="cn_tariff_code"):
        OrderPlaced.model_validate(data)


def test_tariff_line_check_by_edition() -> None:
    assert v.check_national_tariff_line("CN", "2610000000", "261000") is None
    assert "not an HS subheading" in (v.check_national_tariff_line("PK", "26109900") or "")
    # HS 2027 is not shipped (ADR 0039): its codes are held to the format only, and flagged so
    assert "HS2027" not in reference.hs_editions_shipped()
    assert v.check_national_tariff_line("PK", "26109900", edition="HS2027") is None
    assert v.check_hs6_in("261099", "HS2027") is None
    assert "not an HS 2022 subheading" in (v.check_hs6_in("261099", "HS2022") or "")
    assert "chapter" in (v.check_hs6_in("779900", "HS2027") or "")


# -- HS edition ---------------------------------------------------------------------------------------------


def test_the_edition_in_force_changes_on_1_january_2027() -> None:
    assert reference.hs_edition_on(dt.date(2026, 12, 31)) == "HS2022"
    assert reference.hs_edition_on(dt.date(2027, 1, 1)) == "HS2027"


def _in_2027(data: dict[str, Any]) -> dict[str, Any]:
    data["occurred_at"] = data["created_at"] = "2027-01-05T09:30:00+08:00"
    return data


def test_a_line_names_its_edition_or_takes_the_one_in_force() -> None:
    data = _line(_order(), hs_code="261099", pk_tariff_code=None, cn_tariff_code=None)
    assert "not an HS 2022 subheading" in _errors(data)["lines[0].hs_code"]
    # written in HS 2027 (ahead of time, for goods that clear in 2027): held to its format only
    assert parse_event("OrderPlaced", _line(copy.deepcopy(data), hs_edition="HS2027"))
    # from 1 January 2027 a line without an edition is in HS 2027, and HS 2022 is no longer written
    assert parse_event("OrderPlaced", _in_2027(copy.deepcopy(data)))
    errors = _errors(_line(_in_2027(_order()), hs_edition="HS2022"))
    assert (
        list(errors) == ["lines[0].hs_edition"]
        and "replaced by HS2027 on 2027-01-01" in errors["lines[0].hs_edition"]
    )


def test_an_unknown_edition_is_refused() -> None:
    assert list(_errors(_line(_order(), hs_edition="HS2017"))) == ["lines[0].hs_edition"]


def test_the_lists_of_an_edition_hold_at_intake_only() -> None:
    """A stored order whose HS code a later edition dropped still decodes (ADR 0032)."""
    data = _line(_order(), hs_code="261099", pk_tariff_code=None, cn_tariff_code=None, hs_edition="HS2022")
    assert OrderPlaced.model_validate(data).lines[0].hs_code == "261099"


def test_counter_lines_are_held_to_their_edition() -> None:
    responded = next(e for e in chromite_story().events if isinstance(e, OrderResponded))
    data = copy.deepcopy(responded.model_dump(mode="json"))
    data.update(response="ACCEPTED_WITH_AMENDMENT", counter_lines=_order()["lines"])
    data["counter_lines"][0].update(hs_code="261099", pk_tariff_code=None, cn_tariff_code=None)
    assert list(_errors(data, "OrderResponded")) == ["counter_lines[0].hs_code"]


# -- country of origin ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"), [("PK", True), ("CN", True), ("ZA", True), ("PAK", False), ("XX", False)]
)
def test_country_of_origin_is_iso_3166_alpha_2(value: str, ok: bool) -> None:
    data = _line(_order(), country_of_origin=value)
    if ok:
        assert parse_event("OrderPlaced", data)
    else:
        assert "ISO 3166-1 alpha-2" in _errors(data)["lines[0].country_of_origin"]


def test_origin_is_required_at_intake_when_the_order_claims_the_cpfta_preference() -> None:
    data = _line(_order(), country_of_origin=None)
    assert "CPFTA certificate of origin" in _errors(data)["lines[0].country_of_origin"]
    assert OrderPlaced.model_validate(data)  # an order stored before the field existed still decodes
    data["required_certificates"] = ["ASSAY"]
    assert parse_event("OrderPlaced", data)  # no preference claimed: origin may be left out


# -- weights ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gross", "net", "field"),
    [
        (("5000000", "KGM"), ("5000.5", "TNE"), "lines[0].net_weight"),  # compared in kilograms
        (("4999.999", "TNE"), ("5000000", "KGM"), "lines[0].net_weight"),
        (("1800", "MTQ"), ("5000", "TNE"), "lines[0].gross_weight.unit"),  # cubic metres are no mass
        (("5000", "TNE"), ("5000", "C62"), "lines[0].net_weight.unit"),
    ],
)
def test_weights_are_masses_and_net_is_not_above_gross(
    gross: tuple[str, str], net: tuple[str, str], field: str
) -> None:
    data = _line(
        _order(),
        gross_weight={"value": gross[0], "unit": gross[1]},
        net_weight={"value": net[0], "unit": net[1]},
    )
    assert list(_errors(data)) == [field]


def test_net_equal_to_gross_in_other_units_is_accepted() -> None:
    data = _line(
        _order(),
        gross_weight={"value": "5000.000", "unit": "TNE"},
        net_weight={"value": "5000000.000", "unit": "KGM"},
    )
    assert parse_event("OrderPlaced", data)


# -- packages (the certificate's box 7 logic, shared) -------------------------------------------------------


@pytest.mark.parametrize(
    ("story", "number", "kind", "field", "fragment"),
    [
        ("chromite", 250, "VR", "lines[0].number_of_packages", "bulk (VR) are not counted"),
        ("explosives", None, "CT", "lines[0].number_of_packages", "count the packages of kind CT"),
        ("explosives", 8000, None, "lines[0].package_type", "what kind of packages"),
        ("explosives", 8000, "CARTON", "lines[0].package_type", "Rec 21"),
        ("explosives", 0, "CT", "lines[0].number_of_packages", ""),
    ],
)
def test_packages_are_counted_unless_in_bulk(
    story: str, number: int | None, kind: str | None, field: str, fragment: str
) -> None:
    errors = _errors(_line(_order(story), number_of_packages=number, package_type=kind))
    assert list(errors) == [field] and fragment in errors[field]


def test_the_certificate_keeps_its_box_7_wording() -> None:
    from corridor.core.domain.rules import _packages

    assert list(_packages(None, "CT", "goods[0]", " (box 7)")) == [
        ("goods[0].number_of_packages", "count the packages of kind CT (box 7)")
    ]


def test_the_trade_state_keeps_the_lines_customs_data() -> None:
    from corridor.core.domain.lifecycle import replay

    placed = next(e for e in chromite_story().events if isinstance(e, OrderPlaced))
    state = replay([placed])
    assert state is not None and state.order is not None
    line = state.order.revisions[0].lines[0]
    customs = (line.pk_tariff_code, line.cn_tariff_code, line.country_of_origin)
    assert customs == ("26100000", "2610000000", "PK")
    assert line.hs_edition is None  # left out: the edition in force on the order's date
