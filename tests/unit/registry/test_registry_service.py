"""The registry's behaviour (``RegistryService``) through the in-memory fake of its store
(``corridor.registry.fakes``, ADR 0036): Confluent's rules for registering, compatibility, modes and
deletes, without PostgreSQL. The same rules over HTTP and PostgreSQL stay tested in
tests/integration/registry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from corridor.registry import errors
from corridor.registry.fakes import InMemoryRegistryStore
from corridor.registry.ports import LookupFilter
from corridor.registry.service import RegistryService
from tests.support.registry_store_contract import check_registry_store

SUBJECT = "trade.orders.v1-corridor.trade.orders.OrderPlaced"


def schema(*extra: dict[str, Any], name: str = "OrderPlaced") -> dict[str, Any]:
    fields = [{"name": "order_id", "type": "string"}, *extra]
    return {
        "schema": json.dumps({"type": "record", "name": name, "namespace": "pk.corridor", "fields": fields})
    }


V1 = schema()
V2 = schema({"name": "incoterm", "type": "string", "default": "FOB"})  # backward compatible
BREAKING = schema({"name": "incoterm", "type": "string"})  # a new field without default


@pytest.fixture
def service() -> RegistryService:
    return RegistryService(InMemoryRegistryStore())


async def refused(call: Any) -> errors.RegistryError:
    with pytest.raises(errors.RegistryError) as caught:
        await call
    return caught.value


async def test_the_in_memory_store_keeps_the_registry_store_contract() -> None:
    await check_registry_store(InMemoryRegistryStore())


async def test_register_gives_one_id_per_schema_and_versions_per_subject(service: RegistryService) -> None:
    first = await service.register(SUBJECT, V1)
    assert await service.register(SUBJECT, V1) == first  # the same schema again: no new version
    assert await service.register("other-subject", V1) == first  # one id per schema, registry-wide
    second = await service.register(SUBJECT, V2)
    assert second != first
    assert await service.list_versions(SUBJECT, LookupFilter.DEFAULT) == [1, 2]
    found = await service.lookup(SUBJECT, V1, deleted=False)
    assert (found.version, found.schema.id) == (1, first)
    assert await service.subjects_for_id(first, deleted=False, subject=None) == ["other-subject", SUBJECT]


async def test_an_incompatible_schema_is_refused_and_nothing_is_stored(service: RegistryService) -> None:
    await service.register(SUBJECT, V1)
    error = await refused(service.register(SUBJECT, BREAKING))
    assert error.error_code == errors.INCOMPATIBLE_SCHEMA and "BACKWARD" in error.message
    assert await service.list_versions(SUBJECT, LookupFilter.DEFAULT) == [1]
    verdict = await service.test_compatibility(SUBJECT, None, BREAKING, verbose=True)
    assert verdict["is_compatible"] is False and verdict["messages"]
    await service.set_compatibility(SUBJECT, {"compatibility": "NONE"})
    assert await service.register(SUBJECT, BREAKING) > 0  # the subject's own level decides


async def test_an_invalid_schema_is_42201(service: RegistryService) -> None:
    error = await refused(service.register(SUBJECT, {"schema": '{"type": "record"}'}))
    assert error.error_code == errors.INVALID_SCHEMA


async def test_readonly_refuses_registrations_and_deletes(service: RegistryService) -> None:
    await service.register(SUBJECT, V1)
    await service.set_mode(SUBJECT, {"mode": "READONLY"})
    for call in (service.register(SUBJECT, V2), service.delete_version(SUBJECT, 1, permanent=False)):
        assert (await refused(call)).error_code == errors.OPERATION_NOT_PERMITTED
    await service.delete_subject_mode(SUBJECT)
    await service.set_mode(None, {"mode": "READONLY_OVERRIDE"})  # global override wins over the subject's
    await service.set_mode(SUBJECT, {"mode": "READWRITE"})
    assert (await refused(service.register(SUBJECT, V2))).error_code == errors.OPERATION_NOT_PERMITTED
    await service.set_mode(None, {"mode": "READWRITE"})
    assert await service.register(SUBJECT, V2) > 0
    assert (
        await refused(service.set_mode(None, {"mode": "IMPORT"}))
    ).error_code == errors.OPERATION_NOT_PERMITTED


async def test_a_version_is_soft_deleted_before_it_is_deleted_for_good(service: RegistryService) -> None:
    first = await service.register(SUBJECT, V1)
    await service.register(SUBJECT, V2)
    error = await refused(service.delete_version(SUBJECT, 1, permanent=True))
    assert error.error_code == errors.VERSION_NOT_SOFT_DELETED
    assert await service.delete_version(SUBJECT, 1, permanent=False) == 1
    error = await refused(service.delete_version(SUBJECT, 1, permanent=False))
    assert error.error_code == errors.VERSION_SOFT_DELETED
    assert await service.list_versions(SUBJECT, LookupFilter.DEFAULT) == [2]
    assert await service.list_versions(SUBJECT, LookupFilter.DELETED_ONLY) == [1]
    assert (await service.schema_by_id(first)).id == first  # a soft-deleted version still serves its id
    assert await service.delete_version(SUBJECT, 1, permanent=True) == 1
    assert (await refused(service.schema_by_id(first))).error_code == errors.SCHEMA_NOT_FOUND
    # registered again: the same id, a new version number (versions never go back)
    assert await service.register(SUBJECT, V1) == first
    assert await service.list_versions(SUBJECT, LookupFilter.DEFAULT) == [2, 3]


async def test_a_subject_is_soft_deleted_before_it_is_deleted_for_good(service: RegistryService) -> None:
    await service.register(SUBJECT, V1)
    await service.set_compatibility(SUBJECT, {"compatibility": "FULL"})
    error = await refused(service.delete_subject(SUBJECT, permanent=True))
    assert error.error_code == errors.SUBJECT_NOT_SOFT_DELETED
    assert await service.delete_subject(SUBJECT, permanent=False) == [1]
    assert (
        await refused(service.delete_subject(SUBJECT, permanent=False))
    ).error_code == errors.SUBJECT_SOFT_DELETED
    assert (
        await refused(service.list_versions(SUBJECT, LookupFilter.DEFAULT))
    ).error_code == errors.SUBJECT_NOT_FOUND
    assert await service.delete_subject(SUBJECT, permanent=True) == [1]
    assert await service.list_subjects(None, LookupFilter.INCLUDE_DELETED) == []
    assert (
        await service.get_subject_compatibility(SUBJECT, default_to_global=True) == "BACKWARD"
    )  # its own went


async def test_a_referenced_version_cannot_be_deleted(service: RegistryService) -> None:
    await service.register("party", schema(name="Party"))
    referring = {
        "schema": json.dumps(
            {
                "type": "record",
                "name": "Order",
                "namespace": "pk.corridor",
                "fields": [{"name": "buyer", "type": "pk.corridor.Party"}],
            }
        ),
        "references": [{"name": "pk.corridor.Party", "subject": "party", "version": 1}],
    }
    await service.register("order", referring)
    error = await refused(service.delete_version("party", 1, permanent=False))
    assert error.error_code == errors.REFERENCE_EXISTS
    assert (
        await refused(service.delete_subject("party", permanent=False))
    ).error_code == errors.REFERENCE_EXISTS
    assert await service.referenced_by("party", 1, deleted=False) == [2]
    await service.delete_subject("order", permanent=False)
    await service.delete_subject("order", permanent=True)
    assert await service.delete_subject("party", permanent=False) == [1]
