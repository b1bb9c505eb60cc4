"""Helpers of the ledger's integration tests (imported by conftest.py and the tests)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from corridor.core.kafka import client_security
from corridor.ledger.app import create_app
from corridor.ledger.settings import LedgerSettings
from corridor.ledger.topics import partitions_of

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def drop_schemas(database_url: str, *schemas: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for schema in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


async def delete_topics(bootstrap_servers: str, topics: list[str]) -> None:
    """Delete a test ledger's own topics (its accepted stream), if they were created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **client_security())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        gone = [t for t in topics if t in existing]
        if gone:
            await admin.delete_topics(gone)
    finally:
        await admin.close()


@dataclass
class LedgerSetup:
    """Where one test ledger keeps its state."""

    group_id: str
    db_schema: str
    partners_schema: str
    retry_delays: str = "1,1,1"

    def settings(self, stack: Any) -> LedgerSettings:
        return LedgerSettings(
            database_url=stack.database_url,
            bootstrap_servers=stack.bootstrap_servers,
            schema_registry_url=stack.schema_registry_url,
            ledger_group_id=self.group_id,
            ledger_db_schema=self.db_schema,
            ledger_partners_schema=self.partners_schema,
            ledger_start_from="latest",
            # its own accepted stream: the shared stack's relay reads only the stack ledger's decisions
            ledger_accepted_topic=f"{self.group_id}.accepted",
            ledger_retry_delays_s=self.retry_delays,
            ledger_hold_s=0.5,
            ledger_max_hold_s=2.0,
            log_level="WARNING",
        )


class InProcessLedger:
    """The ledger app under uvicorn in a thread with its own event loop, on a free port."""

    def __init__(self, settings: LedgerSettings) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings
        self.app = create_app(settings)
        config = uvicorn.Config(
            self.app, log_config=None, access_log=False, lifespan="on", log_level="warning"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name=f"ledger-{self.port}", daemon=True
        )

    @property
    def ledger(self) -> Any:
        return self.app.state.ledger

    def start(self, within: float = 60.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + within
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the ledger did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=60)
        self._sock.close()


async def wait_ready(url: str, within: float = 90.0, process: subprocess.Popen[str] | None = None) -> None:
    """Until ``/readyz`` answers 200: partitions assigned, offsets pinned, database reachable."""
    deadline = time.monotonic() + within
    last = ""
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the ledger exited with {process.returncode}")
            try:
                response = await http.get("/readyz")
                if response.status_code == 200:
                    return
                last = response.text
            except httpx.HTTPError as exc:
                last = str(exc)
            await asyncio.sleep(0.2)
    raise TimeoutError(f"ledger at {url} not ready after {within}s: {last}")


async def eventually(check: Callable[[], Any], within: float = 60.0, interval: float = 0.25) -> Any:
    """Await ``check()`` (sync or async) until it returns a truthy value."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within}s (last: {result!r})")
        await asyncio.sleep(interval)


class TopicTail:
    """Reads a topic from the end offsets it had when created (a test's own records, and others')."""

    def __init__(self, bootstrap_servers: str, topic: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, **client_security(), enable_auto_commit=False
        )
        self.records: list[Any] = []

    async def start(self) -> TopicTail:
        await self._consumer.start()
        tps = await partitions_of(self.bootstrap_servers, (self.topic,))
        self._consumer.assign(tps)
        ends = await self._consumer.end_offsets(tps)
        for tp in tps:
            self._consumer.seek(tp, ends[tp])
        return self

    async def stop(self) -> None:
        await self._consumer.stop()

    async def poll(self) -> list[Any]:
        batches = await self._consumer.getmany(timeout_ms=200)
        for records in batches.values():
            self.records.extend(records)
        return self.records

    async def wait_for(
        self, predicate: Callable[[Any], bool], count: int = 1, within: float = 60.0
    ) -> list[Any]:
        deadline = time.monotonic() + within
        while True:
            found = [r for r in await self.poll() if predicate(r)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} records on {self.topic} within {within}s")


def headers_of(record: Any) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in (record.headers or ())}


def ledger_env(stack: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRIDOR_")}
    env.update(
        CORRIDOR_DATABASE_URL=stack.database_url,
        CORRIDOR_BOOTSTRAP_SERVERS=stack.bootstrap_servers,
        CORRIDOR_SCHEMA_REGISTRY_URL=stack.schema_registry_url,
        CORRIDOR_LOG_LEVEL="WARNING",
        CORRIDOR_LEDGER_HOLD_S="0.5",
        CORRIDOR_LEDGER_MAX_HOLD_S="2",
    )
    return env
