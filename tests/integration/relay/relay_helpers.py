"""Helpers of the relay, SDK and partner-isolation integration tests (imported by their conftest files).

* :func:`secure_stack` — one isolated stack for the whole session: a broker with the SASL/SCRAM partner
  listener and the ACL authorizer, its own embedded PostgreSQL and schema registry (the developer's
  default stack may not have the partner listener until it restarts, and is never touched).
* :class:`RelayProcess` — ``python -m corridor.relay`` as a child process, killed with SIGKILL by the
  exactly-once test; one per session (:func:`session_relay`), so every partner topic of the session is
  written by one consumer group and no test sees another relay's copies.
* renamed stories (fresh partner ids per test), partner topic readers, the ``corridor partners`` CLI.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from click.testing import CliRunner

from corridor.core.codec import Codec
from corridor.core.credentials import REGISTRY_OPERATOR, credentials_dir, read_secret
from corridor.core.domain.base import TradeEvent
from corridor.core.kafka import TradeProducer, client_security
from corridor.core.registry_client import RegistryClient
from corridor.core.routing import TradeRoute, parties_of, partner_topic
from corridor.core.routing import route as route_event
from corridor.demo.story import chromite_story, explosives_story, with_own_numbers
from corridor.sdk import tls_context
from corridor.stack import StackConfig, StackStatus, down, up
from corridor.stack.config import PARTNER_LISTENERS
from tests.integration.stack.conftest import isolated_config

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


# -- the isolated stack with the partner listener -----------------------------------------------------


@dataclass
class SecureStack:
    config: StackConfig
    status: StackStatus

    @property
    def bootstrap(self) -> str:
        """The internal listener (SCRAM; tests log in as the operator, ADR 24)."""
        return self.status.bootstrap_servers

    @property
    def partner_bootstrap(self) -> str:
        assert self.status.partner_bootstrap_servers, self.status
        return self.status.partner_bootstrap_servers

    @property
    def ca_file(self) -> Path:
        """The stack's CA certificate: what a partner trusts on the partner listener (SASL_SSL)."""
        assert self.status.partner_ca_file, self.status
        return self.status.partner_ca_file

    def partner_login(self, username: str, password: str) -> dict[str, Any]:
        """aiokafka settings of a partner's login: SCRAM over TLS, the stack's CA trusted, host names
        checked (corridor.sdk.tls_context)."""
        return {
            "bootstrap_servers": self.partner_bootstrap,
            "security_protocol": "SASL_SSL",
            "ssl_context": tls_context(self.ca_file),
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": username,
            "sasl_plain_password": password,
        }

    def confluent_login(self, username: str, password: str) -> dict[str, str]:
        """The same for confluent-kafka (librdkafka verifies the certificate and the host name)."""
        return {
            "bootstrap.servers": self.partner_bootstrap,
            "security.protocol": "SASL_SSL",
            "ssl.ca.location": str(self.ca_file),
            "ssl.endpoint.identification.algorithm": "https",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": username,
            "sasl.password": password,
        }

    @property
    def registry_url(self) -> str:
        return self.status.schema_registry_url

    @property
    def database_url(self) -> str:
        assert self.status.database_url
        return self.status.database_url

    def env(self, **extra: str) -> dict[str, str]:
        """Environment of a service or CLI process of this stack."""
        env = dict(os.environ)
        env.update(
            CORRIDOR_BOOTSTRAP_SERVERS=self.bootstrap,
            CORRIDOR_SCHEMA_REGISTRY_URL=self.registry_url,
            CORRIDOR_DATABASE_URL=self.database_url,
            CORRIDOR_STATE_DIR=str(self.config.state_dir),
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env


_stack: SecureStack | None = None


def _secure_config() -> StackConfig:
    for _ in range(20):
        config = isolated_config(1, listeners=PARTNER_LISTENERS, services=("registry", "ledger"))
        partner_port = config.port(1, "PARTNER")
        if _port_free(partner_port):
            return config
        shutil.rmtree(config.state_dir, ignore_errors=True)
    raise RuntimeError("no free port block with a free partner port")


def secure_stack(request: pytest.FixtureRequest) -> SecureStack:
    """The session's stack with the partner listener (started by the first fixture that asks)."""
    global _stack
    if _stack is None:
        config = _secure_config()
        try:
            status = up(config, report=lambda _message: None)
        except BaseException:
            _teardown_stack(config)
            raise
        _stack = SecureStack(config, status)
        request.addfinalizer(lambda: _teardown_stack(config))
    return _stack


def _teardown_stack(config: StackConfig) -> None:
    global _stack
    try:
        if _relay is not None:
            _relay.stop()
        down(config, purge=True, report=lambda _message: None)
    finally:
        shutil.rmtree(config.state_dir, ignore_errors=True)
        _stack = None


# -- the relay process ----------------------------------------------------------------------------------


@dataclass
class RelayProcess:
    stack: SecureStack
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **settings: str) -> RelayProcess:
        """Start it (``settings``: extra CORRIDOR_RELAY_* variables) and wait until it is ready."""
        assert self.process is None or self.process.poll() is not None, "the relay runs already"
        self.starts += 1
        self.log = self.stack.config.state_dir / f"relay-{self.starts}.log"
        env = self.stack.env(CORRIDOR_LOG_LEVEL="INFO", **settings)
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "corridor.relay", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=PROJECT_ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                code = self.process.returncode
                raise AssertionError(f"the relay exited ({code}):\n{self.log_text()[-3000:]}")
            try:
                response = httpx.get(f"{self.url}/readyz", timeout=2)
                last = response.text
                if response.status_code == 200:
                    body: dict[str, Any] = response.json()
                    return body
            except httpx.HTTPError as exc:
                last = exc
            time.sleep(0.2)
        raise AssertionError(f"the relay was not ready within {timeout}s: {last}\n{self.log_text()[-3000:]}")

    def readyz(self) -> dict[str, Any]:
        body: dict[str, Any] = httpx.get(f"{self.url}/readyz", timeout=5).json()
        return body

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def log_events(self, name: str) -> list[dict[str, Any]]:
        found = []
        for line in self.log_text().splitlines():
            if f'"{name}"' not in line:
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if doc.get("event") == name:
                found.append(doc)
        return found

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


