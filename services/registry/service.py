"""The registry's behaviour: Confluent's rules for registering, looking up, deleting and checking schemas.

Handlers translate HTTP to these calls; the store does SQL. Everything that must be atomic for one
subject (find-existing, compatibility check, version allocation, insert) runs inside
``RegistryStore.subject_transaction`` (``ports``; PostgreSQL: ``store.Store``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import avro.schema

from corridor.core.compatibility import (
    CompatibilityLevel,
    PreviousVersion,
    check_compatibility,
    parse_level,
    versions_to_check,
)
from corridor.registry import errors
from corridor.registry.ports import LookupFilter, RegistryStore, StoredSchema, SubjectVersion, Transaction
from corridor.registry.schemas import (
    AVRO,
    InvalidSchemaError,
    Reference,
    SchemaRequest,
    canonical_form,
    fingerprint,
    parse_avro,
    parse_request,
)

READWRITE = "READWRITE"
READONLY = "READONLY"
READONLY_OVERRIDE = "READONLY_OVERRIDE"
KNOWN_MODES = ("READWRITE", "READONLY", "READONLY_OVERRIDE", "IMPORT")
#: Modes this registry can be put in (IMPORT, choosing ids, is not supported).
SUPPORTED_MODES = (READWRITE, READONLY, READONLY_OVERRIDE)
# References may nest; a chain deeper than this is almost certainly a cycle.
MAX_REFERENCE_DEPTH = 32


@dataclass(frozen=True)
class Prepared:
    """A request schema validated, parsed and fingerprinted; references pinned to concrete versions."""

    request: SchemaRequest
    references: tuple[Reference, ...]
    fingerprint: str
    parsed: avro.schema.Schema


class RegistryService:
    def __init__(self, store: RegistryStore, parsed_cache_size: int = 2048) -> None:
        self.store = store
        # Parsed avro objects by schema id: compatibility checks re-read the same old versions on
        # every registration, and a schema id's text never changes.
        self._parsed: OrderedDict[int, avro.schema.Schema] = OrderedDict()
        self._parsed_cache_size = parsed_cache_size

    # -- parsing helpers -----------------------------------------------------------------------

    async def _reference_texts(
        self,
        refs: Sequence[Reference],
        conn: Transaction | None,
        seen: set[tuple[str, int]] | None = None,
        depth: int = 0,
    ) -> list[str]:
        """Referenced schema texts, dependencies first, each (subject, version) once."""
        if depth > MAX_REFERENCE_DEPTH:
            raise errors.invalid_schema("references nest too deeply (a reference cycle?)")
        seen = set() if seen is None else seen
        texts: list[str] = []
        for ref in refs:
            target = await self.store.get_version(
                ref.subject, ref.version, include_deleted=True, conn=conn, lock=True
            )
            if target is None:
                shown = "latest" if ref.version == -1 else ref.version
                raise errors.invalid_schema(
                    f"reference '{ref.name}' points at subject '{ref.subject}' version {shown}, "
                    "which does not exist"
                )
            key = (target.subject, target.version)
            if key in seen:
                continue
            seen.add(key)
            texts += await self._reference_texts(target.schema.references, conn, seen, depth + 1)
            texts.append(target.schema.text)
        return texts

    async def _pin_references(
        self, refs: Sequence[Reference], conn: Transaction | None
    ) -> tuple[Reference, ...]:
        """Replace version -1 ("latest") by the concrete version, so the stored schema never drifts."""
        pinned: list[Reference] = []
        for ref in refs:
            if ref.version == -1:
                latest = await self.store.get_version(ref.subject, -1, include_deleted=False, conn=conn)
                if latest is None:
                    raise errors.invalid_schema(
                        f"reference '{ref.name}' points at subject '{ref.subject}', which has no versions"
                    )
                ref = Reference(name=ref.name, subject=ref.subject, version=latest.version)
            pinned.append(ref)
        return tuple(pinned)

    async def _prepare(self, body: object, conn: Transaction | None) -> Prepared:
        try:
            request = parse_request(body)
        except InvalidSchemaError as exc:
            raise errors.invalid_schema(str(exc)) from None
        references = await self._pin_references(request.references, conn)
        reference_texts = await self._reference_texts(references, conn)
        try:
            parsed = parse_avro(request.schema, reference_texts)
            canonical = canonical_form(request.schema, request.schema_type, references)
        except InvalidSchemaError as exc:
            raise errors.invalid_schema(str(exc)) from None
        return Prepared(
            request=request, references=references, fingerprint=fingerprint(canonical), parsed=parsed
        )

    async def _parsed_schema(self, stored: StoredSchema, conn: Transaction | None) -> avro.schema.Schema:
        cached = self._parsed.get(stored.id)
        if cached is not None:
            self._parsed.move_to_end(stored.id)
            return cached
        texts = await self._reference_texts(stored.references, conn)
        try:
            parsed = parse_avro(stored.text, texts)
        except InvalidSchemaError as exc:  # pragma: no cover - it was valid when registered
            raise errors.store_error(f"stored schema {stored.id} no longer parses: {exc}") from None
        self._parsed[stored.id] = parsed
        if len(self._parsed) > self._parsed_cache_size:
            self._parsed.popitem(last=False)
        return parsed

    async def _previous(
        self, versions: Sequence[SubjectVersion], conn: Transaction | None
    ) -> list[PreviousVersion]:
        return [PreviousVersion(v.version, await self._parsed_schema(v.schema, conn)) for v in versions]

    # -- schemas by id -------------------------------------------------------------------------

    async def schema_by_id(self, schema_id: int) -> StoredSchema:
        stored = await self.store.schema_by_id(schema_id)
        if stored is None:
            raise errors.schema_not_found(schema_id)
        return stored

    async def subjects_for_id(self, schema_id: int, deleted: bool, subject: str | None) -> list[str]:
        pairs = await self._versions_for_id(schema_id, deleted, subject)
        return list(dict.fromkeys(s for s, _ in pairs))

    async def versions_for_id(
        self, schema_id: int, deleted: bool, subject: str | None
    ) -> list[dict[str, Any]]:
        pairs = await self._versions_for_id(schema_id, deleted, subject)
        return [{"subject": s, "version": v} for s, v in pairs]

    async def _versions_for_id(
        self, schema_id: int, deleted: bool, subject: str | None
    ) -> list[tuple[str, int]]:
        if await self.store.schema_by_id(schema_id) is None:
            raise errors.schema_not_found(schema_id)
        return await self.store.versions_for_id(schema_id, deleted, subject)

    # -- subjects ------------------------------------------------------------------------------

    async def list_subjects(self, prefix: str | None, lookup: LookupFilter) -> list[str]:
        return await self.store.list_subjects(prefix, lookup)

    async def list_versions(self, subject: str, lookup: LookupFilter) -> list[int]:
        versions = await self.store.subject_versions(subject)
        if lookup is LookupFilter.DEFAULT:
            chosen = [v.version for v in versions if not v.deleted]
        elif lookup is LookupFilter.DELETED_ONLY:
            chosen = [v.version for v in versions if v.deleted]
        else:
            chosen = [v.version for v in versions]
        exists = any(not v.deleted for v in versions) if lookup is LookupFilter.DEFAULT else bool(versions)
        if not exists:
            raise errors.subject_not_found(subject)
        return chosen

    async def get_version(self, subject: str, version: int, deleted: bool) -> SubjectVersion:
        found = await self.store.get_version(subject, version, include_deleted=deleted)
        if found is None:
            if not await self.store.subject_exists(subject, include_deleted=deleted):
                raise errors.subject_not_found(subject)
            raise errors.version_not_found(version)
        return found

    async def referenced_by(self, subject: str, version: int, deleted: bool) -> list[int]:
        target = await self.get_version(subject, version, deleted=True)
        return await self.store.referenced_by(target.subject, target.version, include_deleted=deleted)

    async def register(self, subject: str, body: object) -> int:
        """Register a schema under ``subject`` and return its global id (Confluent's rules).

        * Already a non-deleted version of this subject → its id, no new version.
        * Otherwise it must be compatible with the subject's earlier versions under the subject's level.
        * The id is the existing global id of the same canonical schema, or a new one.
        """
        async with self.store.subject_transaction(subject) as conn:
            await self._check_writable(subject, conn)
            prepared = await self._prepare(body, conn)
            versions = await self.store.subject_versions(subject, conn)
            live = [v for v in versions if not v.deleted]

            for existing in reversed(live):
                if existing.fingerprint == prepared.fingerprint:
                    self._check_requested_id(prepared, existing.schema.id)
                    return existing.schema.id

            known_id = await self.store.schema_id_for_fingerprint(prepared.fingerprint, conn)
            self._check_requested_id(prepared, known_id)

            level = (
                parse_level(await self.store.effective_compatibility(subject, conn))
                or CompatibilityLevel.BACKWARD
            )
            # parse only the versions this level compares against (oldest first, as history is kept)
            previous = await self._previous(versions_to_check(level, live)[::-1], conn)
            problems = check_compatibility(level, prepared.parsed, previous)
            if problems:
                raise errors.incompatible_schema(
                    f"Schema is incompatible with subject '{subject}' under {level.value} compatibility: "
                    + "; ".join(problems)
                )

            schema_id = await self.store.ensure_schema(
                conn,
                prepared.fingerprint,
                prepared.request.schema,
                prepared.request.schema_type,
                prepared.references,
            )
            new_version = max((v.version for v in versions), default=0) + 1
            # Like Confluent: an older soft-deleted version holding this very schema is dropped for
            # good, so the subject does not list the same schema twice (unless something refers to it).
            stale = [v.version for v in versions if v.deleted and v.schema.id == schema_id]
            droppable = [
                n
                for n in stale
                if not await self.store.referenced_by(subject, n, include_deleted=True, conn=conn)
            ]
            if droppable:
                await self.store.purge_versions(conn, subject, droppable)
            await self.store.insert_version(conn, subject, new_version, schema_id)
            return schema_id

    @staticmethod
    def _check_requested_id(prepared: Prepared, actual: int | None) -> None:
        requested = prepared.request.requested_id
        if requested is None or requested < 0 or requested == actual:
            return
        raise errors.operation_not_permitted(
            f"cannot register the schema with id {requested}: choosing ids needs IMPORT mode, which this "
            "registry does not support"
        )

    async def lookup(self, subject: str, body: object, deleted: bool) -> SubjectVersion:
        """The version of ``subject`` holding this schema (latest such version if several)."""
        prepared = await self._prepare(body, None)
        versions = await self.store.subject_versions(subject)
        candidates = [v for v in versions if deleted or not v.deleted]
        matches = [v for v in candidates if v.fingerprint == prepared.fingerprint]
        if matches:
            live = [v for v in matches if not v.deleted]
            return (live or matches)[-1]
        if not candidates:
            raise errors.subject_not_found(subject)
        raise errors.schema_not_found()

    async def delete_subject(self, subject: str, permanent: bool) -> list[int]:
        async with self.store.subject_transaction(subject) as conn:
            await self._check_writable(subject, conn)
            versions = await self.store.subject_versions(subject, conn)
            if not versions:
                raise errors.subject_not_found(subject)
            live = [v for v in versions if not v.deleted]
            if not permanent and not live:
                raise errors.subject_soft_deleted(subject)
            numbers = [v.version for v in (versions if permanent else live)]
            await self._refuse_if_referenced_from_outside(subject, numbers, permanent, conn)
            if permanent:
                if live:
                    raise errors.subject_not_soft_deleted(subject)
                await self.store.purge_versions(conn, subject, numbers)
                await self.store.delete_subject_compatibility(subject, conn)
            else:
                await self.store.mark_deleted(conn, subject, numbers)
            # Again after the write: a registration referencing these versions may have committed
            # while the write waited for its row locks (see Store.get_version); if so, roll back.
            await self._refuse_if_referenced_from_outside(subject, numbers, permanent, conn)
            return numbers

    async def _refuse_if_referenced_from_outside(
        self, subject: str, versions: Sequence[int], include_deleted: bool, conn: Transaction
    ) -> None:
        for version in versions:
            # references from inside the subject itself do not block deleting the whole subject
            referrers = await self.store.referencing_subjects(subject, version, include_deleted, conn)
            referrers.discard(subject)
            if referrers:
                raise errors.reference_exists(subject, version)

    async def delete_version(self, subject: str, version: int, permanent: bool) -> int:
        async with self.store.subject_transaction(subject) as conn:
            await self._check_writable(subject, conn)
            target = await self.store.get_version(subject, version, include_deleted=True, conn=conn)
            if target is None:
                if not await self.store.subject_exists(subject, include_deleted=True, conn=conn):
                    raise errors.subject_not_found(subject)
                raise errors.version_not_found(version)
            if target.deleted and not permanent:
                raise errors.version_soft_deleted(subject, target.version)
            if await self.store.referenced_by(subject, target.version, include_deleted=permanent, conn=conn):
                raise errors.reference_exists(subject, target.version)
            if permanent:
                if not target.deleted:
                    raise errors.version_not_soft_deleted(subject, target.version)
                await self.store.purge_versions(conn, subject, [target.version])
                if not await self.store.subject_exists(subject, include_deleted=True, conn=conn):
                    # the subject is gone entirely: its own config goes with it, as in Confluent
                    await self.store.delete_subject_compatibility(subject, conn)
            else:
                await self.store.mark_deleted(conn, subject, [target.version])
            # Again after the write, for a referencing registration that committed meanwhile.
            if await self.store.referenced_by(subject, target.version, include_deleted=permanent, conn=conn):
                raise errors.reference_exists(subject, target.version)
            return target.version

    # -- compatibility -------------------------------------------------------------------------

    async def test_compatibility(
        self, subject: str, version: int | None, body: object, verbose: bool
    ) -> dict[str, Any]:
        """Check a candidate against one version (``version``) or the subject's history (None)."""
        level = parse_level(await self.store.effective_compatibility(subject)) or CompatibilityLevel.BACKWARD
        if version is not None:
            # deleted versions are never compared against
            target = await self.store.get_version(subject, version, include_deleted=False)
            if target is None and version != -1:
                raise errors.version_not_found(version)
            against = [target] if target is not None else []
        else:
            against = [v for v in await self.store.subject_versions(subject) if not v.deleted]
        try:
            prepared = await self._prepare(body, None)
        except errors.RegistryError as exc:
            if verbose and exc.error_code == errors.INVALID_SCHEMA:
                return {"is_compatible": False, "messages": [exc.message]}
            raise
        # parse only the versions this level compares against (oldest first, as history is kept)
        previous = await self._previous(versions_to_check(level, against)[::-1], None)
        messages = check_compatibility(level, prepared.parsed, previous)
        answer: dict[str, Any] = {"is_compatible": not messages}
        if verbose:
            answer["messages"] = messages
        return answer

    # -- config --------------------------------------------------------------------------------

    async def get_global_compatibility(self) -> str:
        return await self.store.get_compatibility(None) or CompatibilityLevel.BACKWARD.value

    async def get_subject_compatibility(self, subject: str, default_to_global: bool) -> str:
        level = await self.store.get_compatibility(subject)
        if level is None:
            if not default_to_global:
                raise errors.compatibility_not_configured(subject)
            level = await self.get_global_compatibility()
        return level

    async def set_compatibility(self, subject: str | None, body: object) -> str:
        raw = None
        if isinstance(body, dict):
            raw = body.get("compatibility", body.get("compatibilityLevel"))
        level = parse_level(raw)
        if level is None:
            raise errors.invalid_compatibility_level(raw)
        await self.store.set_compatibility(subject, level.value)
        return level.value

    async def delete_global_compatibility(self) -> str:
        """Reset the global level to the default; returns the level it had."""
        old = await self.get_global_compatibility()
        await self.store.set_compatibility(None, CompatibilityLevel.BACKWARD.value)
        return old

    async def delete_subject_compatibility(self, subject: str) -> str:
        old = await self.store.delete_subject_compatibility(subject)
        if old is None:
            raise errors.subject_not_found(subject)
        return old

    # -- mode ----------------------------------------------------------------------------------
    # READONLY refuses registrations and deletions (42205), globally or for one subject; a global
    # READONLY_OVERRIDE wins over every subject's own mode (an operator freezing the whole registry).

    async def effective_mode(self, subject: str, conn: Transaction | None = None) -> str:
        global_mode = await self.store.get_mode(None, conn)
        if global_mode == READONLY_OVERRIDE:
            return READONLY_OVERRIDE
        return await self.store.get_mode(subject, conn) or global_mode or READWRITE

    async def _check_writable(self, subject: str, conn: Transaction) -> None:
        mode = await self.effective_mode(subject, conn)
        if mode != READWRITE:
            raise errors.operation_not_permitted(f"Subject {subject} is in read-only mode ({mode})")

    async def get_mode(self, subject: str | None, default_to_global: bool = True) -> str:
        if subject is None:
            return await self.store.get_mode(None) or READWRITE
        own = await self.store.get_mode(subject)
        if own is not None:
            return own
        if not default_to_global:
            raise errors.mode_not_configured(subject)
        return await self.store.get_mode(None) or READWRITE

    async def set_mode(self, subject: str | None, body: object) -> str:
        mode = body.get("mode") if isinstance(body, dict) else None
        normalized = mode.strip().upper() if isinstance(mode, str) else None
        if normalized not in KNOWN_MODES:
            raise errors.invalid_mode(mode)
        if normalized not in SUPPORTED_MODES:
            raise errors.operation_not_permitted(
                f"mode {normalized} is not supported by this registry (ids are always chosen by it)"
            )
        await self.store.set_mode(subject, normalized)
        return normalized

    async def delete_subject_mode(self, subject: str) -> str:
        """Remove the subject's own mode; returns what it was (READWRITE's default when it had none)."""
        old = await self.store.delete_mode(subject)
        return old or await self.get_mode(None)


def version_body(found: SubjectVersion) -> dict[str, Any]:
    """Confluent's JSON for a subject version; schemaType is omitted for AVRO, references when empty."""
    body: dict[str, Any] = {"subject": found.subject, "version": found.version, "id": found.schema.id}
    body.update(schema_fields(found.schema))
    return body


def schema_fields(stored: StoredSchema) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if stored.schema_type != AVRO:
        body["schemaType"] = stored.schema_type
    if stored.references:
        body["references"] = [ref.as_dict() for ref in stored.references]
    body["schema"] = stored.text
    return body


# Errors from the database (or from reaching it) that handlers answer with 50001.
STORE_EXCEPTIONS: tuple[type[Exception], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
    TimeoutError,
)
