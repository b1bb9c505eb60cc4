"""JSON shapes of the monitor's API, built from what the collector sampled (pure functions)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

from corridor.core.routing import partner_of_topic
from corridor.core.topics import TRADE_TOPICS, physical
from corridor.monitor.kafka_source import GroupInfo
from corridor.monitor.stats import group_lag, total_lag

DLQ_TOPIC = physical("trade.dlq.v1")
RETRY_PREFIX = "trade.retry."

KIND_ORDER = {"trade": 0, "retry": 1, "dlq": 2, "partner": 3, "other": 4}


def topic_kind(name: str) -> str:
    """``trade`` (the three trade topics), ``retry``, ``dlq`` (the ledger's), ``partner`` (the relay's
    ``partner.<id>.v1``), else ``other``."""
    if name in TRADE_TOPICS:
        return "trade"
    if name == DLQ_TOPIC:
        return "dlq"
    if name.startswith(RETRY_PREFIX):
        return "retry"
    if partner_of_topic(name) is not None:
        return "partner"
    return "other"


def topic_sort_key(name: str) -> tuple[int, int, str]:
    kind = topic_kind(name)
    index = TRADE_TOPICS.index(name) if kind == "trade" else 0
    return (KIND_ORDER[kind], index, name)


def ms(seconds: float) -> int:
    return round(seconds * 1000)


def group_row(
    info: GroupInfo,
    end_offsets: Mapping[tuple[str, int], int],
    *,
    history: Iterable[tuple[float, int]] = (),
) -> dict[str, Any]:
    """One consumer group: state, members, lag per topic and partition, total lag and its history."""
    rows = group_lag(info.committed, end_offsets, info.not_records)
    topics: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = topics.setdefault(row.topic, {"topic": row.topic, "lag": 0, "partitions": []})
        entry["partitions"].append(
            {"partition": row.partition, "committed": row.committed, "end": row.end, "lag": row.lag}
        )
        entry["lag"] += row.lag or 0
    return {
        "group_id": info.group_id,
        "state": info.state,
        "members": info.members,
        "protocol_type": info.protocol_type,
        "lag": total_lag(rows),
        "partitions": len(rows),
        "topics": list(topics.values()),
        "history": [[ms(t), lag] for t, lag in history],
        "error": info.error,
    }


def sort_groups(rows: list[dict[str, Any]], first: str | None = None) -> list[dict[str, Any]]:
    """``first`` (the ledger's group) on top, then groups with members, each by lag (largest first)."""
    return sorted(
        rows,
        key=lambda g: (g["group_id"] != first, g["members"] == 0, -g["lag"], g["group_id"]),
    )


def jsonable(value: Any) -> Any:
    """An Avro record as fastavro decodes it, made JSON-safe: decimals as strings (exact), times as
    ISO 8601, bytes as hex, UUIDs as text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    return value
