"""Hostile records in a trade topic: each lands in ``trade.dlq.v1`` with a reason, the ledger keeps
running, and the good events produced after them are stored — not stuck behind them, not lost.

The records go to private copies of the trade topics read by a ledger of this test (its own consumer
group and PostgreSQL schemas; see conftest.py for why the stack's topics are not used). The cases are
listed in ``corpus/consumers/records.json``; the decoder and the dead-letter sizing are also fuzzed
offline with Hypothesis.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.record.default_records import DefaultRecordBatchBuilder as Batch
from fastavro import parse_schema, schemaless_writer
from hypothesis import given
from hypothesis import strategies as st

from corridor.core.codec import Codec, WireFormatError, frame
from corridor.core.domain.events import OrderPlaced
from corridor.core.envelope import CloudEvent
from corridor.core.kafka import client_security
from corridor.core.registry_client import RegistryClient, RegistryError
from corridor.core.schemas import catalog
from corridor.core.topics import TOPIC_SPECS
from corridor.demo.story import chromite_story
from corridor.ledger import consumer as ledger_consumer
from corridor.ledger import deadletter as dl
from corridor.ledger.topics import DLQ_TOPIC, RETRY_TOPICS
from tests.hostile.conftest import CORPUS, hostile_settings
from tests.integration.ledger.ledger_helpers import (
    InProcessLedger,
    LedgerSetup,
    TopicTail,
    drop_schemas,
    eventually,
    headers_of,
    unique,
    wait_ready,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

CASES: list[dict[str, Any]] = json.loads((CORPUS / "consumers" / "records.json").read_text())["cases"]
TOPIC_MAX_BYTES = int(TOPIC_SPECS[0].configs["max.message.bytes"])
NOT_A_TRADE_EVENT = {
    "type": "record",
    "name": "NotATradeEvent",
    "namespace": "corridor.hostile",
    "fields": [{"name": "trade_id", "type": "string"}, {"name": "note", "type": "string"}],
}


# -- a ledger on private trade topics ---------------------------------------------------------------------


@pytest.fixture
async def private_topics(stack: Any) -> AsyncIterator[dict[str, str]]:
    """Copies of the three trade topics (same configs, one partition: every record behind the others)."""
    run = uuid.uuid4().hex[:8]
    names = {spec.name: f"hostile-{run}.{spec.name}" for spec in TOPIC_SPECS}
    admin = AIOKafkaAdminClient(
        bootstrap_servers=stack.bootstrap_servers, **client_security(), client_id="hostile-suite"
    )
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(names[spec.name], num_partitions=1, replication_factor=1, topic_configs=spec.configs)
                for spec in TOPIC_SPECS
            ]
        )
        yield names
    finally:
        try:
            await admin.delete_topics(list(names.values()))
        finally:
            await admin.close()


@pytest.fixture
async def ledger(
    stack: Any, private_topics: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[InProcessLedger, LedgerSetup]]:
    """A ledger (own group, own schemas, ``--start-from latest``) reading the private trade topics."""
    trade_topics = tuple(private_topics[spec.name] for spec in TOPIC_SPECS)
    monkeypatch.setattr(ledger_consumer, "TRADE_TOPICS", trade_topics)
    monkeypatch.setattr(ledger_consumer, "ORDERS", trade_topics[0])
    monkeypatch.setattr(ledger_consumer, "CONSUMED_TOPICS", (*trade_topics, *RETRY_TOPICS))
    monkeypatch.setattr(
        ledger_consumer, "_TOPIC_RANK", {t: r for r, t in enumerate((*trade_topics, *RETRY_TOPICS))}
    )
    setup = LedgerSetup(unique("hostile-ledger"), unique("ledger_hostile"), unique("partners_hostile"))
    await drop_schemas(stack.database_url, setup.db_schema, setup.partners_schema)
    server = InProcessLedger(setup.settings(stack))
    await asyncio.to_thread(server.start)
    try:
        await wait_ready(server.url)
        yield server, setup
    finally:
        await asyncio.to_thread(server.stop)
        await drop_schemas(stack.database_url, setup.db_schema, setup.partners_schema)


@pytest.fixture
async def registry(stack: Any) -> AsyncIterator[RegistryClient]:
    async with RegistryClient(stack.schema_registry_url) as client:
        yield client


@pytest.fixture
async def foreign_schemas(stack: Any, registry: RegistryClient) -> AsyncIterator[dict[str, int]]:
    """Ids of schemas that are not trade events (a record, a primitive), registered for this test and
    deleted afterwards."""
    run = uuid.uuid4().hex[:8]
    subjects = {
        "record": (f"hostile.{run}-corridor.hostile.NotATradeEvent", json.dumps(NOT_A_TRADE_EVENT)),
        "primitive": (f"hostile.{run}-string", '"string"'),
    }
    ids = {kind: await registry.register(subject, text) for kind, (subject, text) in subjects.items()}
    yield ids
    async with httpx.AsyncClient(base_url=stack.schema_registry_url, timeout=30) as http:
        for subject, _ in subjects.values():
            await http.delete(f"/subjects/{subject}")
            await http.delete(f"/subjects/{subject}", params={"permanent": "true"})


# -- the hostile records -------------------------------------------------------------------------------------


@dataclass
class Sent:
    case: dict[str, Any]
    key: bytes | None
    value: bytes | None
    offset: int


def avro(schema: Any, record: Any) -> bytes:
    buf = io.BytesIO()
    schemaless_writer(buf, parse_schema(schema), record)
    return buf.getvalue()


async def build_record(
    case: dict[str, Any], codec: Codec, ids: dict[str, int]
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """(key, value, headers) of a corpus case, around a valid OrderPlaced of a fresh trade."""
    event = chromite_story().events[0]
    assert isinstance(event, OrderPlaced)
    good = await codec.encode_async(event)
    key: bytes | None = str(event.trade_id).encode()
    headers = CloudEvent.for_event(event).to_headers()
    kind = case["value"]
    value: bytes | None
    if kind == "text":
        value = case["text"].encode()
    elif kind == "empty":
        value = b""
    elif kind == "null":
        value = None
    elif kind == "good":
        value = good
    elif kind == "prefix":
        value = bytes.fromhex(case["hex"]) + good[5:]
    elif kind == "head":
        value = good[: case["bytes"]]
    elif kind == "half":
        value = good[: len(good) // 2]
    elif kind == "not-a-trade-event":
        value = frame(ids["record"], avro(NOT_A_TRADE_EVENT, {"trade_id": str(event.trade_id), "note": "x"}))
    elif kind == "primitive":
        value = frame(ids["primitive"], avro("string", "an Avro string, not a record"))
    elif kind == "invalid-event":
        record = event.to_avro()
        record["lines"][0]["hs_code"] = "2610.00"
        writer = catalog().event(event.avro_name)
        value = frame(await codec.writer_id(writer), avro(writer.schema, record))
    elif kind == "garbage":
        value = b""  # sized below, once the key and headers are known
    else:
        raise ValueError(f"unknown value kind {kind}")
    if case.get("key") == "other":
        key = str(uuid.uuid4()).encode()
    elif case.get("key") == "none":
        key = None
    if case.get("headers") == "none":
        headers = []
    elif case.get("headers") == "other-event":
        other = chromite_story().events[1]
        headers = CloudEvent.for_event(other).to_headers()
    headers = [("x-hostile-case", case["name"].encode()), *headers]
    if kind == "garbage":
        # as large as the topic takes (max.message.bytes): random bytes behind a wrong magic byte
        size = TOPIC_MAX_BYTES - Batch.estimate_size_in_bytes(key, b"", headers) - 8
        value = bytes.fromhex(case["hex"]) + os.urandom(size - 1)
    return key, value, headers


async def test_hostile_records_are_dead_lettered_and_the_good_ones_behind_them_stored(
    stack: Any,
    ledger: tuple[InProcessLedger, LedgerSetup],
    private_topics: dict[str, str],
    registry: RegistryClient,
    foreign_schemas: dict[str, int],
) -> None:
    server, setup = ledger
    orders = private_topics["trade.orders.v1"]
    codec = Codec(registry)
    dlq = await TopicTail(stack.bootstrap_servers, DLQ_TOPIC).start()
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.bootstrap_servers,
        **client_security(),
        acks="all",
        max_request_size=2 * 1024 * 1024,
    )
    await producer.start()
    sent: dict[str, Sent] = {}
    try:
        for case in CASES:
            key, value, headers = await build_record(case, codec, foreign_schemas)
            meta = await producer.send_and_wait(orders, value=value, key=key, headers=headers)
            sent[case["name"]] = Sent(case, key, value, meta.offset)
        # good events behind the bad ones, on the same partition: a trade opened and answered
        story = chromite_story()
        good = story.events[:2]
        for event in good:
            await producer.send_and_wait(
                private_topics[event.topic],
                value=await codec.encode_async(event),
                key=str(event.trade_id).encode(),
                headers=CloudEvent.for_event(event).to_headers(),
            )
    finally:
        await producer.stop()

    pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=2)

    async def stored() -> bool:
        version = await pool.fetchval(
            f'SELECT version FROM "{setup.db_schema}".trades WHERE trade_id = $1', story.trade_id
        )
        return version == len(good)

    try:
        await eventually(stored, within=120)
        records = await dlq.wait_for(
            lambda r: headers_of(r).get("dlq_consumer_group") == setup.group_id, count=len(CASES), within=60
        )
        ids = {r["event_id"] for r in await pool.fetch(f'SELECT event_id FROM "{setup.db_schema}".events')}
    finally:
        await dlq.stop()
        await pool.close()

    assert ids == {e.event_id for e in good}  # the good ones, and nothing of the hostile ones
    by_case = {headers_of(r)["x-hostile-case"]: r for r in records}
    assert set(by_case) == set(sent) and len(records) == len(CASES)
    for name, item in sent.items():
        record, expect = by_case[name], item.case["expect"]
        headers = headers_of(record)
        assert headers["dlq_error_class"] == expect["error_class"], (name, headers)
        assert expect["reason"].lower() in headers["dlq_reason"].lower(), (name, headers["dlq_reason"])
        assert headers["dlq_original_topic"] == orders
        assert headers["dlq_original_offset"] == str(item.offset)
        assert record.key == item.key
        if expect.get("value_truncated"):
            assert item.value is not None and headers["dlq_value_truncated"] == str(len(item.value))
            assert record.value and item.value.startswith(record.value)
        else:
            assert record.value == item.value, name  # byte for byte
    assert server.ledger.stats.failures == 0  # no batch failed: nothing was retried, nothing is stuck
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        assert (await http.get("/readyz")).status_code == 200


def test_the_corpus_covers_the_brief() -> None:
    names = {c["name"] for c in CASES}
    assert {
        "not-our-wire-format",
        "empty-value",
        "wrong-magic-byte",
        "unknown-schema-id",
        "truncated-avro",
        "valid-avro-not-a-trade-event",
        "missing-cloudevents-headers",
        "key-not-the-trade-id",
        "garbage-1-mib",
    } <= names


# -- offline: the decoder and the dead-letter sizing, fuzzed ------------------------------------------------


class StubRegistry:
    """Schema ids 1 (OrderPlaced), 2 (a string), 3 (a record that is not a trade event); others 404."""

    def __init__(self) -> None:
        self.texts = {
            1: catalog().event("OrderPlaced").schema_str,
            2: '"string"',
            3: json.dumps(NOT_A_TRADE_EVENT),
        }

    async def schema_by_id(self, schema_id: int) -> str:
        if schema_id not in self.texts:
            raise RegistryError(404, 40403, f"Schema {schema_id} not found")
        return self.texts[schema_id]


DECODE_ERRORS = (WireFormatError, RegistryError, ValueError)  # ValueError: pydantic's ValidationError


@hostile_settings(max_examples=300)
@given(
    schema_id=st.sampled_from([0, 1, 1, 1, 2, 3, 7, 2**31 - 1, 2**31, 2**32 - 1]),
    magic=st.sampled_from([0, 0, 0, 1, 255]),
    body=st.binary(max_size=600),
    keep=st.integers(min_value=0, max_value=700),
)
def test_decoding_arbitrary_bytes_only_raises_what_the_ledger_dead_letters(
    schema_id: int, magic: int, body: bytes, keep: int
) -> None:
    """Random bodies behind a real header (and truncations of a real event): the decoder returns an
    event or raises an error the ledger dead-letters; it never hangs or raises something else."""
    codec = Codec(StubRegistry())  # type: ignore[arg-type]
    event = chromite_story().events[0]
    buf = io.BytesIO()
    schemaless_writer(buf, catalog().event("OrderPlaced").parsed, event.to_avro())
    real = buf.getvalue()
    for data in (bytes([magic]) + schema_id.to_bytes(4, "big") + body, frame(1, real)[: 5 + keep]):
        try:
            asyncio.run(asyncio.wait_for(codec.decode_event(data), 5))
        except DECODE_ERRORS:
            pass


@hostile_settings(max_examples=200)
@given(
    key=st.none() | st.binary(max_size=3000),
    value_size=st.integers(min_value=0, max_value=1_200_000),
    header_sizes=st.lists(st.integers(min_value=0, max_value=700_000), max_size=4),
    tiny_headers=st.integers(min_value=0, max_value=40_000),
)
def test_dead_letters_always_fit_the_topic(
    key: bytes | None, value_size: int, header_sizes: list[int], tiny_headers: int
) -> None:
    """Whatever a record carried, its dead letter is producible: within the producer's request size and
    the topic's max.message.bytes; our dlq_* headers always survive, cuts are recorded."""
    value = b"v" * value_size
    original = [(f"h{i}", b"x" * n) for i, n in enumerate(header_sizes)] + [("t", b"")] * tiny_headers
    origin = dl.Origin("t", 0, 1, dt.datetime.now(dt.UTC), 1)
    headers = dl.dlq_headers(original, origin, error_class="WireFormatError", reason="r", group="g")
    key2, value2, headers2 = dl.fit_record(key, value, headers)
    assert Batch.estimate_size_in_bytes(key2, value2, headers2) <= min(1024 * 1024, TOPIC_MAX_BYTES)
    names = [k for k, _ in headers2]
    assert all(n in names for n, _ in headers if n.startswith("dlq_"))  # ours always survive
    if value2 != value:
        assert value.startswith(value2 or b"")
        assert headers_of_list(headers2)["dlq_value_truncated"] == str(value_size)


def headers_of_list(headers: list[tuple[str, bytes]]) -> dict[str, str]:
    return {k: v.decode() for k, v in headers}
