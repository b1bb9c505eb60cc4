"""Optional stage ``partner_feed``: end-to-end latency from a partner's request to the gateway until the
event is in its counterparty's partner topic, on the running stack (``corridor stack up``: gateway,
ledger, relay), as a partner would see it.

Unlike the other stages it uses the stack's own services and topics, not processes of its own: the path
measured is the production one (gateway → trade topic → ledger → accepted stream → relay → partner
topic since ADR 0027; gateway → trade topic → relay → partner topic before it), so the same stage
measures both. Two fresh partners (a buyer who publishes orders, a supplier who reads them) are
registered; orders of new trades are offered open loop at fixed rates, and each event's latency runs
from its *scheduled* send time to the moment a ``read_committed`` consumer of the supplier's topic
receives it (one clock). ``corridor bench --stage partner_feed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from corridor.bench.common import LEADERS_WAIT_S, BenchContext, latency_summary
from corridor.bench.payloads import order_json_for_gateway
from corridor.core import partners
from corridor.core.kafka import client_security
from corridor.core.routing import partner_topic
from corridor.core.settings import get_settings
from corridor.stack.admin import wait_for_leaders

#: (events/s, seconds) offered, one request per event; quick runs offer the first only, briefly.
LOADS: tuple[tuple[int, float], ...] = ((10, 20.0), (25, 20.0), (50, 15.0))
GRACE_S = 20.0


async def run(ctx: BenchContext) -> dict[str, Any]:
    settings = get_settings()
    services = (
        ("gateway", settings.gateway_url),
        ("ledger", settings.ledger_url),
        ("relay", settings.relay_url),
    )
    async with httpx.AsyncClient(timeout=5) as http:
        for name, url in services:
            try:
                ready = (await http.get(f"{url}/readyz")).status_code == 200
            except httpx.HTTPError:
                ready = False
            if not ready:
                raise RuntimeError(f"the stack's {name} does not answer at {url}: run `corridor stack up`")
    pool = await asyncpg.create_pool(ctx.database_url, min_size=1, max_size=2)
    try:
        await partners.ensure_schema(pool)
        buyer_id, supplier_id = f"bench-buyer-{ctx.run_id}", f"bench-supplier-{ctx.run_id}"
        _, buyer_key = await partners.add_partner(pool, buyer_id, "BUYER", "Bench buyer")
        await partners.add_partner(pool, supplier_id, "SUPPLIER", "Bench supplier")
    finally:
        await pool.close()
    loads = LOADS[:1] if ctx.quick else LOADS
    results = []
    for rate, seconds in loads:
        seconds = min(seconds, 5.0) if ctx.quick else seconds
        ctx.progress(
            f"partner_feed: {rate} orders/s for {seconds:.0f} s, gateway → {partner_topic(supplier_id)}"
        )
        results.append(await _load(settings.gateway_url, ctx.bootstrap_servers, buyer_key, buyer_id,
                                   supplier_id, rate, seconds))  # fmt: skip
    return {"buyer": buyer_id, "supplier": supplier_id, "loads": results}


async def _load(
    gateway_url: str, bootstrap: str, api_key: str, buyer: str, supplier: str, rate: int, seconds: float
) -> dict[str, Any]:
    consumer = await _tail(bootstrap, supplier)
    scheduled: dict[str, float] = {}
    received: dict[str, float] = {}
    everything = asyncio.Event()  # every scheduled event received
    acked: list[float] = []
    errors = 0

    async def receive() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for records in batch.values():
                for record in records:
                    ce_id = next((v.decode() for k, v in record.headers or () if k == "ce_id"), None)
                    if ce_id in scheduled and ce_id not in received:
                        received[ce_id] = now
            if sending_done.is_set() and len(received) >= len(scheduled):
                everything.set()

    async def send(client: httpx.AsyncClient, event_id: uuid.UUID, at: float) -> None:
        nonlocal errors
        document = order_json_for_gateway(event_id, uuid.uuid4())
        data = document["data"]
        data["buyer"] = {**data["buyer"], "party_id": buyer}
        data["supplier"] = {**data["supplier"], "party_id": supplier}
        data["sender"] = buyer
        response = await client.post(
            "/v1/events", json=document, headers={"Authorization": f"Bearer {api_key}"}
        )
        if response.status_code == 201:
            acked.append((time.time() - at) * 1000)
        else:
            errors += 1
            scheduled.pop(str(event_id), None)

    sending_done = asyncio.Event()
    reader = asyncio.create_task(receive())
    try:
        async with httpx.AsyncClient(
            base_url=gateway_url, timeout=30, limits=httpx.Limits(max_connections=64)
        ) as client:
            start = time.time() + 0.5
            n = int(rate * seconds)
            tasks = []
            for i in range(n):
                at = start + i / rate
                delay = at - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                event_id = uuid.uuid4()
                scheduled[str(event_id)] = at
                tasks.append(asyncio.create_task(send(client, event_id, at)))
            await asyncio.gather(*tasks)
        sending_done.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(everything.wait(), GRACE_S)
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        await consumer.stop()
    latencies = [(received[i] - at) * 1000 for i, at in scheduled.items() if i in received]
    return {
        "offered_per_s": rate,
        "seconds": seconds,
        "sent": len(scheduled) + errors,
        "refused": errors,
        "received": len(latencies),
        "lost_or_late": len(scheduled) - len(latencies),
        "gateway_ack": latency_summary(acked),
        "to_partner_topic": latency_summary(latencies),
    }


async def _tail(bootstrap: str, partner_id: str) -> AIOKafkaConsumer:
    """A read_committed consumer of every partition of the partner's topic (created like the relay
    would), from its end now."""
    topic = partner_topic(partner_id)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_security())
    await admin.start()
    try:
        await partners.ensure_partner_topics(admin, [partner_id], 6)
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    await wait_for_leaders(bootstrap, [topic], LEADERS_WAIT_S)  # a new topic has no leaders for a moment
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, **client_security(), isolation_level="read_committed", group_id=None
    )
    await consumer.start()
    tps = [TopicPartition(topic, p["partition"]) for p in described[0]["partitions"]]
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:
        await consumer.position(tp)
    return consumer
