"""The main job — play a trade story end to end through Kafka (``corridor demo``, in ``corridor.cli.demo``).

Each event is produced as the party that would send it (its own producer, client id and CloudEvents
source), with acks=all; a separate consumer group reads the trade back from the three trade topics,
decoding every record through the schema registry (and is deleted afterwards), and the timeline is
printed from those records. On a stack with the relay, every party gets a Kafka login and the supplier
reads the trade from its own partner topic (``partner_feed``). Certificate numbers carry a suffix of
the run's trade id, so reruns never make two certificates of one number.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from typing import Any

import click
from aiokafka import TopicPartition

from corridor.core.codec import Codec
from corridor.core.envelope import REQUIRED_HEADERS
from corridor.core.evolution import TRADE_SUBJECT_LEVEL, register_all
from corridor.core.kafka import (
    Published,
    TradeConsumer,
    TradeProducer,
    TradeRecord,
    end_offsets,
    start_group_at,
)
from corridor.core.registry_client import RegistryClient
from corridor.core.schemas import catalog
from corridor.core.settings import get_settings
from corridor.core.topics import TRADE_TOPICS
from corridor.demo import partner_feed
from corridor.demo.story import (
    ALL_PARTIES,
    STORIES,
    Story,
    demo_authority_keys,
    register_authority_keys,
    run_suffix,
    signed,
)
from corridor.demo.timeline import render
from corridor.ops.kafka_io import delete_consumer_groups


def _say(message: str) -> None:
    click.echo(message, err=True)


async def publish_story(story: Story, bootstrap_servers: str, registry: RegistryClient) -> list[Published]:
    """Publish each event with the producer of the party that sends it; returns the broker acks."""
    senders = sorted({e.sender for e in story.events})
    codec = Codec(registry)
    await codec.prepare(*{e.avro_name for e in story.events})
    producers = {p: TradeProducer(bootstrap_servers, codec, client_id=f"corridor-demo-{p}") for p in senders}
    await asyncio.gather(*(p.start() for p in producers.values()))
    try:
        acks = []
        for event in story.events:
            acks.append(await producers[event.sender].publish(event))
        return acks
    finally:
        await asyncio.gather(*(p.stop() for p in producers.values()))


async def topic_ends(bootstrap_servers: str) -> dict[TopicPartition, int]:
    """The end offset of every trade topic partition now (where records produced next will go)."""
    try:
        return await end_offsets(bootstrap_servers, TRADE_TOPICS)
    except LookupError:
        raise click.ClickException(
            f"the trade topics {TRADE_TOPICS} have no partitions; is the stack up?"
        ) from None


async def read_back(
    story: Story,
    bootstrap_servers: str,
    registry: RegistryClient,
    *,
    wait_s: float = 60.0,
    since: dict[TopicPartition, int] | None = None,
) -> tuple[str, list[TradeRecord]]:
    """Consume the trade's records from all trade topics in a fresh consumer group.

    With ``since`` (offsets taken before publishing) the group starts there rather than at the start
    of the topics: it reads the trade, not the whole history, and no older record it cannot decode
    (another client's poison record) stands in its way.
    """
    expected = {str(e.event_id) for e in story.events}
    group = f"corridor-demo-timeline-{uuid.uuid4().hex[:8]}"
    if since:
        await start_group_at(bootstrap_servers, group, since)
    seen: dict[str, TradeRecord] = {}
    consumer = TradeConsumer(
        TRADE_TOPICS, bootstrap_servers=bootstrap_servers, group_id=group, codec=Codec(registry)
    )

    async def collect(record: TradeRecord) -> None:
        if record.key == str(story.trade_id):
            seen[record.cloudevent.id] = record
            if expected <= seen.keys():
                consumer.request_stop()

    await consumer.start()
    try:
        await asyncio.wait_for(consumer.run(collect), wait_s)
    except TimeoutError:
        missing = expected - seen.keys()
        raise click.ClickException(
            f"only {len(seen)} of {len(expected)} events came back; missing {sorted(missing)}"
        ) from None
    finally:
        await consumer.stop()
        # the group was the demo's own: left behind, its lag would grow with every later event and
        # show red on the dashboard for ever
        with contextlib.suppress(Exception):
            await delete_consumer_groups(bootstrap_servers, [group])
    return group, list(seen.values())


async def run_demo(
    story_name: str,
    bootstrap_servers: str,
    registry_url: str,
    *,
    via: str = "kafka",
    gateway_url: str | None = None,
    database_url: str | None = None,
    ledger_url: str | None = None,
    partner_bootstrap: str | None = None,
) -> dict[str, Any]:
    authority_keys = demo_authority_keys(get_settings().state_dir)
    trade_id = uuid.uuid4()
    # each issuer signs its certificates; numbered for this run, so `certificates verify NUMBER` names
    # one certificate however often the demo runs
    story = signed(STORIES[story_name](trade_id, numbers_suffix=run_suffix(trade_id)), authority_keys)
    keys: dict[str, str] = {}
    registered = await asyncio.to_thread(lambda: list(register_all(catalog(), registry_url)))
    _say(f"▶ {len(registered)} event schemas registered ({TRADE_SUBJECT_LEVEL.value} per subject)")
    if database_url:
        count = await register_authority_keys(database_url, authority_keys)
        _say(f"▶ certificates signed by their issuers ({count} authority keys registered)")
    async with RegistryClient(registry_url) as registry:
        since = await topic_ends(bootstrap_servers)
        feed_since = await partner_feed.feed_ends(bootstrap_servers, str(story.events[0].supplier.party_id))
        started = time.perf_counter()
        if via == "gateway":
            from corridor.demo import via_gateway

            assert gateway_url and database_url
            senders = {e.sender for e in story.events}
            keys = await via_gateway.ensure_partner_keys(
                database_url,
                [p for p in ALL_PARTIES if p.party_id in senders],
                get_settings().state_dir,
                say=_say,
            )
            started = time.perf_counter()
            _say(
                f"▶ posting {len(story.events)} events of trade {story.trade_id} ({story.name}), each with "
                f"its party's API key, to the gateway at {gateway_url}…"
            )
            acks = await via_gateway.publish_via_gateway(story, gateway_url, keys)
        else:
            _say(f"▶ publishing {len(story.events)} events of trade {story.trade_id} ({story.name})…")
            acks = await publish_story(story, bootstrap_servers, registry)
        produced_in = time.perf_counter() - started
        by_topic: dict[str, int] = {}
        for ack in acks:
            by_topic[ack.topic] = by_topic.get(ack.topic, 0) + 1
        _say(
            f"  acknowledged by the broker (acks=all) in {produced_in:.2f}s: "
            + ", ".join(f"{t} {n}" for t, n in sorted(by_topic.items()))
        )
        _say("▶ reading the trade back in a separate consumer group…")
        group, records = await read_back(story, bootstrap_servers, registry, since=since)
        logins: dict[str, str] = {}
        registry_logins: dict[str, str] = {}
        if partner_bootstrap:
            logins = await partner_feed.grant_logins(
                bootstrap_servers, {e.sender for e in story.events}, get_settings().state_dir
            )
            registry_logins = partner_feed.grant_registry_logins(
                {e.sender for e in story.events}, get_settings().state_dir
            )
            _say(
                f"▶ Kafka logins for the {len(logins)} parties (SCRAM-SHA-512 at {partner_bootstrap}) in "
                f"{get_settings().state_dir / partner_feed.LOGINS_FILE}, their schema registry logins "
                f"in {get_settings().state_dir / partner_feed.REGISTRY_LOGINS_FILE} (mode 0600)"
            )
    for record in records:
        names = {k for k, _ in record.cloudevent.to_headers()}
        missing = [h for h in REQUIRED_HEADERS if h not in names]
        if missing:
            raise click.ClickException(f"record {record.cloudevent.id} lacks headers {missing}")
    parties = {p.party_id: p for p in ALL_PARTIES}
    click.echo(f"\nTrade {story.trade_id} — {story.name}\n")
    click.echo(render(records, parties))
    click.echo(
        f"\n{len(records)} events published by {len({e.sender for e in story.events})} parties, "
        f"read back by consumer group {group} (deleted afterwards) and decoded through the schema "
        f"registry at {registry_url}."
    )
    reader_party = None
    if partner_bootstrap and logins:
        first = story.events[0]  # OrderPlaced: its supplier is party to the whole trade
        reader_party = str(first.supplier.party_id)
        try:
            topic, count = await partner_feed.read_own_feed(
                internal_bootstrap=bootstrap_servers,
                partner_bootstrap=partner_bootstrap,
                registry_url=registry_url,
                partner_id=reader_party,
                password=logins[reader_party],
                registry_user_info=registry_logins.get(reader_party),
                trade_id=story.trade_id,
                expected=len(story.events),
                since=feed_since,
            )
        except TimeoutError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(
            f"Partner {reader_party} read the trade's {count} events from its own topic {topic}, logged in "
            f"as itself at {partner_bootstrap} (the relay copied them there)."
        )
    projection = None
    if ledger_url and keys:
        buyer = story.events[0].sender  # the buyer placed the order and is party to the whole trade
        projection = await ledger_projection(ledger_url, str(story.trade_id), keys[buyer], len(story.events))
        click.echo("\n" + describe_projection(projection, ledger_url))
    return {
        "trade_id": str(story.trade_id),
        "events": len(records),
        "group": group,
        "projection": projection,
        "partner_reader": reader_party,
    }


async def ledger_projection(
    ledger_url: str, trade_id: str, api_key: str, events: int
) -> dict[str, Any] | None:
    """The ledger's view of the trade once it has stored every event (None if it does not get there)."""
    import httpx

    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=ledger_url, timeout=5) as http:
        while time.monotonic() < deadline:
            response = await http.get(
                f"/v1/trades/{trade_id}", headers={"Authorization": f"Bearer {api_key}"}
            )
            if response.status_code == 200 and len(response.json().get("timeline", [])) >= events:
                return dict(response.json())
            await asyncio.sleep(0.5)
    _say(f"  the ledger at {ledger_url} did not show all {events} events of the trade within 60 s")
    return None


def describe_projection(view: dict[str, Any] | None, ledger_url: str) -> str:
    if view is None:
        return f"Ledger ({ledger_url}): projection not available."
    lines = [f"Ledger projection (GET {ledger_url}/v1/trades/{view['trade_id']}): trade {view['status']}"]
    order = view.get("order") or {}
    if order:
        lines.append(
            f"  order {order.get('order_id')}: {order.get('status')} (revision {order.get('revision')})"
        )
    for shipment in view.get("shipments", []):
        customs = shipment.get("customs_status")
        lines.append(
            f"  shipment {shipment.get('shipment_id')}: {shipment.get('status')}, departed "
            f"{shipment.get('actual_departure') or 'not yet'}, arrived "
            f"{shipment.get('actual_arrival') or 'not yet'}, "
            + (f"customs {customs}" if customs else "no customs event yet")
            + (f"; {shipment['quantity_finding']}" if shipment.get("quantity_finding") else "")
        )
    for cert in view.get("certificates", []):
        preference = f", preference {cert['preference']}" if cert.get("preference") else ""
        lines.append(
            f"  certificate {cert.get('certificate_number')} ({cert.get('kind')}): {cert.get('status')}"
            + preference
        )
    return "\n".join(lines)
