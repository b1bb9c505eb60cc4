"""``corridor trace <trade-id>``: one trade's events across the topics, with the latency of every hop.

Hops of an event, each a wall-clock time:

1. **gateway accept** — header ``corridor_received_ms``: when the gateway got the HTTP request (events
   produced straight to Kafka have no such hop);
2. **Kafka** — header ``corridor_published_ms``: the producer's clock at send (the record timestamp is
   the publication time since ADR 17, but records of older producers carry the business time there);
3. **ledger commit** — ``ledger.events.ingested_at``: the ledger's PostgreSQL transaction that stored it;
4. **partners** — records of the event on ``partner.*.v1`` topics (the relay's), when such topics exist.

Since ADR 27 the hops are a chain: the relay reads only what the ledger accepted (the accepted stream),
so the partner hop is measured from the ledger's commit (``ledger_to_partner``); ``kafka_to_partner``
spans both. (Copies made by an older relay, which read the trade topics beside the ledger, can predate
the commit: their ledger hop is left out.) Each event also shows the ledger's decision — accepted (with
its position), pending (what it waits for) or rejected (the rule and the reason) — from the ledger's
``events``, ``outbox`` and ``receipts`` tables.

The trade's records are found where its key puts them (murmur2, like Kafka's default partitioner) and
where the ledger says it read them; ``--all-partitions`` scans every partition instead (records produced
by a client with another partitioner). Dead letters of the trade are listed with their reason.
"""

from __future__ import annotations

import datetime as dt
import re
import statistics
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import TopicPartition

from corridor.core.codec import Codec
from corridor.core.envelope import PUBLISHED_MS_HEADER, RECEIVED_MS_HEADER
from corridor.core.envelope import trace_id as trace_id_of
from corridor.core.registry_client import RegistryClient
from corridor.core.topics import TRADE_TOPICS
from corridor.demo.timeline import key_facts
from corridor.ledger import deadletter as dl
from corridor.ledger.topics import DLQ_TOPIC
from corridor.ops.kafka_io import Decoder, list_topics, partition_for_key, reader, scan, topic_partitions
from corridor.ops.progress import Progress

PARTNER_TOPIC = re.compile(r"^partner\..+\.v1$")


