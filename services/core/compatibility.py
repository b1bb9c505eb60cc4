"""Compatibility levels and checks with Confluent's semantics, on top of the ``avro`` package's checker.

The reader/writer rule itself comes from ``avro.compatibility.ReaderWriterCompatibilityChecker``; this
module only decides *which* pairs to check for a level and turns the checker's findings into messages
a person can act on (which field, why).

* BACKWARD: the new schema, as reader, must read data written with the latest version.
* FORWARD: the latest version, as reader, must read data written with the new schema.
* FULL: both. The ``_TRANSITIVE`` variants check every earlier non-deleted version, not just the
  latest. NONE checks nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType


class CompatibilityLevel(StrEnum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")

    @property
    def checks_backward(self) -> bool:
        """The new schema must be able to read old data."""
        return self.value.startswith(("BACKWARD", "FULL"))

    @property
    def checks_forward(self) -> bool:
        """Old schemas must be able to read new data."""
        return self.value.startswith(("FORWARD", "FULL"))


# Confluent's default when nothing is configured.
DEFAULT_LEVEL = CompatibilityLevel.BACKWARD


def parse_level(value: object) -> CompatibilityLevel | None:
    """The level named by ``value`` (case-insensitive, as Confluent accepts it), or None."""
    if not isinstance(value, str):
        return None
    try:
        return CompatibilityLevel(value.strip().upper())
    except ValueError:
        return None


T = TypeVar("T")


def versions_to_check(level: CompatibilityLevel, previous: Sequence[T]) -> list[T]:
    """Which earlier versions a new schema is checked against, newest first.

    ``previous`` is the subject's non-deleted versions in registration order. Newest first because
    that is the most likely conflict and the one a report should name.
    """
    if level is CompatibilityLevel.NONE or not previous:
        return []
    if level.transitive:
        return list(reversed(previous))
    return [previous[-1]]


@dataclass(frozen=True)
class PreviousVersion:
    """An earlier version of the subject, parsed."""

    version: int
    schema: avro.schema.Schema


@dataclass(frozen=True)
class PairProblem:
    """What the avro checker found for one reader/writer pair."""

    kinds: tuple[str, ...]
    locations: tuple[str, ...]
    details: tuple[str, ...]


def check_pair(reader: avro.schema.Schema, writer: avro.schema.Schema) -> PairProblem | None:
    """None if ``reader`` can read everything ``writer`` writes, else what is wrong."""
    # A fresh checker each time: it memoises pairs by object identity.
    try:
        result = ReaderWriterCompatibilityChecker().get_compatibility(reader, writer)  # type: ignore[no-untyped-call]
    except Exception as exc:  # the checker raises AvroRuntimeException on types it does not know
        return PairProblem(kinds=("CHECK_FAILED",), locations=("/",), details=(str(exc),))
    if result.compatibility is SchemaCompatibilityType.compatible:
        return None
    return PairProblem(
        # the checker keeps kinds in order but locations/messages in sets: sort for stable output
        kinds=tuple(kind.name.upper() for kind in result.incompatibilities),
        locations=tuple(sorted(result.locations)),
        details=tuple(sorted(result.messages)),
    )


def check_compatibility(
    level: CompatibilityLevel, new_schema: avro.schema.Schema, previous: Sequence[PreviousVersion]
) -> list[str]:
    """Messages explaining why ``new_schema`` breaks ``level``; empty when it is compatible.

    Stops at the first (newest) incompatible version, as Confluent does, and ends the list with that
    version's number and the level so the 409 message is self-contained.
    """
    for old in versions_to_check(level, previous):
        messages: list[str] = []
        if level.checks_backward:
            problem = check_pair(reader=new_schema, writer=old.schema)
            if problem is not None:
                messages += describe(
                    problem,
                    reader=new_schema,
                    reader_role="the new schema",
                    writer_role=f"version {old.version}",
                )
        if level.checks_forward:
            problem = check_pair(reader=old.schema, writer=new_schema)
            if problem is not None:
                messages += describe(
                    problem,
                    reader=old.schema,
                    reader_role=f"version {old.version}",
                    writer_role="the new schema",
                )
        if messages:
            return [*messages, f"old schema version: {old.version}", f"compatibility level: {level.value}"]
    return []


_WHY = {
    "READER_FIELD_MISSING_DEFAULT_VALUE": (
        "{reader} has field {detail} with no default, and data written by {writer} does not contain it"
    ),
    "TYPE_MISMATCH": "{reader} cannot read the type {writer} writes ({detail})",
    "NAME_MISMATCH": "the named type's name differs between {reader} and {writer} ({detail})",
    "MISSING_ENUM_SYMBOLS": (
        "{reader} lacks enum symbols {detail} that {writer} can write, and has no enum default"
    ),
    "MISSING_UNION_BRANCH": "{reader} has no union branch for a type {writer} can write ({detail})",
    "FIXED_SIZE_MISMATCH": "the fixed size differs between {reader} and {writer} ({detail})",
    "CHECK_FAILED": "the compatibility check of {reader} against {writer} failed: {detail}",
}


def describe(
    problem: PairProblem, *, reader: avro.schema.Schema, reader_role: str, writer_role: str
) -> list[str]:
    """One readable line per finding: kind, location (with the field path when it can be resolved), why."""
    if len(problem.kinds) == 1 and len(problem.locations) == 1 and len(problem.details) == 1:
        kind, location, detail = problem.kinds[0], problem.locations[0], problem.details[0]
        where = _where(reader, location)
        why = _WHY.get(kind, "{reader} cannot read data written by {writer} ({detail})").format(
            reader=reader_role, writer=writer_role, detail=_quote(kind, detail)
        )
        return [f"{kind} at {where}: {why}"]
    # Several findings: the avro checker does not keep kinds, locations and details aligned, so
    # report them side by side rather than pretend to know which belongs to which.
    wheres = ", ".join(_where(reader, location) for location in problem.locations)
    return [
        f"{', '.join(problem.kinds)} at {wheres}: {reader_role} cannot read data written by {writer_role} "
        f"(details: {'; '.join(problem.details)})"
    ]


def _quote(kind: str, detail: str) -> str:
    return f"'{detail}'" if kind == "READER_FIELD_MISSING_DEFAULT_VALUE" else detail


def _where(reader: avro.schema.Schema, location: str) -> str:
    path = field_path(reader, location)
    return f"{location} (field '{path}')" if path else location


def field_path(schema: avro.schema.Schema, location: str) -> str | None:
    """Dotted field names for a checker location such as ``/fields/1/type/fields/0``, best effort.

    The checker restarts its location at ``/`` inside unions, so a path that cannot be followed is
    simply not named (the raw location is still reported).
    """
    tokens = [token for token in location.split("/") if token]
    names: list[str] = []
    node: object = schema
    index = 0
    try:
        while index < len(tokens):
            token = tokens[index]
            if token == "fields" and index + 1 < len(tokens) and isinstance(node, avro.schema.RecordSchema):
                field = node.fields[int(tokens[index + 1])]
                names.append(field.name)
                node = field.type
                index += 2
                continue
            if token == "type":
                index += 1
                continue
            if token == "items" and isinstance(node, avro.schema.ArraySchema):
                node = node.items
            elif token == "values" and isinstance(node, avro.schema.MapSchema):
                node = node.values
            else:
                break
            index += 1
    except (IndexError, ValueError):
        return None
    return ".".join(names) or None
