"""The bench's payloads: the demo's two stories (every event type, realistic sizes), with fresh ids.

A *trade* is one story played again with a new trade id and new event ids, so its events keep their
order and lifecycle (the ledger applies them as it would a real trade). Stages take events in story
order, cycling through the chromite and the explosives stories.
"""

from __future__ import annotations

import copy
import io
import statistics
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from fastavro import schemaless_writer

from corridor.core.codec import Codec
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import OrderPlaced
from corridor.core.envelope import CloudEvent
from corridor.core.schemas import catalog
from corridor.demo.story import BUYER, chromite_story, explosives_story, with_own_numbers

Headers = list[tuple[str, bytes]]


def story_templates() -> list[list[TradeEvent]]:
    return [chromite_story().events, explosives_story().events]


def fresh_trades(n_events: int) -> Iterator[TradeEvent]:
    """``n_events`` events, whole stories one after the other, each story a new trade: new trade and
    event ids, and certificate and licence numbers of its own (a licence is one running total across
    trades, ADR 0045: a copy that reused them would have every booking after the first refused)."""
    made = 0
    cycle = 0
    while made < n_events:
        story = with_own_numbers((chromite_story, explosives_story)[cycle % 2])
        for event in story.events:
            if made >= n_events:
                return
            yield event.model_copy(update={"event_id": uuid.uuid4()})
            made += 1
        cycle += 1


def event_json(event: TradeEvent) -> dict[str, Any]:
    """The event's fields as a partner sends them (JSON types: strings for decimals, times, ids)."""
    return event.model_dump(mode="json")


def wire_size(event: TradeEvent) -> int:
    """Bytes of the event in the Confluent wire format (5-byte header + Avro body)."""
    buf = io.BytesIO()
    schemaless_writer(buf, catalog().event(event.avro_name).parsed, event.to_avro())
    return 5 + len(buf.getvalue())


def median_wire_size() -> int:
    return int(statistics.median(wire_size(e) for story in story_templates() for e in story))


def wire_sizes() -> list[int]:
    return sorted(wire_size(e) for story in story_templates() for e in story)


@dataclass(frozen=True)
class WireRecord:
    """One Kafka record exactly as Corridor produces it: key, value (wire format), headers; its timestamp
    is the time of publication (ADR 17), stamped at send (``timestamp_ms`` is when it was built)."""

    area_topic: str  # the trade topic of the event's area
    key: bytes
    value: bytes
    headers: Headers
    timestamp_ms: int


def wire_records(codec: Codec, events: list[TradeEvent]) -> list[WireRecord]:
    """Encode events as TradeProducer does (the codec must have every schema prepared)."""
    return [
        WireRecord(
            event.topic,
            str(event.trade_id).encode(),
            codec.encode(event),
            CloudEvent.for_event(event).to_headers(),
            int(time.time() * 1000),
        )
        for event in events
    ]


# -- sized events (stage 8) -------------------------------------------------------------------------


def order_with_lines(lines: int) -> OrderPlaced:
    """The chromite OrderPlaced with ``lines`` order lines (valid: numbered 1..n, distinct grades)."""
    template = chromite_story().events[0]
    assert isinstance(template, OrderPlaced)
    data = template.model_dump(mode="python")
    base = data["lines"][0]
    data["lines"] = []
    for n in range(1, lines + 1):
        line = copy.deepcopy(base)
        line["line_number"] = n
        line["description_en"] = f"Chromite ore lumps, Muslim Bagh, grade lot {n}, 40-42% Cr2O3"
        line["quantity"] = {"value": Decimal("100.000") + n, "unit": "TNE"}
        data["lines"].append(line)
    return OrderPlaced.model_validate(data)


@cache
def _order_template() -> tuple[str, dict[str, Any]]:
    template = chromite_story().events[0]
    return template.avro_name, event_json(template)


def order_json_for_gateway(event_id: uuid.UUID, trade_id: uuid.UUID) -> dict[str, Any]:
    """A CloudEvent (structured mode) opening a new trade: the chromite OrderPlaced, from its buyer."""
    event_type, template = _order_template()
    data = {**template, "event_id": str(event_id), "trade_id": str(trade_id)}
    return {
        "specversion": "1.0",
        "id": str(event_id),
        "source": f"/partners/{BUYER.party_id}",
        "type": event_type,
        "time": data["occurred_at"],
        "datacontenttype": "application/json",
        "data": data,
    }


BENCH_PARTNER = BUYER
