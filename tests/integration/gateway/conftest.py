"""Fixtures for the gateway's integration tests: the real app under uvicorn, real Kafka and PostgreSQL.

The gateway runs in a background thread with its own event loop on a free 127.0.0.1 port (as the
registry tests do), against the session's stack. Each test module gets throwaway PostgreSQL schemas
for the partners and the gateway tables (dropped before and after), so tests never touch the
``partners``/``gateway`` schemas of a running stack; Kafka topics are the shared ones, and every test
works on fresh trades and partners.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import structlog
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition

from corridor.core import partners
from corridor.core.codec import Codec
from corridor.core.envelope import CloudEvent
from corridor.core.kafka import client_security
from corridor.core.logging import configure_logging
from corridor.core.registry_client import RegistryClient
from corridor.gateway.app import create_app
from corridor.gateway.settings import GatewaySettings
from tests.unit.gateway.gateway_samples import STORY_PARTIES, Cast, cast


class Loop:
    """An event loop in a thread, to drive async clients (asyncpg, aiokafka) from synchronous tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="gateway-tests-loop")
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class RunningGateway:
    """A gateway server in a thread; ``stop()`` shuts it down and waits for it."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings), log_config=None, access_log=False, lifespan="on", log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self.exit: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name=f"gateway-{self.port}", daemon=True)

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # uvicorn exits (SystemExit) when the lifespan fails
            self.exit = exc

    def start(self, timeout: float = 30.0) -> RunningGateway:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._sock.close()
                raise RuntimeError("the gateway exited during startup (database unreachable?)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the gateway did not start in time")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()


@dataclass(frozen=True)
class Schemas:
    gateway: str
    partners: str


@pytest.fixture(scope="module", autouse=True)
def json_logs() -> Iterator[None]:
    """The gateway's structlog lines as in production (JSON on stderr) while this module runs.

    Bound to stderr at configuration time, so a CLI test's captured stdout never receives a line the
    gateway thread logs meanwhile. The previous configuration is restored afterwards.
    """
    previous = structlog.get_config()
    configure_logging("INFO", "json", service="gateway-tests")
    yield
    structlog.configure(**previous)


@pytest.fixture(scope="module")
def loop() -> Iterator[Loop]:
    runner = Loop()
    yield runner
    runner.close()


@pytest.fixture(scope="module")
def schemas(request: pytest.FixtureRequest, database_url: str, loop: Loop) -> Iterator[Schemas]:
    digest = hashlib.sha1(f"{request.module.__name__}:{os.getpid()}".encode()).hexdigest()[:10]
    names = Schemas(f"gateway_test_{digest}", f"partners_test_{digest}")

    async def drop() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            for name in (names.gateway, names.partners):
                await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()

    loop.run(drop())
    yield names
    loop.run(drop())


@pytest.fixture(scope="module")
def settings(stack: Any, database_url: str, schemas: Schemas) -> GatewaySettings:
    return GatewaySettings(
        bootstrap_servers=stack.bootstrap_servers,
        schema_registry_url=stack.schema_registry_url,
        database_url=database_url,
        gateway_db_schema=schemas.gateway,
        partners_db_schema=schemas.partners,
        gateway_produce_timeout_s=10.0,
    )


@pytest.fixture(scope="module")
def gateway(settings: GatewaySettings) -> Iterator[RunningGateway]:
    server = RunningGateway(settings).start()
    yield server
    server.stop()


@pytest.fixture
def start_gateway(settings: GatewaySettings) -> Iterator[Any]:
    """Start extra gateways on the module's schemas with some settings changed; stopped after the test."""
    started: list[RunningGateway] = []

    def start(**changes: Any) -> RunningGateway:
        server = RunningGateway(settings.model_copy(update=changes)).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def http(gateway: RunningGateway) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=30.0) as client:
        yield client


