"""The pydantic models are provably in step with schemas/*.avsc."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer
from pydantic import BaseModel

from corridor.core.domain import codegen
from corridor.core.domain.events import EVENT_TYPES
from corridor.core.schemas import AREA_TOPICS, catalog
from tests.unit.domain.samples import full_sample

EVENTS = sorted(catalog().events)


def test_generated_models_are_up_to_date() -> None:
    current = codegen.OUTPUT.read_text(encoding="utf-8")
    assert current == codegen.generate(), "events.py is stale: run `corridor schemas codegen`"


def test_every_event_schema_has_a_model_and_back() -> None:
    assert set(EVENT_TYPES) == set(EVENTS)
    assert len(EVENTS) >= 16


def _assert_fields_match(model: type[BaseModel], schema: dict[str, Any], path: str) -> None:
    avro_fields = {f["name"]: f for f in schema["fields"]}
    assert list(model.model_fields) == list(avro_fields), f"{path}: fields differ from the .avsc"
    for name, field in avro_fields.items():
        assert model.model_fields[name].description == field["doc"], f"{path}.{name}: doc differs"


@pytest.mark.parametrize("full_name", EVENTS)
def test_every_field_round_trips_through_avro(full_name: str) -> None:
    event_schema = catalog().events[full_name]
    model = EVENT_TYPES[full_name]
    _assert_fields_match(model, event_schema.schema, full_name)

    event = model.model_validate(full_sample(event_schema))
    record = event.to_avro()
    buf = io.BytesIO()
    schemaless_writer(buf, event_schema.parsed, record)
    buf.seek(0)
    decoded = schemaless_reader(buf, event_schema.parsed, event_schema.parsed)
    again = model.model_validate(decoded)
    assert again == event
    # every optional field of the sample was set, so nothing is lost silently
    assert _count_nulls(record) == 0, f"{full_name}: sample leaves fields unset"


def _count_nulls(value: Any) -> int:
    if value is None:
        return 1
    if isinstance(value, dict):
        return sum(_count_nulls(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_nulls(v) for v in value)
    return 0


def test_every_event_schema_is_documented_and_namespaced() -> None:
    def walk(schema: Any, where: str) -> None:
        if isinstance(schema, list):
            for s in schema:
                walk(s, where)
        elif isinstance(schema, dict):
            if schema.get("type") in ("record", "enum"):
                assert "." in schema["name"] or schema.get("namespace"), (
                    f"{where}: {schema['name']} has no namespace"
                )
                assert schema.get("doc"), f"{where}: {schema['name']} has no doc"
            for field in schema.get("fields", []):
                assert field.get("doc"), f"{where}.{field['name']} has no doc"
                walk(field["type"], f"{where}.{field['name']}")
            for key in ("items", "values"):
                if key in schema:
                    walk(schema[key], where)

    for name, ev in catalog().events.items():
        walk(ev.schema, name)
        assert ev.topic == AREA_TOPICS[ev.area]
        assert ev.subject == f"{ev.topic}-{name}"


def test_money_and_quantities_are_avro_decimals_and_times_are_utc_millis() -> None:
    money = catalog().named["corridor.trade.common.Money"]
    amount = next(f for f in money["fields"] if f["name"] == "amount")
    assert amount["type"]["logicalType"] == "decimal"
    for ev in catalog().events.values():
        occurred = next(f for f in ev.schema["fields"] if f["name"] == "occurred_at")
        assert occurred["type"] == {"type": "long", "logicalType": "timestamp-millis"}
        event_id = next(f for f in ev.schema["fields"] if f["name"] == "event_id")
        assert event_id["type"]["logicalType"] == "uuid"
