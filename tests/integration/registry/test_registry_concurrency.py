"""Concurrent registrations (threads, and two registry servers on one database) stay consistent."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

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
        with httpx.Client(base_url=urls[index % len(urls)], timeout=60.0) as client:
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
