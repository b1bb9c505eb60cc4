"""Fixtures of the ledger's integration tests: real Kafka, registry and PostgreSQL of the shared stack.

Isolation on a shared stack (other engineers' tests publish to the same topics): every ledger started
here has its own consumer group (starting at the end of the topics, ``--start-from latest``), its own
PostgreSQL schemas for the ledger and the partners (dropped afterwards), and tests use fresh trade ids.
Records that other tests publish meanwhile are consumed too, and do no harm: they land in our
throwaway schema.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from corridor.core import partners
from corridor.core.codec import Codec
from corridor.core.domain.base import TradeEvent
from corridor.core.kafka import Published, TradeProducer, client_security
from corridor.core.registry_client import RegistryClient
from tests.integration.ledger.ledger_helpers import (
    PROJECT_ROOT,
    InProcessLedger,
    LedgerSetup,
    TopicTail,
    delete_topics,
    drop_schemas,
    ledger_env,
    unique,
    wait_ready,
)


@pytest.fixture
def ledger_setup() -> LedgerSetup:
    return LedgerSetup(unique("it-ledger"), unique("ledger_it"), unique("partners_it"))


@pytest.fixture
async def ledger(stack: Any, ledger_setup: LedgerSetup) -> AsyncIterator[InProcessLedger]:
    """A ledger (consumer + API) of this test, ready to consume what the test publishes."""
    await drop_schemas(stack.database_url, ledger_setup.db_schema, ledger_setup.partners_schema)
    server = InProcessLedger(ledger_setup.settings(stack))
    await asyncio.to_thread(server.start)
    try:
        await wait_ready(server.url)
        yield server
    finally:
        await asyncio.to_thread(server.stop)
        await drop_schemas(stack.database_url, ledger_setup.db_schema, ledger_setup.partners_schema)
        await delete_topics(stack.bootstrap_servers, [server.settings.ledger_accepted_topic])


@pytest.fixture
async def db(stack: Any) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def api_key(db: asyncpg.Pool, ledger_setup: LedgerSetup) -> Callable[..., Any]:
    """``await api_key(party_id, role)``: a partner in this test's partners schema, and its key."""

    async def make(party_id: str, role: str = "BUYER") -> str:
        await partners.ensure_schema(db, schema=ledger_setup.partners_schema)
        _, key = await partners.add_partner(db, party_id, role, party_id, schema=ledger_setup.partners_schema)
        return key

    return make


@pytest.fixture
async def registry(stack: Any) -> AsyncIterator[RegistryClient]:
    async with RegistryClient(stack.schema_registry_url) as client:
        yield client


@pytest.fixture
async def publish(stack: Any, registry: RegistryClient) -> AsyncIterator[Callable[..., Any]]:
    """``await publish(*events)``: produce trade events in order (acks=all), as partners do; returns
    where the broker stored each."""
    producer = TradeProducer(stack.bootstrap_servers, Codec(registry))
    await producer.start()

    async def send(*events: TradeEvent) -> list[Published]:
        return await producer.publish_many(events)

    yield send
    await producer.stop()


@pytest.fixture
async def raw_producer(stack: Any) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.bootstrap_servers, **client_security(), acks="all", enable_idempotence=True
    )
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def tail(stack: Any) -> AsyncIterator[Callable[[str], Any]]:
    """``await tail(topic)``: a reader of what is published on ``topic`` from now on."""
    tails: list[TopicTail] = []

    async def make(topic: str) -> TopicTail:
        t = await TopicTail(stack.bootstrap_servers, topic).start()
        tails.append(t)
        return t

    yield make
    for t in tails:
        await t.stop()


@pytest.fixture
def launch_ledger(stack: Any, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start ``python -m corridor.ledger`` processes (stderr in ``tmp_path``); any still running at
    the end are killed."""
    processes: list[subprocess.Popen[str]] = []
    logs: list[Any] = []

    def launch(setup: LedgerSetup, port: int, **env: str) -> subprocess.Popen[str]:
        log = (tmp_path / f"ledger-{len(processes)}.log").open("w")
        logs.append(log)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "corridor.ledger",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--group-id",
                setup.group_id,
                "--db-schema",
                setup.db_schema,
                "--partners-schema",
                setup.partners_schema,
                "--start-from",
                "latest",
                "--retry-delays",
                setup.retry_delays,
            ],
            cwd=PROJECT_ROOT,
            env={
                **ledger_env(stack),
                "CORRIDOR_LEDGER_ACCEPTED_TOPIC": f"{setup.group_id}.accepted",
                **env,
            },
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        processes.append(process)
        return process

    yield launch
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()
    for log in logs:
        log.close()
