"""Routing (services/core/routing.py): who is entitled to an event, accumulated parties, back-fill."""

from __future__ import annotations

import uuid

import pytest

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import (
    CertificateIssued,
    OrderPlaced,
    PartyAdmitted,
    ShipmentBooked,
    TransportEventRecorded,
)
from corridor.core.domain.lifecycle.trade import replay
from corridor.core.domain.trust import receives_type
from corridor.core.routing import (
    Delivery,
    TradeRoute,
    group_prefix,
    parties_of,
    partner_of_topic,
    partner_topic,
    partner_topic_spec,
    party_fields,
    route,
)
from corridor.demo.story import chromite_story, explosives_story


def test_partner_topics_and_groups() -> None:
    assert partner_topic("tianjin-rongda-smelting") == "partner.tianjin-rongda-smelting.v1"
    assert partner_of_topic("partner.tianjin-rongda-smelting.v1") == "tianjin-rongda-smelting"
    for other in ("trade.orders.v1", "partner..v1", "partner.Bad_Id.v1", "partner.acme.v2"):
        assert partner_of_topic(other) is None
    assert group_prefix("acme") == "acme."
    with pytest.raises(ValueError, match="invalid partner id"):
        partner_topic("Not_A_Slug")
    spec = partner_topic_spec("acme")
    assert (spec.name, spec.partitions) == ("partner.acme.v1", 6)
    assert spec.configs_for(1)["retention.ms"] == "-1" and spec.replication_factor(3) == 3


def test_party_fields_are_the_party_typed_fields() -> None:
    assert set(party_fields(OrderPlaced)) == {"buyer", "supplier"}
    assert set(party_fields(ShipmentBooked)) == {"carrier"}
    assert set(party_fields(CertificateIssued)) == {"issuer", "exporter", "consignee"}
    assert party_fields(TransportEventRecorded) == ()


@pytest.mark.parametrize("story", [chromite_story, explosives_story], ids=["chromite", "explosives"])
def test_a_trades_parties_are_the_ledgers(story: object) -> None:
    """The relay's parties of a trade are exactly those the ledger shows the trade to."""
    events = story().events  # type: ignore[operator]
    state = replay(events)
    assert state is not None
    assert set().union(*(parties_of(e) for e in events)) == set(state.parties)


def test_parties_of_includes_the_sender() -> None:
    events = chromite_story().events
    placed = events[0]
    assert parties_of(placed) == {"tianjin-rongda-smelting", "zhob-valley-chromite"}
    transport = next(e for e in events if isinstance(e, TransportEventRecorded))
    assert parties_of(transport) == {transport.sender}


def _routed(events: list[TradeEvent]) -> tuple[TradeRoute[uuid.UUID] | None, dict[str, list[uuid.UUID]]]:
    received: dict[str, list[uuid.UUID]] = {}
    trade: TradeRoute[uuid.UUID] | None = None
    for event in events:
        trade, deliveries, broken = route(trade, event.event_id, event)
        assert broken == [], broken
        for delivery in deliveries:
            received.setdefault(delivery.partner_id, []).append(delivery.ref)
    return trade, received


def test_the_order_goes_to_its_buyer_and_supplier_only() -> None:
    placed = chromite_story().events[0]
    after, deliveries, broken = route(None, "e1", placed)
    assert broken == []
    assert after.parties == ("tianjin-rongda-smelting", "zhob-valley-chromite")
    assert after.events == ("e1",) and after.types == (placed.avro_name,)
    assert deliveries == [Delivery("tianjin-rongda-smelting", "e1"), Delivery("zhob-valley-chromite", "e1")]


def test_an_admitted_party_is_back_filled_with_what_its_role_receives_only() -> None:
    events = chromite_story().events
    admission = next(e for e in events if isinstance(e, PartyAdmitted) and e.role == "CARRIER")
    before = events[: events.index(admission)]
    trade, _ = _routed(before)
    assert trade is not None
    after, deliveries, _ = route(trade, admission.event_id, admission)
    carrier = admission.party_id
    # the carrier gets its own admission and no order negotiation (no back-fill of order events)
    assert [d for d in deliveries if d.partner_id == carrier] == [Delivery(carrier, admission.event_id)]
    assert carrier in after


def test_each_party_receives_its_roles_events_once_in_one_order() -> None:
    events = chromite_story().events
    trade, received = _routed(events)
    assert trade is not None
    order = [e.event_id for e in events]
    by_id = {e.event_id: e for e in events}
    for partner_id, sequence in received.items():
        role = trade.trust.role_of(partner_id)
        assert role is not None
        assert sequence == [i for i in order if i in set(sequence)], partner_id  # relay order, once
        expected = [
            e.event_id
            for e in events
            if receives_type(role, e.avro_name) or getattr(e, "party_id", None) == partner_id
        ]
        assert sequence == expected, partner_id
        if role == "CARRIER":
            assert not any(by_id[i].avro_name.endswith(("OrderPlaced", "InvoiceIssued")) for i in sequence)
    assert set(received) == set(trade.trust.parties)


def test_an_event_from_a_partner_that_was_not_admitted_goes_to_nobody() -> None:
    events = chromite_story().events
    trade, _ = _routed(events[:1])
    intruder = next(e for e in events if isinstance(e, CertificateIssued))  # before SGS's admission
    after, deliveries, broken = route(trade, "x", intruder)
    assert deliveries == [] and after is trade
    assert [v.rule for v in broken] == ["admitted-party"]


def test_route_does_not_change_its_input() -> None:
    events = chromite_story().events
    first, _, _ = route(None, 1, events[0])
    route(first, 2, events[1])
    assert first.events == (1,)


def test_a_bank_is_back_filled_with_the_invoices_and_receives_the_credit_not_the_negotiation() -> None:
    """ADR 0030: a bank of the letter of credit gets what it examines (invoices, transport documents)
    and the credit's events, back-filled from before its admission; never the order or the shipment."""
    events = chromite_story().events
    _, received = _routed(events)
    by_id = {e.event_id: e for e in events}
    for bank in ("haihe-commercial-bank", "indus-commercial-bank"):
        types = [type(by_id[i]).__name__ for i in received[bank]]
        assert types == [
            "InvoiceIssued",  # the provisional invoice, issued before the bank was admitted
            "PartyAdmitted",
            "LetterOfCreditEventRecorded",
            "LetterOfCreditEventRecorded",
            "InvoiceIssued",
        ], (bank, types)
