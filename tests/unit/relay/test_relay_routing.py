"""Routing (services/core/routing.py): who is entitled to an event, accumulated parties, back-fill."""

from __future__ import annotations

import uuid

import pytest

from corridor.core.domain.events import CertificateIssued, OrderPlaced, ShipmentBooked, TransportEventRecorded
from corridor.core.domain.lifecycle.trade import replay
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


def test_the_first_event_goes_to_everyone_it_names() -> None:
    after, deliveries = route(None, "e1", {"buyer", "supplier"})
    assert after == TradeRoute(("buyer", "supplier"), ("e1",))
    assert deliveries == [Delivery("buyer", "e1"), Delivery("supplier", "e1")]


def test_a_late_party_is_back_filled_in_order_before_the_current_event() -> None:
    trade, _ = route(None, "e1", {"buyer", "supplier"})
    trade, _ = route(trade, "e2", {"supplier"})
    trade, deliveries = route(trade, "e3", {"carrier"})
    assert trade.parties == ("buyer", "supplier", "carrier")
    assert trade.events == ("e1", "e2", "e3")
    assert deliveries == [
        Delivery("carrier", "e1", backfill=True),
        Delivery("carrier", "e2", backfill=True),
        Delivery("buyer", "e3"),
        Delivery("supplier", "e3"),
        Delivery("carrier", "e3"),
    ]
    assert "carrier" in trade and "customs" not in trade


def test_every_party_ends_with_every_event_once_in_one_order() -> None:
    events = chromite_story().events
    received: dict[str, list[uuid.UUID]] = {}
    trade: TradeRoute[uuid.UUID] | None = None
    for event in events:
        trade, deliveries = route(trade, event.event_id, parties_of(event))
        for delivery in deliveries:
            received.setdefault(delivery.partner_id, []).append(delivery.ref)
    order = [e.event_id for e in events]
    assert set(received) == set().union(*(parties_of(e) for e in events))
    assert all(sequence == order for sequence in received.values())


def test_route_does_not_change_its_input() -> None:
    first, _ = route(None, 1, {"a"})
    route(first, 2, {"b"})
    assert first == TradeRoute(("a",), (1,))
