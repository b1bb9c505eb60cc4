"""Fixtures of the hostile-input suite: real services in-process, on the shared stack, isolated.

* **gateway** — the real gateway app under uvicorn in a thread, on throwaway PostgreSQL schemas for its
  tables and its partners (dropped before and after), producing to the shared trade topics. The
  partners are the senders of ``contracts/examples/valid/*.json``, each with a role that may publish its
  example's type; every request the suite sends gets fresh event and trade ids, so an event that is
  accepted opens a trade nobody else uses.
* **registry** — the real registry app on a throwaway schema (nothing reaches the stack's registry).
* **ledger** — a ledger with its own consumer group and PostgreSQL schemas (as ``tests/integration/
  ledger`` does) that reads *private copies* of the trade topics: some hostile records wedge a consumer
  that does not handle them (that is what the suite checks), and the stack's own ledger, and other
  engineers' test ledgers, must never see them. Dead letters go to the real ``trade.dlq.v1``, marked with
  the test's consumer group.

Every HTTP request is bounded by a client timeout, every test by pytest-timeout: a hang fails.
Hypothesis runs derandomized with a bounded number of examples (``CORRIDOR_HOSTILE_EXAMPLES`` scales it).
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from hypothesis import HealthCheck, settings

from corridor.core import partners
from corridor.core.codec import Codec
from corridor.core.domain.roles import PUBLISHER_ROLES
from corridor.core.kafka import client_security
from corridor.core.registry_client import RegistryClient

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
EXAMPLES = HERE.parents[1] / "contracts" / "examples" / "valid"
PROBLEM_JSON = "application/problem+json"
REGISTRY_JSON = "application/vnd.schemaregistry.v1+json"
#: Longest any one HTTP request of the suite may take before it counts as a hang.
REQUEST_TIMEOUT_S = 30.0


def examples_scale() -> float:
    return float(os.environ.get("CORRIDOR_HOSTILE_EXAMPLES", "1"))


def hostile_settings(max_examples: int) -> settings:
    """Hypothesis settings of this suite: reproducible (derandomized, no example database), bounded,
    no per-example deadline (the services share two cores with Kafka and PostgreSQL)."""
    return settings(
        max_examples=max(1, int(max_examples * examples_scale())),
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


# -- threads: an event loop, and ASGI servers ------------------------------------------------------------


class Loop:
    """An event loop in a thread, to drive async clients from synchronous tests."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="hostile-loop")
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


class Server:
    """An ASGI app under uvicorn in a thread, on a free 127.0.0.1 port bound before it starts."""

    def __init__(self, app: Any, name: str) -> None:
        self.app = app
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name=f"hostile-{name}-{self.port}", daemon=True)

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self._sock])
        except BaseException:  # uvicorn exits (SystemExit) when the lifespan fails
            pass

    def start(self, timeout: float = 60.0) -> Server:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                self._sock.close()
                raise RuntimeError("the server exited during startup (database unreachable?)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the server did not start in time")
            time.sleep(0.05)
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and self._server.started and not self._server.should_exit

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=60)
        self._sock.close()


