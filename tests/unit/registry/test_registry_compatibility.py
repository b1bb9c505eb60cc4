"""Compatibility levels over lists of versions, with the real ``avro`` checker (no database)."""

from __future__ import annotations

import json

import avro.schema
import pytest

from corridor.core.compatibility import (
    CompatibilityLevel,
    PreviousVersion,
    check_compatibility,
    check_pair,
    field_path,
    parse_level,
    versions_to_check,
)
from corridor.registry.schemas import parse_avro

L = CompatibilityLevel


def record(*fields: dict[str, object], name: str = "Order") -> avro.schema.Schema:
    return parse_avro(
        json.dumps({"type": "record", "name": name, "namespace": "pk.corridor", "fields": list(fields)})
    )


ID = {"name": "id", "type": "string"}
X_DEFAULT = {"name": "x", "type": "int", "default": 0}
X_REQUIRED = {"name": "x", "type": "int"}


def history(*schemas: avro.schema.Schema) -> list[PreviousVersion]:
    return [PreviousVersion(version, schema) for version, schema in enumerate(schemas, start=1)]


class TestLevels:
    def test_parse_level_is_case_insensitive_and_strict(self) -> None:
        assert parse_level("full_transitive") is L.FULL_TRANSITIVE
        assert parse_level(" Backward ") is L.BACKWARD
        assert parse_level("SIDEWAYS") is None
        assert parse_level(None) is None
        assert parse_level(3) is None

    @pytest.mark.parametrize(
        ("level", "backward", "forward", "transitive"),
        [
            (L.NONE, False, False, False),
            (L.BACKWARD, True, False, False),
            (L.BACKWARD_TRANSITIVE, True, False, True),
            (L.FORWARD, False, True, False),
            (L.FORWARD_TRANSITIVE, False, True, True),
            (L.FULL, True, True, False),
            (L.FULL_TRANSITIVE, True, True, True),
        ],
    )
    def test_directions(self, level: L, backward: bool, forward: bool, transitive: bool) -> None:
        assert (level.checks_backward, level.checks_forward, level.transitive) == (
            backward,
            forward,
            transitive,
        )

    def test_versions_to_check(self) -> None:
        versions = [1, 2, 3]
        assert versions_to_check(L.NONE, versions) == []
        assert versions_to_check(L.BACKWARD, versions) == [3]
        assert versions_to_check(L.FULL, versions) == [3]
        assert versions_to_check(L.FORWARD_TRANSITIVE, versions) == [3, 2, 1]
        assert versions_to_check(L.FULL_TRANSITIVE, []) == []


class TestCheckPair:
    def test_reader_with_new_required_field_cannot_read_old_data(self) -> None:
        problem = check_pair(reader=record(ID, X_REQUIRED), writer=record(ID))
        assert problem is not None
        assert problem.kinds == ("READER_FIELD_MISSING_DEFAULT_VALUE",)
        assert problem.locations == ("/fields/1",)
        assert problem.details == ("x",)

    def test_compatible_pair(self) -> None:
        assert check_pair(reader=record(ID, X_DEFAULT), writer=record(ID)) is None
        # int promotes to long
        assert (
            check_pair(
                reader=record({"name": "n", "type": "long"}), writer=record({"name": "n", "type": "int"})
            )
            is None
        )


