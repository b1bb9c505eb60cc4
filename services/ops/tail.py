"""``corridor tail <topic>``: follow a topic, decoded through the registry, as lines for people or JSON.

Reads every partition of the topic without a consumer group, from the end (default) or the beginning,
and prints each record that passes the filters: its event time, where it is (topic/partition@offset),
its type, its sender and the key facts of the event (``services/demo/timeline.key_facts``); with
``--json`` one object per line with the headers and the decoded event.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

from corridor.core.codec import Codec
from corridor.core.registry_client import RegistryClient
from corridor.demo.timeline import key_facts
from corridor.ops.kafka_io import Decoded, Decoder, reader, topic_partitions, unknown_topic_message


@dataclass(frozen=True)
class TailFilter:
    """Which records to show: event type (short or full name), a partner named in it, a trade."""

    type: str | None = None
    partner: str | None = None
    trade: str | None = None

    def matches(self, decoded: Decoded) -> bool:
        if self.type is not None:
            full = decoded.type_name or decoded.headers.get("ce_type") or ""
            if self.type not in (full, full.rsplit(".", 1)[-1]):
                return False
        if self.trade is not None and decoded.key != self.trade:
            return False
        return self.partner is None or self.partner in partners_of(decoded)


def check_event_type(name: str, topic: str) -> str:
    """``name`` (short or full) if it is an event type that can be on ``topic``; else ValueError naming
    the nearest type and the valid ones. Topics other than the trade topics (dead letters, partner
    topics, retries) may carry any type."""
    import difflib

    from corridor.core.schemas import catalog
    from corridor.core.topics import contract_name

    events = catalog().events.values()
    topic = contract_name(topic)  # the catalog names the contract's topic, whatever the generation
    by_short = {e.name: e for e in events}
    by_full = {e.full_name: e for e in events}
    found = by_full.get(name) or by_short.get(name)
    on_topic = sorted(e.name for e in events if e.topic == topic)
    if found is None:
        choices = on_topic or sorted(by_short)
        nearest = difflib.get_close_matches(name, list(by_short), n=1, cutoff=0.5)
        hint = f"did you mean {nearest[0]}? " if nearest else ""
        raise ValueError(f"unknown event type {name!r}; {hint}valid: {', '.join(choices)}")
    if on_topic and found.topic != topic:
        raise ValueError(
            f"{found.name} is published on {found.topic}, never on {topic}; {topic} carries "
            f"{', '.join(on_topic)}"
        )
    return name


def partners_of(decoded: Decoded) -> set[str]:
    """Party ids an event involves: its sender (``ce_source``) and every party it names."""
    found: set[str] = set()
    source = decoded.headers.get("ce_source", "")
    if source:
        found.add(source.rsplit("/", 1)[-1])

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            party_id = value.get("party_id")
            if isinstance(party_id, str):
                found.add(party_id)
            for key, inner in value.items():
                if key == "sender" and isinstance(inner, str):
                    found.add(inner)
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(decoded.payload)
    return found


def _utc(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def human_line(decoded: Decoded) -> str:
    """``time  topic/partition@offset  type  sender  key facts`` (or the reason it cannot be decoded)."""
    r = decoded.record
    where = f"{r.topic}/{r.partition}@{r.offset}"
    if decoded.event is not None:
        when = _utc(decoded.event.occurred_at)
        facts = key_facts(decoded.event)
    else:
        when = decoded.headers.get("ce_time") or _utc(dt.datetime.fromtimestamp(r.timestamp / 1000, dt.UTC))
        facts = f"(undecoded: {decoded.error})" if decoded.error else ""
    dlq = decoded.headers.get("dlq_error_class")
    if dlq:
        facts = f"[{dlq}: {decoded.headers.get('dlq_reason', '')[:120]}] {facts}"
    return f"{when:<20} {where:<28} {decoded.short_type:<23} {decoded.sender:<28} {facts}".rstrip()


def json_line(decoded: Decoded) -> str:
    return json.dumps(decoded.to_json(), ensure_ascii=False, sort_keys=True, default=str)


async def tail(
    topic: str,
    *,
    bootstrap_servers: str,
    registry_url: str,
    filt: TailFilter,
    from_beginning: bool = False,
    max_records: int | None = None,
    idle_timeout_s: float | None = None,
    as_json: bool = False,
    emit: Callable[[str], None] = print,
    say: Callable[[str], None] = lambda _: None,
) -> int:
    """Print records of ``topic`` until ``max_records`` matched, ``idle_timeout_s`` passed without a
    record, or the task is cancelled; returns how many were printed."""
    counts = await topic_partitions(bootstrap_servers, [topic])
    if topic not in counts:
        raise LookupError(await unknown_topic_message(bootstrap_servers, topic))
    tps = [TopicPartition(topic, p) for p in range(counts[topic])]
    shown = 0
    trade_key = filt.trade.encode() if filt.trade else None
    async with RegistryClient(registry_url) as registry, reader(bootstrap_servers) as consumer:
        decoder = Decoder(Codec(registry, auto_register=False))
        consumer.assign(tps)
        if from_beginning:
            await consumer.seek_to_beginning(*tps)
        else:
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                consumer.seek(tp, ends[tp])
        for tp in tps:
            await consumer.position(tp)  # resolve now, so "from the end" means from this moment
        what = " ".join(
            x
            for x in (
                f"{filt.type} records" if filt.type else "records",
                f"of trade {filt.trade}" if filt.trade else "",
                f"involving {filt.partner}" if filt.partner else "",
            )
            if x
        )
        limits = [f"after {max_records} record(s)"] if max_records else []
        if idle_timeout_s is not None:
            limits.append(f"after {idle_timeout_s:g} s without a new record")
        until = f"stops {' or '.join(limits)}" if limits else "follows until interrupted (--follow)"
        say(
            f"waiting for {what} on {topic} ({len(tps)} partitions, from the "
            f"{'beginning' if from_beginning else 'end'}); {until}"
        )
        loop = asyncio.get_running_loop()
        idle_since = loop.time()
        while max_records is None or shown < max_records:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            if not batches:
                if idle_timeout_s is not None and loop.time() - idle_since > idle_timeout_s:
                    break
                continue
            idle_since = loop.time()
            for record in (r for rs in batches.values() for r in rs):  # in offset order per partition
                if trade_key is not None and record.key != trade_key:
                    continue  # cheap: no decoding for other trades
                decoded = await decoder.decode(record)
                if not filt.matches(decoded):
                    continue
                emit(json_line(decoded) if as_json else human_line(decoded))
                shown += 1
                if max_records is not None and shown >= max_records:
                    break
    return shown
