"""Lifecycle violations and undecodable records go to trade.dlq.v1 with their headers; the good records
behind them (same partition) are stored, and the consumer keeps going."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from corridor.core.codec import Codec
from corridor.core.domain.events import TransportEventRecorded
from corridor.core.envelope import CloudEvent
from corridor.core.registry_client import RegistryClient
from corridor.core.topics import SHIPMENTS
from corridor.demo.story import chromite_story
from corridor.ledger.topics import DLQ_TOPIC
from tests.integration.ledger.ledger_helpers import InProcessLedger, LedgerSetup, eventually, headers_of

pytestmark = pytest.mark.integration

DLQ_HEADERS = (
    "dlq_original_topic",
    "dlq_original_partition",
    "dlq_original_offset",
    "dlq_error_class",
    "dlq_reason",
    "dlq_attempts",
    "dlq_first_seen",
)


async def test_violations_and_garbage_are_dead_lettered_and_the_records_behind_them_stored(
    ledger: InProcessLedger,
    ledger_setup: LedgerSetup,
    publish: Any,
    raw_producer: AIOKafkaProducer,
    registry: RegistryClient,
    tail: Any,
    db: asyncpg.Pool,
) -> None:
    story = chromite_story()
    key = str(story.trade_id).encode()
    act = next(
        e
        for e in story.events
        if isinstance(e, TransportEventRecorded)
        and e.transport_event_type == "DEPA"
        and e.classifier == "ACT"
    )
    head = story.events[: story.events.index(act) + 1]
    rest = story.events[story.events.index(act) + 1 :]
    dlq = await tail(DLQ_TOPIC)

    await publish(*head)
    second_act = act.model_validate(
        {**act.model_dump(), "event_id": uuid.uuid4(), "occurred_at": act.occurred_at + dt.timedelta(hours=2)}
    )
    (violation_ack,) = await publish(second_act)

    codec = Codec(registry)
    real = await codec.encode_async(rest[0])
    garbage = {
        "WireFormatError:magic": b"this is not Avro at all",
        "UnknownSchemaId": b"\x00\x7f\xff\xff\xf0" + real[5:],
        "WireFormatError:truncated": real[: len(real) // 2],
    }
    sent: dict[str, tuple[bytes, Any]] = {}
    for name, value in garbage.items():
        headers = [("x-test-case", name.encode()), *CloudEvent.for_event(rest[0]).to_headers()]
        meta = await (await raw_producer.send(SHIPMENTS, value=value, key=key, headers=headers))
        sent[name] = (value, meta)
    await publish(*rest)  # good records behind the bad ones, on the same partitions

    s = ledger_setup.db_schema

    async def stored_all() -> bool:
        version = await db.fetchval(f'SELECT version FROM "{s}".trades WHERE trade_id = $1', story.trade_id)
        return version == len(story.events)

    await eventually(stored_all, within=90)
    ids = {
        r["event_id"]
        for r in await db.fetch(f'SELECT event_id FROM "{s}".events WHERE trade_id = $1', story.trade_id)
    }
    assert ids == {e.event_id for e in story.events}  # every good one, and not the second departure
    trade = await db.fetchrow(f'SELECT status FROM "{s}".trades WHERE trade_id = $1', story.trade_id)
    assert trade["status"] == "CLOSED"

    records = await dlq.wait_for(
        lambda r: r.key == key and headers_of(r).get("dlq_consumer_group") == ledger_setup.group_id, count=4
    )
    by_case = {headers_of(r).get("x-test-case", "violation"): r for r in records}
    assert set(by_case) == {"violation", *garbage}
    for record in records:
        headers = headers_of(record)
        assert all(h in headers for h in DLQ_HEADERS), headers
        assert headers["dlq_original_topic"] == SHIPMENTS
        assert headers["dlq_attempts"] == "1"
        dt.datetime.fromisoformat(headers["dlq_first_seen"])
        assert headers["ce_specversion"] == "1.0"  # the original headers are kept

    violation = headers_of(by_case["violation"])
    assert violation["dlq_error_class"] == "LifecycleViolation"
    assert "second actual DEPA" in violation["dlq_reason"]
    assert violation["ce_id"] == str(second_act.event_id)
    assert (violation["dlq_original_partition"], violation["dlq_original_offset"]) == (
        str(violation_ack.partition),
        str(violation_ack.offset),
    )
    for name, (value, meta) in sent.items():
        record = by_case[name]
        headers = headers_of(record)
        assert headers["dlq_error_class"] == name.split(":")[0], headers["dlq_reason"]
        assert record.value == value  # byte for byte
        assert (headers["dlq_original_partition"], headers["dlq_original_offset"]) == (
            str(meta.partition),
            str(meta.offset),
        )
    assert "magic byte" in headers_of(by_case["WireFormatError:magic"])["dlq_reason"]
    assert "cannot decode Avro" in headers_of(by_case["WireFormatError:truncated"])["dlq_reason"]
    assert ledger.ledger.stats.failures == 0  # bad records never failed a batch
