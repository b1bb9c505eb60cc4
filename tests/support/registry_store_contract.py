"""The contract of ``corridor.registry.ports.RegistryStore``, as one function run on every
implementation: the in-memory fake (tests/unit/registry/test_registry_service.py) and ``Store`` on a real
PostgreSQL (tests/integration/registry/test_registry_store_contract.py). ADR 0036."""

from __future__ import annotations

import uuid

import pytest

from corridor.core.compatibility import DEFAULT_LEVEL
from corridor.registry.ports import LookupFilter, RegistryStore
from corridor.registry.schemas import Reference


class _Rollback(Exception):
    pass


async def check_registry_store(store: RegistryStore) -> None:
    tag = uuid.uuid4().hex[:8]
    orders, shipments = f"orders-{tag}", f"shipments-{tag}"
    fp1, fp2 = f"fp1-{tag}", f"fp2-{tag}"

    async with store.subject_transaction(orders) as conn:
        first = await store.ensure_schema(conn, fp1, '"string"', "AVRO", [])
        assert await store.ensure_schema(conn, fp1, '"string"', "AVRO", []) == first  # one id per schema
        await store.insert_version(conn, orders, 1, first)
    async with store.subject_transaction(shipments) as conn:
        ref = Reference("Order", orders, 1)
        second = await store.ensure_schema(conn, fp2, '"int"', "AVRO", [ref])
        await store.insert_version(conn, shipments, 1, second)
        await store.insert_version(conn, shipments, 2, first)
    assert second != first
    assert await store.schema_id_for_fingerprint(fp2) == second
    stored = await store.schema_by_id(second)
    assert stored is not None and (stored.text, stored.references) == ('"int"', (ref,))

    versions = await store.subject_versions(shipments)
    assert [(v.version, v.schema.id, v.deleted, v.fingerprint) for v in versions] == [
        (1, second, False, fp2),
        (2, first, False, fp1),
    ]
    assert await store.versions_for_id(first, include_deleted=False) == [(orders, 1), (shipments, 2)]
    assert await store.versions_for_id(first, include_deleted=False, subject=orders) == [(orders, 1)]
    assert await store.referenced_by(orders, 1, include_deleted=False) == [second]
    assert await store.referencing_subjects(orders, 1, include_deleted=False) == {shipments}

    # soft delete: hidden from the default view, kept for the deleted ones
    async with store.subject_transaction(shipments) as conn:
        await store.mark_deleted(conn, shipments, [2])
    latest = await store.get_version(shipments, -1, include_deleted=True)
    assert latest is not None and latest.version == 1
    assert await store.get_version(shipments, 2, include_deleted=False) is None
    found = await store.get_version(shipments, 2, include_deleted=True)
    assert found is not None and found.deleted
    assert await store.versions_for_id(first, include_deleted=True, subject=shipments) == [(shipments, 2)]
    async with store.subject_transaction(shipments) as conn:
        await store.mark_deleted(conn, shipments, [1])
    assert await store.referenced_by(orders, 1, include_deleted=False) == []
    assert await store.referenced_by(orders, 1, include_deleted=True) == [second]
    mine = [s for s in await store.list_subjects(f"orders-{tag}", LookupFilter.DEFAULT)]
    assert mine == [orders]
    assert shipments not in await store.list_subjects(None, LookupFilter.DEFAULT)
    assert shipments in await store.list_subjects(None, LookupFilter.DELETED_ONLY)
    assert orders not in await store.list_subjects(None, LookupFilter.DELETED_ONLY)
    assert await store.subject_exists(shipments, include_deleted=True)
    assert not await store.subject_exists(shipments, include_deleted=False)

    # hard delete: the schema is no longer served by id, but registering it again gives its old id
    async with store.subject_transaction(shipments) as conn:
        await store.purge_versions(conn, shipments, [1, 2])
    assert await store.schema_by_id(second) is None
    assert await store.subject_versions(shipments) == []
    async with store.subject_transaction(shipments) as conn:
        assert await store.ensure_schema(conn, fp2, '"int"', "AVRO", [ref]) == second

    # a transaction that raises leaves nothing behind
    with pytest.raises(_Rollback):
        async with store.subject_transaction(shipments) as conn:
            await store.insert_version(conn, shipments, 3, second)
            raise _Rollback
    assert await store.subject_versions(shipments) == []

    # compatibility levels and modes: the subject's own, else the global one, else the default
    assert await store.get_compatibility(orders) is None
    global_level = await store.get_compatibility(None)
    assert await store.effective_compatibility(orders) == (global_level or DEFAULT_LEVEL.value)
    await store.set_compatibility(orders, "FULL")
    await store.set_compatibility(orders, "NONE")
    assert await store.effective_compatibility(orders) == "NONE"
    assert await store.delete_subject_compatibility(orders) == "NONE"
    assert await store.delete_subject_compatibility(orders) is None
    await store.set_mode(orders, "READONLY")
    assert await store.get_mode(orders) == "READONLY"
    assert await store.delete_mode(orders) == "READONLY"
    assert await store.get_mode(orders) is None
