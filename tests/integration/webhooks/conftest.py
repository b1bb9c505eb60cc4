"""Fixtures of the webhooks integration tests: real Kafka, registry and PostgreSQL of the shared stack.

Isolation: one webhooks service per module (in a thread) with its own consumer group, PostgreSQL schemas
(dropped afterwards) and topic pattern ``^partner\\.wh<module id>-.*\\.v1$``; each test has its own
partner and partner topic (deleted afterwards), and its own reference receivers."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from corridor.core import partners
from corridor.core.codec import Codec
from corridor.core.registry_client import RegistryClient
from corridor.webhooks.app import create_app
from corridor.webhooks.receiver import Receiver
from corridor.webhooks.secrets_box import new_key
from corridor.webhooks.settings import WebhooksSettings
from corridor.webhooks.subscriptions import partner_topic
from tests.integration.ledger.ledger_helpers import drop_schemas, eventually, unique
from tests.integration.webhooks.webhooks_helpers import (
    FlakyFront,
    ServerThread,
    create_topic,
    delete_topic,
)

MAX_ATTEMPTS = 4


@dataclass
class Webhooks:
    url: str
    settings: WebhooksSettings
    server: ServerThread
    prefix: str  # partner ids of this module start with it

    @property
    def dispatcher(self) -> Any:
        return self.server.app.state.dispatcher


@pytest.fixture(scope="module")
async def webhooks(kafka_stack: Any) -> AsyncIterator[Webhooks]:
    prefix = f"wh{uuid.uuid4().hex[:8]}"
    settings = WebhooksSettings(
        database_url=kafka_stack.database_url,
        bootstrap_servers=kafka_stack.bootstrap_servers,
        schema_registry_url=kafka_stack.schema_registry_url,
        webhooks_group_id=unique("it-webhooks"),
        webhooks_db_schema=unique("webhooks_it"),
        webhooks_partners_schema=unique("partners_it"),
        webhooks_topic_pattern=rf"^partner\.{prefix}-.*\.v1$",
        webhooks_max_attempts=MAX_ATTEMPTS,
        webhooks_backoff_base_s=0.05,
        webhooks_backoff_max_s=0.2,
        webhooks_timeout_s=5,
        webhooks_metadata_max_age_ms=1000,
        webhooks_subscription_ttl_s=0.5,
        webhooks_allowed_callbacks="127.0.0.1",  # the tests' receivers; public addresses only otherwise
        webhooks_secrets_key=new_key(),
        log_level="WARNING",
    )
    schemas = (settings.webhooks_db_schema, settings.webhooks_partners_schema)
    await drop_schemas(kafka_stack.database_url, *schemas)
    server = ServerThread(create_app(settings), "webhooks")
    await asyncio.to_thread(server.start)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
            await eventually(lambda: _ready(http), within=60)
        yield Webhooks(server.url, settings, server, prefix)
    finally:
        await asyncio.to_thread(server.stop)
        await drop_schemas(kafka_stack.database_url, *schemas)


async def _ready(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/readyz")).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Partner:
    partner_id: str
    api_key: str
    topic: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}


@pytest.fixture
async def partner_factory(webhooks: Webhooks, kafka_stack: Any) -> AsyncIterator[Callable[..., Any]]:
    """``await partner_factory()``: a partner with an API key and its partner topic (deleted after)."""
    made: list[Partner] = []
    pool = await asyncpg.create_pool(kafka_stack.database_url, min_size=1, max_size=2)
    schema = webhooks.settings.webhooks_partners_schema

    async def make(role: str = "BUYER") -> Partner:
        partner_id = f"{webhooks.prefix}-{uuid.uuid4().hex[:6]}"
        await partners.ensure_schema(pool, schema=schema)
        _, key = await partners.add_partner(pool, partner_id, role, partner_id, schema=schema)
        topic = partner_topic(partner_id)
        await create_topic(kafka_stack.bootstrap_servers, topic)
        made.append(Partner(partner_id, key, topic))
        return made[-1]

    yield make
    await pool.close()
    for partner in made:
        await delete_topic(kafka_stack.bootstrap_servers, partner.topic)


@pytest.fixture
async def partner(partner_factory: Callable[..., Any]) -> Partner:
    made: Partner = await partner_factory()
    return made


@pytest.fixture
async def codec(kafka_stack: Any) -> AsyncIterator[Codec]:
    async with RegistryClient(kafka_stack.schema_registry_url) as registry:
        yield Codec(registry)


@pytest.fixture
async def receivers() -> AsyncIterator[Callable[..., tuple[FlakyFront, str]]]:
    """``receivers(secret)``: a reference receiver behind a flaky front, served on a free port."""
    servers: list[ServerThread] = []

    def make(secret: str) -> tuple[FlakyFront, str]:
        front = FlakyFront(Receiver(secret))
        server = ServerThread(front, "receiver").start()
        servers.append(server)
        return front, f"{server.url}/corridor/events"

    yield make
    for server in servers:
        await asyncio.to_thread(server.stop)
