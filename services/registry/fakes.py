"""An in-memory fake of the registry's store (``ports.RegistryStore``), for unit tests of
``service.RegistryService`` (ADR 0036).

It keeps the Protocol's invariants as ``store.Store`` keeps them in PostgreSQL (the shared contract,
tests/support/registry_store_contract.py, runs on both): ids come from a sequence that never goes back
(an id burnt by a rolled-back registration is not reused, like a PostgreSQL sequence) and name one
fingerprint forever; ``subject_transaction`` is atomic (an exception restores what it changed). It
serialises *all* transactions, not only those of one subject: stricter than the real store, which
runs different subjects in parallel. No runtime module imports this one (pyproject.toml).
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from corridor.core.compatibility import DEFAULT_LEVEL
from corridor.registry.ports import (
    LookupFilter,
    RegistryStore,
    StoredSchema,
    SubjectVersion,
    Transaction,
)
from corridor.registry.schemas import Reference

__all__ = ["InMemoryRegistryStore"]


@dataclass
class _Tables:
    schemas: dict[int, tuple[str, StoredSchema]] = field(default_factory=dict)  # id -> (fingerprint, schema)
    by_fingerprint: dict[str, int] = field(default_factory=dict)
    versions: dict[tuple[str, int], tuple[int, bool]] = field(default_factory=dict)  # -> (id, deleted)
    config: dict[str | None, str] = field(default_factory=dict)  # compatibility level; None: global
    modes: dict[str | None, str] = field(default_factory=dict)


class InMemoryRegistryStore:
    """``ports.RegistryStore`` in dictionaries."""

    def __init__(self) -> None:
        self.tables = _Tables()
        self._next_id = 1
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def subject_transaction(self, subject: str) -> AsyncIterator[Transaction]:
        async with self._lock:
            before = copy.deepcopy(self.tables)
            try:
                yield self
            except BaseException:
                self.tables = before  # rolled back
                raise

    # -- schemas -------------------------------------------------------------------------------

    def _pointed_at(self, schema_id: int, include_deleted: bool = True) -> bool:
        return any(
            sid == schema_id and (include_deleted or not deleted)
            for sid, deleted in self.tables.versions.values()
        )

    async def schema_by_id(self, schema_id: int, conn: Transaction | None = None) -> StoredSchema | None:
        found = self.tables.schemas.get(schema_id)
        return found[1] if found is not None and self._pointed_at(schema_id) else None

    async def versions_for_id(
        self, schema_id: int, include_deleted: bool, subject: str | None = None
    ) -> list[tuple[str, int]]:
        return sorted(
            (s, v)
            for (s, v), (sid, deleted) in self.tables.versions.items()
            if sid == schema_id and (include_deleted or not deleted) and (subject is None or s == subject)
        )

    async def schema_id_for_fingerprint(
        self, fingerprint: str, conn: Transaction | None = None
    ) -> int | None:
        return self.tables.by_fingerprint.get(fingerprint)

    async def ensure_schema(
        self, conn: Transaction, fingerprint: str, text: str, schema_type: str, refs: Sequence[Reference]
    ) -> int:
        existing = self.tables.by_fingerprint.get(fingerprint)
        if existing is not None:
            return existing
        schema_id, self._next_id = self._next_id, self._next_id + 1
        self.tables.schemas[schema_id] = (
            fingerprint,
            StoredSchema(schema_id, text, schema_type, tuple(refs)),
        )
        self.tables.by_fingerprint[fingerprint] = schema_id
        return schema_id

    # -- subjects and versions -----------------------------------------------------------------

    def _version(self, subject: str, version: int) -> SubjectVersion:
        schema_id, deleted = self.tables.versions[(subject, version)]
        fingerprint, stored = self.tables.schemas[schema_id]
        return SubjectVersion(subject, version, deleted, stored, fingerprint)

    async def list_subjects(self, prefix: str | None, lookup: LookupFilter) -> list[str]:
        return sorted(
            {
                s
                for (s, _v), (_sid, deleted) in self.tables.versions.items()
                if (prefix is None or s.startswith(prefix)) and lookup.admits(deleted)
            }
        )

    async def subject_versions(self, subject: str, conn: Transaction | None = None) -> list[SubjectVersion]:
        return [self._version(s, v) for s, v in sorted(self.tables.versions) if s == subject]

    async def get_version(
        self,
        subject: str,
        version: int,
        include_deleted: bool,
        conn: Transaction | None = None,
        *,
        lock: bool = False,
    ) -> SubjectVersion | None:
        versions = await self.subject_versions(subject)
        if version == -1:
            live = [v for v in versions if not v.deleted]
            return live[-1] if live else None
        return next(
            (v for v in versions if v.version == version and (include_deleted or not v.deleted)), None
        )

    async def subject_exists(
        self, subject: str, include_deleted: bool, conn: Transaction | None = None
    ) -> bool:
        return any(
            s == subject and (include_deleted or not deleted)
            for (s, _v), (_sid, deleted) in self.tables.versions.items()
        )

    def _referrers(self, subject: str, version: int, include_deleted: bool) -> list[tuple[str, int]]:
        """(referring subject, schema id) of the versions whose schema references (subject, version)."""
        return [
            (s, sid)
            for (s, _v), (sid, deleted) in self.tables.versions.items()
            if (include_deleted or not deleted)
            and any(
                r.subject == subject and r.version == version for r in self.tables.schemas[sid][1].references
            )
        ]

    async def referenced_by(
        self, subject: str, version: int, include_deleted: bool, conn: Transaction | None = None
    ) -> list[int]:
        return sorted({sid for _s, sid in self._referrers(subject, version, include_deleted)})

    async def referencing_subjects(
        self, subject: str, version: int, include_deleted: bool, conn: Transaction | None = None
    ) -> set[str]:
        return {s for s, _sid in self._referrers(subject, version, include_deleted)}

    async def insert_version(self, conn: Transaction, subject: str, version: int, schema_id: int) -> None:
        if (subject, version) in self.tables.versions:
            raise ValueError(f"{subject} version {version} exists already (primary key)")
        self.tables.versions[(subject, version)] = (schema_id, False)

    async def mark_deleted(self, conn: Transaction, subject: str, versions: Sequence[int]) -> None:
        for v in versions:
            if (subject, v) in self.tables.versions:
                self.tables.versions[(subject, v)] = (self.tables.versions[(subject, v)][0], True)

    async def purge_versions(self, conn: Transaction, subject: str, versions: Sequence[int]) -> None:
        for v in versions:
            self.tables.versions.pop((subject, v), None)

    # -- compatibility and modes -----------------------------------------------------------------

    async def get_compatibility(self, subject: str | None, conn: Transaction | None = None) -> str | None:
        return self.tables.config.get(subject)

    async def effective_compatibility(self, subject: str, conn: Transaction | None = None) -> str:
        return self.tables.config.get(subject) or self.tables.config.get(None) or DEFAULT_LEVEL.value

    async def set_compatibility(self, subject: str | None, level: str) -> None:
        self.tables.config[subject] = level

    async def delete_subject_compatibility(self, subject: str, conn: Transaction | None = None) -> str | None:
        return self.tables.config.pop(subject, None)

    async def get_mode(self, subject: str | None, conn: Transaction | None = None) -> str | None:
        return self.tables.modes.get(subject)

    async def set_mode(self, subject: str | None, mode: str) -> None:
        self.tables.modes[subject] = mode

    async def delete_mode(self, subject: str) -> str | None:
        return self.tables.modes.pop(subject, None)


# mypy checks here that the fake satisfies the port
_store: type[RegistryStore] = InMemoryRegistryStore
