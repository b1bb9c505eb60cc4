"""Licences drawn down by the shipments that name them (lifecycle.licence, ADR 0034), on the explosives
story: the running total, each refusal naming the field, and the ledger API's view of what is left."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import (
    CertificateAmended,
    CertificateIssued,
    CertificateRevoked,
    ShipmentBooked,
)
from corridor.core.domain.lifecycle import LifecycleViolation, TradeState, apply, replay
from corridor.core.domain.lifecycle.state import licence_key
from corridor.demo.story import explosives_story
from corridor.ledger.views import trade_view

EXPORT = "pk-department-of-explosives/EL-01-2026-0311"
IMPORT = "cn-miit/MIIT-BP-2026-08817"


def again(event: TradeEvent, **changes: Any) -> Any:
    """A new event (new event id) like ``event`` with ``changes`` (validated as on intake: whole dicts)."""
    data = {**event.model_dump(mode="json"), "event_id": str(uuid.uuid4()), **changes}
    return type(event).model_validate(data)


def _authorising(licence: CertificateIssued, tonnes: str) -> CertificateIssued:
    terms = licence.model_dump(mode="json")["licence"]
    terms["authorised"][0].update(
        net_explosive_mass_kg=str(Decimal(tonnes) * 1000), quantity={"value": tonnes, "unit": "TNE"}
    )
    return again(licence, licence=terms)  # type: ignore[no-any-return]


def _booking(booking: ShipmentBooked, shipment_id: str, tonnes: str, days: int = 0) -> ShipmentBooked:
    """Part of the order: ``tonnes`` of line 1, their net explosive mass and cartons (25 kg each)."""
    data = booking.model_dump(mode="json")
    particulars = data["dangerous_goods"][0]["particulars"]
    particulars.update(
        net_explosive_mass_kg=str(Decimal(tonnes) * 1000),
        packages={"count": int(Decimal(tonnes) * 40), "kind": "CT"},
    )
    return again(  # type: ignore[no-any-return]
        booking,
        shipment_id=shipment_id,
        occurred_at=(booking.occurred_at + dt.timedelta(days=days)).isoformat(),
        allocations=[{"line_number": 1, "quantity": {"value": tonnes, "unit": "TNE"}}],
        dangerous_goods=data["dangerous_goods"],
    )


@pytest.fixture
def story() -> list[TradeEvent]:
    return explosives_story().events


def _before_booking(events: list[TradeEvent], tonnes: str | None = None) -> tuple[TradeState, ShipmentBooked]:
    """The trade up to its booking, its licences authorising ``tonnes`` (default: the story's 200 t)."""
    booking = next(e for e in events if isinstance(e, ShipmentBooked))
    before = events[: events.index(booking)]
    if tonnes is not None:
        before = [_authorising(e, tonnes) if isinstance(e, CertificateIssued) else e for e in before]
    state = replay(before)
    assert state is not None
    return state, booking


def _refused(state: TradeState, event: TradeEvent, *fragments: str) -> str:
    with pytest.raises(LifecycleViolation) as info:
        apply(state, event)
    for fragment in fragments:
        assert fragment in info.value.reason, info.value.reason
    return info.value.reason


def test_the_story_draws_its_licences_to_nothing(story: list[TradeEvent]) -> None:
    state = replay(story)
    assert state is not None
    for key in (EXPORT, IMPORT):
        licence = state.licences[key]
        (amount,) = licence.authorised
        assert amount.drawn_net_explosive_mass_kg == Decimal("200000.000")
        assert amount.remaining_net_explosive_mass_kg == 0
        assert (amount.drawn_quantity, amount.remaining_quantity, amount.unit) == (Decimal(200), 0, "TNE")
        assert [d.shipment_id for d in licence.drawdowns] == ["NLC-SST-KHG-26-0107"]
    assert state.shipments["NLC-SST-KHG-26-0107"].licences == (EXPORT, IMPORT)
    (booked,) = [t.summary for t in state.timeline if t.type == "ShipmentBooked"]
    assert booked.endswith(
        "dangerous goods UN0241 1.1D NEM 200,000 kg (DGD WN-DGD-2026-0107), "
        "drawing on EL-01-2026-0311, MIIT-BP-2026-08817"
    )


def test_a_second_shipment_beyond_what_remains_is_refused(story: list[TradeEvent]) -> None:
    """The licences authorise 150 t of the 200 t ordered: 120 t ship, then 80 t would exceed what is left."""
    state, booking = _before_booking(story, "150")
    state = apply(state, _booking(booking, "NLC-SST-KHG-26-0107", "120"))
    assert state.licences[EXPORT].authorised[0].remaining_net_explosive_mass_kg == Decimal("30000.000")
    reason = _refused(
        state,
        _booking(booking, "NLC-SST-KHG-26-0108", "80", days=3),
        "licences[0]",
        "NLC-SST-KHG-26-0108",
        "80,000 kg net explosive mass of UN0241",
        "EL-01-2026-0311",
        "30,000 kg left of the 150,000 kg authorised",
    )
    assert "order" not in reason  # refused by the licence, not by the order's quantity
    # the refused booking drew nothing: what remains still ships
    state = apply(state, _booking(booking, "NLC-SST-KHG-26-0108", "30", days=3))
    for key in (EXPORT, IMPORT):
        (amount,) = state.licences[key].authorised
        assert (amount.remaining_net_explosive_mass_kg, amount.remaining_quantity) == (0, 0)
        assert len(state.licences[key].drawdowns) == 2


def test_the_quantity_is_drawn_down_as_well_as_the_mass(story: list[TradeEvent]) -> None:
    terms = [e for e in story if isinstance(e, CertificateIssued)]
    # a licence limited by quantity only: 100 t
    quantity_only = terms[0].model_dump(mode="json")["licence"]
    quantity_only["authorised"][0].update(
        net_explosive_mass_kg=None, quantity={"value": "100", "unit": "TNE"}
    )
    state, booking = _before_booking([again(e, licence=quantity_only) if e is terms[0] else e for e in story])
    _refused(state, _booking(booking, "S-1", "120"), "licences[0]", "120 TNE of UN0241", "100 TNE left")
    state = apply(state, _booking(booking, "S-1", "100"))
    assert state.licences[EXPORT].authorised[0].remaining_net_explosive_mass_kg is None


def test_bookings_without_allocations_draw_the_orders_quantity_once(story: list[TradeEvent]) -> None:
    """Two trucks booked without allocations carry the order between them (ADR 0029): the quantity is
    drawn once, the net explosive mass by what each declares."""
    state, booking = _before_booking(story)
    first = again(_booking(booking, "S-1", "120"), allocations=[])
    state = apply(state, first)
    (amount,) = state.licences[EXPORT].authorised
    assert (amount.drawn_quantity, amount.drawn_net_explosive_mass_kg) == (200, 120000)
    state = apply(state, again(_booking(booking, "S-2", "80", days=1), allocations=[]))
    (amount,) = state.licences[EXPORT].authorised
    assert (amount.drawn_quantity, amount.drawn_net_explosive_mass_kg) == (200, 200000)
    assert [d.quantity for d in state.licences[EXPORT].drawdowns] == [200, 0]
    _refused(state, again(_booking(booking, "S-3", "1", days=2), allocations=[]), "1,000 kg", "0 kg left")


def test_a_licence_in_another_unit_is_refused(story: list[TradeEvent]) -> None:
    licence = next(e for e in story if isinstance(e, CertificateIssued))
    terms = licence.model_dump(mode="json")["licence"]
    terms["authorised"][0]["quantity"] = {"value": "200000", "unit": "KGM"}
    state, booking = _before_booking([again(e, licence=terms) if e is licence else e for e in story])
    _refused(state, booking, "licences[0]", "authorises UN0241 in KGM", "carries it in TNE")


def test_a_booking_after_the_licence_expired_is_refused(story: list[TradeEvent]) -> None:
    state, booking = _before_booking(story)
    late = again(booking, occurred_at=(booking.occurred_at + dt.timedelta(days=400)).isoformat())
    _refused(state, late, "licences[0]", "valid from", "through", "is booked on")


def test_a_booking_before_the_licence_is_valid_is_refused(story: list[TradeEvent]) -> None:
    licence = next(e for e in story if isinstance(e, CertificateIssued))
    terms = licence.model_dump(mode="json")["licence"]
    booked_on = next(e for e in story if isinstance(e, ShipmentBooked)).occurred_at.date()
    terms["valid_from"] = (booked_on + dt.timedelta(days=1)).isoformat()
    state, booking = _before_booking([again(e, licence=terms) if e is licence else e for e in story])
    _refused(state, booking, "licences[0]", "EL-01-2026-0311 is valid from")


def test_a_licence_held_by_another_party_is_refused(story: list[TradeEvent]) -> None:
    """An export licence held by another party cannot cover this order: its holder must be this order's
    supplier. Since ADR 0033 the licence is refused already when issued into the trade (a certificate's
    exporter is the trade's supplier), so it never reaches a booking."""
    licence = next(e for e in story if isinstance(e, CertificateIssued))
    other = {**licence.exporter.model_dump(mode="json"), "party_id": "karachi-explosives-traders"}
    terms = {**licence.model_dump(mode="json")["licence"], "holder": other}
    forged = again(licence, exporter=other, licence=terms)
    with pytest.raises(LifecycleViolation, match="karachi-explosives-traders is not the trade's supplier"):
        _before_booking([forged if e is licence else e for e in story])


def test_a_revoked_licence_cannot_be_drawn_on(story: list[TradeEvent]) -> None:
    state, booking = _before_booking(story)
    licence = next(e for e in story if isinstance(e, CertificateIssued))
    state = apply(
        state,
        CertificateRevoked(
            event_id=uuid.uuid4(),
            trade_id=booking.trade_id,
            occurred_at=booking.occurred_at - dt.timedelta(hours=1),
            sender=licence.issuer.party_id,
            certificate_number=licence.certificate_number,
            issuer=licence.issuer,
            reason="magazine licence suspended",
        ),
    )
    _refused(state, booking, "licences[0]", "is revoked")


def test_an_amended_licence_keeps_its_terms_and_the_old_number_is_dead(story: list[TradeEvent]) -> None:
    state, booking = _before_booking(story, "150")
    state = apply(state, _booking(booking, "S-1", "100"))
    licence = next(e for e in story if isinstance(e, CertificateIssued))
    amended = CertificateAmended(
        event_id=uuid.uuid4(),
        trade_id=licence.trade_id,
        occurred_at=booking.occurred_at + dt.timedelta(days=1),
        sender=licence.sender,
        certificate_number="EL-01-2026-0311-A1",
        supersedes_certificate_number=licence.certificate_number,
        issuer=licence.issuer,
        goods=licence.model_dump()["goods"],
        reason="consignee's address corrected",
    )
    state = apply(state, amended)
    new = state.licences["pk-department-of-explosives/EL-01-2026-0311-A1"]
    assert new.authorised[0].remaining_net_explosive_mass_kg == Decimal(50000)  # what was drawn stays drawn
    second = _booking(booking, "S-2", "40", days=2)
    _refused(state, second, "licences[0]", "superseded", "EL-01-2026-0311-A1")
    refs = second.model_dump(mode="json")["licences"]
    refs[0]["certificate_number"] = "EL-01-2026-0311-A1"
    state = apply(state, again(second, licences=refs))
    assert (
        state.licences["pk-department-of-explosives/EL-01-2026-0311-A1"].authorised[0].remaining_quantity
        == 10
    )


def test_a_certificate_without_terms_cannot_be_drawn_on(story: list[TradeEvent]) -> None:
    licence = next(e for e in story if isinstance(e, CertificateIssued))
    state, booking = _before_booking([again(e, licence=None) if e is licence else e for e in story])
    _refused(state, booking, "licences[0]", "carries no licence terms")


def test_every_required_licence_kind_covers_the_goods(story: list[TradeEvent]) -> None:
    state, booking = _before_booking(story)
    only_export = again(booking, licences=[booking.model_dump(mode="json")["licences"][0]])
    _refused(
        state, only_export, "licences:", "none of the licences it names is an EXPLOSIVES_IMPORT_APPROVAL"
    )


def test_a_named_licence_that_covers_none_of_the_goods_is_refused(story: list[TradeEvent]) -> None:
    licence = next(e for e in story if isinstance(e, CertificateIssued))
    extra = again(
        licence,
        certificate_number="EL-01-2026-0399",
        licence={
            **licence.model_dump(mode="json")["licence"],
            "authorised": [{"un_number": "UN0029", "net_explosive_mass_kg": "50", "quantity": None}],
        },
    )
    booking = next(e for e in story if isinstance(e, ShipmentBooked))
    events = [*story[: story.index(booking)], extra]
    state = replay(events)
    assert state is not None
    extra_ref = {"issuer_party_id": licence.issuer.party_id, "certificate_number": "EL-01-2026-0399"}
    refs = [*booking.model_dump(mode="json")["licences"], extra_ref]
    _refused(state, again(booking, licences=refs), "licences[2]", "draws nothing on it", "authorises UN0029")


def test_the_booked_goods_are_the_orders(story: list[TradeEvent]) -> None:
    state, booking = _before_booking(story)
    data = booking.model_dump(mode="json")["dangerous_goods"]
    data[0]["line_number"] = 2
    _refused(state, again(booking, dangerous_goods=data), "dangerous_goods[0].line_number", "line 2")
    data[0]["line_number"] = 1
    data[0]["particulars"].update(un_number="UN0332", classification="1.5D")
    _refused(
        state,
        again(booking, dangerous_goods=data, un_numbers=["UN0332"]),
        "dangerous_goods[0].particulars.un_number",
        "states UN0241",
    )


def test_the_ledger_api_shows_what_is_left(story: list[TradeEvent]) -> None:
    state, booking = _before_booking(story, "150")
    state = apply(state, _booking(booking, "NLC-SST-KHG-26-0107", "120"))
    view = trade_view(state, None, dt.date(2026, 5, 20))
    licences = {(v["issuer"], v["certificate_number"]): v for v in view["licences"]}
    export = licences[("pk-department-of-explosives", "EL-01-2026-0311")]
    assert export["holder"] == "wah-nobel"
    assert export["remaining"] == [
        {
            "un_number": "UN0241",
            "remaining_net_explosive_mass_kg": "30000",
            "remaining_quantity": "30",
            "unit": "TNE",
        }
    ]
    assert export["drawdowns"][0]["shipment_id"] == "NLC-SST-KHG-26-0107"
    # the carrier receives bookings, not certificates: it sees its shipment, not the licences
    carrier = trade_view(state, None, dt.date(2026, 5, 20), reader="nlc-sost")
    assert carrier["shipments"] and carrier["licences"] == []
    assert trade_view(state, None, dt.date(2026, 5, 20), reader="nlc-sost")["licences"] == []


def test_licence_key_names_issuer_and_number() -> None:
    assert licence_key("cn-miit", "MIIT-BP-2026-08817") == IMPORT
