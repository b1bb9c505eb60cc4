"""A topic generation with more partitions (ADR 0040), on the real Kafka of the stack.

A small story — several trades' orders, shipments and certificates, keyed by trade id, one source
partition with a committed and an aborted transaction (as ``corridor dlq replay`` writes) — is put on
3-partition topics of this test's own and copied by ``corridor generation copy`` to 6-partition
topics: every committed record arrives once, in the partition Kafka's default partitioner gives its key
at 6, each trade's records in their order, headers and timestamps as they were; a second copy into the
filled destination is refused (no duplicates), and topics whose counts differ are refused by the
ledger's start check and the relay's state-topic check.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from corridor.core.codec import Codec
from corridor.core.domain.trust import TrustState
from corridor.core.kafka import client_security
from corridor.core.kafka_read import reader
from corridor.core.registry_client import RegistryClient
from corridor.core.routing import TradeRoute
from corridor.core.topics import PartitionCountError
from corridor.ledger.topics import check_partitions
from corridor.ops.generation import commit_group_offsets, copy_generation
from corridor.ops.kafka_io import partition_for_key
from corridor.relay.relay import Relay, RelayError
from corridor.relay.settings import RelaySettings
from corridor.relay.state import decode_ids, decode_route, encode_route
from tests.integration.ops.ops_helpers import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

TRADES = 12
KINDS = ("orders", "shipments", "certificates")


async def _create(bootstrap: str, topics: dict[str, int]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_security())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, n, 1) for t, n in topics.items()])
    finally:
        await admin.close()


async def _read_all(bootstrap: str, topic: str, partitions: int) -> list[Any]:
    async with reader(bootstrap) as consumer:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        found: list[Any] = []
        for _ in range(120):
            behind = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
            if not behind:
                return found
            for records in (await consumer.getmany(*behind, timeout_ms=1000)).values():
                found.extend(records)
        raise AssertionError(f"{topic} not read to its end within 120 polls")


async def _write_story(bootstrap: str, sources: dict[str, str]) -> dict[str, list[str]]:
    """Each trade's events on its topic, in order; returns trade id → event ids committed, in order."""
    story: dict[str, list[str]] = defaultdict(list)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, **client_security(), acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for step in range(4):
            for n in range(TRADES):
                trade = f"trade-{n:02d}"
                kind = KINDS[(n + step) % len(KINDS)]
                event = f"{trade}/{step}"
                story[trade].append(event)
                await producer.send_and_wait(
                    sources[kind],
                    key=trade.encode(),
                    value=json.dumps({"event": event, "kind": kind}).encode(),
                    headers=[("ce_id", event.encode()), ("ce_type", kind.encode())],
                    timestamp_ms=1_790_000_000_000 + step * 1000 + n,
                )
    finally:
        await producer.stop()
    # a replay-style transaction (committed) and one aborted: only the first is copied
    for commit, event in ((True, "replayed"), (False, "aborted")):
        tx = AIOKafkaProducer(
            bootstrap_servers=bootstrap, **client_security(), transactional_id=f"gen-test-{uuid.uuid4().hex}"
        )
        await tx.start()
        try:
            await tx.begin_transaction()
            trade = "trade-00"
            await tx.send_and_wait(
                sources["orders"],
                key=trade.encode(),
                value=json.dumps({"event": f"{trade}/{event}", "kind": "orders"}).encode(),
                headers=[("ce_id", f"{trade}/{event}".encode()), ("ce_type", b"orders")],
            )
            if commit:
                await tx.commit_transaction()
                story[trade].append(f"{trade}/{event}")
            else:
                await tx.abort_transaction()
        finally:
            await tx.stop()
    return story


