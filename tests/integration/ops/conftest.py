"""Fixtures of the ops integration tests: real Kafka, registry and PostgreSQL of the shared stack.

Each test runs its own ledger (and gateway) processes with a fresh consumer group starting at the end
of the topics and throwaway PostgreSQL schemas (dropped afterwards), and works on fresh trades, so
other engineers' traffic on the shared topics does no harm.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from corridor.core.codec import Codec
from corridor.core.domain.base import TradeEvent
from corridor.core.kafka import Published, TradeProducer
from corridor.core.registry_client import RegistryClient
from tests.integration.ledger.ledger_helpers import drop_schemas
from tests.integration.ops.ops_helpers import Isolation, Service, ledger_argv, stack_env


@pytest.fixture(scope="session")
def ops_stack(request: pytest.FixtureRequest) -> Any:
    """Kafka, PostgreSQL and the registry: ``kafka_stack`` where the suite has it, else ``stack``."""
    try:
        return request.getfixturevalue("kafka_stack")
    except pytest.FixtureLookupError:
        return request.getfixturevalue("stack")


@pytest.fixture
async def iso(ops_stack: Any) -> AsyncIterator[Isolation]:
    names = Isolation()
    await drop_schemas(ops_stack.database_url, *names.schemas)
    yield names
    await drop_schemas(ops_stack.database_url, *names.schemas)


@pytest.fixture
def services(ops_stack: Any, tmp_path: Path) -> Iterator[Callable[..., Service]]:
    """``services(name, iso, **env)``: start a ledger or gateway process of this test (stopped after)."""
    started: list[Service] = []

    def start(name: str, iso: Isolation, *, retry_delays: str = "1,1,1", **env: str) -> Service:
        settings = {
            "CORRIDOR_LEDGER_HOLD_S": "0.5",
            "CORRIDOR_LEDGER_MAX_HOLD_S": "2",
            "CORRIDOR_GATEWAY_DB_SCHEMA": iso.gateway_schema,
            "CORRIDOR_PARTNERS_DB_SCHEMA": iso.partners_schema,
            **env,
        }
        argv = ledger_argv(iso, retry_delays) if name == "ledger" else []
        service = Service(
            name, argv, stack_env(ops_stack, **settings), tmp_path / f"{name}-{len(started)}.log"
        )
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture
async def db(ops_stack: Any) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(ops_stack.database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def publish(ops_stack: Any) -> AsyncIterator[Callable[..., Any]]:
    """``await publish(*events)``: produce straight to Kafka (acks=all), in order; where each landed."""
    async with RegistryClient(ops_stack.schema_registry_url) as registry:
        producer = TradeProducer(ops_stack.bootstrap_servers, Codec(registry), service="ops-tests")
        await producer.start()

        async def send(*events: TradeEvent) -> list[Published]:
            return await producer.publish_many(events)

        yield send
        await producer.stop()
