"""Pure schema handling: request parsing, the canonical form used for identity, and Avro parsing.

Nothing here touches the database, so it is unit-tested on its own. The registry keeps the schema
text exactly as registered (clients compare it byte for byte) and uses the canonical form only to
decide whether two registrations are "the same schema" and must share a global id.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import avro.errors
import avro.name
import avro.schema
import fastavro

AVRO = "AVRO"
MAX_REFERENCE_VERSION = 2**31 - 1  # versions are 32-bit, as in Confluent
SUPPORTED_TYPES: tuple[str, ...] = (AVRO,)


class InvalidSchemaError(ValueError):
    """The schema (or the request carrying it) cannot be accepted; the text says why."""


@dataclass(frozen=True)
class Reference:
    """A named type imported from another subject's version (Confluent's ``SchemaReference``)."""

    name: str
    subject: str
    version: int

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "subject": self.subject, "version": self.version}

    @classmethod
    def from_json(cls, raw: object) -> Reference:
        if not isinstance(raw, dict):
            raise InvalidSchemaError(
                f"a reference must be an object with name, subject and version, not {raw!r}"
            )
        name, subject, version = raw.get("name"), raw.get("subject"), raw.get("version")
        if not isinstance(name, str) or not name:
            raise InvalidSchemaError(f"reference {raw!r} has no name")
        if not isinstance(subject, str) or not subject:
            raise InvalidSchemaError(f"reference {raw!r} has no subject")
        if "\x00" in name or "\x00" in subject:
            raise InvalidSchemaError(f"reference {raw!r} has a NUL character in its name or subject")
        # bool is an int in Python; a JSON true is not a version.
        if (
            isinstance(version, bool)
            or not isinstance(version, int)
            or not (version == -1 or 1 <= version <= MAX_REFERENCE_VERSION)
        ):
            raise InvalidSchemaError(
                f"reference {raw!r} needs a version from 1 to {MAX_REFERENCE_VERSION} (or -1 for latest)"
            )
        return cls(name=name, subject=subject, version=version)


@dataclass(frozen=True)
class SchemaRequest:
    """The body of a register / lookup / compatibility request, validated."""

    schema: str
    schema_type: str
    references: tuple[Reference, ...]
    requested_id: int | None = None


def parse_request(body: object) -> SchemaRequest:
    """Validate a request body of the shape ``{"schema": str, "schemaType"?, "references"?}``.

    ``metadata`` and ``ruleSet`` (data contracts) are accepted and ignored: this registry does not
    store them, which clients tolerate because they are optional in every response.
    """
    if not isinstance(body, dict):
        raise InvalidSchemaError("the request body must be a JSON object with a 'schema' field")
    schema = body.get("schema")
    if not isinstance(schema, str) or not schema.strip():
        raise InvalidSchemaError("the request has no schema (field 'schema' must be a non-empty string)")
    schema_type = body.get("schemaType") or AVRO
    if not isinstance(schema_type, str):
        raise InvalidSchemaError(f"schemaType must be a string, not {schema_type!r}")
    schema_type = schema_type.upper()
    if schema_type not in SUPPORTED_TYPES:
        raise InvalidSchemaError(
            f"schema type '{schema_type}' is not supported by this registry "
            f"(supported: {', '.join(SUPPORTED_TYPES)})"
        )
    raw_refs = body.get("references") or []
    if not isinstance(raw_refs, list):
        raise InvalidSchemaError("references must be a list")
    references = tuple(Reference.from_json(item) for item in raw_refs)
    requested_id = body.get("id")
    if requested_id is not None and (isinstance(requested_id, bool) or not isinstance(requested_id, int)):
        raise InvalidSchemaError(f"id must be an integer, not {requested_id!r}")
    return SchemaRequest(
        schema=schema, schema_type=schema_type, references=references, requested_id=requested_id
    )


def canonical_form(schema_text: str, schema_type: str, references: Sequence[Reference]) -> str:
    """Canonical JSON of (schema, type, references): parsed, keys sorted, compact separators.

    Whitespace and key order do not change what an Avro schema means, so two texts that differ only
    in those must get the same global id. Field order, names and defaults do matter and are kept.
    References are part of the identity because the same text can mean different things when its
    named types come from different subject versions.
    """
    try:
        parsed = json.loads(schema_text)
    except json.JSONDecodeError as exc:
        raise InvalidSchemaError(f"the schema is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidSchemaError(_TOO_DEEP) from None
    document = {
        "schema": parsed,
        "schemaType": schema_type.upper(),
        "references": [ref.as_dict() for ref in references],
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(canonical: str) -> str:
    """SHA-256 of the canonical form: a fixed-size key for the unique index."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_avro(schema_text: str, reference_texts: Sequence[str] = ()) -> avro.schema.Schema:
    """Validate with fastavro and build the ``avro`` object the compatibility checker needs.

    ``reference_texts`` are the referenced schemas, dependencies first, each appearing once; their
    named types become visible to the schema being parsed. fastavro is the parser our serializers
    use, so a schema it rejects must never be registered; the ``avro`` package parse is what
    ``ReaderWriterCompatibilityChecker`` works on.
    """
    try:
        documents = [json.loads(text) for text in reference_texts]
        main = json.loads(schema_text)
    except json.JSONDecodeError as exc:
        raise InvalidSchemaError(f"the schema is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidSchemaError(_TOO_DEEP) from None

    named: dict[str, Any] = {}
    try:
        for document in documents:
            fastavro.parse_schema(document, named_schemas=named)
        fastavro.parse_schema(main, named_schemas=named)
    except (
        Exception
    ) as exc:  # fastavro raises several unrelated types (SchemaParseException, UnknownType, ...)
        raise InvalidSchemaError(_reason(exc)) from None

    problem = _spec_violation(main)
    if problem:
        raise InvalidSchemaError(problem)

    try:
        if not documents:
            return avro.schema.parse(schema_text)
        # avro.schema.parse cannot be handed pre-defined names; make_avsc_object (which parse calls)
        # can, so referenced types are defined into a shared Names first.
        names = avro.name.Names(validate_names=True)
        for document in documents:
            avro.schema.make_avsc_object(document, names)
        return avro.schema.make_avsc_object(main, names)
    except RecursionError:
        raise InvalidSchemaError(_TOO_DEEP) from None
    except (avro.errors.AvroException, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidSchemaError(_reason(exc)) from None


_TOO_DEEP = "the schema nests too deeply to be parsed"
_AVRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PRIMITIVE_DEFAULTS: dict[str, Callable[[Any], bool]] = {
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31,
    "long": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63,
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "double": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "string": lambda v: isinstance(v, str),
    "bytes": lambda v: isinstance(v, str),
}


def _spec_violation(node: Any) -> str | None:
    """What the Avro specification forbids and the parsers let through (Java clients would refuse the
    schema): field names that are not Avro names, a union field's default not of the union's first
    type, a fixed size that is not a 32-bit count."""
    try:
        return _walk(node)
    except RecursionError:
        return _TOO_DEEP


def _walk(node: Any) -> str | None:
    if isinstance(node, list):
        return next((p for p in map(_walk, node) if p), None)
    if not isinstance(node, dict):
        return None
    kind = node.get("type")
    if kind == "fixed":
        size = node.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 2**31:
            return f"fixed {node.get('name')!r} needs a size from 0 to {2**31 - 1}, not {size!r}"
    if kind in ("record", "error") and isinstance(node.get("fields"), list):
        for item in node["fields"]:
            if not isinstance(item, dict):
                continue
            name = item.get("name")
            if not isinstance(name, str) or not _AVRO_NAME.fullmatch(name):
                return (
                    f"field name {name!r} of record {node.get('name')!r} is not an Avro name "
                    "([A-Za-z_][A-Za-z0-9_]*)"
                )
            branches = item.get("type")
            if "default" in item and isinstance(branches, list) and branches:
                first = branches[0]
                check = _PRIMITIVE_DEFAULTS.get(first) if isinstance(first, str) else None
                if check is not None and not check(item["default"]):
                    return (
                        f"the default {item['default']!r} of field {name!r} is not a {first}: the default of "
                        "a union field must be of the union's first type"
                    )
            problem = _walk(branches)
            if problem:
                return problem
        return None
    for key in ("items", "values", "type"):
        if isinstance(node.get(key), dict | list):
            problem = _walk(node[key])
            if problem:
                return problem
    return None


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    kind = type(exc).__name__
    return f"{kind}: {text}" if text else kind