_relay: RelayProcess | None = None


def session_relay(stack: SecureStack) -> RelayProcess:
    """The session's relay (group ``corridor-relay``), started if it does not run."""
    global _relay
    if _relay is None:
        _relay = RelayProcess(stack)
    if not _relay.running:
        _relay.start()
    return _relay


# -- stories with fresh partner ids ---------------------------------------------------------------------


def _rename(value: Any, names: dict[str, str]) -> Any:
    """Every string that is a party id, wherever it stands (``party_id``, ``sender``, a licence's
    ``issuer_party_id``, a presentation's ``certificate_issuer`` …): party ids are distinct from any
    other value of the stories."""
    if isinstance(value, dict):
        return {k: _rename(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, names) for v in value]
    if isinstance(value, str):
        return names.get(value, value)
    return value


@dataclass
class Trade:
    trade_id: uuid.UUID
    events: list[TradeEvent]

    @property
    def parties(self) -> set[str]:
        """The trade's admitted parties at its end (the relay writes to their topics only, ADR 16)."""
        return set(self._routed()[0])

    def receives(self, partner_id: str) -> list[TradeEvent]:
        """The events the relay owes ``partner_id``: its role's need to know, back-fills included, in
        the trade's order (``routing.route`` over the events in story order)."""
        return self._routed()[1].get(partner_id, [])

    def _routed(self) -> tuple[tuple[str, ...], dict[str, list[TradeEvent]]]:
        route: TradeRoute[int] | None = None
        got: dict[str, list[int]] = {}
        for i, event in enumerate(self.events):
            route, deliveries, broken = route_event(route, i, event)
            assert not broken, broken
            for delivery in deliveries:
                got.setdefault(delivery.partner_id, []).append(delivery.ref)
        assert route is not None
        return route.trust.parties, {p: [self.events[i] for i in sorted(refs)] for p, refs in got.items()}


