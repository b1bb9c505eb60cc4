"""Fixtures for the registry's integration tests: a real registry server per test module.

The server is the real app under uvicorn, in a background thread with its own event loop (the
confluent-kafka client under test is synchronous and would otherwise block the loop serving it), on
a free 127.0.0.1 port, against the real PostgreSQL of the ``database_url`` fixture.

Isolation: each module gets its own throwaway PostgreSQL schema (dropped before and after), so tests
never touch the ``registry`` schema of a developer's running stack that may share the database.

Authentication is on, as in production: the servers share one users file (made once per session, 0600)
with a ``write`` user (``REGISTRY_WRITER``, what the clients below use) and a ``read`` user
(``REGISTRY_READER``).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from confluent_kafka.schema_registry import SchemaRegistryClient

from corridor.core import credentials
from corridor.registry.app import create_app

#: ``basic.auth.user.info`` of the test users (random per session; the file keeps only their hashes).
REGISTRY_WRITER = f"writer:{credentials.new_password()}"
REGISTRY_READER = f"reader:{credentials.new_password()}"
_USERS_FILE: list[Path] = []


def registry_users_file() -> Path:
    """The session's users file (writer and reader), made on first use."""
    if not _USERS_FILE:
        import tempfile

        path = Path(tempfile.mkdtemp(prefix="corridor-registry-users-")) / "registry-users.json"
        for user_info, role in ((REGISTRY_WRITER, credentials.WRITE), (REGISTRY_READER, credentials.READ)):
            user, _, password = user_info.partition(":")
            credentials.set_user(path, user, password, role)
        _USERS_FILE.append(path)
    return _USERS_FILE[0]


def writer_auth() -> httpx.BasicAuth:
    user, _, password = REGISTRY_WRITER.partition(":")
    return httpx.BasicAuth(user, password)


def _run(coro_factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run a coroutine to completion on a private loop in a helper thread.

    A helper thread keeps this independent of whatever loop pytest-asyncio may hold in the main one.
    """
    failure: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro_factory())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _drop_schema(database_url: str, db_schema: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{db_schema}" CASCADE')
        finally:
            await conn.close()

    _run(drop)


class RunningRegistry:
    """A registry server running in a thread; ``stop()`` shuts it down and waits for it."""

    def __init__(self, database_url: str, db_schema: str) -> None:
        self.db_schema = db_schema
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # bound here and handed to uvicorn: no window in which another process can take the port
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(database_url, users_file=registry_users_file(), db_schema=db_schema, pool_max_size=8),
            log_config=None,
            access_log=False,
            lifespan="on",
            log_level="warning",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name=f"registry-{self.port}",
            daemon=True,
        )

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the registry server exited during startup (database unreachable?)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the registry server did not start in time")
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()


@pytest.fixture(scope="module")
def registry_db_schema(request: pytest.FixtureRequest) -> str:
    """A PostgreSQL schema name unique to this module and process (a valid, short identifier)."""
    digest = hashlib.sha1(f"{request.module.__name__}:{os.getpid()}".encode()).hexdigest()[:10]
    return f"registry_test_{digest}"


@pytest.fixture(scope="module")
def registry_url(database_url: str, registry_db_schema: str) -> Iterator[str]:
    """URL of a registry server owned by this test module, with an empty store."""
    _drop_schema(database_url, registry_db_schema)
    server = RunningRegistry(database_url, registry_db_schema)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
        _drop_schema(database_url, registry_db_schema)


@pytest.fixture
def start_registry(database_url: str) -> Iterator[Callable[..., RunningRegistry]]:
    """Start extra registry servers; all are stopped after the test.

    ``start(db_schema)`` gives a server on a new, empty schema (dropped afterwards);
    ``start(db_schema, fresh=False)`` a second server sharing an existing schema (left in place).
    """
    started: list[tuple[RunningRegistry, bool]] = []

    def start(db_schema: str, fresh: bool = True) -> RunningRegistry:
        if fresh:
            _drop_schema(database_url, db_schema)
        server = RunningRegistry(database_url, db_schema)
        server.start()
        started.append((server, fresh))
        return server

    yield start
    for server, owned in started:
        server.stop()
        if owned:
            _drop_schema(database_url, server.db_schema)


@pytest.fixture
def execute_sql(database_url: str) -> Callable[[str], None]:
    """Run one SQL statement against the test database (for tests that sabotage the store)."""

    def execute(statement: str) -> None:
        async def run() -> None:
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute(statement)
            finally:
                await conn.close()

        _run(run)

    return execute


class SyncConnection:
    """One asyncpg connection driven synchronously from tests, on a loop in its own thread.

    Lets a test hold a transaction open (and so hold row locks) while requests run against the
    registry, which a one-statement helper cannot do.
    """

    def __init__(self, database_url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._conn: asyncpg.Connection = self._call(asyncpg.connect(database_url))

    def _call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=60)

    def execute(self, statement: str, *args: object) -> None:
        self._call(self._conn.execute(statement, *args))

    def fetchval(self, query: str, *args: object) -> Any:
        return self._call(self._conn.fetchval(query, *args))

    def close(self) -> None:
        self._call(self._conn.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


@pytest.fixture
def pg_connection(database_url: str) -> Iterator[SyncConnection]:
    connection = SyncConnection(database_url)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def sr_client(registry_url: str) -> Iterator[SchemaRegistryClient]:
    """confluent-kafka's own client, unmodified, pointed at our registry."""
    client = SchemaRegistryClient({"url": registry_url, "basic.auth.user.info": REGISTRY_WRITER})
    yield client
    client.close()


@pytest.fixture(scope="module")
def http(registry_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=registry_url, timeout=30.0, auth=writer_auth()) as client:
        yield client


@pytest.fixture
def unique() -> str:
    """A short random token for subject and topic names, so tests in one module never collide."""
    return uuid.uuid4().hex[:8]
