"""Events for gateway tests: the chromite story with its parties renamed, as CloudEvents JSON documents.

Renaming lets each test own fresh partners (and a fresh trade) while the events stay the story's valid
ones: ``cast(suffix)`` maps every story party id to ``<id>-<suffix>``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from corridor.core.domain.base import TradeEvent
from corridor.demo.story import (
    ADVISING_BANK,
    BUYER,
    CARRIER,
    GACC_TIANJIN,
    ISSUING_BANK,
    SGS,
    SUPPLIER,
    TDAP,
    chromite_story,
)

STORY_PARTIES = {
    p.party_id: p for p in (BUYER, SUPPLIER, CARRIER, SGS, TDAP, GACC_TIANJIN, ISSUING_BANK, ADVISING_BANK)
}


def _rename(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {
            k: names.get(v, v) if k in ("party_id", "sender") and isinstance(v, str) else _rename(v, names)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rename(v, names) for v in value]
    return value


@dataclass
class Cast:
    """The story's parties under test names, and its events as JSON data (in story order)."""

    names: dict[str, str]  # story party id -> test partner id
    trade_id: str
    events: list[tuple[str, dict[str, Any]]]  # (type, data)

    def partner(self, story_party_id: str) -> str:
        return self.names[story_party_id]

    @property
    def buyer(self) -> str:
        return self.names[BUYER.party_id]

    @property
    def supplier(self) -> str:
        return self.names[SUPPLIER.party_id]

    @property
    def carrier(self) -> str:
        return self.names[CARRIER.party_id]

    def first(self, short_type: str) -> dict[str, Any]:
        """A copy of the data of the story's first event of this type."""
        for event_type, data in self.events:
            if event_type.rsplit(".", 1)[-1] == short_type:
                return json.loads(json.dumps(data))
        raise KeyError(short_type)

    def role_of(self, partner_id: str) -> str:
        story_id = next(k for k, v in self.names.items() if v == partner_id)
        return str(STORY_PARTIES[story_id].role)


def cast(suffix: str | None = None) -> Cast:
    suffix = suffix or uuid.uuid4().hex[:8]
    names = {pid: f"{pid}-{suffix}"[:63] for pid in STORY_PARTIES}
    story = chromite_story()
    events = [(e.avro_name, _rename(dump(e), names)) for e in story.events]
    return Cast(names, str(story.trade_id), events)


def dump(event: TradeEvent) -> dict[str, Any]:
    return json.loads(json.dumps(event.model_dump(mode="json")))


def cloudevent(event_type: str, data: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    """A structured-mode CloudEvent for ``data`` (id = data.event_id)."""
    doc: dict[str, Any] = {
        "specversion": "1.0",
        "id": data.get("event_id") or str(uuid.uuid4()),
        "source": "/partner-system/erp",
        "type": event_type,
        "time": data.get("occurred_at"),
        "datacontenttype": "application/json",
        "data": data,
    }
    doc.update(attrs)
    return doc


def new_ids(data: dict[str, Any]) -> dict[str, Any]:
    """The same event under a fresh event id."""
    return {**data, "event_id": str(uuid.uuid4())}
