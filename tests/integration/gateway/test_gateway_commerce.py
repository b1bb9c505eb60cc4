"""Commercial rules on real Kafka and PostgreSQL (ADR 0030), through the stack's gateway and ledger: a
counter-offer binds nothing until the buyer accepts it (an invoice before that is rejected with the
reason); a provisional and a final invoice are netted and the balance stated; an invoice over the
order's tolerance is rejected naming the line and the limit."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.integration.gateway.test_gateway_times import _fresh_trade, _post
from tests.integration.gateway.test_gateway_times import story as story  # this module's partners

pytestmark = pytest.mark.integration

Events = list[tuple[str, dict[str, Any]]]


def _first(events: Events, short_type: str, **match: Any) -> dict[str, Any]:
    return next(
        dict(d)
        for t, d in events
        if t.rsplit(".", 1)[-1] == short_type and all(d.get(k) == v for k, v in match.items())
    )


def _send(http: httpx.Client, keys: dict[str, str], events: Events) -> None:
    for event_type, data in events:
        answer = _post(http, keys, event_type, data)
        assert answer.status_code == 201, (event_type, answer.text)


def _receipt(stack: Any, keys: dict[str, str], data: dict[str, Any], status: str) -> dict[str, Any]:
    """The ledger's word on an event, once it is ``status``."""
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=stack.ledger_url, timeout=30) as http:
        while True:
            answer = http.get(
                f"/v1/events/{data['event_id']}",
                params={"wait_s": 5},
                headers={"X-API-Key": keys[data["sender"]]},
            )
            body: dict[str, Any] = answer.json()
            if answer.status_code == 200 and body["status"] == status:
                return body
            assert time.monotonic() < deadline, f"never {status}: {answer.status_code} {body}"


def _order(stack: Any, keys: dict[str, str], events: Events) -> dict[str, Any]:
    buyer = _first(events, "OrderPlaced")["sender"]
    with httpx.Client(base_url=stack.ledger_url, timeout=10) as http:
        answer = http.get(f"/v1/trades/{events[0][1]['trade_id']}", headers={"X-API-Key": keys[buyer]})
    assert answer.status_code == 200, answer.text
    order: dict[str, Any] = answer.json()["order"]
    return order


def _invoice(like: dict[str, Any], number: str, kind: str, tonnes: str) -> dict[str, Any]:
    line = dict(like["lines"][0])
    quantity, price = Decimal(tonnes), Decimal(line["unit_price"]["amount"])
    amount = str((quantity * price).quantize(Decimal("0.0001")))
    line.update(quantity={**line["quantity"], "value": tonnes}, amount={**line["amount"], "amount": amount})
    return {
        **like,
        "event_id": str(uuid.uuid4()),
        "invoice_number": number,
        "invoice_kind": kind,
        "lines": [line],
        "total": {**like["total"], "amount": amount},
    }


def test_a_counter_offer_binds_only_once_the_buyer_accepts_it(
    stack: Any, story: tuple[Events, dict[str, str]]
) -> None:
    events, keys = story
    events = _fresh_trade(events)
    placed = _first(events, "OrderPlaced")
    counter_lines = [{**placed["lines"][0], "quantity": {"value": "4800.000", "unit": "TNE"}}]
    counter = _first(events, "OrderResponded", responds_to_revision=0) | {
        "response": "ACCEPTED_WITH_AMENDMENT",
        "counter_lines": counter_lines,
        "reason": "4,800 TNE is what the Muslim Bagh mines can load in March",
    }
    invoice = _first(events, "InvoiceIssued", invoice_kind="PROVISIONAL")
    acceptance = _first(events, "OrderAmended") | {
        "lines": counter_lines,
        "accepts_counter_offer": True,
        "reason": "counter-offer accepted",
    }
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        _send(http, keys, [(events[0][0], placed)])
        _send(http, keys, [("corridor.trade.orders.OrderResponded", counter)])
        _receipt(stack, keys, counter, "accepted")
        order = _order(stack, keys, events)
        assert order["status"] == "ACCEPTED_WITH_AMENDMENT" and order["agreed_revision"] is None
        assert order["lines"][0]["quantity"] == "5000.000"  # the order as placed still stands

        _send(http, keys, [("corridor.trade.orders.InvoiceIssued", invoice)])
        rejected = _receipt(stack, keys, invoice, "rejected")
        assert "counter-offer to revision 0 awaits the buyer's acceptance" in rejected["reason"]

        _send(http, keys, [("corridor.trade.orders.OrderAmended", acceptance)])
        _receipt(stack, keys, acceptance, "accepted")
    order = _order(stack, keys, events)
    assert order["status"] == "ACCEPTED" and order["agreed_revision"] == 1
    assert order["lines"][0]["quantity"] == "4800.000"
    assert order["invoices"] == []


def test_provisional_and_final_invoices_netted_and_one_over_tolerance_refused(
    stack: Any, story: tuple[Events, dict[str, str]]
) -> None:
    events, keys = story
    events = _fresh_trade(events)
    agreed = [(t, d) for t, d in events[:4]]  # placed, accepted, amended to 5,500 TNE, accepted
    assert [t.rsplit(".", 1)[-1] for t, _ in agreed] == [
        "OrderPlaced",
        "OrderResponded",
        "OrderAmended",
        "OrderResponded",
    ]
    provisional = _first(events, "InvoiceIssued", invoice_kind="PROVISIONAL")
    final = _first(events, "InvoiceIssued", invoice_kind="FINAL")
    over = _invoice(provisional, "ZVC-INV-2026-0099", "PROVISIONAL", "600.000")  # 5,512.4 + 600 > 6,050
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        _send(http, keys, agreed)
        _send(http, keys, [("corridor.trade.orders.InvoiceIssued", provisional)])
        _receipt(stack, keys, provisional, "accepted")
        _send(http, keys, [("corridor.trade.orders.InvoiceIssued", over)])
        rejected = _receipt(stack, keys, over, "rejected")
        assert "line 1 bills 6112.400 TNE in all" in rejected["reason"], rejected
        assert "5500.000 TNE + 10.00% tolerance = 6050.000 TNE" in rejected["reason"], rejected
        _send(http, keys, [("corridor.trade.orders.InvoiceIssued", final)])
        _receipt(stack, keys, final, "accepted")
    order = _order(stack, keys, events)
    invoices = {i["invoice_number"]: i for i in order["invoices"]}
    assert set(invoices) == {provisional["invoice_number"], final["invoice_number"]}
    assert invoices[final["invoice_number"]]["nets"] == [provisional["invoice_number"]]
    assert Decimal(order["balance_due"]) == Decimal(final["total"]["amount"]) - Decimal(
        provisional["total"]["amount"]
    )
    assert order["balance_due"] == "4886.5700"
