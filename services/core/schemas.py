"""The Avro schema catalog: ``schemas/*.avsc`` is the single source of truth for event shapes.

Layout: ``schemas/common/`` holds shared named types (Party, Money, Location …); every record under
``schemas/<area>/`` (orders, shipments, certificates) is an *event type* published on that area's
topic. Files reference shared types by full name; fastavro's ``load_schema`` inlines them, so every
event schema we register is self-contained and any standard Confluent client can decode it.

Naming (docs/adr/0002-topics-keys-subjects.md): the CloudEvents ``type`` of an event is its record full
name, and its registry subject is ``<topic>-<full name>`` (Confluent's TopicRecordNameStrategy).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

from fastavro.repository.base import AbstractSchemaRepository, SchemaRepositoryError
from fastavro.schema import load_schema, parse_schema

from corridor.core.paths import SCHEMAS_DIR
from corridor.core.topics import CONTRACT_CERTIFICATES, CONTRACT_ORDERS, CONTRACT_SHIPMENTS

#: Which topic each schema folder's events are published on, by the contract's name (a topic
#: generation, ADR 0040, renames where the records live, not the subjects).
AREA_TOPICS: dict[str, str] = {
    "orders": CONTRACT_ORDERS,
    "shipments": CONTRACT_SHIPMENTS,
    "certificates": CONTRACT_CERTIFICATES,
}


class SchemaCatalogError(ValueError):
    """A schema file is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class EventSchema:
    """One event type: its full name, topic, registry subject and self-contained Avro schema."""

    full_name: str
    area: str
    topic: str
    path: Path
    schema: dict[str, Any]  # expanded JSON form, as registered
    parsed: dict[str, Any]  # fastavro-parsed form, for encoding and decoding

    @property
    def name(self) -> str:
        return self.full_name.rsplit(".", 1)[-1]

    @property
    def subject(self) -> str:
        return subject_for(self.topic, self.full_name)

    @property
    def ce_type(self) -> str:
        return self.full_name

    @property
    def schema_str(self) -> str:
        return json.dumps(self.schema, ensure_ascii=False, separators=(",", ":"))


def subject_for(topic: str, record_full_name: str) -> str:
    """Confluent TopicRecordNameStrategy subject."""
    return f"{topic}-{record_full_name}"


class _CatalogRepository(AbstractSchemaRepository):
    """Lets fastavro resolve named types by full name from anywhere under ``schemas/``."""

    def __init__(self, by_name: dict[str, dict[str, Any]]) -> None:
        self._by_name = by_name

    def load(self, name: str) -> dict[str, Any]:
        try:
            return self._by_name[name]
        except KeyError:
            raise SchemaRepositoryError(f"no schema file defines {name!r}") from None


class SchemaCatalog:
    """All schemas of a ``schemas/`` tree, indexed by full name, with the event types separated."""

    def __init__(self, root: Path = SCHEMAS_DIR) -> None:
        self.root = root
        self.named: dict[str, dict[str, Any]] = {}
        self.files: dict[str, Path] = {}
        for path in sorted(root.rglob("*.avsc")):
            try:
                raw = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as exc:
                raise SchemaCatalogError(f"{path}: not valid JSON: {exc}") from exc
            full = f"{raw.get('namespace', '')}.{raw['name']}".lstrip(".")
            if path.stem != raw["name"]:
                raise SchemaCatalogError(f"{path}: file name must be the record name {raw['name']!r}")
            if full in self.named:
                raise SchemaCatalogError(f"{full} is defined twice: {self.files[full]} and {path}")
            self.named[full] = raw
            self.files[full] = path
        repo = _CatalogRepository(self.named)
        self.events: dict[str, EventSchema] = {}
        for full, path in self.files.items():
            area = path.parent.name
            if area not in AREA_TOPICS:
                continue
            expanded = cast(dict[str, Any], load_schema(full, repo=repo, _write_hint=False))
            self.events[full] = EventSchema(
                full_name=full,
                area=area,
                topic=AREA_TOPICS[area],
                path=path,
                schema=expanded,
                parsed=cast(dict[str, Any], parse_schema(expanded)),
            )

    @classmethod
    def of(cls, *events: EventSchema) -> SchemaCatalog:
        """A catalog of just these event schemas (e.g. one service's view during a schema rollout)."""
        made = cls.__new__(cls)
        made.root = events[0].path.parents[1] if events else SCHEMAS_DIR
        made.named, made.files = {}, {}
        made.events = {e.full_name: e for e in events}
        return made

    def event(self, type_or_name: str) -> EventSchema:
        """Look an event type up by full name (``corridor.trade.orders.OrderPlaced``) or short name."""
        if type_or_name in self.events:
            return self.events[type_or_name]
        for schema in self.events.values():
            if schema.name == type_or_name:
                return schema
        raise KeyError(f"unknown event type {type_or_name!r}; known: {sorted(self.events)}")

    def by_topic(self, topic: str) -> list[EventSchema]:
        return [s for s in self.events.values() if s.topic == topic]


@cache
def catalog() -> SchemaCatalog:
    """The project's catalog, loaded once per process."""
    return SchemaCatalog(SCHEMAS_DIR)
