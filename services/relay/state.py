"""The relay's state: per trade, its parties and the events relayed so far (pure, no I/O).

It lives in memory per owned partition number and in a compacted topic (``<group>.state.v2``, one
record per trade, key = trade id, in the same partition number as the trade's events), written in the
same transaction as the partner records and the consumed offsets: after a crash the state read back
(read_committed) is exactly the state of the last committed transaction.

The relay reads the ledger's accepted stream only (``SOURCE_TOPICS``, ADR 0027). A reference to a
relayed event is ``(topic index in SOURCE_TOPICS, offset)``; its partition is the trade's. The JSON
value: ``{"v": 3, "parties": [...], "events": [[topic index, offset], ...], "types": [...],
"trust": {...}, "ids": [...]}`` (``types``: each event's type, for need-to-know back-fills; ``trust``:
the trade's ``TrustState``). Versions 1 and 2 referred to the three trade topics, which the relay no
longer reads: their records live in the ``.state.v1`` topic, which this relay does not read;
``ids`` (the events' ``ce_id``) lets the relay skip a second record of an event it relayed already.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.trust import TrustState
from corridor.core.routing import TradeRoute
from corridor.core.topics import ACCEPTED

Ref = tuple[int, int]  # (index of the source topic, offset) within the trade's partition

#: What the relay reads: the events the ledger accepted, in the ledger's order (ADR 0027).
SOURCE_TOPICS: tuple[str, ...] = (ACCEPTED,)
TOPIC_INDEX: dict[str, int] = {topic: i for i, topic in enumerate(SOURCE_TOPICS)}
STATE_VERSION = 3
_READABLE_VERSIONS = (3,)

#: The state topic keeps one record per trade (compacted) forever.
STATE_TOPIC_CONFIGS: dict[str, str] = {
    "cleanup.policy": "compact",
    "retention.ms": "-1",
    "min.compaction.lag.ms": "60000",
    "max.message.bytes": "8388608",
    "unclean.leader.election.enable": "false",
}


class StateError(ValueError):
    """A state record the relay cannot read (written by something else, or a newer version)."""


def encode_route(route: TradeRoute[Ref], ids: Iterable[str] = ()) -> bytes:
    """The state record of a trade; ``ids`` are the ``ce_id`` of its relayed events (for dedupe)."""
    doc: dict[str, Any] = {
        "v": STATE_VERSION,
        "parties": list(route.parties),
        "events": [list(ref) for ref in route.events],
        "types": list(route.types),
        "trust": route.trust.model_dump(mode="json"),
    }
    if ids:
        doc["ids"] = sorted(ids)
    return json.dumps(doc, separators=(",", ":")).encode()


def decode_route(value: bytes) -> TradeRoute[Ref]:
    try:
        doc: Any = json.loads(value)
        if doc.get("v") not in _READABLE_VERSIONS:
            raise StateError(f"state record version {doc.get('v')!r}, this relay reads {STATE_VERSION}")
        parties = tuple(str(p) for p in doc["parties"])
        events = tuple((int(t), int(o)) for t, o in doc["events"])
        types = tuple(str(t) for t in doc.get("types", ("",) * len(events)))
        trust = TrustState.model_validate(doc.get("trust") or {})
        if len(types) != len(events):
            raise ValueError(f"{len(types)} types for {len(events)} events")
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise StateError(f"unreadable relay state record: {exc}") from exc
    return TradeRoute(parties, events, types, trust)


def decode_ids(value: bytes) -> frozenset[str]:
    """The ``ce_id`` of a trade's relayed events (empty in a record written before they were kept)."""
    try:
        doc: Any = json.loads(value)
        return frozenset(str(i) for i in doc.get("ids", ()))
    except (ValueError, TypeError, AttributeError) as exc:
        raise StateError(f"unreadable relay state record: {exc}") from exc


def ref_of(topic: str, offset: int) -> Ref:
    return (TOPIC_INDEX[topic], offset)


def topic_of(ref: Ref) -> str:
    return SOURCE_TOPICS[ref[0]]


@dataclass(frozen=True)
class RelayRecord:
    """A trade event as the relay forwards it: the source record's key, value, timestamp and headers
    (plus the relay's own), and the decoded event (None when it came from the history)."""

    key: bytes
    value: bytes
    timestamp_ms: int
    headers: tuple[tuple[str, bytes], ...]
    event: TradeEvent | None = None
    event_type: str = "unknown"


@dataclass
class HistoryCache:
    """The last ``capacity`` relayed records by (partition, ref), for back-fills without a fetch."""

    capacity: int
    _records: OrderedDict[tuple[int, Ref], RelayRecord] = field(default_factory=OrderedDict)

    def put(self, partition: int, ref: Ref, record: RelayRecord) -> None:
        if self.capacity <= 0:
            return
        key = (partition, ref)
        self._records[key] = record
        self._records.move_to_end(key)
        while len(self._records) > self.capacity:
            self._records.popitem(last=False)

    def get(self, partition: int, ref: Ref) -> RelayRecord | None:
        record = self._records.get((partition, ref))
        if record is not None:
            self._records.move_to_end((partition, ref))
        return record

    def forget_partition(self, partition: int) -> None:
        for key in [k for k in self._records if k[0] == partition]:
            del self._records[key]

    def __len__(self) -> int:
        return len(self._records)


def merge_by_timestamp(streams: Iterable[list[Any]]) -> Iterator[Any]:
    """Interleave records of several partitions by timestamp, keeping each partition's own order.

    The record timestamp is the time of publication (ADR 17): the result is the order in which the
    gateway accepted the events across the three trade topics, whatever business times they state.

    Only the head of each partition is ever compared, so a partition whose timestamps go backwards
    still comes out in offset order (this is what keeps a trade's per-topic order exact).
    """
    heads = [(s, 0) for s in streams if s]
    while heads:
        best = min(range(len(heads)), key=lambda i: (heads[i][0][heads[i][1]].timestamp, i))
        records, position = heads[best]
        yield records[position]
        if position + 1 < len(records):
            heads[best] = (records, position + 1)
        else:
            heads.pop(best)


def fold_state_record(
    routes: dict[str, TradeRoute[Ref]], ids: dict[str, frozenset[str]], key: bytes | None, value: bytes | None
) -> None:
    """Fold one record of the relay's state topic into ``routes`` and ``ids`` (a tombstone forgets the
    trade; a record without a key is not ours): how a slot's state is restored, by the relay and its fake."""
    if key is None:
        return
    trade = key.decode()
    if value is None:
        routes.pop(trade, None)
        ids.pop(trade, None)
    else:
        routes[trade] = decode_route(value)
        ids[trade] = decode_ids(value)
