"""The trade-party rule (docs/adr/0005-gateway.md), on the chromite story's events."""

from __future__ import annotations

import uuid

import pytest

from corridor.core.domain.events import EVENT_TYPES
from corridor.core.domain.roles import PUBLISHER_ROLES
from corridor.core.domain.validation import parse_event
from corridor.gateway.parties import JOIN_FIELDS, Member, TradeView, check, joining_parties, role_errors
from tests.unit.gateway.gateway_samples import cast

C = cast("u")
BUYER, SUPPLIER, CARRIER = C.buyer, C.supplier, C.carrier
SGS, GACC = C.partner("sgs-pakistan"), C.partner("gacc-tianjin")


def event(short: str, **changes):
    event_type = next(t for t, _ in C.events if t.endswith("." + short))
    return parse_event(event_type, {**C.first(short), **changes})


def opened() -> set[Member]:
    return {Member(BUYER, "BUYER"), Member(SUPPLIER, "SUPPLIER")}


def test_every_join_field_is_a_party_of_its_event_type() -> None:
    for event_type, fields in JOIN_FIELDS.items():
        model = EVENT_TYPES[event_type]
        for name in fields:
            assert name in model.model_fields, (event_type, name)
    assert set(JOIN_FIELDS) <= set(PUBLISHER_ROLES)


def test_role_must_be_allowed_to_publish_the_type() -> None:
    assert role_errors("BUYER", "corridor.trade.orders.OrderPlaced") == []
    [error] = role_errors("CARRIER", "corridor.trade.orders.OrderPlaced")
    assert (
        error.field == "type"
        and "CARRIER may not publish OrderPlaced; it is published by BUYER" in error.reason
    )
    assert role_errors("OPERATOR", "corridor.trade.shipments.ShipmentBooked")
    assert check(SUPPLIER, "SUPPLIER", event("OrderPlaced"), None)[0].field == "type"


def test_sender_must_be_the_partner() -> None:
    [error] = check("someone-else", "BUYER", event("OrderPlaced"), None)
    assert error.field == "data.sender" and "someone-else" in error.reason


def test_order_placed_opens_an_unknown_trade_for_its_buyer_only() -> None:
    order = event("OrderPlaced")
    assert check(BUYER, "BUYER", order, None) == []
    assert check(BUYER, "BUYER", order, set()) == []
    assert joining_parties(order) == [Member(BUYER, "BUYER"), Member(SUPPLIER, "SUPPLIER")]
    # another buyer cannot re-open a known trade by naming itself
    other = {Member("other-buyer", "BUYER"), Member(SUPPLIER, "SUPPLIER")}
    [error] = check(BUYER, "BUYER", order, other)
    assert error.field == "data.trade_id" and "opened by another order" in error.reason
    # its own buyer may send it again (a replay or a re-send)
    assert check(BUYER, "BUYER", order, opened()) == []


def test_parties_of_the_trade_may_publish_their_types() -> None:
    assert check(SUPPLIER, "SUPPLIER", event("OrderResponded"), opened()) == []
    assert check(BUYER, "BUYER", event("OrderAmended"), opened()) == []
    assert check(SUPPLIER, "SUPPLIER", event("InvoiceIssued"), opened()) == []


def test_nothing_but_an_order_opens_a_trade_for_buyer_or_supplier() -> None:
    [error] = check(SUPPLIER, "SUPPLIER", event("OrderResponded"), None)
    assert error.field == "data.trade_id" and "unknown to the gateway" in error.reason
    assert check(BUYER, "BUYER", event("OrderAmended"), None)


def test_carrier_issuer_and_customs_join_when_named_in_their_own_role() -> None:
    booking = event("ShipmentBooked")
    assert check(CARRIER, "CARRIER", booking, opened()) == []
    assert check(CARRIER, "CARRIER", booking, None) == []  # a trade that started before the gateway
    assert joining_parties(booking) == [Member(CARRIER, "CARRIER")]
    assay = event("CertificateIssued")
    assert check(SGS, "INSPECTION_BODY", assay, opened()) == []
    assert joining_parties(assay) == [Member(SGS, "INSPECTION_BODY")]  # exporter/consignee do not join
    customs = event("CustomsEventRecorded")
    assert check(GACC, "CUSTOMS", customs, opened()) == []
    assert joining_parties(customs) == [Member(GACC, "CUSTOMS")]


def test_named_in_another_role_or_not_named_is_not_enough() -> None:
    # a milestone names no party: only a carrier already in the trade may report it
    milestone = event("TransportEventRecorded")
    [error] = check(CARRIER, "CARRIER", milestone, opened())
    assert "not a party" in error.reason
    assert check(CARRIER, "CARRIER", milestone, opened() | {Member(CARRIER, "CARRIER")}) == []
    # a carrier partner that books naming someone else as carrier does not join
    assert check("other-carrier", "CARRIER", event("ShipmentBooked", sender="other-carrier"), opened())


def test_a_view_admits_events_in_order() -> None:
    trade_id = uuid.UUID(C.trade_id)
    view = TradeView.of({})
    order, amendment = event("OrderPlaced"), event("OrderAmended")
    assert view.check(BUYER, "BUYER", amendment)  # not yet
    assert view.check(BUYER, "BUYER", order) == []
    assert set(view.admit(order)) == opened()
    assert view.check(BUYER, "BUYER", amendment) == []
    assert view.admit(amendment) == []
    assert view.members[trade_id] == opened()


@pytest.mark.parametrize("event_type", sorted(PUBLISHER_ROLES))
def test_every_type_has_a_way_in(event_type: str) -> None:
    """No event type is unpublishable: it opens or joins a trade, or comes from a party already in it."""
    roles = PUBLISHER_ROLES[event_type]
    assert roles
    if event_type not in JOIN_FIELDS:
        # publishable once the partner is a party: a role that some join field brings in
        joinable = {"BUYER", "SUPPLIER", "CARRIER", "ISSUING_AUTHORITY", "INSPECTION_BODY", "CUSTOMS"}
        assert roles & joinable
