"""Idempotency per partner on the CloudEvents id (or Idempotency-Key): replays, conflicts, races."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from tests.unit.gateway.gateway_samples import cloudevent

pytestmark = pytest.mark.integration

CE_JSON = {"Content-Type": "application/cloudevents+json"}
ORDER_PLACED = "corridor.trade.orders.OrderPlaced"


def _order(trade, **changes):
    return cloudevent(ORDER_PLACED, {**trade.cast.first("OrderPlaced"), **changes})


def test_replay_returns_the_original_result_and_produces_once(http, trade, kafka) -> None:
    doc = _order(trade)
    headers = {**CE_JSON, **trade.auth(trade.cast.buyer)}
    first = http.post("/v1/events", content=json.dumps(doc), headers=headers)
    assert first.status_code == 201, first.text
    # the same event, written differently (key order, spacing, number formatting) is the same event
    data = doc["data"]
    data["lines"][0]["unit_price"]["amount"] = 285.5
    rewritten = json.dumps(dict(reversed(list(doc.items()))), indent=2)
    second = http.post("/v1/events", content=rewritten, headers=headers)
    assert second.status_code == 201, second.text
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    r = first.json()
    assert kafka.count(r["topic"], r["partition"], doc["id"], r["offset"] - 50) == 1


def test_same_id_with_a_different_event_is_409(http, trade, kafka) -> None:
    doc = _order(trade)
    headers = {**CE_JSON, **trade.auth(trade.cast.buyer)}
    first = http.post("/v1/events", content=json.dumps(doc), headers=headers)
    assert first.status_code == 201
    changed = json.loads(json.dumps(doc))
    changed["data"]["lines"][0]["quantity"]["value"] = "6000.000"
    response = http.post("/v1/events", content=json.dumps(changed), headers=headers)
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["type"] == "urn:corridor:problem:idempotency-conflict"
    assert body["errors"][0]["field"] == "id"
    r = first.json()
    assert kafka.count(r["topic"], r["partition"], doc["id"], r["offset"] - 50) == 1


def test_ids_are_per_partner(http, admin, trade) -> None:
    """Another partner's event with the same id is its own (and is judged on its own merits)."""
    doc = _order(trade)
    assert http.post(
        "/v1/events", content=json.dumps(doc), headers={**CE_JSON, **trade.auth(trade.cast.buyer)}
    )
    other, key = admin.add("BUYER")
    data = json.loads(json.dumps(doc["data"]))
    data.update(sender=other, trade_id=str(uuid.uuid4()))
    data["buyer"]["party_id"] = other
    response = http.post(
        "/v1/events",
        content=json.dumps(cloudevent(ORDER_PLACED, data)),
        headers={**CE_JSON, "Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 201, response.text
    assert "idempotent-replayed" not in response.headers


def test_idempotency_key_header_takes_the_place_of_the_id(http, trade) -> None:
    headers = {**CE_JSON, **trade.auth(trade.cast.buyer), "Idempotency-Key": f"erp-{uuid.uuid4()}"}
    doc = _order(trade)
    first = http.post("/v1/events", content=json.dumps(doc), headers=headers)
    assert first.status_code == 201
    again = http.post("/v1/events", content=json.dumps(doc), headers=headers)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    # a new event under the same key is a conflict
    other = _order(trade, event_id=str(uuid.uuid4()))
    assert http.post("/v1/events", content=json.dumps(other), headers=headers).status_code == 409


def test_concurrent_identical_requests_produce_once(gateway, trade, kafka) -> None:
    headers = {**CE_JSON, **trade.auth(trade.cast.buyer)}
    docs = [_order(trade, event_id=str(uuid.uuid4())) for _ in range(3)]

    async def race() -> list[list[httpx.Response]]:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            rounds = []
            for doc in docs:
                body = json.dumps(doc)
                rounds.append(
                    await asyncio.gather(
                        *(client.post("/v1/events", content=body, headers=headers) for _ in range(4))
                    )
                )
            return rounds

    for doc, responses in zip(docs, asyncio.run(race()), strict=True):
        assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
        results = {json.dumps(r.json(), sort_keys=True) for r in responses}
        assert len(results) == 1  # everybody got the one result
        assert sum(1 for r in responses if "idempotent-replayed" not in r.headers) == 1
        r = responses[0].json()
        assert kafka.count(r["topic"], r["partition"], doc["id"], r["offset"] - 50) == 1


def test_batch_replays_items_already_acknowledged(http, trade, kafka) -> None:
    headers = {"Content-Type": "application/json", **trade.auth(trade.cast.buyer)}
    first = _order(trade)
    single = http.post("/v1/events", content=json.dumps(first), headers={**headers, **CE_JSON})
    assert single.status_code == 201
    amended = cloudevent("corridor.trade.orders.OrderAmended", trade.cast.first("OrderAmended"))
    response = http.post("/v1/events/batch", content=json.dumps([first, amended]), headers=headers)
    assert response.status_code == 201, response.text
    results = response.json()["results"]
    assert results[0]["replayed"] is True and results[0]["offset"] == single.json()["offset"]
    assert "replayed" not in results[1]
    r = results[0]
    assert kafka.count(r["topic"], r["partition"], first["id"], r["offset"] - 50) == 1
    # and a batch item reusing an id for something else stops the whole batch
    changed = json.loads(json.dumps(amended))
    changed["data"]["revision"] = changed["data"].get("revision", 1) + 5
    fresh = _order(trade, event_id=str(uuid.uuid4()))
    response = http.post("/v1/events/batch", content=json.dumps([fresh, changed]), headers=headers)
    assert response.status_code == 409, response.text
    assert [e["index"] for e in response.json()["errors"]] == [1]
    alone = http.post("/v1/events", content=json.dumps(fresh), headers={**headers, **CE_JSON})
    assert alone.status_code == 201 and "idempotent-replayed" not in alone.headers  # was not produced


def test_concurrent_batches_sharing_ids_in_opposite_orders_produce_each_event_once(
    gateway, trade, kafka
) -> None:
    base = trade.cast.first("OrderPlaced")
    docs = [
        cloudevent(ORDER_PLACED, {**base, "event_id": str(uuid.uuid4()), "trade_id": str(uuid.uuid4())})
        for _ in range(20)
    ]
    headers = {"Content-Type": "application/json", **trade.auth(trade.cast.buyer)}

    async def race() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=60) as client:
            bodies = [json.dumps(docs), json.dumps(docs[::-1]), json.dumps(docs[5:] + docs[:5])]
            return list(
                await asyncio.gather(
                    *(client.post("/v1/events/batch", content=b, headers=headers) for b in bodies)
                )
            )

    responses = asyncio.run(race())
    assert [r.status_code for r in responses] == [201, 201, 201], [r.text[:300] for r in responses]
    by_id: dict[str, set[str]] = {}
    produced = 0
    for response in responses:
        for item in response.json()["results"]:
            by_id.setdefault(item["event_id"], set()).add(
                f"{item['topic']}/{item['partition']}/{item['offset']}"
            )
            produced += not item.get("replayed")
    assert produced == len(docs)  # each event produced by exactly one of the three requests
    assert all(len(places) == 1 for places in by_id.values())  # and all three report the same place
    for doc in docs[:3]:
        topic, partition, offset = next(iter(by_id[doc["id"]])).split("/")
        assert kafka.count(topic, int(partition), doc["id"], int(offset) - 50) == 1
