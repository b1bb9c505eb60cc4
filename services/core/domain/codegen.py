"""Generates ``events.py`` — the pydantic models of every event — from ``schemas/*.avsc``.

The ``.avsc`` files are the single source of truth; the models follow them field for field. Run
``corridor schemas codegen`` after editing a schema; a unit test fails while the checked-in models
differ from what this generator produces.

Mapping: Avro records → ``AvroModel`` (events → ``TradeEvent``), enums → ``StrEnum``, ``["null", T]``
→ ``T | None``, arrays → ``list``, ``decimal`` → ``Decimal`` with precision and scale, ``timestamp-millis``
→ UTC ``datetime``, ``date`` → ``date``, ``uuid`` → ``UUID``. A field's ``corridor.format`` hint adds
the matching validator of ``types.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from corridor.core.domain.types import FORMATS
from corridor.core.schemas import SchemaCatalog, catalog

OUTPUT = Path(__file__).with_name("events.py")

# Avro int and long are 32- and 64-bit: bound them so an overflow is a field error, not an encoder crash.
_PRIMITIVES = {
    "string": "str",
    "int": "Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]",
    "long": "Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]",
    "boolean": "bool",
    "bytes": "bytes",
    "double": "float",
    "float": "float",
}


class CodegenError(ValueError):
    """A schema uses something the generator cannot map faithfully."""


class _Generator:
    def __init__(self, cat: SchemaCatalog) -> None:
        self.catalog = cat
        self.definitions: dict[str, dict[str, Any]] = {}  # full name → record/enum, dependency order
        self.short_names: dict[str, str] = {}

    # -- collecting named types in dependency order ------------------------------------------------

    def collect(self, schema: Any, namespace: str = "") -> None:
        if isinstance(schema, list):
            for branch in schema:
                self.collect(branch, namespace)
            return
        if not isinstance(schema, dict):
            return
        kind = schema.get("type")
        if kind == "array":
            self.collect(schema["items"], namespace)
            return
        if kind == "map":
            self.collect(schema["values"], namespace)
            return
        if kind not in ("record", "enum"):
            return
        full = self._full_name(schema, namespace)
        if full in self.definitions:
            if _strip(self.definitions[full]) != _strip(schema):
                raise CodegenError(f"{full} is defined differently in two schemas")
            return
        if kind == "record":
            ns = full.rpartition(".")[0]
            for field in schema["fields"]:
                self.collect(field["type"], ns)
        short = full.rsplit(".", 1)[-1]
        if self.short_names.get(short, full) != full:
            raise CodegenError(f"two types are named {short}: {self.short_names[short]} and {full}")
        self.short_names[short] = full
        self.definitions[full] = schema

    @staticmethod
    def _full_name(schema: dict[str, Any], namespace: str) -> str:
        name: str = schema["name"]
        if "." in name:
            return name
        return f"{schema.get('namespace', namespace)}.{name}".lstrip(".")

    # -- type expressions --------------------------------------------------------------------------

    def type_expr(self, schema: Any) -> str:
        if isinstance(schema, list):
            branches = [b for b in schema if b != "null"]
            if len(branches) != 1 or len(schema) != 2 or schema[0] != "null":
                raise CodegenError(f"only ['null', T] unions are supported, got {schema}")
            return f"{self.type_expr(branches[0])} | None"
        if isinstance(schema, str):
            if schema in _PRIMITIVES:
                return _PRIMITIVES[schema]
            return schema.rsplit(".", 1)[-1]
        logical = schema.get("logicalType")
        kind = schema["type"]
        if logical == "uuid":
            return "uuid.UUID"
        if logical == "date":
            return "dt.date"
        if logical == "timestamp-millis":
            return "Annotated[dt.datetime, t.UTC_MILLIS]"
        if logical == "decimal":
            p, s = schema["precision"], schema.get("scale", 0)
            return f"Annotated[Decimal, Field(max_digits={p}, decimal_places={s}), t.FINITE]"
        if kind == "array":
            return f"list[{self.type_expr(schema['items'])}]"
        if kind == "map":
            return f"dict[str, {self.type_expr(schema['values'])}]"
        if kind in ("record", "enum"):
            return str(schema["name"]).rsplit(".", 1)[-1]
        if kind in _PRIMITIVES:
            return _PRIMITIVES[kind]
        raise CodegenError(f"unsupported Avro type {schema}")

    def field_line(self, field: dict[str, Any]) -> str:
        expr = self.type_expr(field["type"])
        fmt = field.get("corridor.format")
        if fmt is not None:
            if fmt not in FORMATS:
                raise CodegenError(f"field {field['name']}: unknown corridor.format {fmt!r}")
            expr = f"Annotated[{expr}, t.{FORMATS[fmt]}]"
        doc = field.get("doc")
        if not doc:
            raise CodegenError(f"field {field['name']} has no doc")
        args = [f"description={doc!r}"]
        if "default" in field:
            default = field["default"]
            if default == []:
                args.insert(0, "default_factory=list")
            elif isinstance(default, (str, int, float, bool)) or default is None:
                args.insert(0, repr(default))
            else:
                raise CodegenError(f"field {field['name']}: unsupported default {default!r}")
        return f"    {field['name']}: {expr} = Field({', '.join(args)})"

    # -- classes -----------------------------------------------------------------------------------

    def render(self) -> str:
        for full in sorted(self.catalog.events):
            self.collect(self.catalog.events[full].schema)
        out = [_HEADER]
        for full, schema in self.definitions.items():
            short = full.rsplit(".", 1)[-1]
            doc = schema.get("doc") or ""
            if schema["type"] == "enum":
                out.append(f"\n\nclass {short}(StrEnum):\n    {_docstring(doc)}\n")
                out.extend(f"    {sym} = {sym!r}\n" for sym in schema["symbols"])
                continue
            event = self.catalog.events.get(full)
            base = "TradeEvent" if event else "AvroModel"
            out.append(f"\n\nclass {short}({base}):\n    {_docstring(doc)}\n\n")
            out.append(f"    avro_name: ClassVar[str] = {full!r}\n")
            if event:
                out.append(f"    topic: ClassVar[str] = {event.topic!r}\n")
            out.append("\n")
            out.extend(self.field_line(f) + "\n" for f in schema["fields"])
        events = sorted(self.catalog.events)
        out.append("\n\n#: Every trade event type by its full Avro name (= CloudEvents type).\n")
        out.append("EVENT_TYPES: dict[str, type[TradeEvent]] = {\n")
        out.extend(f"    {n!r}: {n.rsplit('.', 1)[-1]},\n" for n in events)
        out.append("}\n")
        return "".join(out)


_HEADER = '''"""Pydantic models of every Corridor event — GENERATED from schemas/*.avsc, do not edit.

Regenerate with ``corridor schemas codegen``; tests/unit/test_schemas_models.py fails when stale.
"""

# ruff: noqa: E501

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from corridor.core.domain import types as t
from corridor.core.domain.base import AvroModel, TradeEvent
'''


def _docstring(doc: str) -> str:
    return '"""' + doc.replace("\\", "\\\\").replace('"""', "'''") + '"""'


def _strip(schema: dict[str, Any]) -> str:
    return json.dumps(schema, sort_keys=True)


def generate(cat: SchemaCatalog | None = None) -> str:
    """Source of ``events.py`` for the given catalog (default: the project's ``schemas/``)."""
    return _Generator(cat or catalog()).render()


def write(path: Path = OUTPUT) -> bool:
    """Regenerate ``events.py``; returns True when its content changed."""
    source = generate()
    if path.exists() and path.read_text(encoding="utf-8") == source:
        return False
    path.write_text(source, encoding="utf-8")
    return True


if __name__ == "__main__":
    print("updated" if write() else "up to date", OUTPUT)
