"""The reference receiver over HTTP (ASGI, in process): signature, timestamp window, replays, idempotency."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from corridor.webhooks import signing
from corridor.webhooks.receiver import Receiver

SECRET = "whsec_receiver-test-secret"
NOW = 1_767_225_600.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def document(event_id: str = "9b2f4c7e-2d1a-4f0e-8a57-3c1e0f6b9d21") -> bytes:
    return json.dumps({"specversion": "1.0", "id": event_id, "type": "x", "data": {"n": 1}}).encode()


def signed(body: bytes, *, at: float = NOW, secret: str = SECRET) -> dict[str, str]:
    return {
        "Content-Type": "application/cloudevents+json",
        "Corridor-Signature": signing.sign(secret, body, timestamp=int(at)),
    }


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver(clock: Clock) -> Receiver:
    return Receiver(SECRET, clock=clock)


@pytest.fixture
async def http(receiver: Receiver) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=receiver), base_url="http://receiver"
    ) as client:
        yield client


async def test_accepts_a_signed_delivery_once(
    http: httpx.AsyncClient, receiver: Receiver, clock: Clock
) -> None:
    body = document()
    response = await http.post("/hooks", content=body, headers=signed(body))
    assert response.status_code == 200 and response.json()["status"] == "processed"
    # the dispatcher's retry (its answer got lost): signed again a moment later → acknowledged, not redone
    clock.now += 3
    response = await http.post("/hooks", content=body, headers=signed(body, at=clock.now))
    assert response.status_code == 200 and response.json()["status"] == "duplicate"
    assert [d["id"] for d in receiver.events] == ["9b2f4c7e-2d1a-4f0e-8a57-3c1e0f6b9d21"]


async def test_rejects_a_bad_signature(http: httpx.AsyncClient, receiver: Receiver) -> None:
    body = document()
    for headers, content in (
        (signed(body, secret="not-the-secret-at-all"), body),
        (signed(body), body.replace(b'"n": 1', b'"n": 2')),
        ({"Content-Type": "application/cloudevents+json"}, body),
        ({"Corridor-Signature": "t=1,v2=abc"}, body),
    ):
        response = await http.post("/hooks", content=content, headers=headers)
        assert response.status_code == 401 and response.json()["error"] == "bad_signature", response.text
    assert receiver.events == []


@pytest.mark.parametrize("age", [301, 3600, -301])
async def test_rejects_an_old_or_future_timestamp(
    http: httpx.AsyncClient, receiver: Receiver, age: int
) -> None:
    body = document()
    response = await http.post("/hooks", content=body, headers=signed(body, at=NOW - age))
    assert response.status_code == 401 and response.json()["error"] == "stale"
    assert "tolerance 300 s" in response.json()["detail"]
    assert receiver.events == []


async def test_rejects_a_replayed_request(http: httpx.AsyncClient, receiver: Receiver, clock: Clock) -> None:
    body = document()
    headers = signed(body)
    assert (await http.post("/hooks", content=body, headers=headers)).status_code == 200
    clock.now += 10  # the same signed request again, inside the window
    response = await http.post("/hooks", content=body, headers=headers)
    assert response.status_code == 409 and response.json()["error"] == "replay"
    clock.now += 600  # and after it: too old
    response = await http.post("/hooks", content=body, headers=headers)
    assert response.status_code == 401 and response.json()["error"] == "stale"
    assert len(receiver.events) == 1


async def test_malformed_documents_and_methods(http: httpx.AsyncClient) -> None:
    for body in (b"not json", b'{"specversion":"1.0"}', b'{"id": 7}', b"[]"):
        response = await http.post("/hooks", content=body, headers=signed(body))
        assert response.status_code == 400, body
    assert (await http.get("/hooks")).status_code == 405


async def test_a_failing_handler_answers_500_and_the_retry_processes_it(clock: Clock) -> None:
    calls: list[dict[str, Any]] = []

    async def flaky(doc: dict[str, Any]) -> None:
        calls.append(doc)
        if len(calls) == 1:
            raise RuntimeError("database busy")

    receiver = Receiver(SECRET, on_event=flaky, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="http://r") as http:
        body = document()
        assert (await http.post("/", content=body, headers=signed(body))).status_code == 500
        clock.now += 2
        response = await http.post("/", content=body, headers=signed(body, at=clock.now))
        assert response.status_code == 200 and response.json()["status"] == "processed"
    assert len(calls) == 2


async def test_accepts_either_secret_while_rotating(clock: Clock) -> None:
    receiver = Receiver(["old-secret-0123456789", SECRET], clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=receiver), base_url="http://r") as http:
        a, b = document("a"), document("b")
        assert (
            await http.post("/", content=a, headers=signed(a, secret="old-secret-0123456789"))
        ).status_code == 200
        assert (await http.post("/", content=b, headers=signed(b))).status_code == 200
    assert [d["id"] for d in receiver.events] == ["a", "b"]
