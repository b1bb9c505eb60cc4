"""Licences across trades through the gateway (docs/adr/0045-licences-across-trades.md): the explosives
story's parties as registered partners post two trades through a real gateway to Kafka; a real ledger
(the receipts module's) decides. The licences are issued into trade A (150 t); trade A books 120 t;
trade B, between the same supplier and buyer, books 80 t on the same licences (rejected, naming
``licences[0]`` and what is left) and then 30 t (accepted). Another buyer's trade cannot book on them.
"""

# ruff: noqa: F811 - the receipts module's fixtures are imported and then requested by name

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import ShipmentBooked
from tests.integration.gateway.test_gateway_receipts import (  # noqa: F401 - fixtures, used by name
    client,
    post,
    receipts_ledger,
)
from tests.unit.gateway.gateway_samples import _rename, dump
from tests.unit.ledger.test_licence_across_trades import booking, capped_story, second_trade

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROLES = {
    "mcc-kashgar-mining": "BUYER",
    "wah-nobel": "SUPPLIER",
    "nlc-sost": "CARRIER",
    "pk-department-of-explosives": "ISSUING_AUTHORITY",
    "cn-miit": "ISSUING_AUTHORITY",
    "tdap": "ISSUING_AUTHORITY",
    "xinjiang-blasting": "BUYER",  # another buyer, for trade C
}


class Partners:
    """The story's parties registered under test names, and their keys."""

    def __init__(self, admin: Any) -> None:
        suffix = uuid.uuid4().hex[:8]
        self.names = {pid: f"{pid}-{suffix}" for pid in ROLES}
        self.keys = {}
        for pid, role in ROLES.items():
            partner_id, key = admin.add(role, self.names[pid])
            self.keys[partner_id] = key

    def auth(self, partner_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[partner_id]}"}

    def data(self, event: TradeEvent) -> tuple[str, dict[str, Any]]:
        data = _rename(dump(event), self.names)
        for ref in data.get("licences", []) if isinstance(data.get("licences"), list) else []:
            ref["issuer_party_id"] = self.names[ref["issuer_party_id"]]
        return event.avro_name, data


def _decided(client: httpx.Client, partners: Partners, event: TradeEvent) -> dict[str, Any]:
    result: dict[str, Any] = post(client, partners, *partners.data(event), wait="accepted", wait_s=30)
    assert result["status"] in ("accepted", "rejected"), result
    return result


def _fresh(events: list[TradeEvent]) -> list[TradeEvent]:
    """The events under a fresh trade id and fresh event ids (the topics are shared between runs)."""
    trade_id = str(uuid.uuid4())
    return [
        type(e).model_validate({**dump(e), "trade_id": trade_id, "event_id": str(uuid.uuid4())})
        for e in events
    ]


def test_two_trades_draw_one_licence_through_the_gateway(
    client: httpx.Client, admin: Any, receipts_ledger: Any
) -> None:
    partners = Partners(admin)
    story = capped_story()
    template = story[-1]
    assert isinstance(template, ShipmentBooked)
    first = _fresh(story[:-1])
    a = first[0].trade_id
    for event in first:
        assert _decided(client, partners, event)["status"] == "accepted", type(event).__name__
    first_booking = _decided(
        client, partners, booking(template, a, "S-A1", "120", order_id=template.order_id)
    )
    assert first_booking["status"] == "accepted", first_booking

    other = second_trade(story)
    b = other[0].trade_id
    for event in other:
        assert _decided(client, partners, event)["status"] == "accepted", type(event).__name__
    over = _decided(client, partners, booking(template, b, "S-B1", "80"))
    assert over["status"] == "rejected", over
    reason = over["receipt"]["reason"]
    assert reason.startswith("licences[0]: shipment S-B1 would draw 80,000 kg"), reason
    assert "30,000 kg left of the 150,000 kg authorised" in reason
    assert _decided(client, partners, booking(template, b, "S-B2", "30"))["status"] == "accepted"

    # another buyer's order names the same licences: the import approval is not its to draw on
    third = second_trade(story, {"mcc-kashgar-mining": "xinjiang-blasting"})
    for event in third:
        assert _decided(client, partners, event)["status"] == "accepted", type(event).__name__
    c = third[0].trade_id
    stolen = _decided(client, partners, booking(template, c, "S-C1", "1"))
    assert stolen["status"] == "rejected", stolen
    assert "licences[1]" in stolen["receipt"]["reason"] and "is held by" in stolen["receipt"]["reason"], (
        stolen
    )

    # the supplier (the export licence's holder) reads trade B: drawn to nothing by both trades' bookings
    supplier = partners.names["wah-nobel"]
    response = httpx.get(f"{receipts_ledger.url}/v1/trades/{b}", headers=partners.auth(supplier), timeout=30)
    assert response.status_code == 200, response.text
    export = next(x for x in response.json()["licences"] if x["kind"] == "EXPLOSIVES_EXPORT_LICENCE")
    assert [d["shipment_id"] for d in export["drawdowns"]] == ["S-A1", "S-B2"], export
    assert export["remaining"][0]["remaining_net_explosive_mass_kg"] == "0.000", export
    # the buyer of trade B sees its own trade's draw, not the other trade's nor what is left
    buyer = partners.names["mcc-kashgar-mining"]
    response = httpx.get(f"{receipts_ledger.url}/v1/trades/{b}", headers=partners.auth(buyer), timeout=30)
    export = next(x for x in response.json()["licences"] if x["kind"] == "EXPLOSIVES_EXPORT_LICENCE")
    assert [d["shipment_id"] for d in export["drawdowns"]] == ["S-B2"] and export["remaining"] == [], export