def story_trade(kind: str, suffix: str) -> Trade:
    """A new trade of the chromite or explosives story whose parties are ``<story party>-<suffix>``,
    with certificate and licence numbers of its own (several trades of one suffix share their issuers,
    and a licence is one running total across trades, ADR 0045)."""
    story = with_own_numbers(chromite_story if kind == "chromite" else explosives_story)
    parties = set().union(*(parties_of(e) for e in story.events))
    names = {p: f"{p}-{suffix}"[:63] for p in parties}
    events = []
    for event in story.events:
        data = _rename(json.loads(json.dumps(event.model_dump(mode="json"))), names)
        events.append(type(event).model_validate(data))
    return Trade(story.trade_id, events)


def interleave(trades: list[Trade]) -> list[TradeEvent]:
    """The trades' events round-robin (each trade's own order kept), as concurrent trades would be."""
    queues = [list(t.events) for t in trades]
    out: list[TradeEvent] = []
    while any(queues):
        for queue in queues:
            if queue:
                out.append(queue.pop(0))
    return out


async def publish(stack: SecureStack, events: list[TradeEvent], *, pause_s: float = 0.0) -> int:
    """Produce events in order (acks=all, one at a time when pausing); returns how many."""
    operator = read_secret(credentials_dir(stack.config.state_dir) / REGISTRY_OPERATOR)  # this stack's own
    async with RegistryClient(stack.registry_url, user_info=operator) as registry:
        async with TradeProducer(stack.bootstrap, Codec(registry)) as producer:
            if not pause_s:
                await producer.publish_many(events)
                return len(events)
            for event in events:
                await producer.publish(event)
                await asyncio.sleep(pause_s)
    return len(events)


# -- reading partner topics -----------------------------------------------------------------------------


async def read_topic(bootstrap: str, topic: str, *, isolation_level: str = "read_committed") -> list[Any]:
    """Every record of ``topic`` (as the operator, a super user), partition by partition in offset order."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_security())
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    partitions = [p["partition"] for d in described if d["error_code"] == 0 for p in d["partitions"]]
    if not partitions:
        return []
    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        **client_security(),
        group_id=None,
        enable_auto_commit=False,
        isolation_level=isolation_level,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp, first in (await consumer.beginning_offsets(tps)).items():
            consumer.seek(tp, first)  # explicit: seek_to_beginning() races with the assignment's reset
        records: dict[TopicPartition, list[Any]] = {tp: [] for tp in tps}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pending = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
            if not pending:
                break
            batch = await consumer.getmany(*pending, timeout_ms=500)
            for tp, found in batch.items():
                records[tp].extend(found)
        return [r for tp in tps for r in records[tp]]
    finally:
        await consumer.stop()


def header(record: Any, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name and value is not None:
            return str(value.decode())
    return None


async def partner_topic_counts(bootstrap: str, partner_ids: list[str]) -> dict[str, int]:
    counts = {}
    for partner_id in partner_ids:
        counts[partner_id] = len(await read_topic(bootstrap, partner_topic(partner_id)))
    return counts


# -- the partners CLI -----------------------------------------------------------------------------------


def partners_cli(stack: SecureStack, *args: str) -> Any:
    """``corridor partners ARGS`` in-process against the stack (its PostgreSQL and internal listener)."""
    from corridor.cli.partners import partners as partners_group

    env = {
        "CORRIDOR_DATABASE_URL": stack.database_url,
        "CORRIDOR_BOOTSTRAP_SERVERS": stack.bootstrap,
        "CORRIDOR_STATE_DIR": str(stack.config.state_dir),
    }
    return CliRunner().invoke(partners_group, list(args), env=env, catch_exceptions=False)


def add_partner(stack: SecureStack, partner_id: str, role: str) -> dict[str, Any]:
    result = partners_cli(stack, "add", partner_id, "--role", role, "--name", f"Test {partner_id}", "--json")
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.stdout)
    assert "password" in (body["kafka"] or {}), body
    return body
