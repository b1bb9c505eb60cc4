"""Transport documents (ADR 0026): the event's rules, ISO 6346 / IMO check digits through python-stdnum,
the document's lifecycle (issued → amended → surrendered or voided) and who may send it. Pure."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from corridor.core.domain import trust
from corridor.core.domain.events import ShipmentBooked, TransportDocumentEventRecorded
from corridor.core.domain.lifecycle import LifecycleViolation, PrerequisiteMissing, apply, replay
from corridor.core.domain.lifecycle.state import DocumentStatus
from corridor.core.domain.roles import may_publish
from corridor.core.domain.validation import InvalidEvent, parse_event
from corridor.core.domain.validators import check_container_number, check_imo_number
from corridor.demo.story import chromite_story

EXAMPLE = Path(__file__).parents[3] / "contracts/examples/valid/TransportDocumentEventRecorded.json"
TYPE = "corridor.trade.shipments.TransportDocumentEventRecorded"
STORY = chromite_story()
BOOKING = next(e for e in STORY.events if isinstance(e, ShipmentBooked))
NUMBER = "IOLU-KHI-26-004127"


def data(**changes: Any) -> dict[str, Any]:
    """The contract's valid B/L issue, in the story's trade, with ``changes``."""
    base = json.loads(EXAMPLE.read_text(encoding="utf-8"))["data"]
    return {**base, "trade_id": str(STORY.trade_id), "event_id": str(uuid.uuid4()), **changes}


def doc(**changes: Any) -> TransportDocumentEventRecorded:
    event = parse_event(TYPE, data(**changes))
    assert isinstance(event, TransportDocumentEventRecorded)
    return event


def errors(**changes: Any) -> list[str]:
    with pytest.raises(InvalidEvent) as info:
        parse_event(TYPE, data(**changes))
    return sorted(e.field for e in info.value.errors)


def booked():
    return replay(STORY.events[: STORY.events.index(BOOKING) + 1])


# -- identifiers -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["IOLU4127057", "CSQU3054383"])
def test_container_numbers_with_their_check_digit_pass(number: str) -> None:
    assert check_container_number(number) is None


@pytest.mark.parametrize(
    ("number", "fragment"),
    [
        ("IOLU4127054", "check digit"),
        ("iolu4127057", "in capitals without spaces"),
        ("IOLU 412705 7", "in capitals without spaces"),
        ("IOLU412705", "length"),
    ],
)
def test_container_numbers_are_refused_with_the_reason(number: str, fragment: str) -> None:
    reason = check_container_number(number)
    assert reason is not None and fragment in reason


def test_imo_numbers() -> None:
    assert check_imo_number("9345673") is None
    reason = check_imo_number("9345674")
    assert reason is not None and "check digit" in reason
    reason = check_imo_number("IMO 9345673")
    assert reason is not None and "without the 'IMO' prefix" in reason


def test_container_and_imo_errors_name_their_field() -> None:
    equipment = [{"container_number": "IOLU4127054", "seal_numbers": []}]
    assert errors(equipment=equipment, vessel_imo_number="9345674") == [
        "equipment[0].container_number",
        "vessel_imo_number",
    ]


# -- rules of one event ----------------------------------------------------------------------------------


def test_the_contract_example_is_a_valid_to_order_bill_of_lading() -> None:
    event = doc()
    assert event.document_type.value == "BILL_OF_LADING" and event.bill_of_lading_type.value == "TO_ORDER"
    assert event.consignee is None and event.notify_party is not None


def test_an_issue_states_the_documents_content() -> None:
    assert errors(place_of_issue=None, date_of_issue=None, shipper=None, shipment_ids=[]) == [
        "date_of_issue",
        "place_of_issue",
        "shipment_ids",
        "shipper",
    ]


def test_a_bill_of_lading_has_a_type_and_originals_and_others_have_no_type() -> None:
    assert errors(bill_of_lading_type=None, number_of_originals=None) == [
        "bill_of_lading_type",
        "consignee",
        "number_of_originals",
    ]
    assert errors(document_type="SEA_WAYBILL") == ["bill_of_lading_type"]
    # a sea waybill names its consignee and needs neither type nor originals
    consignee = data()["notify_party"]
    assert doc(
        document_type="SEA_WAYBILL", bill_of_lading_type=None, number_of_originals=None, consignee=consignee
    )


def test_a_straight_bill_names_its_consignee_a_to_order_bill_its_notify_party() -> None:
    assert errors(bill_of_lading_type="STRAIGHT") == ["consignee"]
    assert errors(notify_party=None) == ["notify_party"]


def test_road_documents_carry_no_vessel() -> None:
    cmr = {"document_type": "CMR", "bill_of_lading_type": None, "number_of_originals": None}
    assert errors(**cmr, consignee=data()["notify_party"]) == ["vessel_imo_number"]


def test_amending_and_voiding_need_a_reason_surrendering_does_not() -> None:
    assert errors(document_event_type="AMND") == ["reason"]
    assert errors(document_event_type="VOID") == ["reason"]
    assert doc(document_event_type="SURR")


def test_only_a_carrier_issues_a_bill_of_lading() -> None:
    assert may_publish("CARRIER", TYPE)
    assert not may_publish("BUYER", TYPE) and not may_publish("SUPPLIER", TYPE)
    buyer = data()["notify_party"]
    assert "carrier.role" in errors(carrier=buyer)


# -- the document's lifecycle ----------------------------------------------------------------------------


def test_issued_then_surrendered() -> None:
    issued = doc()
    state = apply(booked(), issued)
    document = state.documents[NUMBER]
    assert document.status == DocumentStatus.ISSUED and document.bill_of_lading_type == "TO_ORDER"
    assert document.shipment_ids == (BOOKING.shipment_id,) and document.place_of_issue == "PKKHI"
    surrendered = doc(document_event_type="SURR", occurred_at="2026-03-19T10:00:00+08:00")
    state = apply(state, surrendered)
    document = state.documents[NUMBER]
    assert (
        document.status == DocumentStatus.SURRENDERED and document.surrendered_at == surrendered.occurred_at
    )
    with pytest.raises(LifecycleViolation, match="was surrendered; nothing changes it"):
        apply(state, doc(document_event_type="VOID", reason="issued in error"))


def test_amended_then_voided_and_nothing_after() -> None:
    state = apply(booked(), doc())
    state = apply(
        state, doc(document_event_type="AMND", number_of_originals=2, reason="two originals, not three")
    )
    assert state.documents[NUMBER].number_of_originals == 2 and state.documents[NUMBER].amendments == 1
    state = apply(state, doc(document_event_type="VOID", reason="replaced by a sea waybill"))
    assert state.documents[NUMBER].status == DocumentStatus.VOIDED
    with pytest.raises(LifecycleViolation, match="was voided"):
        apply(state, doc(document_event_type="SURR"))


def test_a_document_is_issued_once_and_keeps_its_kind() -> None:
    state = apply(booked(), doc())
    with pytest.raises(LifecycleViolation, match="already issued"):
        apply(state, doc())
    sea_waybill = {"document_type": "SEA_WAYBILL", "bill_of_lading_type": None, "number_of_originals": None}
    with pytest.raises(LifecycleViolation, match="its kind never changes"):
        apply(
            state,
            doc(document_event_type="AMND", reason="r", consignee=data()["notify_party"], **sea_waybill),
        )


def test_only_a_bill_of_lading_is_surrendered() -> None:
    cmr = {"document_type": "CMR", "bill_of_lading_type": None, "number_of_originals": None}
    state = apply(booked(), doc(**cmr, vessel_imo_number=None, consignee=data()["notify_party"]))
    with pytest.raises(LifecycleViolation, match="only a bill of lading is surrendered"):
        apply(state, doc(**cmr, vessel_imo_number=None, document_event_type="SURR"))


def test_a_document_needs_its_shipments_booked_and_its_issue_before_a_change() -> None:
    before_booking = replay(STORY.events[: STORY.events.index(BOOKING)])
    with pytest.raises(PrerequisiteMissing, match="not booked yet"):
        apply(before_booking, doc())
    with pytest.raises(PrerequisiteMissing, match="not issued yet"):
        apply(booked(), doc(document_event_type="SURR"))


# -- who may send it (trust) -------------------------------------------------------------------------------


def test_trust_only_the_booking_carrier_documents_and_only_the_issuer_changes() -> None:
    state = booked()
    issued = doc()
    assert trust.check(state.trust, issued) == []
    other = doc(sender="other-carrier", carrier={**data()["carrier"], "party_id": "other-carrier"})
    (violation,) = trust.check(state.trust, other)
    assert violation.rule == "admitted-party"  # not a party of the trade at all
    after = apply(state, issued)
    assert after.trust.documents == {NUMBER: issued.sender}
    # the shipment's carrier check and the issuer check, on a state where another carrier is admitted
    admitted = after.trust.evolve(
        members={**after.trust.members, "other-carrier": after.trust.members[issued.sender]}
    )
    rules = [v.rule for v in trust.check(admitted, other)]
    assert rules == ["document-issuer"]
    unknown = doc(document_event_type="SURR", document_number="IOLU-KHI-26-999999")
    (pending,) = trust.check(after.trust, unknown)
    assert pending.rule == "document-issuer" and pending.pending


def test_named_parties_must_be_parties_of_the_trade() -> None:
    stranger = {**data()["notify_party"], "party_id": "stranger-bank"}
    violations = trust.check(booked().trust, doc(notify_party=stranger))
    assert [(v.field, v.rule) for v in violations] == [("data.notify_party.party_id", "named-party-admitted")]


def test_the_gateway_reports_a_bad_container_number_and_a_rule_violation_together() -> None:
    from corridor.gateway.validate import validate_event

    bad = data(equipment=[{"container_number": "IOLU4127054", "seal_numbers": []}], notify_party=None)
    with pytest.raises(InvalidEvent) as info:
        validate_event(TYPE, bad)
    assert sorted(e.field for e in info.value.errors) == ["equipment[0].container_number", "notify_party"]
