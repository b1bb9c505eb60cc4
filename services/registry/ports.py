"""The port of the registry's behaviour (``service.RegistryService``): :class:`RegistryStore`, what the
service needs from its storage, as a ``typing.Protocol``, and the records that cross it.

Implementations: ``store.Store`` (PostgreSQL) and ``fakes.InMemoryRegistryStore`` (dictionaries, for unit
tests; ADR 0036). mypy checks that both satisfy the Protocol; the shared contract
(tests/support/registry_store_contract.py) runs on both. This module imports no adapter (the import
contract in pyproject.toml).

Invariants every implementation keeps: a schema id names one canonical schema forever (a schema
registered again gets its old id, even after every version of it was deleted for good); versions of a
subject only grow; what runs inside ``subject_transaction`` is atomic (an exception leaves nothing of
it) and serialised per subject; a schema is served by id only while some version points at it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol, TypeAlias

from corridor.registry.schemas import Reference

#: An open transaction of the store, opaque to the service: passed back to the store's methods (their
#: ``conn``) so that they run inside it; None runs a method on its own.
Transaction: TypeAlias = Any


class LookupFilter(Enum):
    """Which subject versions a listing considers (Confluent's ``deleted`` / ``deletedOnly``)."""

    DEFAULT = "default"
    INCLUDE_DELETED = "include_deleted"
    DELETED_ONLY = "deleted_only"

    @classmethod
    def from_flags(cls, deleted: bool, deleted_only: bool) -> LookupFilter:
        # deletedOnly wins when both are given, as in Confluent
        if deleted_only:
            return cls.DELETED_ONLY
        return cls.INCLUDE_DELETED if deleted else cls.DEFAULT

    def sql(self, column: str) -> str:
        return {
            LookupFilter.DEFAULT: f"NOT {column}",
            LookupFilter.INCLUDE_DELETED: "TRUE",
            LookupFilter.DELETED_ONLY: column,
        }[self]

    def admits(self, deleted: bool) -> bool:
        """Whether a version with this deleted flag is considered."""
        return {
            LookupFilter.DEFAULT: not deleted,
            LookupFilter.INCLUDE_DELETED: True,
            LookupFilter.DELETED_ONLY: deleted,
        }[self]


@dataclass(frozen=True)
class StoredSchema:
    id: int
    text: str
    schema_type: str
    references: tuple[Reference, ...]


@dataclass(frozen=True)
class SubjectVersion:
    subject: str
    version: int
    deleted: bool
    schema: StoredSchema
    fingerprint: str


class RegistryStore(Protocol):
    """Storage of schemas (by global id), subject versions (soft-deletable), and the compatibility
    level and mode of each subject and of the whole registry (``subject`` None)."""

    def subject_transaction(self, subject: str) -> AbstractAsyncContextManager[Transaction]:
        """A transaction holding the subject's lock until it ends (rolled back by an exception)."""
        ...

    async def schema_by_id(self, schema_id: int, conn: Transaction | None = None) -> StoredSchema | None:
        """The schema with this id, if some subject version (deleted or not) still points at it."""
        ...

    async def versions_for_id(
        self, schema_id: int, include_deleted: bool, subject: str | None = None
    ) -> list[tuple[str, int]]: ...

    async def schema_id_for_fingerprint(
        self, fingerprint: str, conn: Transaction | None = None
    ) -> int | None: ...

    async def ensure_schema(
        self, conn: Transaction, fingerprint: str, text: str, schema_type: str, refs: Sequence[Reference]
    ) -> int:
        """The global id of this schema, inserting it if it is new."""
        ...

    async def list_subjects(self, prefix: str | None, lookup: LookupFilter) -> list[str]: ...

    async def subject_versions(self, subject: str, conn: Transaction | None = None) -> list[SubjectVersion]:
        """Every version of the subject, soft-deleted ones included, oldest first."""
        ...

    async def get_version(
        self,
        subject: str,
        version: int,
        include_deleted: bool,
        conn: Transaction | None = None,
        *,
        lock: bool = False,
    ) -> SubjectVersion | None:
        """One version; -1 means the latest non-deleted one."""
        ...

    async def subject_exists(
        self, subject: str, include_deleted: bool, conn: Transaction | None = None
    ) -> bool: ...

    async def referenced_by(
        self, subject: str, version: int, include_deleted: bool, conn: Transaction | None = None
    ) -> list[int]:
        """Ids of registered schemas whose references include (subject, version)."""
        ...

    async def referencing_subjects(
        self, subject: str, version: int, include_deleted: bool, conn: Transaction | None = None
    ) -> set[str]: ...

    async def insert_version(self, conn: Transaction, subject: str, version: int, schema_id: int) -> None: ...

    async def mark_deleted(self, conn: Transaction, subject: str, versions: Sequence[int]) -> None: ...

    async def purge_versions(self, conn: Transaction, subject: str, versions: Sequence[int]) -> None: ...

    async def get_compatibility(self, subject: str | None, conn: Transaction | None = None) -> str | None: ...

    async def effective_compatibility(self, subject: str, conn: Transaction | None = None) -> str:
        """The subject's level, else the global one, else the built-in default."""
        ...

    async def set_compatibility(self, subject: str | None, level: str) -> None: ...

    async def delete_subject_compatibility(
        self, subject: str, conn: Transaction | None = None
    ) -> str | None: ...

    async def get_mode(self, subject: str | None, conn: Transaction | None = None) -> str | None: ...

    async def set_mode(self, subject: str | None, mode: str) -> None: ...

    async def delete_mode(self, subject: str) -> str | None: ...
