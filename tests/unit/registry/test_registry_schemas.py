"""Registry request parsing, canonical form (schema identity) and Avro parsing with references."""

from __future__ import annotations

import json

import pytest

from corridor.registry.errors import RegistryError, parse_version
from corridor.registry.schemas import (
    InvalidSchemaError,
    Reference,
    canonical_form,
    fingerprint,
    parse_avro,
    parse_request,
)

ORDER = {
    "type": "record",
    "name": "OrderPlaced",
    "namespace": "pk.corridor.trade",
    "doc": "سفارش — 订单",
    "fields": [
        {"name": "order_id", "type": "string"},
        {"name": "total", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
    ],
}


def identity(text: str, refs: tuple[Reference, ...] = (), schema_type: str = "AVRO") -> str:
    return fingerprint(canonical_form(text, schema_type, refs))


class TestCanonicalForm:
    def test_whitespace_and_key_order_do_not_matter(self) -> None:
        compact = json.dumps(ORDER, separators=(",", ":"))
        pretty = json.dumps(ORDER, indent=4, sort_keys=True)
        assert identity(compact) == identity(pretty)

    def test_is_sorted_compact_json_keeping_unicode(self) -> None:
        form = canonical_form(json.dumps(ORDER), "avro", ())
        assert form.startswith('{"references":[],"schema":{"doc":"سفارش — 订单","fields":[')
        assert " " not in form.replace("سفارش — 订单", "")
        assert '"schemaType":"AVRO"' in form

    def test_field_order_and_content_matter(self) -> None:
        swapped = dict(ORDER, fields=list(reversed(ORDER["fields"])))  # type: ignore[call-overload]
        assert identity(json.dumps(ORDER)) != identity(json.dumps(swapped))
        renamed_doc = dict(ORDER, doc="other")
        assert identity(json.dumps(ORDER)) != identity(json.dumps(renamed_doc))

    def test_references_are_part_of_the_identity(self) -> None:
        text = json.dumps("pk.corridor.common.Money")
        v1 = (Reference("pk.corridor.common.Money", "money", 1),)
        v2 = (Reference("pk.corridor.common.Money", "money", 2),)
        assert identity(text, v1) != identity(text, v2)
        assert identity(text, v1) == identity(text, (Reference("pk.corridor.common.Money", "money", 1),))

    def test_schema_type_is_part_of_the_identity(self) -> None:
        text = json.dumps(ORDER)
        assert identity(text, schema_type="AVRO") != identity(text, schema_type="JSON")

    def test_invalid_json_is_an_invalid_schema(self) -> None:
        with pytest.raises(InvalidSchemaError, match="not valid JSON"):
            canonical_form("{nope", "AVRO", ())


class TestParseRequest:
    def test_defaults_to_avro_without_references(self) -> None:
        request = parse_request({"schema": json.dumps(ORDER)})
        assert (request.schema_type, request.references, request.requested_id) == ("AVRO", (), None)

    def test_reads_references_and_keeps_text(self) -> None:
        text = json.dumps(ORDER, indent=2)
        body = {
            "schema": text,
            "schemaType": "avro",
            "references": [{"name": "pk.corridor.common.Money", "subject": "money-value", "version": 3}],
            "metadata": {"properties": {"owner": "customs"}},  # accepted and ignored
        }
        request = parse_request(body)
        assert request.schema == text
        assert request.schema_type == "AVRO"
        assert request.references == (Reference("pk.corridor.common.Money", "money-value", 3),)

    @pytest.mark.parametrize(
        "body",
        [
            None,
            [],
            {},
            {"schema": ""},
            {"schema": 42},
            {"schema": "{}", "schemaType": "PROTOBUF"},
            {"schema": "{}", "references": {"name": "x"}},
            {"schema": "{}", "references": [{"name": "x", "subject": "s"}]},
            {"schema": "{}", "references": [{"name": "x", "subject": "s", "version": 0}]},
            {"schema": "{}", "references": [{"name": "x", "subject": "s", "version": True}]},
            {"schema": "{}", "id": "seven"},
        ],
    )
    def test_rejects_malformed_bodies(self, body: object) -> None:
        with pytest.raises(InvalidSchemaError):
            parse_request(body)


class TestParseAvro:
    def test_valid_schema_parses(self) -> None:
        parsed = parse_avro(json.dumps(ORDER))
        assert parsed.fullname == "pk.corridor.trade.OrderPlaced"  # type: ignore[attr-defined]

    @pytest.mark.parametrize(
        ("schema", "reason"),
        [
            ({"type": "record", "name": "R", "fields": [{"name": "x", "type": "Nowhere"}]}, "Nowhere"),
            ({"type": "record", "name": "R"}, "fields"),
            ({"type": "enum", "name": "E", "symbols": ["A", "A"]}, ""),
            ({"type": "record", "name": "R", "fields": [{"name": "n", "type": "int", "default": "x"}]}, ""),
            ({"type": "wat"}, "wat"),
        ],
    )
    def test_invalid_schema_reports_the_parser_reason(self, schema: object, reason: str) -> None:
        with pytest.raises(InvalidSchemaError) as exc:
            parse_avro(json.dumps(schema))
        assert reason in str(exc.value)

    def test_named_types_come_from_references(self) -> None:
        money = {
            "type": "record",
            "name": "Money",
            "namespace": "pk.corridor.common",
            "fields": [{"name": "amount", "type": "long"}, {"name": "currency", "type": "string"}],
        }
        invoice = {
            "type": "record",
            "name": "Invoice",
            "namespace": "pk.corridor.trade",
            "fields": [{"name": "total", "type": "pk.corridor.common.Money"}],
        }
        with pytest.raises(InvalidSchemaError):
            parse_avro(json.dumps(invoice))
        parsed = parse_avro(json.dumps(invoice), [json.dumps(money)])
        assert parsed.fields[0].type.fullname == "pk.corridor.common.Money"  # type: ignore[attr-defined]

    def test_redefining_a_referenced_type_is_rejected(self) -> None:
        money = json.dumps({"type": "record", "name": "Money", "fields": [{"name": "a", "type": "long"}]})
        with pytest.raises(InvalidSchemaError):
            parse_avro(money, [money])


class TestParseVersion:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [("1", 1), ("latest", -1), ("LATEST", -1), ("-1", -1), (" 7 ", 7), ("2147483647", 2147483647)],
    )
    def test_valid(self, raw: str, expected: int) -> None:
        assert parse_version(raw) == expected

    @pytest.mark.parametrize("raw", ["0", "-2", "2147483648", "abc", "1.0", ""])
    def test_invalid_is_42202(self, raw: str) -> None:
        with pytest.raises(RegistryError) as exc:
            parse_version(raw)
        assert (exc.value.status, exc.value.error_code) == (422, 42202)
