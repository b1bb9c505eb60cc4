"""The monitor's JSON APIs against the real stack: the numbers match what was produced.

``produced`` (conftest.py) published 103 story events (2 chromite stories of 40, 1 explosives story of
23) with ``TradeProducer`` after committing a fresh consumer group at the end offsets; the monitor
must report end offsets moved by exactly that many on
exactly those partitions, the group's lag equal to them, the ledger's commits and trade states, the
dead letters we write, and the live events over SSE with their payloads decoded on request.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from corridor.core.kafka import TradeProducer, client_security
from corridor.core.topics import TRADE_TOPICS
from corridor.demo.story import chromite_story
from corridor.monitor.stats import reason_pattern
from tests.integration.monitor.monitor_helpers import (
    Produced,
    World,
    get_json,
    group_of,
    topic_ends,
    wait_until,
)

pytestmark = pytest.mark.integration


async def test_end_offsets_moved_by_exactly_what_was_produced(produced: Produced) -> None:
    assert produced.count == 103  # 2 × 40 + 23, the stories with their admissions (ADR 16) and credit
    deltas = {key: produced.after[key] - produced.before[key] for key in produced.before}
    assert sum(deltas.values()) == produced.count
    assert {k: v for k, v in deltas.items() if v} == dict(produced.per_partition())
    topics = {t["name"]: t for t in produced.overview["topics"]}
    for topic in TRADE_TOPICS:
        assert topics[topic]["kind"] == "trade"
        assert topics[topic]["end_offset"] == sum(v for (t, _), v in produced.after.items() if t == topic)
    assert produced.overview["kpis"]["trade_events"] == sum(produced.after.values())


async def test_the_topics_api_agrees_with_kafka_and_shows_throughput(
    produced: Produced, monitor_http: httpx.AsyncClient
) -> None:
    view = await get_json(monitor_http, "/api/topics")
    names = [t["name"] for t in view["topics"]]
    assert names[:3] == list(TRADE_TOPICS)
    assert not any(n.startswith("__") for n in names)
    ends = topic_ends(view)
    assert all(ends[k] >= v for k, v in produced.after.items())
    orders = next(t for t in view["topics"] if t["name"] == "trade.orders.v1")
    assert orders["records"] == sum(p["end"] - p["start"] for p in orders["partitions"])
    # the 103 records arrived between two samples a moment ago: a positive rate in the chart's history
    assert any(rate > 0 for _, rate in orders["history"])
    assert all(len(point) == 2 for point in orders["history"])


async def test_a_consumer_group_lags_by_what_was_produced_after_its_commit(
    produced: Produced, monitor_http: httpx.AsyncClient
) -> None:
    group = group_of(produced.overview["groups"], produced.group)
    assert group is not None
    assert group["lag"] == produced.count
    assert group["members"] == 0 and group["state"] == "Empty"
    lags = {(t["topic"], p["partition"]): p["lag"] for t in group["topics"] for p in t["partitions"]}
    assert len(lags) == sum(1 for _ in produced.before)  # every trade partition was committed
    assert {k: v for k, v in lags.items() if v} == dict(produced.per_partition())
    per_topic = {t["topic"]: t["lag"] for t in group["topics"]}
    assert per_topic == {t: produced.per_topic()[t] for t in TRADE_TOPICS}
    # /api/groups lists it too (with all groups, and filtered by name)
    everything = await get_json(monitor_http, "/api/groups", match=produced.group)
    assert [g["group_id"] for g in everything["groups"]] == [produced.group]
    assert everything["ledger_group"].startswith("it-monitor-ledger_")


async def test_latency_and_trade_states_come_from_the_ledger(
    produced: Produced, monitor_world: World, monitor_http: httpx.AsyncClient
) -> None:
    schema = monitor_world.setup.db_schema
    event_ids = [uuid.UUID(a.event_id) for a in produced.acks]
    conn = await asyncpg.connect(monitor_world.stack.database_url)
    try:

        async def stored() -> bool:
            n = await conn.fetchval(
                f'SELECT count(*) FROM "{schema}".events WHERE event_id = ANY($1)', event_ids
            )
            return bool(n == len(event_ids))

        await wait_until(stored, within=60, what="the test ledger to store every published event")

        async def latency_measured() -> dict[str, Any] | None:
            view: dict[str, Any] = await get_json(monitor_http, "/api/latency")
            return view if view["count"] >= produced.count else None

        latency = await wait_until(latency_measured, within=30, what="latencies of the published events")
        # TradeProducer stamps corridor_published_ms (ADR 8): the publish times come from the header
        assert latency["source"] == "header"
        assert latency["sources"]["header"] >= produced.count
        assert latency["ledger_schema"] == schema
        assert 0 <= latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"] < 60_000
        assert sum(b["count"] for b in latency["histogram"]) == latency["count"]

        async def states_match() -> Any:
            view = await get_json(monitor_http, "/api/trades/states")
            rows = await conn.fetch(f'SELECT status, count(*) AS n FROM "{schema}".trades GROUP BY status')
            return (
                view if view["available"] and view["trades"] == {r["status"]: r["n"] for r in rows} else None
            )

        states = await wait_until(
            states_match, within=30, what="/api/trades/states to equal the ledger's table"
        )
        ours = await conn.fetch(
            f'SELECT status FROM "{schema}".trades WHERE trade_id = ANY($1)',
            [uuid.UUID(t) for t in produced.trade_ids],
        )
        assert len(ours) == 3
        for row in ours:
            assert states["trades"][row["status"]] >= 1
        assert states["trades_total"] >= 3
        assert states["events_stored"] >= produced.count
        assert states["shipments"] and states["certificates"]
    finally:
        await conn.close()


async def test_dead_letters_are_counted_by_reason(
    produced: Produced, stack: Any, monitor_http: httpx.AsyncClient
) -> None:
    tag = uuid.uuid4().hex[:8]
    reason = f"monitor test {tag}: trade 0b0f5a4e-0000-4000-8000-00000000000{{}} has no order"
    before = await get_json(monitor_http, "/api/dlq")
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap_servers, **client_security(), acks="all")
    await producer.start()
    try:
        for i in range(3):
            await producer.send_and_wait(
                "trade.dlq.v1",
                value=b"\x00\x00\x00\x00\x01not avro",
                key=b"0b0f5a4e-0000-4000-8000-000000000001",
                headers=[
                    ("ce_type", b"corridor.trade.orders.OrderPlaced"),
                    ("dlq_original_topic", b"trade.orders.v1"),
                    ("dlq_original_partition", b"0"),
                    ("dlq_original_offset", str(i).encode()),
                    ("dlq_error_class", f"MonitorTest{tag}".encode()),
                    ("dlq_reason", reason.format(i).encode()),
                    ("dlq_attempts", b"1"),
                ],
            )
    finally:
        await producer.stop()

    async def counted() -> Any:
        view = await get_json(monitor_http, "/api/dlq", top=1000)
        mine = [r for r in view["top_reasons"] if r["error_class"] == f"MonitorTest{tag}"]
        deeper = view["depth"] >= before["depth"] + 3  # sampled end offsets, a tick behind the tail
        return view if mine and mine[0]["count"] == 3 and deeper else None

    view = await wait_until(counted, within=30, what="the monitor to count the dead letters")
    mine = next(r for r in view["top_reasons"] if r["error_class"] == f"MonitorTest{tag}")
    assert mine["reason"] == reason_pattern(reason.format(0))  # one reason, whatever the trade id
    assert view["exists"] and view["topic"] == "trade.dlq.v1"
    recent = [r for r in view["recent"] if r.get("error_class") == f"MonitorTest{tag}"]
    assert [r["original_offset"] for r in recent] == ["2", "1", "0"]  # newest first

    # a dead letter is not Avro we can decode: the record view says so and shows the bytes
    item = recent[0]
    record = await get_json(
        monitor_http, f"/api/records/{item['topic']}/{item['partition']}/{item['offset']}"
    )
    assert "payload" not in record and record["error"]
    assert record["headers"]["dlq_error_class"] == f"MonitorTest{tag}"


async def test_the_stream_sends_live_events_and_payloads_come_on_request(
    produced: Produced, monitor_http: httpx.AsyncClient, trade_producer: TradeProducer
) -> None:
    story = chromite_story()
    wanted = {str(e.event_id) for e in story.events[:3]}
    seen: dict[str, dict[str, Any]] = {}
    async with monitor_http.stream("GET", "/api/stream", params={"replay": 0}, timeout=30) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        await trade_producer.publish_many(story.events[:3])
        event = None
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: ") and event == "event":
                item = json.loads(line.removeprefix("data: "))
                if item.get("event_id") in wanted:
                    seen[item["event_id"]] = item
                    if wanted <= seen.keys():
                        break
    first = seen[str(story.events[0].event_id)]
    assert first["type"] == "OrderPlaced" and first["topic"] == "trade.orders.v1"
    assert first["key"] == str(story.trade_id) and first["live"] is True
    assert first["schema_id"] > 0
    assert "payload" not in first  # metadata only on the stream

    record = await get_json(
        monitor_http, f"/api/records/{first['topic']}/{first['partition']}/{first['offset']}"
    )
    assert record["type"] == "corridor.trade.orders.OrderPlaced"
    assert record["payload"]["event_id"] == first["event_id"]
    assert record["payload"]["trade_id"] == str(story.trade_id)
    line = record["payload"]["lines"][0]
    assert line["unit_price"]["amount"] == "285.5000"  # decimals exact, as text
    assert record["headers"]["ce_id"] == first["event_id"]

    missing = await monitor_http.get(f"/api/records/{first['topic']}/{first['partition']}/999999999")
    assert missing.status_code == 404


async def test_the_page_and_its_assets_are_served_from_the_package(monitor_http: httpx.AsyncClient) -> None:
    page = await monitor_http.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "/static/app.js" in page.text
    assert "https://" not in page.text and 'src="http' not in page.text  # nothing loaded from elsewhere
    for asset in ("/static/app.js", "/static/style.css"):
        response = await monitor_http.get(asset)
        assert response.status_code == 200 and len(response.content) > 1000
    health = await monitor_http.get("/healthz")
    assert health.json() == {"status": "ok"}
    metrics = await monitor_http.get("/metrics")
    assert metrics.status_code == 200 and "process_cpu_seconds_total" in metrics.text


async def test_every_api_answer_matches_the_openapi_document(
    produced: Produced, monitor_http: httpx.AsyncClient
) -> None:
    """What a client generated from /openapi.json expects is what the monitor answers."""
    from tests.support.openapi_check import answer_errors

    spec = (await monitor_http.get("/openapi.json")).json()
    problems: list[str] = []
    recent = await get_json(monitor_http, "/api/events/recent")
    assert recent["events"], "the produced events are in the tail"
    item = recent["events"][-1]
    calls = {
        "/api/overview": "/api/overview",
        "/api/topics": "/api/topics",
        "/api/groups": "/api/groups",
        "/api/dlq": "/api/dlq",
        "/api/latency": "/api/latency",
        "/api/trades/states": "/api/trades/states",
        "/api/events/recent": "/api/events/recent",
        "/api/records/{topic}/{partition}/{offset}": (
            f"/api/records/{item['topic']}/{item['partition']}/{item['offset']}"
        ),
        "/healthz": "/healthz",
        "/readyz": "/readyz",
    }
    for template, url in calls.items():
        answer = await monitor_http.get(url)
        problems += answer_errors(spec, "get", template, answer.status_code, answer.json())
    assert not problems, "\n".join(problems)
