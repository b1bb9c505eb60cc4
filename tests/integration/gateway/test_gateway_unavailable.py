"""Backends down: 503 with Retry-After, never a 2xx for an event the broker did not acknowledge.

The shared broker is never stopped: extra gateways point at addresses where nothing listens (or where
something accepts connections and never answers), on the module's database schemas.
"""

from __future__ import annotations

import json
import socket
import time

import httpx
import pytest

from tests.unit.gateway.gateway_samples import cloudevent

pytestmark = pytest.mark.integration

CE_JSON = {"Content-Type": "application/cloudevents+json"}


@pytest.fixture
def black_hole():
    """A TCP port that accepts connections and never says a word."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def _order(trade):
    return cloudevent("corridor.trade.orders.OrderPlaced", trade.cast.first("OrderPlaced"))


def _assert_503(response) -> dict:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    return response.json()


def test_kafka_unreachable_is_503_and_nothing_is_acknowledged(
    start_gateway, http, admin, trade, kafka
) -> None:
    down = start_gateway(bootstrap_servers="127.0.0.1:1")
    doc = _order(trade)
    headers = {**CE_JSON, **trade.auth(trade.cast.buyer)}
    with httpx.Client(base_url=down.url, timeout=30) as client:
        started = time.monotonic()
        body = _assert_503(client.post("/v1/events", content=json.dumps(doc), headers=headers))
        assert time.monotonic() - started < 15
        assert body["type"] == "urn:corridor:problem:kafka-unavailable"
        batch = client.post(
            "/v1/events/batch",
            content=json.dumps([doc]),
            headers={**headers, "Content-Type": "application/json"},
        )
        assert _assert_503(batch)["results"][0]["status"] == 503
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["postgres"] == "ok"
        assert ready.json()["checks"]["kafka"] != "ok"
        assert client.get("/healthz").status_code == 200
    # no claim is left behind, no trade party recorded for an event that never landed
    assert admin.fetch("SELECT key FROM {gw}.idempotency WHERE key = $1", doc["id"]) == []
    assert admin.fetch("SELECT 1 FROM {gw}.trade_facts WHERE trade_id = $1::uuid", trade.cast.trade_id) == []
    # the client's retry against a working gateway produces it, exactly once
    retry = http.post("/v1/events", content=json.dumps(doc), headers=headers)
    assert retry.status_code == 201 and "idempotent-replayed" not in retry.headers
    r = retry.json()
    assert kafka.count(r["topic"], r["partition"], doc["id"], r["offset"] - 50) == 1


def test_kafka_that_never_answers_is_503_within_the_produce_timeout(start_gateway, trade, black_hole) -> None:
    silent = start_gateway(bootstrap_servers=black_hole, gateway_produce_timeout_s=2.0)
    with httpx.Client(base_url=silent.url, timeout=30) as client:
        started = time.monotonic()
        response = client.post(
            "/v1/events",
            content=json.dumps(_order(trade)),
            headers={**CE_JSON, **trade.auth(trade.cast.buyer)},
        )
        elapsed = time.monotonic() - started
        started = time.monotonic()
        ready = client.get("/readyz")
        assert ready.status_code == 503 and time.monotonic() - started < 6
    _assert_503(response)
    assert elapsed < 8, elapsed


def test_registry_unreachable_for_an_unresolved_schema_is_503(start_gateway, trade) -> None:
    no_registry = start_gateway(schema_registry_url="http://127.0.0.1:1")
    with httpx.Client(base_url=no_registry.url, timeout=30) as client:
        response = client.post(
            "/v1/events",
            content=json.dumps(_order(trade)),
            headers={**CE_JSON, **trade.auth(trade.cast.buyer)},
        )
    body = _assert_503(response)
    assert body["type"] == "urn:corridor:problem:schema-registry-unavailable"


def test_gateway_without_its_database_does_not_start(start_gateway) -> None:
    with pytest.raises(RuntimeError, match="exited during startup"):
        start_gateway(database_url="postgresql://nobody@127.0.0.1:1/x")
