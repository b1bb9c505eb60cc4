"""One inbound decoder (``corridor.core.inbound``): the same records get the same verdict in the four
consumers that decode trade events — the ledger (dead-letters), the relay and the webhook dispatcher
(skip), the partner SDK (raises ``UndecodableRecord`` or skips) — and a registry outage is retried by
each of them, never taken for a bad record."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from aiokafka.structs import ConsumerRecord

import corridor.sdk as sdk
from corridor.core import inbound
from corridor.core.codec import Codec, frame
from corridor.core.registry_client import RegistryError
from corridor.demo.story import chromite_story
from corridor.ledger import deadletter as dl
from corridor.ledger.consumer import Ledger, TransientError
from corridor.relay.relay import Relay
from corridor.relay.settings import RelaySettings
from corridor.sdk.consumer import PartnerConsumer, UndecodableRecord
from corridor.webhooks.dispatcher import Dispatcher
from corridor.webhooks.settings import WebhooksSettings

EVENT = chromite_story().events[0]


class Registry:
    """Fake of RegistryClient that fails as told once ``fail`` is set (ids unknown to it: HTTP 404)."""

    def __init__(self) -> None:
        self.by_id: dict[int, str] = {}
        self.fail: BaseException | None = None

    async def register(self, subject: str, schema_str: str) -> int:
        for schema_id, known in self.by_id.items():
            if known == schema_str:
                return schema_id
        schema_id = len(self.by_id) + 100
        self.by_id[schema_id] = schema_str
        return schema_id

    lookup = register

    async def schema_by_id(self, schema_id: int) -> str:
        if self.fail is not None:
            raise self.fail
        if schema_id not in self.by_id:
            raise RegistryError(404, 40403, f"Schema {schema_id} not found")
        return self.by_id[schema_id]


async def encoded(event: Any) -> tuple[Registry, bytes]:
    registry = Registry()
    return registry, await Codec(registry, auto_register=True).encode_async(event)  # type: ignore[arg-type]


def record(value: bytes | None, event: Any = EVENT) -> ConsumerRecord[bytes, bytes]:
    headers = [
        ("ce_id", str(event.event_id).encode()),
        ("ce_source", b"/corridor/partners/x"),
        ("ce_type", event.avro_name.encode()),
        ("ce_specversion", b"1.0"),
        ("ce_time", b"2026-02-10T01:30:00Z"),
    ]
    key = str(event.trade_id).encode()
    return ConsumerRecord(
        "trade.orders.v1", 0, 7, 0, 0, key, value, None, len(key), len(value or b""), headers
    )


async def case(name: str) -> tuple[Codec, ConsumerRecord[bytes, bytes]]:
    """A fresh codec (nothing cached) and the record of case ``name``."""
    registry, good = await encoded(EVENT)
    value: bytes | None = good
    if name == "tombstone":
        value = None
    elif name == "not our wire format":
        value = b'{"order_id": "TJRD-PO-2026-0117"}'
    elif name == "truncated Avro":
        value = good[:-3]
    elif name == "unknown schema id":
        value = frame(999, good[5:])
    elif name == "invalid event":
        registry, value = await encoded(EVENT.model_copy(update={"lines": []}))
    elif name == "registry failing (HTTP 503)":
        registry.fail = RegistryError(503, None, "unavailable")
    elif name == "registry refusing the login (HTTP 401)":
        registry.fail = RegistryError(401, 40101, "unauthorized")
    elif name == "registry unreachable (httpx)":
        registry.fail = httpx.ConnectError("connection refused")
    elif name == "registry unreachable (OSError)":
        registry.fail = ConnectionRefusedError(111, "Connection refused")
    return Codec(registry, auto_register=False), record(value)  # type: ignore[arg-type]


CASES = {
    "a trade event": None,
    "tombstone": "WireFormatError",
    "not our wire format": "WireFormatError",
    "truncated Avro": "WireFormatError",
    "unknown schema id": "UnknownSchemaId",
    "invalid event": "InvalidEvent",
    "registry failing (HTTP 503)": "transient",
    "registry refusing the login (HTTP 401)": "transient",
    "registry unreachable (httpx)": "transient",
    "registry unreachable (OSError)": "transient",
}


def kind(expected: str | None) -> str:
    return "ok" if expected is None else "transient" if expected == "transient" else "permanent"


# -- each consumer's verdict: ok, permanent (with the error class where it keeps one) or transient --------


async def by_core(codec: Codec, rec: ConsumerRecord[bytes, bytes]) -> str:
    try:
        decoded = await inbound.decode(codec, rec.value)
    except inbound.RegistryUnavailable as exc:
        assert exc.failure.transient
        return "transient"
    except inbound.Undecodable as exc:
        assert not exc.failure.transient and exc.failure.reason
        return exc.failure.error_class
    assert decoded.event == EVENT
    return "ok"


async def by_ledger(codec: Codec, rec: ConsumerRecord[bytes, bytes]) -> str:
    ledger = Ledger(bootstrap_servers="127.0.0.1:1", codec=codec, store=Any, group_id="g")  # type: ignore[arg-type]
    origin = dl.Origin(rec.topic, rec.partition, rec.offset, dt.datetime.now(dt.UTC), 1)
    try:
        item = await ledger._decode(rec, origin, None, None, None)
    except TransientError:
        return "transient"
    if item.failure is not None:
        return item.failure[0]
    assert item.event == EVENT and item.schema_id == 100
    return "ok"


async def by_relay(codec: Codec, rec: ConsumerRecord[bytes, bytes]) -> str:
    try:
        event = await Relay(RelaySettings(), codec)._decode(rec)
    except inbound.RegistryUnavailable:
        return "transient"
    return "permanent" if event is None else "ok"


class _Retried(Exception):
    pass


async def by_webhooks(codec: Codec, rec: ConsumerRecord[bytes, bytes]) -> str:
    dispatcher = Dispatcher(WebhooksSettings(), store=Any, codec=codec)  # type: ignore[arg-type]

    async def pause(seconds: float) -> None:  # the dispatcher waits, then asks the registry again
        raise _Retried

    dispatcher._pause = pause  # type: ignore[method-assign]
    try:
        decoded = await dispatcher._decode(rec)
    except _Retried:
        return "transient"
    if decoded is None:
        assert dispatcher.stats.undecodable == 1
        return "permanent"
    assert decoded[0] == EVENT and decoded[1].id == str(EVENT.event_id)
    return "ok"


async def by_sdk(codec: Codec, rec: ConsumerRecord[bytes, bytes]) -> str:
    consumer = PartnerConsumer(bootstrap="127.0.0.1:1", username="u", password="p", partner_id="acme",
                               registry_url="http://127.0.0.1:1", group="acme.erp")  # fmt: skip
    consumer._decoder.codec = codec
    try:
        decoded = await consumer._decode(rec)
    except UndecodableRecord as exc:
        assert not sdk.is_transient(exc.__cause__ or exc)
        return "permanent"
    except Exception as exc:
        assert sdk.is_transient(exc), exc
        return "transient"
    assert decoded.event == EVENT
    return "ok"


@pytest.mark.parametrize(("name", "expected"), CASES.items(), ids=list(CASES))
async def test_the_four_consumers_and_the_core_give_a_record_the_same_verdict(
    name: str, expected: str | None
) -> None:
    assert await by_core(*await case(name)) == (expected or "ok")
    assert await by_ledger(*await case(name)) == (expected or "ok")
    for consumer in (by_relay, by_webhooks, by_sdk):
        assert await consumer(*await case(name)) == kind(expected), consumer.__name__


@pytest.mark.parametrize(
    ("exc", "transient", "error_class"),
    [
        (RegistryError(404, 40403, "schema not found"), False, "UnknownSchemaId"),
        (RegistryError(500, 50001, "backend"), True, "RegistryError"),
        (httpx.ReadTimeout("slow"), True, "ReadTimeout"),
        (httpx.InvalidURL("no scheme"), True, "InvalidURL"),
        (TimeoutError(), True, "TimeoutError"),
        (ValueError("bad enum"), False, "ValueError"),
        (KeyError("field"), False, "KeyError"),
    ],
)
def test_a_failure_is_the_registrys_or_the_records(
    exc: BaseException, transient: bool, error_class: str
) -> None:
    failure = inbound.classify(exc)
    assert (failure.transient, failure.error_class) == (transient, error_class)
    assert inbound.is_transient(exc) is transient
    assert failure.reason


def test_the_sdk_tells_transient_failures_apart_with_the_services_rule() -> None:
    assert sdk.is_transient is inbound.is_transient


async def test_cancellation_passes_through_the_decoder() -> None:
    class Cancelling:
        async def decode_event(self, value: bytes) -> Any:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await inbound.decode(Cancelling(), b"\x00")  # type: ignore[arg-type]