class TestCheckCompatibility:
    def test_first_version_is_always_compatible(self) -> None:
        for level in L:
            assert check_compatibility(level, record(ID), []) == []

    @pytest.mark.parametrize(
        ("level", "compatible"),
        [
            (L.NONE, True),
            (L.BACKWARD, False),
            (L.BACKWARD_TRANSITIVE, False),
            (L.FORWARD, True),
            (L.FORWARD_TRANSITIVE, True),
            (L.FULL, False),
            (L.FULL_TRANSITIVE, False),
        ],
    )
    def test_adding_a_required_field(self, level: L, compatible: bool) -> None:
        messages = check_compatibility(level, record(ID, X_REQUIRED), history(record(ID)))
        assert (messages == []) is compatible

    @pytest.mark.parametrize(
        ("level", "compatible"),
        [
            (L.NONE, True),
            (L.BACKWARD, True),
            (L.FORWARD, False),
            (L.FULL, False),
        ],
    )
    def test_removing_a_required_field(self, level: L, compatible: bool) -> None:
        messages = check_compatibility(level, record(ID), history(record(ID, X_REQUIRED)))
        assert (messages == []) is compatible

    def test_transitive_levels_look_past_the_latest(self) -> None:
        # v3 (x required) reads v2 data (has x) but not v1 data (no x, no default)
        previous = history(record(ID), record(ID, X_DEFAULT))
        candidate = record(ID, X_REQUIRED)
        assert check_compatibility(L.BACKWARD, candidate, previous) == []
        assert check_compatibility(L.FULL, candidate, previous) == []
        assert check_compatibility(L.BACKWARD_TRANSITIVE, candidate, previous) != []
        assert check_compatibility(L.FULL_TRANSITIVE, candidate, previous) != []

    def test_forward_transitive_looks_past_the_latest(self) -> None:
        # v1 readers need x; v2 readers default it; v3 drops it
        previous = history(record(ID, X_REQUIRED), record(ID, X_DEFAULT))
        assert check_compatibility(L.FORWARD, record(ID), previous) == []
        messages = check_compatibility(L.FORWARD_TRANSITIVE, record(ID), previous)
        assert "old schema version: 1" in messages

    def test_messages_name_field_reason_version_and_level(self) -> None:
        messages = check_compatibility(L.BACKWARD, record(ID, X_REQUIRED), history(record(ID)))
        assert messages[0].startswith("READER_FIELD_MISSING_DEFAULT_VALUE at /fields/1 (field 'x')")
        assert "no default" in messages[0]
        assert messages[-2:] == ["old schema version: 1", "compatibility level: BACKWARD"]

    def test_type_change_is_reported_both_ways_under_full(self) -> None:
        new = record({"name": "id", "type": "long"})
        messages = check_compatibility(L.FULL, new, history(record(ID)))
        mismatches = [m for m in messages if m.startswith("TYPE_MISMATCH")]
        assert len(mismatches) == 2  # new cannot read old, old cannot read new
        assert all("(field 'id')" in m for m in mismatches)

    def test_stops_at_the_newest_incompatible_version(self) -> None:
        previous = history(record(ID), record(ID), record(ID))
        messages = check_compatibility(L.BACKWARD_TRANSITIVE, record(ID, X_REQUIRED), previous)
        assert "old schema version: 3" in messages
        assert not any("version: 1" in m or "version: 2" in m for m in messages)

    def test_enum_symbols_and_unions(self) -> None:
        colours = {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}
        fewer = {"type": "enum", "name": "Colour", "symbols": ["RED"]}
        old = record({"name": "c", "type": colours})
        new = record({"name": "c", "type": fewer})
        assert any(
            m.startswith("MISSING_ENUM_SYMBOLS") for m in check_compatibility(L.BACKWARD, new, history(old))
        )
        nullable = record({"name": "note", "type": ["null", "string"], "default": None})
        plain = record({"name": "note", "type": "string"})
        # a union reader accepts the plain writer; the reverse misses the null branch
        assert check_compatibility(L.BACKWARD, nullable, history(plain)) == []
        assert check_compatibility(L.BACKWARD, plain, history(nullable)) != []


class TestFieldPath:
    def test_nested_records_arrays_and_maps(self) -> None:
        line = {"type": "record", "name": "Line", "fields": [{"name": "sku", "type": "string"}]}
        schema = record(
            ID,
            {"name": "lines", "type": {"type": "array", "items": line}},
            {"name": "tags", "type": {"type": "map", "values": "string"}},
        )
        assert field_path(schema, "/fields/0") == "id"
        assert field_path(schema, "/fields/1/type/items/fields/0/type") == "lines.sku"
        assert field_path(schema, "/fields/2/type/values") == "tags"
        assert field_path(schema, "/") is None
        assert field_path(schema, "/fields/9") is None
