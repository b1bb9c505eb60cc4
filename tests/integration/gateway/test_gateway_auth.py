"""Authentication (API keys) and authorisation (role, sender, trade party) at the gateway."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from corridor.core import partners
from tests.unit.gateway.gateway_samples import cloudevent

pytestmark = pytest.mark.integration

CE_JSON = {"Content-Type": "application/cloudevents+json"}
ORDER_PLACED = "corridor.trade.orders.OrderPlaced"


def _post(http, doc, key: str | None = None, **headers: str):
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return http.post("/v1/events", content=json.dumps(doc), headers={**CE_JSON, **headers})


def _order(trade):
    return cloudevent(ORDER_PLACED, trade.cast.first("OrderPlaced"))


def _assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["type"].startswith("urn:corridor:problem:")
    assert body["title"] and body["detail"]
    return body


# -- 401 ----------------------------------------------------------------------------------------------------


def test_missing_key_is_401_with_a_bearer_challenge(http, trade) -> None:
    response = _post(http, _order(trade))
    _assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith('Bearer realm="corridor"')
    # another scheme is no key either
    response = _post(http, _order(trade), Authorization="Basic dXNlcjpwYXNz")
    _assert_problem(response, 401)


def test_wrong_and_malformed_keys_are_401(http, trade) -> None:
    real = trade.keys[trade.cast.buyer]
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    for key in (forged, "not-a-key", f"cor_{trade.cast.buyer}_short", "cor_nobody-here_" + "x" * 43):
        response = _post(http, _order(trade), key)
        body = _assert_problem(response, 401)
        assert 'error="invalid_token"' in response.headers["www-authenticate"], key
        assert "unknown" in body["detail"]
    # X-API-Key works as well as Authorization
    response = _post(http, _order(trade), **{"X-API-Key": real})
    assert response.status_code == 201, response.text


def test_disabled_partner_is_refused_within_the_cache_ttl(http, admin, trade) -> None:
    key = trade.keys[trade.cast.buyer]
    assert _post(http, _order(trade), key).status_code == 201  # cached as valid now
    admin.disable(trade.cast.buyer)
    deadline = time.monotonic() + partners.AUTH_CACHE_TTL_S + 2
    while (status := _post(http, _order(trade), key).status_code) != 401 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status == 401


def test_rotated_key_stops_working_and_the_new_one_works(http, admin, trade) -> None:
    old = trade.keys[trade.cast.buyer]
    first = _order(trade)
    assert _post(http, first, old).status_code == 201
    new = admin.rotate(trade.cast.buyer)
    assert new != old
    deadline = time.monotonic() + partners.AUTH_CACHE_TTL_S + 2
    while (status := _post(http, _order(trade), old).status_code) != 401 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status == 401
    # a trade is opened once (ADR 0016): the new key opens another one
    again = cloudevent(
        ORDER_PLACED, {**first["data"], "event_id": str(uuid.uuid4()), "trade_id": str(uuid.uuid4())}
    )
    assert _post(http, again, new).status_code == 201


# -- 403 ----------------------------------------------------------------------------------------------------


def test_role_that_may_not_publish_the_type_is_403(http, trade) -> None:
    # the supplier may not place the buyer's order, even naming itself as sender
    data = trade.cast.first("OrderPlaced")
    data["sender"] = trade.cast.supplier
    body = _assert_problem(_post(http, cloudevent(ORDER_PLACED, data), trade.keys[trade.cast.supplier]), 403)
    assert body["errors"][0]["field"] == "type"
    assert "SUPPLIER may not publish OrderPlaced" in body["errors"][0]["reason"]


def test_sender_other_than_the_partner_is_403(http, admin, trade) -> None:
    other_buyer, other_key = admin.add("BUYER")
    body = _assert_problem(_post(http, _order(trade), other_key), 403)
    assert body["errors"] == [
        {
            "field": "data.sender",
            "reason": f"must be your partner id {other_buyer!r}, not {trade.cast.buyer!r}",
            "rule": "actor-is-sender",
        }
    ]


def test_trade_party_rules(http, admin, trade) -> None:
    events = {t.rsplit(".", 1)[-1]: (t, d) for t, d in reversed(trade.cast.events)}  # first of each type

    def send(short: str, partner_id: str, key: str | None = None, **changes):
        event_type, data = events[short]
        data = {**data, "event_id": str(uuid.uuid4()), **changes}
        return _post(http, cloudevent(event_type, data), key or trade.keys[partner_id])

    # nothing but the buyer's order opens a trade: the supplier's answer to an unknown trade is refused
    body = _assert_problem(send("OrderResponded", trade.cast.supplier), 403)
    assert body["errors"][0]["field"] == "data.trade_id" and "not opened" in body["errors"][0]["reason"]
    assert send("OrderPlaced", trade.cast.buyer).status_code == 201
    # now buyer and supplier are parties
    assert send("OrderResponded", trade.cast.supplier).status_code == 201
    assert send("OrderAmended", trade.cast.buyer).status_code == 201

    # a carrier is a party only once the buyer or the supplier admitted it: naming itself gets it nowhere
    stranger, stranger_key = admin.add("CARRIER")
    body = _assert_problem(send("TransportEventRecorded", stranger, stranger_key, sender=stranger), 403)
    assert "not admitted" in body["errors"][0]["reason"]
    carrier_party = {**events["ShipmentBooked"][1]["carrier"], "party_id": stranger}
    body = _assert_problem(
        send("ShipmentBooked", stranger, stranger_key, sender=stranger, carrier=carrier_party), 403
    )
    assert body["errors"][0]["rule"] == "admitted-party"
    body = _assert_problem(send("ShipmentBooked", trade.cast.carrier), 403)  # not admitted yet either
    admission = next(
        d for t, d in trade.cast.events if t.endswith("PartyAdmitted") and d["role"] == "CARRIER"
    )
    assert send("PartyAdmitted", admission["sender"], party_id=admission["party_id"]).status_code == 201
    assert send("ShipmentBooked", trade.cast.carrier).status_code == 201
    assert send("TransportEventRecorded", trade.cast.carrier).status_code == 201
    # a stranger that names someone else as carrier does not get in
    body = _assert_problem(send("ShipmentBooked", stranger, stranger_key, sender=stranger), 403)

    # another buyer cannot take over the trade with its own order
    other_buyer, other_key = admin.add("BUYER")
    order_type, order = events["OrderPlaced"]
    hijack = json.loads(json.dumps(order))
    hijack.update(event_id=str(uuid.uuid4()), sender=other_buyer)
    hijack["buyer"]["party_id"] = other_buyer
    body = _assert_problem(_post(http, cloudevent(order_type, hijack), other_key), 403)
    assert "opened by another order" in body["errors"][0]["reason"]

    rows = admin.fetch(
        "SELECT event_type FROM {gw}.trade_facts WHERE trade_id = $1 ORDER BY seq",
        uuid.UUID(trade.cast.trade_id),
    )
    assert [r["event_type"].rsplit(".", 1)[-1] for r in rows] == [
        "OrderPlaced",
        "PartyAdmitted",
        "ShipmentBooked",
    ]


def test_an_issuer_or_customs_naming_itself_does_not_join_a_trade(http, trade) -> None:
    """Naming yourself in your own role (issuer, customs) admits no one: before ADR 16 it did, on any
    trade, known or not. Only the buyer's order opens a trade and only its principals admit."""
    for short in ("CertificateIssued", "CustomsEventRecorded", "TransportEventRecorded"):
        event_type, data = next((t, d) for t, d in trade.cast.events if t.endswith(short))
        body = _assert_problem(_post(http, cloudevent(event_type, data), trade.keys[data["sender"]]), 403)
        assert body["errors"][0]["rule"] == "trade-opened-by-buyer", body


def test_forbidden_batch_item_refuses_the_whole_batch(http, trade) -> None:
    ok = _order(trade)
    # the buyer's amendment of a trade nobody opened
    amendment = trade.cast.first("OrderAmended")
    bad = cloudevent(
        "corridor.trade.orders.OrderAmended",
        {**amendment, "event_id": str(uuid.uuid4()), "trade_id": str(uuid.uuid4())},
    )
    response = http.post(
        "/v1/events/batch",
        content=json.dumps([ok, bad]),
        headers={"Content-Type": "application/json", **trade.auth(trade.cast.buyer)},
    )
    body = _assert_problem(response, 403)
    assert [e["index"] for e in body["errors"]] == [1]
    # item 0 was not produced: publishing it alone now is a first publication, not a replay
    response = _post(http, ok, trade.keys[trade.cast.buyer])
    assert response.status_code == 201 and "idempotent-replayed" not in response.headers