def drop_schemas(loop: Loop, database_url: str, *names: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(database_url)
        try:
            for name in names:
                await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()

    loop.run(drop())


def schema_name(request: pytest.FixtureRequest, prefix: str) -> str:
    digest = hashlib.sha1(f"{request.module.__name__}:{os.getpid()}:{prefix}".encode()).hexdigest()[:10]
    return f"{prefix}_{digest}"


@pytest.fixture(scope="module")
def loop() -> Iterator[Loop]:
    runner = Loop()
    yield runner
    runner.close()


# -- the valid examples, as CloudEvents a partner would post ------------------------------------------------


@dataclass(frozen=True)
class Example:
    """One valid example: its CloudEvents type and data, and who sends it with which role."""

    name: str  # short type, e.g. OrderPlaced
    type: str
    data: dict[str, Any]

    @property
    def sender(self) -> str:
        return str(self.data["sender"])

    @property
    def role(self) -> str:
        return sorted(PUBLISHER_ROLES[self.type])[0]

    def fresh(self) -> dict[str, Any]:
        """A deep copy of the data with new event and trade ids."""
        data = copy.deepcopy(self.data)
        data["event_id"] = str(uuid.uuid4())
        data["trade_id"] = str(uuid.uuid4())
        return data


def load_examples() -> dict[str, Example]:
    out = {}
    for path in sorted(EXAMPLES.glob("*.json")):
        doc = json.loads(path.read_text())
        out[path.stem] = Example(path.stem, doc["type"], doc["data"])
    return out


EXAMPLES_BY_NAME = load_examples()


def cloudevent(example_type: str, data: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    """A structured-mode CloudEvent for ``data`` (id = data.event_id when that is a string)."""
    event_id = data.get("event_id") if isinstance(data, dict) else None
    doc: dict[str, Any] = {
        "specversion": "1.0",
        "id": event_id if isinstance(event_id, str) and event_id else str(uuid.uuid4()),
        "source": "/erp/hostile-suite",
        "type": example_type,
        "datacontenttype": "application/json",
        "data": data,
    }
    doc.update(attrs)
    return doc


# -- paths like the gateway's error fields: data.lines[0].unit_price.amount ----------------------------------

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def parse_path(path: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _PART.findall(path)]


def format_path(parts: list[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def leaf_paths(value: Any, prefix: list[str | int] | None = None) -> list[list[str | int]]:
    """Every path in a JSON document, parents before children."""
    prefix = prefix or []
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += leaf_paths(child, [*prefix, key])
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += leaf_paths(child, [*prefix, index])
    return out


def set_path(doc: Any, parts: list[str | int], value: Any) -> None:
    target = doc
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value


def delete_path(doc: Any, parts: list[str | int]) -> None:
    target = doc
    for part in parts[:-1]:
        target = target[part]
    del target[parts[-1]]


def encode_with_raw(doc: Any, raw: dict[str, str]) -> bytes:
    """JSON of ``doc`` where each value that is a key of ``raw`` (a placeholder string) is replaced by
    the raw JSON text given for it: numbers JSON parsers disagree on (1e400, -0, 10**30), NaN …"""
    text = json.dumps(doc, ensure_ascii=False)
    for placeholder, replacement in raw.items():
        text = text.replace(json.dumps(placeholder), replacement)
    return text.encode("utf-8", "surrogatepass")


# -- the gateway --------------------------------------------------------------------------------------------


@dataclass
class GatewayHandle:
    server: Server
    settings: Any
    keys: dict[str, str]  # partner id -> API key

    @property
    def url(self) -> str:
        return self.server.url

    def auth(self, partner_id: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[partner_id]}"}


@pytest.fixture(scope="module")
def gateway_schemas(
    request: pytest.FixtureRequest, database_url: str, loop: Loop
) -> Iterator[tuple[str, str]]:
    names = (schema_name(request, "gateway_hostile"), schema_name(request, "partners_hostile"))
    drop_schemas(loop, database_url, *names)
    yield names
    drop_schemas(loop, database_url, *names)


def register_partners(loop: Loop, database_url: str, schema: str, roles: dict[str, str]) -> dict[str, str]:
    async def add() -> dict[str, str]:
        pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
        try:
            await partners.ensure_schema(pool, schema=schema)
            keys = {}
            for partner_id, role in roles.items():
                _, keys[partner_id] = await partners.add_partner(
                    pool, partner_id, role, f"{partner_id} (hostile suite)", schema=schema
                )
            return keys
        finally:
            await pool.close()

    result: dict[str, str] = loop.run(add())
    return result


@pytest.fixture(scope="module")
def gateway_settings(stack: Any, database_url: str, gateway_schemas: tuple[str, str]) -> Any:
    from corridor.gateway.settings import GatewaySettings

    return GatewaySettings(
        bootstrap_servers=stack.bootstrap_servers,
        schema_registry_url=stack.schema_registry_url,
        database_url=database_url,
        gateway_db_schema=gateway_schemas[0],
        partners_db_schema=gateway_schemas[1],
        gateway_produce_timeout_s=10.0,
        log_level="WARNING",
    )


@pytest.fixture(scope="module")
def gateway(loop: Loop, database_url: str, gateway_settings: Any) -> Iterator[GatewayHandle]:
    """The gateway, and a partner for every sender of the valid examples (plus a spare buyer)."""
    from corridor.gateway.app import create_app

    # a partner has one role: the one of the first example it sends that only that role publishes (the
    # supplier sends PartyWithdrawn, which a buyer may send too, and InvoiceIssued, which only it does)
    roles: dict[str, str] = {}
    for e in sorted(EXAMPLES_BY_NAME.values(), key=lambda e: len(PUBLISHER_ROLES[e.type])):
        roles.setdefault(e.sender, e.role)
    roles["hostile-spare-buyer"] = "BUYER"
    keys = register_partners(loop, database_url, gateway_settings.partners_db_schema, roles)
    server = Server(create_app(gateway_settings), "gateway").start()
    yield GatewayHandle(server, gateway_settings, keys)
    server.stop()


@pytest.fixture(scope="module")
def http(gateway: GatewayHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway.url, timeout=REQUEST_TIMEOUT_S) as client:
        yield client


@pytest.fixture
def start_gateway(loop: Loop, database_url: str, gateway_settings: Any) -> Iterator[Callable[..., Any]]:
    """Extra gateways on the module's schemas with settings changed (the rate limit …); stopped after."""
    from corridor.gateway.app import create_app

    started: list[Server] = []

    def start(**changes: Any) -> GatewayHandle:
        settings_ = gateway_settings.model_copy(update=changes)
        server = Server(create_app(settings_), "gateway-extra").start()
        started.append(server)
        return GatewayHandle(server, settings_, {})

    yield start
    for server in started:
        server.stop()


class KafkaReader:
    """Reads single records back from the shared broker and decodes them through the registry."""

    def __init__(self, loop: Loop, bootstrap: str, registry_url: str) -> None:
        self.loop = loop
        self.bootstrap = bootstrap
        self.registry_url = registry_url

    def record(self, topic: str, partition: int, offset: int) -> tuple[Any, Any]:
        """(the raw record, the decoded event)."""
        result: tuple[Any, Any] = self.loop.run(self._record(topic, partition, offset))
        return result

    async def _record(self, topic: str, partition: int, offset: int) -> tuple[Any, Any]:
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
        return raw, event


@pytest.fixture(scope="module")
def kafka(loop: Loop, stack: Any) -> KafkaReader:
    return KafkaReader(loop, stack.bootstrap_servers, stack.schema_registry_url)


# -- the registry -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry_server(request: pytest.FixtureRequest, database_url: str, loop: Loop) -> Iterator[Server]:
    from corridor.registry.app import create_app

    name = schema_name(request, "registry_hostile")
    drop_schemas(loop, database_url, name)
    from tests.integration.registry.conftest import registry_users_file

    app = create_app(database_url, users_file=registry_users_file(), db_schema=name, pool_max_size=4)
    server = Server(app, "registry").start()
    yield server
    server.stop()
    drop_schemas(loop, database_url, name)


@pytest.fixture(scope="module")
def registry_http(registry_server: Server) -> Iterator[httpx.Client]:
    from tests.integration.registry.conftest import writer_auth

    with httpx.Client(base_url=registry_server.url, timeout=REQUEST_TIMEOUT_S, auth=writer_auth()) as client:
        yield client


# -- the corpus ---------------------------------------------------------------------------------------------


def corpus_cases(kind: str) -> list[tuple[str, dict[str, Any]]]:
    """(id, case) of every case in ``corpus/<kind>/*.json`` (each file: {"description", "cases": [...]})."""
    out = []
    for path in sorted((CORPUS / kind).glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for case in doc["cases"]:
            out.append((f"{path.stem}:{case['name']}", case))
    return out


def generated_body(spec: dict[str, Any]) -> bytes:
    """A raw body described in the corpus: ``{"text": …}``, ``{"base64": …}`` or
    ``{"repeat": s, "times": n, "middle": m, "then": t}`` (s * n + m + t * n: 10,000 levels of ``[`` …)."""
    if "text" in spec:
        return str(spec["text"]).encode("utf-8", "surrogatepass")
    if "base64" in spec:
        return base64.b64decode(spec["base64"])
    if "repeat" in spec:
        times = int(spec["times"])
        middle = str(spec.get("middle", ""))
        return (str(spec["repeat"]) * times + middle + str(spec.get("then", "")) * times).encode()
    raise ValueError(f"unknown body spec {spec}")
