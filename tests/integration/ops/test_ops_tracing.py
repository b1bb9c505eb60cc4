"""W3C trace context gateway → Kafka → ledger: a ``traceparent`` sent to the gateway is the trace of the
gateway's SERVER and PRODUCER spans, of the record's header, of the ledger's CONSUMER span, of the
ledger's log lines for that event and of the trace id it stores; ``corridor trace`` shows the hops."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from corridor.demo.story import ALL_PARTIES, chromite_story
from corridor.demo.via_gateway import ensure_partner_keys, publish_via_gateway
from corridor.ops.kafka_io import fetch_record, headers_dict
from tests.integration.ledger.ledger_helpers import eventually
from tests.integration.ops.ops_helpers import Isolation, run_cli

pytestmark = pytest.mark.integration


def _spans(lines: list[dict[str, Any]], trace_id: str, kind: str) -> list[dict[str, Any]]:
    return [
        line
        for line in lines
        if line.get("kind") == f"SpanKind.{kind}"
        and line.get("context", {}).get("trace_id") == f"0x{trace_id}"
    ]


async def test_a_traceparent_sent_to_the_gateway_reaches_the_ledger(
    ops_stack: Any, iso: Isolation, services: Any, db: asyncpg.Pool, tmp_path: Path
) -> None:
    tracing = {"CORRIDOR_OTEL_EXPORTER": "console", "CORRIDOR_LOG_LEVEL": "DEBUG"}
    ledger = await services("ledger", iso, **tracing).ready()
    gateway = await services("gateway", iso, **tracing).ready()
    story = chromite_story()
    order = story.events[0]
    keys = await ensure_partner_keys(
        ops_stack.database_url,
        # the order names its supplier, which must be a registered partner too (ADR 16)
        [p for p in ALL_PARTIES if p.party_id in (order.sender, order.supplier.party_id)],  # type: ignore[attr-defined]
        tmp_path,
        schema=iso.partners_schema,
    )
    trace_id, caller_span = secrets.token_hex(16), secrets.token_hex(8)
    document = {
        "specversion": "1.0",
        "id": str(order.event_id),
        "source": "/erp",
        "type": order.avro_name,
        "data": order.model_dump(mode="json"),
    }
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        response = await http.post(
            "/v1/events",
            content=json.dumps(document).encode(),
            headers={
                "Content-Type": "application/cloudevents+json",
                "Authorization": f"Bearer {keys[order.sender]}",
                "traceparent": f"00-{trace_id}-{caller_span}-01",
            },
        )
    assert response.status_code == 201, response.text
    ack = response.json()

    # the record: a new span (the gateway's PRODUCER span) in the caller's trace
    record = await fetch_record(ops_stack.bootstrap_servers, ack["topic"], ack["partition"], ack["offset"])
    assert record is not None
    headers = headers_dict(record)
    _, record_trace, record_span, flags = headers["traceparent"].split("-")
    assert record_trace == trace_id and record_span != caller_span and flags == "01"
    assert int(headers["corridor_received_ms"]) <= int(headers["corridor_published_ms"])

    # the ledger stores the trace id with the event
    s = iso.ledger_schema

    async def stored() -> Any:
        return await db.fetchval(f'SELECT trace_id FROM "{s}".events WHERE event_id = $1', order.event_id)

    assert await eventually(stored, within=60) == trace_id

    # ... and says so in its log lines, and continues the trace in a CONSUMER span per record
    def mine(line: dict[str, Any]) -> bool:
        return line.get("event") == "event_stored" and line.get("event_id") == str(order.event_id)

    def ledger_saw() -> list[dict[str, Any]]:
        lines = ledger.log_lines()
        return [line for line in lines if mine(line)] and _spans(lines, trace_id, "CONSUMER")

    (consumer,) = await eventually(ledger_saw, within=30)
    assert consumer["parent_id"] == f"0x{record_span}"
    assert consumer["attributes"]["messaging.destination.name"] == ack["topic"]
    assert consumer["attributes"]["messaging.message.id"] == str(order.event_id)
    assert consumer["attributes"]["corridor.outcome"] == "stored"
    (stored_line,) = [line for line in ledger.log_lines() if mine(line)]
    assert stored_line["trace_id"] == trace_id and stored_line["event_id"] == str(order.event_id)
    assert stored_line["type"] == "OrderPlaced" and stored_line["e2e_ms"] >= 0

    # the gateway: SERVER span child of the caller's span, PRODUCER span child of it, request log line
    def gateway_saw() -> Any:
        lines = gateway.log_lines()
        return _spans(lines, trace_id, "PRODUCER") and (lines, _spans(lines, trace_id, "SERVER"))

    lines, (server,) = await eventually(gateway_saw, within=30)
    (producer,) = _spans(lines, trace_id, "PRODUCER")
    assert server["parent_id"] == f"0x{caller_span}" and server["name"] == "POST /v1/events"
    assert producer["parent_id"] == server["context"]["span_id"]
    assert producer["context"]["span_id"] == f"0x{record_span}"
    assert producer["attributes"]["messaging.kafka.offset"] == ack["offset"]
    (request,) = [
        line for line in lines if line.get("event") == "request" and line.get("path") == "/v1/events"
    ]
    assert request["trace_id"] == trace_id and request["event_id"] == str(order.event_id)
    accepted = [line for line in lines if line.get("event") == "event_accepted"]
    assert accepted and all(line["trace_id"] == trace_id for line in accepted)


async def test_trace_shows_every_event_of_a_gateway_story_with_its_hops(
    ops_stack: Any, iso: Isolation, services: Any, db: asyncpg.Pool, tmp_path: Path
) -> None:
    await services("ledger", iso).ready()
    gateway = await services("gateway", iso).ready()
    story = chromite_story()
    senders = {e.sender for e in story.events}
    keys = await ensure_partner_keys(
        ops_stack.database_url,
        [p for p in ALL_PARTIES if p.party_id in senders],
        tmp_path,
        schema=iso.partners_schema,
    )
    await publish_via_gateway(story, gateway.url, keys)
    s = iso.ledger_schema

    async def stored() -> bool:
        n = await db.fetchval(f'SELECT count(*) FROM "{s}".events WHERE trade_id = $1', story.trade_id)
        return bool(n == len(story.events))

    await eventually(stored, within=90)

    trade = str(story.trade_id)
    code, out, err = await run_cli(ops_stack, "trace", trade, "--json", "--ledger-schema", s)
    assert code == 0, err
    result = json.loads(out)
    assert result["trade_id"] == trade
    assert {e["event_id"] for e in result["events"]} == {str(e.event_id) for e in story.events}
    for event in result["events"]:
        hops, latency = event["hops"], event["latency_ms"]
        assert hops["gateway_accept"] and hops["kafka"] and hops["ledger_commit"], event
        assert latency["gateway_to_kafka"] >= 0 and latency["kafka_to_ledger"] >= 0, event
        # from the gateway to the last hop: the ledger's commit, or a partner copy the relay made after it
        last_hop = max(latency["kafka_to_ledger"], latency["kafka_to_partner"] or 0)
        assert latency["kafka_to_partner"] is None or latency["kafka_to_partner"] >= 0, event
        assert latency["total"] == latency["gateway_to_kafka"] + last_hop, event
        assert event["trace_id"] and len(event["copies"]) == 1 and not event["dead_letters"]
    assert [e["occurred_at"] for e in result["events"]] == sorted(e["occurred_at"] for e in result["events"])
    assert set(result["hops"]) >= {"gateway_to_kafka", "kafka_to_ledger", "total"}
    assert result["hops"]["kafka_to_ledger"]["events"] == len(story.events)

    code, out, err = await run_cli(ops_stack, "trace", trade, "--ledger-schema", s)
    assert code == 0, err
    assert f"Trade {trade}: {len(story.events)} event(s)" in out
    for name in {type(e).__name__ for e in story.events}:
        assert name in out
    assert "kafka to ledger" in out and "NOT in the ledger" not in out

    code, _, err = await run_cli(
        ops_stack, "trace", "7d1c1a3e-0000-4000-8000-000000000000", "--ledger-schema", s
    )
    assert code != 0 and "no events" in err