class Admin:
    """Partner administration and database look-ups on the module's schemas."""

    def __init__(self, loop: Loop, database_url: str, schemas: Schemas) -> None:
        self.loop = loop
        self.schemas = schemas

        async def open_pool() -> asyncpg.Pool:
            pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
            await partners.ensure_schema(pool, schema=schemas.partners)
            return pool

        self.pool: asyncpg.Pool = loop.run(open_pool())

    def add(self, role: str, partner_id: str | None = None, name: str | None = None) -> tuple[str, str]:
        partner_id = partner_id or f"{role.lower().replace('_', '-')}-{uuid.uuid4().hex[:8]}"
        partner, key = self.loop.run(
            partners.add_partner(
                self.pool, partner_id, role, name or partner_id, schema=self.schemas.partners
            )
        )
        return partner.partner_id, key

    def rotate(self, partner_id: str) -> str:
        key: str = self.loop.run(partners.rotate_key(self.pool, partner_id, schema=self.schemas.partners))
        return key

    def disable(self, partner_id: str) -> None:
        self.loop.run(partners.disable_partner(self.pool, partner_id, schema=self.schemas.partners))

    def fetch(self, query: str, *args: Any) -> list[Any]:
        return list(self.loop.run(self.pool.fetch(query.format(gw=f'"{self.schemas.gateway}"'), *args)))

    def close(self) -> None:
        self.loop.run(self.pool.close())


@pytest.fixture(scope="module")
def admin(loop: Loop, database_url: str, schemas: Schemas) -> Iterator[Admin]:
    helper = Admin(loop, database_url, schemas)
    yield helper
    helper.close()


@dataclass
class Trade:
    """A fresh chromite trade whose eight parties are registered partners with their keys."""

    cast: Cast
    keys: dict[str, str]  # partner id -> API key

    def key_of(self, story_party_id: str) -> str:
        return self.keys[self.cast.partner(story_party_id)]

    def auth(self, partner_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[partner_id]}"}


@pytest.fixture
def trade(admin: Admin) -> Trade:
    c = cast()
    keys = {}
    for story_id, party in STORY_PARTIES.items():
        partner_id, key = admin.add(str(party.role), c.partner(story_id))
        keys[partner_id] = key
    return Trade(c, keys)


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: str | None
    headers: dict[str, str]
    cloudevent: CloudEvent
    event: Any
    timestamp_ms: int = 0  # the Kafka record timestamp (CreateTime: when the gateway published it)


class KafkaReader:
    """Reads records back from the shared broker, decoding them through the registry."""

    def __init__(self, loop: Loop, bootstrap: str, registry_url: str) -> None:
        self.loop = loop
        self.bootstrap = bootstrap
        self.registry_url = registry_url

    def record(self, topic: str, partition: int, offset: int) -> Record:
        return self.loop.run(self._record(topic, partition, offset))

    async def _record(self, topic: str, partition: int, offset: int) -> Record:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, **client_security(), enable_auto_commit=False
        )
        await consumer.start()
        tp = TopicPartition(topic, partition)
        try:
            consumer.assign([tp])
            consumer.seek(tp, offset)
            raw = await asyncio.wait_for(consumer.getone(tp), 20)
        finally:
            await consumer.stop()
        async with RegistryClient(self.registry_url) as registry:
            event = await Codec(registry).decode(raw.value)
        headers = {k: v.decode() for k, v in raw.headers}
        return Record(
            raw.topic,
            raw.partition,
            raw.offset,
            raw.key.decode() if raw.key is not None else None,
            headers,
            CloudEvent.from_headers(raw.headers),
            event,
            raw.timestamp,
        )

    def count(self, topic: str, partition: int, ce_id: str, start: int) -> int:
        """How many records of the partition from ``start`` to its end carry ``ce_id``."""
        return int(self.loop.run(self._count(topic, partition, ce_id, start)))

    async def _count(self, topic: str, partition: int, ce_id: str, start: int) -> int:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, **client_security(), enable_auto_commit=False
        )
        await consumer.start()
        tp = TopicPartition(topic, partition)
        found = 0
        try:
            consumer.assign([tp])
            end = (await consumer.end_offsets([tp]))[tp]
            consumer.seek(tp, max(start, 0))
            while await consumer.position(tp) < end:
                batch = await consumer.getmany(tp, timeout_ms=1000)
                for record in batch.get(tp, []):
                    if dict(record.headers).get("ce_id") == ce_id.encode():
                        found += 1
        finally:
            await consumer.stop()
        return found


@pytest.fixture(scope="module")
def kafka(loop: Loop, stack: Any) -> KafkaReader:
    return KafkaReader(loop, stack.bootstrap_servers, stack.schema_registry_url)
