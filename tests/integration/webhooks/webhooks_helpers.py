"""Helpers of the webhooks integration tests: servers in threads, a flaky front for the receiver, and a
producer that writes partner topics the way the relay does."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from corridor.core import signatures
from corridor.core.codec import Codec
from corridor.core.domain.base import TradeEvent
from corridor.core.envelope import CloudEvent
from corridor.core.kafka import client_security
from corridor.webhooks.delivery import SIGNATURE_VERDICT_HEADER
from corridor.webhooks.receiver import Receiver, read_body
from corridor.webhooks.verification import VERIFICATION_TYPE


class ServerThread:
    """An ASGI app under uvicorn in a thread with its own event loop, on a free 127.0.0.1 port."""

    def __init__(self, app: Any, name: str) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name=f"{name}-{self.port}", daemon=True
        )

    def start(self, within: float = 60.0) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + within
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=60)
        self._sock.close()


@dataclass
class Hit:
    """One request that reached the receiver's front."""

    at: float
    event_id: str | None
    attempt: str | None
    status: int


@dataclass
class FlakyFront:
    """ASGI front of a reference receiver: answers 503 to the next ``fail_next`` requests and to every
    request for an event id in ``fail_ids``; records every request (``hits``)."""

    receiver: Receiver
    fail_next: int = 0
    fail_ids: set[str] = field(default_factory=set)
    hits: list[Hit] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.receiver(scope, receive, send)
            return
        body = await read_body(receive) or b""
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if VERIFICATION_TYPE.encode() in body:  # the subscription's verification: not an event, never flaky
            status, answer = await self.receiver.receive(headers, body)
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": json.dumps(answer).encode()})
            return
        event_id = _event_id(body)
        if self.fail_next > 0 or event_id in self.fail_ids:
            self.fail_next = max(0, self.fail_next - 1)
            status = 503
            await send({"type": "http.response.start", "status": 503, "headers": []})
            await send({"type": "http.response.body", "body": b"maintenance"})
        else:
            status, answer = await self.receiver.receive(headers, body)
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": str(answer).encode()})
        self.hits.append(Hit(time.monotonic(), event_id, headers.get("corridor-attempt"), status))


def _event_id(body: bytes) -> str | None:
    import json

    try:
        return str(json.loads(body)["id"])
    except (ValueError, KeyError, TypeError):
        return None


async def create_topic(bootstrap_servers: str, topic: str, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **client_security(), client_id="webhooks-tests"
    )
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=topic, num_partitions=partitions, replication_factor=1)])
    finally:
        await admin.close()


async def delete_topic(bootstrap_servers: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, **client_security(), client_id="webhooks-tests"
    )
    await admin.start()
    try:
        await admin.delete_topics([topic])
    except Exception:  # best effort: the topic holds only this test's records
        pass
    finally:
        await admin.close()


async def produce_as_relay(bootstrap_servers: str, codec: Codec, topic: str, *events: TradeEvent) -> None:
    """What the relay does: the original Avro value, key = trade id, the CloudEvents headers kept, and on
    certificates the verdict of their signature."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, **client_security(), acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        futures = []
        for event in events:
            futures.append(
                await producer.send(
                    topic,
                    value=await codec.encode_async(event),
                    key=str(event.trade_id).encode(),
                    headers=CloudEvent.for_event(event).to_headers() + verdict_header(event),
                )
            )
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def verdict_header(event: TradeEvent) -> list[tuple[str, bytes]]:
    if event.avro_name not in signatures.SIGNED_TYPES:
        return []
    return [(SIGNATURE_VERDICT_HEADER, signatures.verify_event(event, {}).status.value.encode())]
