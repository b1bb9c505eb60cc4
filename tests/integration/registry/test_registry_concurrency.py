"""Concurrent registrations (threads, and two registry servers on one database) stay consistent."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from corridor.registry.schemas import Reference, canonical_form, fingerprint
from tests.integration.registry.conftest import writer_auth

pytestmark = pytest.mark.integration

WORKERS = 12


def schema_text(record: str, *extra_fields: str) -> str:
    fields = [{"name": "id", "type": "string"}]
    fields += [{"name": name, "type": "string", "default": ""} for name in extra_fields]
    return json.dumps({"type": "record", "name": record, "namespace": "pk.corridor.load", "fields": fields})


def register_all(urls: list[str], jobs: list[tuple[str, str]]) -> list[httpx.Response]:
    """POST every (subject, schema) job at once, released together by a barrier."""
    barrier = threading.Barrier(len(jobs))

    def run(index: int) -> httpx.Response:
        subject, schema = jobs[index]
        with httpx.Client(base_url=urls[index % len(urls)], timeout=60.0, auth=writer_auth()) as client:
            barrier.wait()
            return client.post(f"/subjects/{subject}/versions", json={"schema": schema})

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, range(len(jobs))))


def test_same_schema_same_subject_gives_one_version(
    registry_url: str, http: httpx.Client, unique: str
) -> None:
    subject = f"load.same.{unique}-pk.corridor.load.Same"
    responses = register_all([registry_url], [(subject, schema_text("Same"))] * WORKERS)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert http.get(f"/subjects/{subject}/versions").json() == [1]


def test_same_schema_many_subjects_gives_one_id(registry_url: str, http: httpx.Client, unique: str) -> None:
    schema = schema_text(f"Shared{unique}")
    subjects = [f"load.shared{i}.{unique}-pk.corridor.load.Shared" for i in range(WORKERS)]
    responses = register_all([registry_url], [(subject, schema) for subject in subjects])
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    assert sorted(http.get(f"/schemas/ids/{ids.pop()}/subjects").json()) == sorted(subjects)


def test_distinct_schemas_one_subject_get_dense_versions(
    registry_url: str, http: httpx.Client, unique: str
) -> None:
    subject = f"load.many.{unique}-pk.corridor.load.Many"
    # every schema only adds optional fields to {id}, so each is BACKWARD-compatible with any other
    jobs = [(subject, schema_text("Many", f"f{i}")) for i in range(WORKERS)]
    responses = register_all([registry_url], jobs)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == WORKERS
    assert http.get(f"/subjects/{subject}/versions").json() == list(range(1, WORKERS + 1))


def test_two_servers_share_one_store(
    registry_url: str,
    registry_db_schema: str,
    http: httpx.Client,
    start_registry: Callable[..., Any],
    unique: str,
) -> None:
    # a second registry process on the same PostgreSQL schema: advisory locks serialise across both
    second = start_registry(registry_db_schema, fresh=False)
    subject = f"load.twin.{unique}-pk.corridor.load.Twin"
    jobs = [(subject, schema_text("Twin", f"g{i % 4}")) for i in range(WORKERS)]
    responses = register_all([registry_url, second.url], jobs)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    ids_by_schema: dict[str, set[int]] = {}
    for (_, schema), response in zip(jobs, responses, strict=True):
        ids_by_schema.setdefault(schema, set()).add(response.json()["id"])
    assert all(len(ids) == 1 for ids in ids_by_schema.values())
    assert http.get(f"/subjects/{subject}/versions").json() == [1, 2, 3, 4]


def test_delete_racing_a_referencing_registration_is_refused(
    registry_url: str, registry_db_schema: str, http: httpx.Client, pg_connection: Any, unique: str
) -> None:
    """A version must not be deleted while a registration that references it is in flight.

    Choreography: an outside transaction holds an uncommitted row with the referencing schema's
    fingerprint, so the registration (which has already share-locked the referenced version) waits
    in its INSERT. The delete of the referenced version then starts and waits on that row lock. When
    the outside transaction rolls back, the registration commits first; the delete must then see
    the new reference and answer 42206 instead of leaving a dangling reference.
    """
    money_subject = f"ref.money.{unique}-pk.corridor.common.Money"
    money = json.dumps(
        {
            "type": "record",
            "name": "Money",
            "namespace": "pk.corridor.common",
            "fields": [{"name": "minor_units", "type": "long"}],
        }
    )
    assert http.post(f"/subjects/{money_subject}/versions", json={"schema": money}).status_code == 200

    invoice_subject = f"ref.invoice.{unique}-pk.corridor.trade.Invoice"
    invoice = json.dumps(
        {
            "type": "record",
            "name": "Invoice",
            "namespace": "pk.corridor.trade",
            "fields": [{"name": "total", "type": "pk.corridor.common.Money"}],
        }
    )
    refs = [{"name": "pk.corridor.common.Money", "subject": money_subject, "version": 1}]
    fp = fingerprint(canonical_form(invoice, "AVRO", [Reference(**ref) for ref in refs]))  # type: ignore[arg-type]

    def waiting_locks() -> int:
        # activity is snapshotted once per transaction, and this connection sits in one: refresh it
        pg_connection.execute("SELECT pg_stat_clear_snapshot()")
        # count only this module's registry statements (they name its PostgreSQL schema)
        return int(
            pg_connection.fetchval(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE NOT l.granted AND strpos(a.query, $1) > 0",
                f'"{registry_db_schema}"',
            )
        )

    def wait_for_waiters(count: int) -> None:
        deadline = time.monotonic() + 30
        while waiting_locks() < count:
            assert time.monotonic() < deadline, "the requests never blocked"
            time.sleep(0.05)

    pg_connection.execute("BEGIN")
    pg_connection.execute(
        f'INSERT INTO "{registry_db_schema}".schemas (fingerprint, schema_text) VALUES ($1, $2)', fp, invoice
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        registering = pool.submit(
            lambda: httpx.post(
                f"{registry_url}/subjects/{invoice_subject}/versions",
                json={"schema": invoice, "references": refs},
                timeout=60,
                auth=writer_auth(),
            )
        )
        wait_for_waiters(1)
        deleting = pool.submit(
            lambda: httpx.delete(
                f"{registry_url}/subjects/{money_subject}/versions/1", timeout=60, auth=writer_auth()
            )
        )
        wait_for_waiters(2)
        pg_connection.execute("ROLLBACK")
        registered, deleted = registering.result(), deleting.result()

    assert registered.status_code == 200, registered.text
    assert (deleted.status_code, deleted.json()["error_code"]) == (422, 42206), deleted.text
    assert http.get(f"/subjects/{money_subject}/versions").json() == [1]
    assert http.get(f"/subjects/{money_subject}/versions/1/referencedby").json() == [registered.json()["id"]]