def _ms(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _at(ms: int | None) -> str | None:
    if ms is None:
        return None
    return (
        dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


@dataclass
class Delivery:
    """A copy of the event on a topic (trade, partner or dead-letter topic)."""

    topic: str
    partition: int
    offset: int
    published_ms: int | None
    received_ms: int | None = None
    note: str | None = None  # dead letters: error class and reason

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "published_at": _at(self.published_ms),
            **({"received_at": _at(self.received_ms)} if self.received_ms is not None else {}),
            **({"note": self.note} if self.note else {}),
        }


@dataclass
class EventTrace:
    event_id: str
    type: str
    sender: str | None = None
    occurred_at: dt.datetime | None = None
    facts: str = ""
    trace_id: str | None = None
    records: list[Delivery] = field(default_factory=list)  # on the trade topics (more than one: copies)
    ledger_ms: int | None = None
    ledger_attempts: int | None = None
    ledger_position: tuple[str, int, int] | None = None
    partners: list[Delivery] = field(default_factory=list)
    dead_letters: list[Delivery] = field(default_factory=list)
    decision: str | None = None  # the ledger's: accepted, pending, rejected (None: no word yet)
    decision_note: str | None = None  # the position, what it waits for, or the rule and reason

    @property
    def primary(self) -> Delivery | None:
        """The record the ledger stored (else the first one found)."""
        if self.ledger_position is not None:
            for record in self.records:
                if (record.topic, record.partition, record.offset) == self.ledger_position:
                    return record
        return self.records[0] if self.records else None

    @property
    def received_ms(self) -> int | None:
        primary = self.primary
        return primary.received_ms if primary else None

    @property
    def published_ms(self) -> int | None:
        primary = self.primary
        return primary.published_ms if primary else None

    @property
    def partner_ms(self) -> int | None:
        times = [p.published_ms for p in self.partners if p.published_ms is not None]
        return min(times) if times else None

    def latencies_ms(self) -> dict[str, int | None]:
        def between(a: int | None, b: int | None) -> int | None:
            return b - a if a is not None and b is not None else None

        points = [t for t in (self.received_ms, self.published_ms, self.ledger_ms, self.partner_ms) if t]
        after_ledger = between(self.ledger_ms, self.partner_ms)
        return {
            "gateway_to_kafka": between(self.received_ms, self.published_ms),
            "kafka_to_ledger": between(self.published_ms, self.ledger_ms),
            # the relay follows the ledger (ADR 27); an older relay's copy may predate the commit
            "ledger_to_partner": after_ledger if after_ledger is None or after_ledger >= 0 else None,
            "kafka_to_partner": between(self.published_ms, self.partner_ms),
            "total": max(points) - min(points) if len(points) > 1 else None,
        }

    def to_json(self) -> dict[str, Any]:
        primary = self.primary
        return {
            "event_id": self.event_id,
            "type": self.type,
            "sender": self.sender,
            "occurred_at": self.occurred_at.isoformat() if self.occurred_at else None,
            "facts": self.facts,
            "trace_id": self.trace_id,
            "topic": primary.topic if primary else (self.ledger_position or (None,))[0],
            "partition": primary.partition if primary else None,
            "offset": primary.offset if primary else None,
            "hops": {
                "gateway_accept": _at(self.received_ms),
                "kafka": _at(self.published_ms),
                "ledger_commit": _at(self.ledger_ms),
                "partners": [p.to_json() for p in self.partners],
            },
            "latency_ms": self.latencies_ms(),
            "ledger_attempts": self.ledger_attempts,
            "decision": self.decision,
            "decision_note": self.decision_note,
            "copies": [r.to_json() for r in self.records],
            "dead_letters": [d.to_json() for d in self.dead_letters],
        }


@dataclass
class TradeTrace:
    trade_id: str
    events: list[EventTrace]
    scanned: dict[str, list[int]]  # topic → partitions read
    notes: list[str] = field(default_factory=list)

    def hop_stats(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for hop in ("gateway_to_kafka", "kafka_to_ledger", "ledger_to_partner", "kafka_to_partner", "total"):
            values = [v for e in self.events if (v := e.latencies_ms()[hop]) is not None]
            if values:
                out[hop] = {
                    "events": len(values),
                    "median_ms": float(statistics.median(values)),
                    "max_ms": float(max(values)),
                }
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "trade_id": self.trade_id,
            "events": [e.to_json() for e in self.events],
            "trace_ids": sorted({e.trace_id for e in self.events if e.trace_id}),
            "hops": self.hop_stats(),
            "scanned": self.scanned,
            "notes": self.notes,
        }


#: Header a relay may set: its wall clock when it produced the partner's copy (epoch ms).
RELAYED_MS_HEADER = "corridor_relayed_ms"


def partner_time(headers: dict[str, str], original_published_ms: int | None) -> int | None:
    """When a partner topic's copy was produced: ``corridor_relayed_ms``, else its own
    ``corridor_published_ms`` unless that is the original's (copied along with the headers). The record
    timestamp is the original's (the relay copies it) and says nothing here."""
    relayed = _ms(headers.get(RELAYED_MS_HEADER))
    if relayed is not None:
        return relayed
    published = _ms(headers.get(PUBLISHED_MS_HEADER))
    return published if published is not None and published != original_published_ms else None


async def _ledger_rows(
    database_url: str | None, schema: str, trade_id: uuid.UUID, notes: list[str]
) -> tuple[list[Any], list[Any]]:
    """The trade's stored events (with their position on the accepted stream) and the ledger's
    receipts of its events not accepted (pending, rejected)."""
    if not database_url:
        notes.append("no database URL: ledger commits not shown (set CORRIDOR_DATABASE_URL)")
        return [], []
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ValueError(f"invalid ledger schema {schema!r}")
    try:
        conn = await asyncpg.connect(database_url, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        notes.append(f"ledger database unreachable ({type(exc).__name__}: {exc}): ledger commits not shown")
        return [], []
    try:
        rows = await conn.fetch(
            f"""SELECT e.event_id::text AS event_id, e.type, e.topic, e.partition, e."offset", e.occurred_at,
                       e.ingested_at, e.trace_id, e.attempts, o.seq
                FROM "{schema}".events e LEFT JOIN "{schema}".outbox o ON o.event_id = e.event_id
                WHERE e.trade_id = $1 ORDER BY e.occurred_at, e.ingested_at""",
            trade_id,
        )
        receipts = await conn.fetch(
            f"""SELECT event_id::text AS event_id, type, status, error_class, reason, retry_at
                FROM "{schema}".receipts WHERE trade_id = $1""",
            trade_id,
        )
    except asyncpg.UndefinedTableError:
        notes.append(f"no table {schema}.events (or outbox, receipts): the ledger has not run here (yet)")
        return [], []
    finally:
        await conn.close()
    return list(rows), list(receipts)


async def trace_trade(
    trade_id: str,
    *,
    bootstrap_servers: str,
    registry_url: str,
    database_url: str | None,
    ledger_schema: str = "ledger",
    all_partitions: bool = False,
    progress: Callable[[str], Progress] | None = None,
) -> TradeTrace:
    tid = uuid.UUID(trade_id)
    key = str(tid).encode()
    notes: list[str] = []
    rows, receipts = await _ledger_rows(database_url, ledger_schema, tid, notes)
    events: dict[str, EventTrace] = {}
    for row in receipts:
        e = events.setdefault(row["event_id"], EventTrace(row["event_id"], row["type"].rsplit(".", 1)[-1]))
        e.decision = row["status"]
        if row["status"] == "rejected":
            e.decision_note = f"{row['error_class']}: {row['reason']}"
        else:
            retry = (
                f" (next attempt {row['retry_at'].isoformat(timespec='seconds')})" if row["retry_at"] else ""
            )
            e.decision_note = f"waits: {row['reason']}{retry}"
    for row in rows:
        e = events.setdefault(row["event_id"], EventTrace(row["event_id"], row["type"].rsplit(".", 1)[-1]))
        e.decision = "accepted"
        e.decision_note = f"position {row['seq']}" if row["seq"] is not None else None
        e.ledger_ms = int(row["ingested_at"].timestamp() * 1000)
        e.ledger_attempts = row["attempts"]
        e.ledger_position = (row["topic"], row["partition"], row["offset"])
        e.occurred_at = row["occurred_at"]
        e.trace_id = e.trace_id or row["trace_id"]

    partner_topics = [t for t in await list_topics(bootstrap_servers) if PARTNER_TOPIC.match(t)]
    counts = await topic_partitions(bootstrap_servers, [*TRADE_TOPICS, DLQ_TOPIC, *partner_topics])
    wanted: dict[str, set[int]] = {}
    for topic, n in counts.items():
        wanted[topic] = set(range(n)) if all_partitions else {partition_for_key(key, n)}
    for row in rows:
        wanted.setdefault(row["topic"], set()).add(row["partition"])
    tps = [TopicPartition(t, p) for t in sorted(wanted) if t in counts for p in sorted(wanted[t])]

    async with RegistryClient(registry_url) as registry, reader(bootstrap_servers) as consumer:
        decoder = Decoder(Codec(registry, auto_register=False))
        found_partner: list[tuple[Any, dict[str, str]]] = []
        shown = progress(f"scanning {len(tps)} partition(s) for trade {tid}") if progress else None
        async for record in scan(consumer, tps, progress=shown):
            if record.topic in TRADE_TOPICS or record.topic == DLQ_TOPIC:
                if record.key != key:
                    continue
            headers = {k: (v.decode("utf-8", "replace") if v else "") for k, v in (record.headers or ())}
            if record.topic in partner_topics:
                found_partner.append((record, headers))
                continue
            ce_id = headers.get("ce_id")
            if not ce_id:
                continue
            if record.topic == DLQ_TOPIC:
                e = events.setdefault(
                    ce_id, EventTrace(ce_id, (headers.get("ce_type") or "?").rsplit(".", 1)[-1])
                )
                e.dead_letters.append(
                    Delivery(
                        record.topic,
                        record.partition,
                        record.offset,
                        record.timestamp,
                        note=f"{headers.get(dl.DLQ_ERROR_CLASS, '?')}: {headers.get(dl.DLQ_REASON, '')}",
                    )
                )
                continue
            decoded = await decoder.decode(record)
            e = events.setdefault(ce_id, EventTrace(ce_id, decoded.short_type))
            e.type = decoded.short_type
            e.trace_id = e.trace_id or trace_id_of(headers.get("traceparent"))
            if decoded.event is not None:
                e.sender = str(decoded.event.sender)
                e.occurred_at = decoded.event.occurred_at
                e.facts = key_facts(decoded.event)
            e.records.append(
                Delivery(
                    record.topic,
                    record.partition,
                    record.offset,
                    _ms(headers.get(PUBLISHED_MS_HEADER)),
                    _ms(headers.get(RECEIVED_MS_HEADER)),
                    note=headers.get("corridor_replayed_from"),
                )
            )
        if shown is not None:
            shown.finish(f"{len(tps)} partition(s) read")
    for record, headers in found_partner:
        ce_id = headers.get("ce_id")
        if ce_id in events or (record.key == key and ce_id):
            assert ce_id is not None
            e = events.setdefault(
                ce_id, EventTrace(ce_id, (headers.get("ce_type") or "?").rsplit(".", 1)[-1])
            )
            e.partners.append(
                Delivery(record.topic, record.partition, record.offset, partner_time(headers, e.published_ms))
            )
    if not partner_topics:
        notes.append("no partner.*.v1 topics yet: no partner hop")
    ordered = sorted(
        events.values(),
        key=lambda e: (
            e.occurred_at or dt.datetime.max.replace(tzinfo=dt.UTC),
            e.published_ms or 0,
            e.event_id,
        ),
    )
    return TradeTrace(str(tid), ordered, {t: sorted(ps) for t, ps in wanted.items() if t in counts}, notes)


def _clock(ms: int | None) -> str:
    if ms is None:
        return "—"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%H:%M:%S.%f")[:-3]


def _plus(ms: int | None) -> str:
    return "—" if ms is None else f"+{ms:,} ms"


def render(trace: TradeTrace) -> str:
    """The timeline for people: one line per event and the hops under it, then per-hop statistics."""
    lines = [f"Trade {trace.trade_id}: {len(trace.events)} event(s)"]
    trace_ids = sorted({e.trace_id for e in trace.events if e.trace_id})
    if trace_ids:
        lines.append(f"trace id(s): {', '.join(trace_ids)}")
    lines.append("")
    header = (
        f"{'event time (UTC)':<20} {'type':<23} {'where':<28} "
        f"{'gateway accept':>14} {'→ kafka':>11} {'kafka→ledger':>13} {'ledger→partner':>14} {'total':>11}"
    )
    lines += [header, "─" * len(header)]
    for e in trace.events:
        primary = e.primary
        where = f"{primary.topic}/{primary.partition}@{primary.offset}" if primary else "(not in Kafka)"
        when = e.occurred_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ") if e.occurred_at else "?"
        lat = e.latencies_ms()
        accept = _clock(e.received_ms) if e.received_ms else "(direct)"
        total = f"{lat['total']:,} ms" if lat["total"] is not None else "—"
        lines.append(
            f"{when:<20} {e.type:<23} {where:<28} {accept:>14} {_plus(lat['gateway_to_kafka']):>11} "
            f"{_plus(lat['kafka_to_ledger']):>13} {_plus(lat['ledger_to_partner']):>14} "
            f"{total:>11}"
        )
        detail = [f"event {e.event_id}"]
        if e.sender:
            detail.append(f"from {e.sender}")
        if e.decision == "rejected":
            detail.append(f"REJECTED by the ledger ({e.decision_note})")
        elif e.decision == "pending":
            detail.append(f"PENDING at the ledger ({e.decision_note})")
        elif e.ledger_ms is None:
            detail.append("NOT in the ledger (no decision yet)")
        elif e.decision_note:
            detail.append(f"accepted, {e.decision_note}")
        if e.ledger_ms is not None and e.ledger_attempts and e.ledger_attempts > 1:
            detail.append(f"stored on attempt {e.ledger_attempts}")
        if len(e.records) > 1:
            detail.append(f"{len(e.records)} copies in Kafka")
        if e.facts:
            detail.append(e.facts)
        lines.append("    " + " · ".join(detail))
        for p in e.partners:
            lines.append(f"    → {p.topic}/{p.partition}@{p.offset} at {_clock(p.published_ms)}")
        for d in e.dead_letters:
            lines.append(f"    ✗ dead-lettered {d.topic}/{d.partition}@{d.offset}: {d.note}")
    stats = trace.hop_stats()
    if stats:
        lines.append("")
        for hop, s in stats.items():
            lines.append(
                f"{hop.replace('_', ' '):<18} median {s['median_ms']:>9,.0f} ms   max {s['max_ms']:>9,.0f} ms"
                f"   ({int(s['events'])} events)"
            )
    for note in trace.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)