async def test_a_story_moves_from_3_to_6_partitions_once_keyed_and_in_order(ops_stack: Any) -> None:
    bootstrap = ops_stack.bootstrap_servers
    run = uuid.uuid4().hex[:10]
    sources = {k: f"test.generation.{run}.{k}.v1" for k in KINDS}
    pairs = {s: f"{s}.g2" for s in sources.values()}
    await _create(bootstrap, dict.fromkeys(sources.values(), 3))
    story = await _write_story(bootstrap, sources)
    before = {s: await _read_all(bootstrap, s, 3) for s in sources.values()}

    args = [a for s, d in pairs.items() for a in ("--topic", f"{s}={d}")]
    code, out, err = await run_cli(ops_stack, "generation", "copy", "--partitions", "6", *args, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["partitions"] == 6
    committed = sum(len(events) for events in story.values())
    assert sum(t["records"] for t in report["topics"]) == committed

    seen: dict[str, list[str]] = defaultdict(list)
    for source, destination in pairs.items():
        copied = await _read_all(bootstrap, destination, 6)
        originals = {r.headers[0][1]: r for r in before[source]}
        assert len(copied) == len(originals), destination
        for record in copied:
            trade = record.key.decode()
            # keyed as before: where Kafka's default partitioner puts the trade at 6 partitions
            assert record.partition == partition_for_key(record.key, 6)
            original = originals[dict(record.headers)["ce_id"]]
            assert (record.key, record.value, list(record.headers)) == (
                original.key,
                original.value,
                list(original.headers),
            )
            assert record.timestamp == original.timestamp
        for record in sorted(copied, key=lambda r: (r.partition, r.offset)):
            seen[record.key.decode()].append(dict(record.headers)["ce_id"].decode())
    # every committed event once (the aborted one never), each trade's order kept per topic
    assert sorted(e for events in seen.values() for e in events) == sorted(
        e for events in story.values() for e in events
    )
    for trade, events in story.items():
        for kind in KINDS:
            on_topic = [e for e in events if e in {r.headers[0][1].decode() for r in before[sources[kind]]}]
            copied_order = [e for e in seen[trade] if e in on_topic]
            assert copied_order == on_topic, (trade, kind)
    assert "trade-00/aborted" not in seen["trade-00"]
    assert "trade-00/replayed" in seen["trade-00"]  # and last of its orders (the loop above)

    # copying again into the filled generation is refused: nothing is duplicated
    code, _, err = await run_cli(ops_stack, "generation", "copy", "--partitions", "6", *args)
    assert code == 1 and "already hold records" in err, err
    assert len(await _read_all(bootstrap, pairs[sources["orders"]], 6)) == len(before[sources["orders"]])

    # a generation of another count than asked is refused too
    code, _, err = await run_cli(
        ops_stack,
        "generation",
        "copy",
        "--partitions",
        "12",
        "--topic",
        f"{sources['orders']}={pairs[sources['orders']]}",
    )
    assert code == 1 and "another partition count" in err, err

    # the checks the ledger and the relay run at start: unequal counts are refused, naming each topic
    with pytest.raises(PartitionCountError, match=rf"{sources['orders']}=3, {pairs[sources['orders']]}=6"):
        await check_partitions(bootstrap, (sources["orders"], pairs[sources["orders"]]))
    assert await check_partitions(bootstrap, tuple(pairs.values())) == 6


async def test_the_relay_refuses_a_state_topic_with_fewer_partitions_than_its_source(ops_stack: Any) -> None:
    """After a move to more partitions the old generation's relay state cannot serve: refused at start."""
    from corridor.ledger.topics import ensure_topics

    bootstrap = ops_stack.bootstrap_servers
    await ensure_topics(bootstrap)  # the accepted stream, at the stack's count
    state = f"test.generation.{uuid.uuid4().hex[:10]}.state.v2"
    await _create(bootstrap, {state: 1})
    settings = RelaySettings(
        bootstrap_servers=bootstrap,
        relay_state_topic=state,
        relay_group_id=f"gen-test-{uuid.uuid4().hex[:8]}",
    )
    async with RegistryClient(ops_stack.schema_registry_url) as registry:
        relay = Relay(settings, Codec(registry))
        try:
            with pytest.raises(
                RelayError, match=rf"{state} has 1 partitions, the source topics \d+.*More partitions"
            ):
                await relay.start()
        finally:
            await relay.stop()


async def test_the_relays_state_follows_its_events_to_the_new_generation(ops_stack: Any) -> None:
    """A relay's state on a 3-partition accepted stream (each trade's events by offset in its partition,
    one trade deleted) is translated to the 6-partition copy: every reference names the same event at its
    new offset, in the trade's new partition, and the group resumes at the new stream's end."""
    bootstrap = ops_stack.bootstrap_servers
    run = uuid.uuid4().hex[:10]
    old_accepted, new_accepted = f"test.generation.{run}.accepted.v1", f"test.generation.{run}.accepted.v1.g2"
    old_state, new_state = f"test.generation.{run}.state.v2", f"test.generation.{run}.state.v2.g2"
    group = f"test-generation-relay-{run}"
    await _create(bootstrap, {old_accepted: 3, old_state: 3})
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, **client_security(), acks="all", enable_idempotence=True
    )
    await producer.start()
    refs: dict[str, list[tuple[int, int]]] = defaultdict(list)
    ids: dict[str, list[str]] = defaultdict(list)
    try:
        for step in range(3):
            for n in range(8):
                trade, event = f"trade-{n}", f"trade-{n}/{step}"
                sent = await producer.send_and_wait(
                    old_accepted,
                    key=trade.encode(),
                    value=event.encode(),
                    headers=[("ce_id", event.encode())],
                )
                assert sent.partition == partition_for_key(trade.encode(), 3)
                refs[trade].append((0, sent.offset))
                ids[trade].append(event)
        for trade, events in refs.items():
            route = TradeRoute(
                ("PK-SUP", "CN-BUY"), tuple(events), ("OrderPlaced",) * len(events), TrustState()
            )
            await producer.send_and_wait(
                old_state,
                key=trade.encode(),
                value=encode_route(route, ids[trade]),
                partition=partition_for_key(trade.encode(), 3),
            )
        # a trade whose state was deleted (tombstone) is not carried over
        await producer.send_and_wait(
            old_state, key=b"trade-7", value=None, partition=partition_for_key(b"trade-7", 3)
        )
    finally:
        await producer.stop()
    await copy_generation(bootstrap, [(old_accepted, new_accepted)], 6)

    args = ["--accepted", f"{old_accepted}={new_accepted}", "--state", f"{old_state}={new_state}", "--json"]
    # the relay group has not relayed the old stream to its end: refused
    code, out, err = await run_cli(ops_stack, "generation", "relay-state", *args, "--group", group)
    assert code == 1 and "has not relayed the old stream to its end" in out + err, out + err  # --json: stdout

    old_ends = await _ends(bootstrap, old_accepted, 3)
    await commit_group_offsets(bootstrap, group, old_ends)  # as the drained relay left it
    code, out, err = await run_cli(ops_stack, "generation", "relay-state", *args, "--group", group)
    assert code == 0, err
    report = json.loads(out)
    assert (report["trades"], report["refs"], report["deleted"]) == (7, 21, 1)

    new_events = {
        (r.partition, r.offset): dict(r.headers)["ce_id"].decode()
        for r in await _read_all(bootstrap, new_accepted, 6)
    }
    states = await _read_all(bootstrap, new_state, 6)
    assert sorted(r.key.decode() for r in states) == [f"trade-{n}" for n in range(7)]
    for record in states:
        trade = record.key.decode()
        assert record.partition == partition_for_key(record.key, 6)
        route = decode_route(record.value)
        assert [new_events[(record.partition, offset)] for _, offset in route.events] == ids[trade]
        assert decode_ids(record.value) == frozenset(ids[trade])
        assert route.parties == ("PK-SUP", "CN-BUY")
    new_ends = await _ends(bootstrap, new_accepted, 6)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_security())
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group, partitions=list(new_ends))
    finally:
        await admin.close()
    assert {tp: meta.offset for tp, meta in committed.items()} == new_ends
    assert sum(new_ends.values()) == 24


async def _ends(bootstrap: str, topic: str, partitions: int) -> dict[TopicPartition, int]:
    async with reader(bootstrap) as consumer:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(
            [TopicPartition(topic, p) for p in range(partitions)]
        )
        return ends
