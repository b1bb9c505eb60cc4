"""The fault suite's machinery: an isolated three-broker stack, the services as processes we can kill,
a load generator posting realistic trades through the gateway, the checks, and the table.

Nothing here touches the shared default stack (``.corridor``, ports 9092/55432/8080-8082): the stack
lives in a temporary state dir on a random block of free ports, with its own embedded PostgreSQL; the
gateway, the ledger and (when it exists) the relay run as child processes of the test session.

Bookkeeping is in wall-clock seconds (``time.time()``), so it can be compared with the ledger's
``ingested_at`` and the relay's ``corridor_relayed_ms`` header (same machine, same clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.metadata import MetadataRequest

from corridor.core import partners
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import PartyAdmitted
from corridor.core.kafka import client_security
from corridor.core.routing import TradeRoute, partner_of_topic, route
from corridor.core.settings import PROJECT_ROOT, get_settings
from corridor.core.topics import TRADE_TOPICS
from corridor.demo.story import Story, chromite_story, explosives_story, with_own_numbers
from corridor.stack import StackConfig
from corridor.stack import kafka as stack_kafka
from corridor.stack import services as stack_services
from corridor.stack.config import DEFAULT_LISTENERS, Listener
from corridor.stack.kafka import jars_current
from corridor.stack.postgres import EmbeddedPostgres
from tests.support.kafka_login import share_operator_login

RELAY_MAIN = PROJECT_ROOT / "services" / "relay" / "__main__.py"
try:
    from corridor.relay.relay import RELAYED_MS_HEADER
except ImportError:  # no relay yet
    RELAYED_MS_HEADER = "corridor_relayed_ms"

#: Broker settings of the fault cluster on top of the stack's own: a follower that stops fetching
#: leaves the ISR after 6 s instead of Kafka's 30 s, so the SIGSTOP case fits in the suite's time.
BROKER_OVERRIDES: dict[str, str] = {"replica.lag.time.max.ms": "6000"}

#: An event stored (or relayed) later than this after its ack counts as the ledger (relay) lagging.
LATE_S = 2.0


def now() -> float:
    return time.time()


# -- the isolated stack -------------------------------------------------------------------------------


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclass(frozen=True)
class Ports:
    kafka: int
    postgres: int
    registry: int
    ledger: int
    gateway: int
    relay: int


def fault_stack_config(
    brokers: int = 3, listeners: tuple[Listener, ...] = DEFAULT_LISTENERS
) -> tuple[StackConfig, Ports]:
    """A StackConfig in a fresh temporary state dir on a random free block of ports (below the
    ephemeral range): brokers at +0/+1, +100/+101, +200/+201 (and +2, +102, +202 for a third listener);
    PostgreSQL +50, registry +51, ledger +52, gateway +53, relay +54. The jars of the default state dir
    are hard-linked when current (no Maven)."""
    state_dir = Path(tempfile.mkdtemp(prefix="corridor-faults-"))
    state_dir.chmod(0o755)  # the embedded PostgreSQL runs as an unprivileged user when we are root
    for _ in range(200):
        base = random.randrange(20_000, 32_000, 1_000) + 92
        offsets = [listener.port_offset for listener in listeners]
        wanted = [base + (n - 1) * 100 + k for n in range(1, brokers + 1) for k in offsets]
        wanted += [base + 50 + k for k in range(5)]
        if all(_free(p) for p in wanted):
            ports = Ports(base, base + 50, base + 51, base + 52, base + 53, base + 54)
            config = StackConfig(
                state_dir=state_dir,
                brokers=brokers,
                listeners=listeners,
                kafka_port=ports.kafka,
                postgres_port=ports.postgres,
                registry_port=ports.registry,
                ledger_port=ports.ledger,
                gateway_port=ports.gateway,
                services=("registry",),  # the gateway, ledger and relay are ours to kill
                startup_timeout=180,
            )
            share_operator_login(config.state_dir)
            _seed_jars(config)
            return config, ports
    raise RuntimeError("no free block of ports found")


def _seed_jars(config: StackConfig) -> None:
    default = StackConfig(state_dir=get_settings().state_dir)
    if not jars_current(default):
        return
    try:
        shutil.copytree(default.libs_dir, config.libs_dir, copy_function=os.link)
    except OSError:
        shutil.rmtree(config.libs_dir, ignore_errors=True)


@contextlib.contextmanager
def broker_overrides(extra: Mapping[str, str]) -> Iterator[None]:
    """Render ``extra`` into every server.properties that ``up`` writes meanwhile (the stack has no
    option for broker settings; restarts reuse the rendered file)."""
    original = stack_kafka.server_properties

    def patched(config: StackConfig, node_id: int, brokers: int) -> dict[str, str]:
        return {**original(config, node_id, brokers), **extra}

    stack_kafka.server_properties = patched  # type: ignore[assignment]
    try:
        yield
    finally:
        stack_kafka.server_properties = original  # type: ignore[assignment]


def postgres_of(config: StackConfig) -> EmbeddedPostgres:
    return EmbeddedPostgres(config.postgres_data_dir, config.postgres_port)


def postgres_crash(config: StackConfig) -> None:
    """``pg_ctl stop -m immediate``: the server quits without a checkpoint, like a crash (recovery on
    the next start replays the WAL)."""
    server = postgres_of(config)
    server._pg("pg_ctl", ["-D", str(server.data_dir), "-m", "immediate", "-w", "-t", "30", "stop"])


def postgres_start(config: StackConfig) -> None:
    postgres_of(config).ensure_running(timeout=90)


# -- the cluster as a live broker sees it -------------------------------------------------------------


@dataclass(frozen=True)
class PartitionState:
    topic: str
    partition: int
    leader: int
    replicas: tuple[int, ...]
    isr: tuple[int, ...]


async def partition_states(
    config: StackConfig, ask: int, topics: tuple[str, ...] = TRADE_TOPICS
) -> list[PartitionState]:
    """Leader, replicas and ISR of every partition of ``topics``, as broker ``ask`` reports them (a
    paused broker is never asked: a request to it would hang)."""
    address = f"{config.host}:{config.client_port(ask)}"
    client = AIOKafkaAdminClient(
        bootstrap_servers=address, **client_security(), request_timeout_ms=10_000, client_id="corridor-faults"
    )
    await client.start()
    try:
        response = await client._send_request(MetadataRequest(list(topics)), node_id=ask)
    finally:
        await client.close()
    return [
        PartitionState(t["topic"], p["partition"], p["leader"], tuple(p["replicas"]), tuple(p["isr"]))
        for t in response.to_object()["topics"]
        for p in t["partitions"]
    ]


async def cluster_view(
    config: StackConfig, brokers: list[int], topics: tuple[str, ...] = TRADE_TOPICS, within: float = 60.0
) -> list[PartitionState]:
    """``partition_states`` from the first of ``brokers`` that answers (a loaded machine makes a
    broker miss a request now and then), trying them in turn for up to ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        for broker in brokers:
            try:
                return await partition_states(config, broker, topics)
            except Exception as exc:  # the next broker, or the next round
                last = exc
        if time.monotonic() > deadline:
            raise RuntimeError(f"no broker of {brokers} described the trade topics: {last}")
        await asyncio.sleep(1.0)


# -- the services as processes -------------------------------------------------------------------------


def relay_available() -> bool:
    return RELAY_MAIN.exists()


@dataclass
class ServiceProcess:
    """``python -m corridor.<name>`` as our child: started, killed with SIGKILL, started again.

    ``prefix`` runs it inside a network namespace (``ip netns exec <name>``, which execs: the pid is
    the service's own) and ``host`` is its address there (tests/faults/netns.py)."""

    name: str
    port: int
    env: dict[str, str]
    log: Path
    extra_args: tuple[str, ...] = ()
    ready_path: str = "/readyz"
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    host: str = "127.0.0.1"
    prefix: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            out.write(f"\n=== {time.strftime('%H:%M:%S')} starting {self.name}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [*self.prefix, sys.executable, "-m", f"corridor.{self.name}", "--host", self.host,
                 "--port", str(self.port), *self.extra_args],
                cwd=PROJECT_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, nothing is flushed or committed."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    async def wait_ready(self, within: float = 90.0) -> None:
        deadline = time.monotonic() + within
        last = ""
        async with httpx.AsyncClient(base_url=self.url, timeout=3.0) as http:
            while time.monotonic() < deadline:
                if not self.alive():
                    raise RuntimeError(f"{self.name} exited ({self.tail()})")
                try:
                    response = await http.get(self.ready_path)
                    if response.status_code == 200:
                        return
                    last = response.text[:300]
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {within:.0f}s: {last}\n{self.tail()}")

    async def restart(self) -> None:
        self.restarts += 1
        self.start()
        await self.wait_ready()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the running process used so far; 0 when it is not running."""
        if not self.alive():
            return 0.0
        assert self.process is not None
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def service_env(
    config: StackConfig, service: str, database_url: str, bootstrap: str, registry_url: str
) -> dict[str, str]:
    """What ``service`` runs with in the fault corridor: as on the local stack, its own Kafka principal
    with exactly its ACLs (ADR 0024), its own PostgreSQL role (ADR 0025) and the registry's read login,
    never the operator's (a fault that takes a right away must hit the service as it runs for real)."""
    described = stack_services.by_name(service)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRIDOR_")}
    env.update(stack_services.credential_environment(config, described))
    env.update(
        CORRIDOR_DATABASE_URL=stack_services.database_url(config, described, database_url),
        CORRIDOR_BOOTSTRAP_SERVERS=bootstrap,
        CORRIDOR_SCHEMA_REGISTRY_URL=registry_url,
        CORRIDOR_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


# -- partners ------------------------------------------------------------------------------------------


def story_parties() -> dict[str, str]:
    """party id → role of every party that sends an event in the stories."""
    found: dict[str, str] = {}
    for story in (chromite_story(), explosives_story()):
        for event in story.events:
            for name in type(event).model_fields:
                value = getattr(event, name, None)
                party_id = getattr(value, "party_id", None)
                if party_id is not None:
                    found.setdefault(party_id, str(value.role))
            if isinstance(event, PartyAdmitted):  # parties named only by their admission (the banks)
                found.setdefault(event.party_id, str(event.role))
    return found


async def register_partners(database_url: str) -> dict[str, str]:
    """Every party of the stories as a partner in its role; party id → API key."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    keys: dict[str, str] = {}
    try:
        await partners.ensure_schema(pool)
        for party_id, role in story_parties().items():
            _, keys[party_id] = await partners.add_partner(pool, party_id, role, party_id)
    finally:
        await pool.close()
    return keys


# -- the load generator ------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One offered event: its POST under load (never retried while the load runs), and, for some that
    were not acknowledged, the client's retries with the same id once the load stopped."""

    event: TradeEvent
    position: int  # index of the event in its trade's story
    sent_at: float
    answered_at: float | None = None
    status: int | None = None  # None: no HTTP answer (connection refused, reset, timeout)
    error: str | None = None
    body: bytes = b""
    retries: int = 0  # POSTs after the load stopped (same id, same body)
    retry_status: int | None = None  # the last retry's answer
    retry_answered_at: float | None = None
    replayed: bool = False  # the retry's 201 came from the gateway's idempotency record

    @property
    def event_id(self) -> str:
        return str(self.event.event_id)

    @property
    def trade_id(self) -> str:
        return str(self.event.trade_id)

    @property
    def acked_first(self) -> bool:
        """Acknowledged under load, at the first attempt."""
        return self.status == 201

    @property
    def acknowledged(self) -> bool:
        """Acknowledged at all: under load, or by a retry."""
        return self.status == 201 or self.retry_status == 201

    @property
    def acked_at(self) -> float:
        if self.status == 201:
            return self.answered_at or self.sent_at
        return self.retry_answered_at or self.answered_at or self.sent_at

    @property
    def failed(self) -> bool:
        """Not acknowledged for a reason that is not the client's (5xx, no answer)."""
        return self.status is None or self.status >= 500


@dataclass
class _Trade:
    story: Story
    next: int = 0


def new_story() -> Story:
    """A fresh trade (new trade id and event ids): four chromite trades for one explosives trade."""
    return with_own_numbers(explosives_story) if random.random() < 0.2 else chromite_story()


class LoadGenerator:
    """POSTs trade events to the gateway at a fixed rate, one request per event, each as its sender.

    Many trades progress side by side (``active`` of them at a time): every tick takes a trade that
    is not waiting for an answer and posts its next event, so each trade's events go out in story
    order, each only after the previous one was acknowledged. An event that is not acknowledged ends
    its trade (the rest would break the trade's rules); new trades replace finished ones.
    """

    def __init__(
        self,
        gateway_url: str,
        keys: Mapping[str, str],
        rate: float,
        active: int = 40,
        timeout_s: float = 15.0,
        max_in_flight: int = 250,
    ) -> None:
        self.gateway_url = gateway_url
        self.keys = dict(keys)
        self.rate = rate
        self.active = active
        self.timeout_s = timeout_s
        self.max_in_flight = max_in_flight
        #: ticks skipped because ``max_in_flight`` requests were waiting for their answer
        self.held_back = 0
        #: (when, seconds) of every tick that came more than a second late: the test process starved
        self.stalls: list[tuple[float, float]] = []
        self.attempts: list[Attempt] = []
        self._idle: deque[_Trade] = deque()
        self._busy = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        self._client: httpx.AsyncClient | None = None
        self.started_at = 0.0
        self.stopped_at = 0.0

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            base_url=self.gateway_url,
            timeout=self.timeout_s,
            limits=httpx.Limits(max_connections=self.max_in_flight, max_keepalive_connections=100),
        )
        self.started_at = now()
        self._runner = asyncio.create_task(self._run())

    async def stop(self, drain_s: float = 25.0) -> None:
        """Stop offering; wait for the answers still due (each bounded by the client timeout)."""
        self._stopping = True
        if self._runner is not None:
            await self._runner
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=drain_s)
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()
        self.stopped_at = now()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.rate
        next_at = loop.time()
        while not self._stopping:
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:
                self.stalls.append((now(), -delay))
                next_at = loop.time()  # fell behind by more than a second: do not burst
            next_at += interval
            if self._busy >= self.max_in_flight:
                self.held_back += 1
                continue
            trade = self._pick()
            self._busy += 1
            task = asyncio.create_task(self._post(trade))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _pick(self) -> _Trade:
        if self._idle and (len(self._idle) + self._busy >= self.active or random.random() < 0.9):
            # a random waiting trade, so trades interleave
            index = random.randrange(len(self._idle))
            self._idle.rotate(-index)
            return self._idle.popleft()
        return _Trade(new_story())

    async def _post(self, trade: _Trade) -> None:
        assert self._client is not None
        event = trade.story.events[trade.next]
        document = {
            "specversion": "1.0",
            "id": str(event.event_id),
            "source": f"/faults/{event.sender}",
            "type": event.avro_name,
            "datacontenttype": "application/json",
            "data": event.model_dump(mode="json"),
        }
        attempt = Attempt(event, trade.next, now(), body=json.dumps(document, ensure_ascii=False).encode())
        self.attempts.append(attempt)
        try:
            response = await self._client.post(
                "/v1/events", content=attempt.body, headers=self._headers(event)
            )
            attempt.status = response.status_code
            if response.status_code != 201:
                attempt.error = response.text[:200]
        except (httpx.HTTPError, OSError) as exc:
            attempt.error = f"{type(exc).__name__}: {exc}"
        finally:
            attempt.answered_at = now()
            self._busy -= 1
        if attempt.acked_first:
            trade.next += 1
            if trade.next < len(trade.story.events) and not self._stopping:
                self._idle.append(trade)

    def _headers(self, event: TradeEvent) -> dict[str, str]:
        return {
            "Content-Type": "application/cloudevents+json",
            "Authorization": f"Bearer {self.keys[event.sender]}",
        }

    async def retry(self, attempts: list[Attempt], within_s: float, concurrency: int = 40) -> None:
        """Retry each attempt as a client should after a 5xx or no answer: the same id and body, again
        after the ``Retry-After`` it was given (409 while another request still holds the id, 503), until
        a 201 or ``within_s`` seconds. Each attempt's trade ended with it, so order is not at stake."""
        deadline = time.monotonic() + within_s
        gate = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(base_url=self.gateway_url, timeout=self.timeout_s) as client:

            async def one(attempt: Attempt) -> None:
                while time.monotonic() < deadline:
                    wait = 1.0
                    async with gate:
                        attempt.retries += 1
                        try:
                            response = await client.post(
                                "/v1/events", content=attempt.body, headers=self._headers(attempt.event)
                            )
                            attempt.retry_status = response.status_code
                            attempt.replayed = response.headers.get("Idempotent-Replayed") == "true"
                            wait = min(float(response.headers.get("Retry-After") or 1), 5.0)
                        except (httpx.HTTPError, OSError) as exc:
                            attempt.retry_status = None
                            attempt.error = f"retry: {type(exc).__name__}: {exc}"
                        attempt.retry_answered_at = now()
                    if attempt.retry_status == 201 or (
                        attempt.retry_status is not None
                        and 400 <= attempt.retry_status < 500
                        and attempt.retry_status not in (409, 429)
                    ):
                        return
                    await asyncio.sleep(wait)

            await asyncio.gather(*(one(a) for a in attempts))

    # -- what happened ------------------------------------------------------------------------------

    @property
    def acknowledged(self) -> list[Attempt]:
        return [a for a in self.attempts if a.acknowledged]

    def by_trade(self) -> dict[str, list[Attempt]]:
        """Each trade's attempts in story order."""
        trades: dict[str, list[Attempt]] = defaultdict(list)
        for attempt in self.attempts:
            trades[attempt.trade_id].append(attempt)
        for attempts in trades.values():
            attempts.sort(key=lambda a: a.position)
        return trades


# -- reading the partner topics --------------------------------------------------------------------------


@dataclass
class Copy:
    """One record of a partner topic that carries a trade event."""

    partner: str
    event_id: str
    trade_id: str
    partition: int
    offset: int
    relayed_at: float  # the relay's own stamp (corridor_relayed_ms), else when we read it
    ledger_seq: int | None = None  # the ledger's position (corridor_ledger_seq, ADR 27)


class PartnerTopicsReader:
    """Reads every ``partner.<id>.v1`` topic from the beginning with ``read_committed`` (only what the
    relay's committed transactions wrote), keeping every copy of every event, as a background task
    that picks up partner topics as the relay creates them."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.copies: dict[str, list[Copy]] = defaultdict(list)  # event id → its copies
        self._positions: set[tuple[str, int, int]] = set()  # records already taken (re-reads skipped)
        self.records = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._assigned: set[TopicPartition] = set()
        self.error: BaseException | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap_servers,
            **client_security(),
            group_id=None,
            enable_auto_commit=False,
            isolation_level="read_committed",
            auto_offset_reset="earliest",
            metadata_max_age_ms=2000,
            request_timeout_ms=15000,
            client_id="corridor-faults-reader",
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _refresh_assignment(self) -> None:
        assert self._consumer is not None
        # All topics, asked now: the consumer's own metadata covers only what it already reads, so a
        # partner topic the relay creates later would never show up there.
        cluster = await self._consumer._client.fetch_all_metadata()
        wanted = set(self._assigned)
        for topic in cluster.topics():
            if partner_of_topic(topic) is not None:
                for partition in cluster.partitions_for_topic(topic) or ():
                    wanted.add(TopicPartition(topic, partition))
        new = wanted - self._assigned
        if new:
            self._consumer.assign(sorted(wanted))
            await self._consumer.seek_to_beginning(*new)
            self._assigned = wanted

    async def _run(self) -> None:
        assert self._consumer is not None
        refreshed = 0.0
        while True:
            try:
                if time.monotonic() - refreshed > 1.0:
                    await self._refresh_assignment()
                    refreshed = time.monotonic()
                if not self._assigned:
                    await asyncio.sleep(0.5)
                    continue
                batches = await self._consumer.getmany(timeout_ms=500, max_records=5000)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a broker down meanwhile: keep reading
                self.error = exc
                await asyncio.sleep(0.5)
                continue
            seen_at = now()
            for tp, records in batches.items():
                partner = partner_of_topic(tp.topic) or tp.topic
                for record in records:
                    position = (tp.topic, tp.partition, record.offset)
                    if position in self._positions:
                        continue
                    self._positions.add(position)
                    headers = dict(record.headers or ())
                    event_id = headers.get("ce_id", b"").decode()
                    relayed = headers.get(RELAYED_MS_HEADER)
                    seq = headers.get("corridor_ledger_seq")
                    self.records += 1
                    self.copies[event_id].append(
                        Copy(
                            partner,
                            event_id,
                            (record.key or b"").decode(),
                            tp.partition,
                            record.offset,
                            int(relayed) / 1000 if relayed else seen_at,
                            int(seq) if seq else None,
                        )
                    )


# -- checks ------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one fault case measured; one row of the table."""

    fault: str
    offered: int = 0
    acknowledged: int = 0
    refused: int = 0  # 4xx: the client's fault (should be none)
    failed: int = 0  # 5xx or no answer: may or may not be stored
    stored: int = 0  # acknowledged events in ledger.events
    failed_stored: int = 0  # not acknowledged under load, stored anyway (allowed, once)
    retried: int = 0  # of those not acknowledged, retried by the client after the load
    acked_on_retry: int = 0
    replayed: int = 0  # … answered from the gateway's idempotency record (no second produce)
    duplicates: int = 0  # extra copies in the ledger and the partner topics
    lost: int = 0  # acknowledged, missing from the ledger or an entitled partner topic
    relayed: int | None = None  # acknowledged events in every entitled partner topic (None: no relay)
    out_of_order: int = 0  # trades whose partner copies break the ledger's order or differ among parties
    inversions: int = 0  # (partner, trade) pairs ordered across topics otherwise than sent (allowed)
    misrouted: int = 0  # copies in the topic of a partner not party to the trade
    acks_back_s: float = 0.0
    ledger_caught_up_s: float = 0.0
    relay_caught_up_s: float | None = None
    duration_s: float = 0.0
    note: str = ""
    problems: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)  # printed with the case, not in the table
    held_back: int = 0  # generator ticks skipped at max_in_flight requests waiting
    load_s: float = 0.0  # how long the generator offered events
    max_in_flight: int = 0


async def ledger_rows(pool: asyncpg.Pool, event_ids: list[str]) -> dict[str, list[float]]:
    """event id → the ``ingested_at`` of each of its rows in ``ledger.events``."""
    rows = await pool.fetch(
        "SELECT event_id::text AS id, extract(epoch FROM ingested_at)::float8 AS at "
        "FROM ledger.events WHERE event_id = ANY($1::uuid[])",
        event_ids,
    )
    found: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        found[row["id"]].append(row["at"])
    return found


async def trade_versions(pool: asyncpg.Pool, trade_ids: list[str]) -> dict[str, tuple[int, int]]:
    """trade id → (version, events stored): a version above the events stored means an event was
    applied twice."""
    rows = await pool.fetch(
        """SELECT t.trade_id::text AS id, t.version,
                  (SELECT count(*) FROM ledger.events e WHERE e.trade_id = t.trade_id) AS stored
           FROM ledger.trades t WHERE t.trade_id = ANY($1::uuid[])""",
        trade_ids,
    )
    return {row["id"]: (int(row["version"]), int(row["stored"])) for row in rows}


async def stored_ids(pool: asyncpg.Pool, event_ids: list[str]) -> set[str]:
    return set(await ledger_rows(pool, event_ids))


async def eventually(check: Callable[[], Awaitable[bool]], within: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + within
    while True:
        try:
            if await check():
                return True
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            pass
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(interval)


def entitled_partners(attempts: list[Attempt], stored: Mapping[str, Any]) -> dict[str, set[str]]:
    """Per event of a trade that reached Kafka (acknowledged, or not acknowledged but stored by the
    ledger all the same): the partners the relay owes a copy — its admitted parties whose role receives
    it (ADR 16), back-fills included — routed over those events in story order."""
    trade_route: TradeRoute[str] | None = None
    out: dict[str, set[str]] = {}
    for attempt in attempts:
        if not (attempt.acknowledged or attempt.event_id in stored) or attempt.event_id in out:
            continue
        out[attempt.event_id] = set()
        trade_route, deliveries, _ = route(trade_route, attempt.event_id, attempt.event)
        for delivery in deliveries:
            out.setdefault(delivery.ref, set()).add(delivery.partner_id)
    return out


def acks_back_after(generator: LoadGenerator, fault_at: float, silence_s: float = 1.0) -> float:
    """Seconds from the fault until acknowledgements flow again: the first 201 after both the last
    failed answer (to a request sent from a second before the fault on) and the last stretch of
    ``silence_s`` or more without any 201. 0 when acks never paused and nothing failed."""
    acks = sorted(
        a.answered_at
        for a in generator.attempts
        if a.acknowledged and a.answered_at and a.answered_at >= fault_at
    )
    failures = [
        a.answered_at
        for a in generator.attempts
        if not a.acked_first and a.answered_at is not None and a.sent_at >= fault_at - 1.0
    ]
    back = fault_at
    previous = fault_at
    for at in acks:
        if at - previous >= silence_s:
            back = at
        previous = at
    if failures:
        last_failure = max(failures)
        back = max(back, next((at for at in acks if at > last_failure), last_failure))
    return back - fault_at


def caught_up_after(pairs: list[tuple[float, float]], fault_at: float) -> float:
    """Seconds from the fault until the consumer was on time again: (acked at, stored at) pairs; the
    storing time of the last event stored more than LATE_S after its ack."""
    late = [stored for acked, stored in pairs if stored - acked > LATE_S and stored >= fault_at]
    return max(max(late) - fault_at, 0.0) if late else 0.0


def sequence(copies: list[Copy]) -> list[str]:
    """Event ids of one trade's copies in one partner topic, in log order (one partition per trade)."""
    return [c.event_id for c in sorted(copies, key=lambda c: (c.partition, c.offset))]


def order_problems(attempts: list[Attempt], by_partner: Mapping[str, list[Copy]]) -> tuple[list[str], int]:
    """What ADR 27 (and ADR 11) promise about one trade's order in the partner topics, broken, and how
    many partner topics hold its acknowledged events in an order other than the one they were sent in.

    Promised: every party of the trade sees its events in one and the same order, and that order is the
    ledger's: the copies' ``corridor_ledger_seq`` increase along each partner topic. Not promised: that
    the ledger's order equals the order of acknowledgement: an event the ledger held for a prerequisite
    (a retried order that came after its shipment's event) follows what it applied meanwhile, and Kafka
    has no order across the three trade topics. Those differences are counted as inversions."""
    acked = [a.event_id for a in attempts if a.acknowledged]
    broken: list[str] = []
    inversions = 0
    sequences = {partner: sequence(copies) for partner, copies in by_partner.items()}
    acked_set = set(acked)
    for partner, copies in by_partner.items():
        positions = [c.ledger_seq for c in sorted(copies, key=lambda c: (c.partition, c.offset))]
        if None in positions:
            broken.append(f"partner.{partner}.v1 holds a copy without the ledger's position")
        elif positions != sorted(positions) or len(set(positions)) != len(positions):
            broken.append(f"the ledger's order broken in partner.{partner}.v1")
    for seen in sequences.values():
        got = [e for e in seen if e in acked_set]
        delivered = set(got)
        want = [e for e in acked if e in delivered]
        inversions += got != want
    common = set.intersection(*(set(seen) for seen in sequences.values())) if sequences else set()
    shared = {tuple(e for e in seen if e in common) for seen in sequences.values()}
    if len(shared) > 1:
        broken.append(f"the parties see different orders ({len(shared)} orders over {len(sequences)} topics)")
    return broken, inversions


async def check(
    outcome: Outcome,
    generator: LoadGenerator,
    pool: asyncpg.Pool,
    reader: PartnerTopicsReader | None,
    fault_at: float,
    within: float = 150.0,
) -> Outcome:
    """Wait until the ledger (and the relay) have every acknowledged event, or ``within`` seconds
    pass; then count, per the table's columns."""
    attempts = generator.attempts
    acked = [a for a in attempts if a.acknowledged]
    acked_ids = [a.event_id for a in acked]
    all_ids = [a.event_id for a in attempts]
    outcome.offered = len(attempts)
    outcome.acknowledged = sum(1 for a in attempts if a.acked_first)
    outcome.refused = sum(1 for a in attempts if a.status is not None and 400 <= a.status < 500)
    outcome.failed = sum(1 for a in attempts if a.failed)
    retried = [a for a in attempts if a.retries]
    outcome.retried = len(retried)
    outcome.acked_on_retry = sum(1 for a in retried if a.retry_status == 201)
    outcome.replayed = sum(1 for a in retried if a.retry_status == 201 and a.replayed)
    refused_retries = [a for a in retried if a.retry_status is not None and 400 <= a.retry_status < 500]
    refused_retries = [a for a in refused_retries if a.retry_status not in (409, 429)]
    outcome.refused += len(refused_retries)
    if outcome.refused:
        examples = Counter(
            f"{a.retry_status or a.status} {(a.error or '')[:120]}"
            for a in attempts
            if (a.status and a.status < 500) or a in refused_retries
        )
        outcome.problems.append(f"refused by the gateway: {examples.most_common(3)}")

    async def ledger_has_all() -> bool:
        found = await ledger_rows(pool, acked_ids)
        return all(i in found for i in acked_ids)

    await eventually(ledger_has_all, within)
    stored = await ledger_rows(pool, all_ids)
    outcome.stored = sum(1 for i in acked_ids if i in stored)
    lost_ledger = [i for i in acked_ids if i not in stored]
    if not retried:  # else run_case counted them before the retries
        outcome.failed_stored = sum(1 for a in attempts if not a.acknowledged and a.event_id in stored)
    dup_ledger = sum(len(rows) - 1 for rows in stored.values() if len(rows) > 1)

    trades = generator.by_trade()
    versions = await trade_versions(pool, list(trades))
    applied_twice = sum(max(version - count, 0) for version, count in versions.values())
    if applied_twice:
        outcome.problems.append(f"ledger.trades versions exceed stored events by {applied_twice}")
    if lost_ledger:
        outcome.problems.append(f"{len(lost_ledger)} acknowledged events missing from ledger.events, "
                                f"e.g. {lost_ledger[:3]}")  # fmt: skip
    pairs = [(a.acked_at, min(stored[a.event_id])) for a in acked if a.acked_first and a.event_id in stored]
    outcome.ledger_caught_up_s = caught_up_after(pairs, fault_at)

    lost_relay: list[tuple[str, str]] = []
    dup_relay = 0
    if reader is not None:
        expected: dict[str, set[str]] = {}
        for attempts_of_trade in trades.values():
            owed = entitled_partners(attempts_of_trade, stored)
            for a in attempts_of_trade:
                if a.acknowledged:
                    expected[a.event_id] = owed.get(a.event_id, set())

        def missing() -> list[tuple[str, str]]:
            return [
                (event_id, partner)
                for event_id, partners_of_event in expected.items()
                for partner in partners_of_event - {c.partner for c in reader.copies.get(event_id, ())}
            ]

        async def relay_has_all() -> bool:
            return not missing()

        await eventually(relay_has_all, within)
        await asyncio.sleep(2.0)  # a late duplicate would show up now
        lost_relay = missing()
        if lost_relay:
            outcome.details.append(explain_missing(generator, stored, reader, lost_relay))
        outcome.relayed = sum(
            1
            for event_id, ps in expected.items()
            if ps <= {c.partner for c in reader.copies.get(event_id, ())}
        )
        relayed_pairs: list[tuple[float, float]] = []
        for a in attempts:
            copies = reader.copies.get(a.event_id, [])
            per_partner = Counter(c.partner for c in copies)
            dup_relay += sum(n - 1 for n in per_partner.values() if n > 1)
            if a.acknowledged:
                outcome.misrouted += sum(1 for p in per_partner if p not in expected[a.event_id])
            if a.acked_first:
                relayed_pairs += [(a.acked_at, c.relayed_at) for c in copies]
        outcome.relay_caught_up_s = caught_up_after(relayed_pairs, fault_at)
        for trade_id, attempts_of_trade in trades.items():
            by_partner: dict[str, list[Copy]] = defaultdict(list)
            for a in attempts_of_trade:
                for c in reader.copies.get(a.event_id, ()):
                    by_partner[c.partner].append(c)
            broken, inversions = order_problems(attempts_of_trade, by_partner)
            outcome.inversions += inversions
            if inversions and outcome.inversions == inversions:
                partner = next(iter(by_partner))
                outcome.details.append(
                    explain_order(attempts_of_trade, by_partner[partner], partner, fault_at)
                )
            if broken:
                outcome.out_of_order += 1
                if outcome.out_of_order <= 3:
                    outcome.problems.append(f"trade {trade_id}: {'; '.join(broken)}")
        if lost_relay:
            outcome.problems.append(
                f"{len(lost_relay)} (event, partner) copies missing from partner topics, "
                f"e.g. {lost_relay[:3]}"
            )
        if dup_relay:
            outcome.problems.append(f"{dup_relay} duplicate copies in partner topics")
        if outcome.misrouted:
            outcome.problems.append(
                f"{outcome.misrouted} copies in topics of partners not party to the trade"
            )
    outcome.duplicates = dup_ledger + applied_twice + dup_relay
    outcome.lost = len(lost_ledger) + len(lost_relay)
    outcome.acks_back_s = acks_back_after(generator, fault_at)
    outcome.held_back, outcome.max_in_flight = generator.held_back, generator.max_in_flight
    stalls = ", ".join(f"{at - fault_at:+.0f}s: {lag:.1f}s" for at, lag in generator.stalls[:10])
    outcome.details.append(
        f"generator: {generator.held_back} ticks held back at {generator.max_in_flight} requests in flight;"
        f" stalls of the test process: {stalls or 'none'}"
    )
    outcome.details.append(
        "timeline (seconds from the fault, by sending time):\n" + timeline(generator, fault_at)
    )
    return outcome


# -- diagnostics ------------------------------------------------------------------------------------


def timeline(generator: LoadGenerator, fault_at: float, bucket_s: float = 2.0) -> str:
    """Per ``bucket_s`` seconds from the fault (by sending time): requests sent, acknowledged, failed
    (status or error kind), and the slowest answer: where an outage starts and ends."""
    rows: dict[int, list[Attempt]] = defaultdict(list)
    for attempt in generator.attempts:
        rows[int((attempt.sent_at - fault_at) // bucket_s)].append(attempt)
    lines = []
    for key in sorted(rows):
        attempts = rows[key]
        kinds = Counter(
            str(a.status) if a.status is not None else (a.error or "?").split(":")[0]
            for a in attempts
            if not a.acked_first
        )
        slowest = max((a.answered_at or a.sent_at) - a.sent_at for a in attempts)
        acked = sum(a.acked_first for a in attempts)
        lines.append(
            f"  {key * bucket_s:+6.0f}s sent {len(attempts):4d} acked {acked:4d}"
            f" slowest {slowest:5.1f}s {dict(kinds) if kinds else ''}"
        )
    return "\n".join(lines)


def explain_missing(
    generator: LoadGenerator,
    stored: Mapping[str, Any],
    reader: PartnerTopicsReader,
    missing: list[tuple[str, str]],
) -> str:
    """The trades of some missing partner copies: each event, its answer, whether the ledger has it,
    and which partners got a copy."""
    trades = generator.by_trade()
    by_event = {a.event_id: a for a in generator.attempts}
    out = []
    for trade_id in list(dict.fromkeys(by_event[e].trade_id for e, _ in missing))[:3]:
        out.append(f"  trade {trade_id}:")
        for a in trades[trade_id]:
            copies = Counter(c.partner for c in reader.copies.get(a.event_id, ()))
            out.append(
                f"    {a.position:2d} {type(a.event).__name__:<24} {a.event.sender:<28} {a.status} "
                f"stored={a.event_id in stored} copies={dict(copies)}"
            )
    return "\n".join(out)


def explain_order(attempts: list[Attempt], copies: list[Copy], partner: str, fault_at: float) -> str:
    by_event = {a.event_id: a for a in attempts}
    out = [f"  order of trade {attempts[0].trade_id}: sent (position, type, topic, acked at) …"]
    for a in attempts:
        at = f"{(a.answered_at or 0) - fault_at:+.2f}s" if a.answered_at else "-"
        out.append(f"    {a.position:2d} {type(a.event).__name__:<24} {a.event.topic:<22} {a.status} {at}")
    out.append(f"  … and as partner.{partner}.v1 holds it (offset, position, type, relayed at):")
    for c in sorted(copies, key=lambda c: (c.partition, c.offset)):
        a = by_event[c.event_id]
        out.append(
            f"    {c.offset:6d} {a.position:2d} {type(a.event).__name__:<24} {c.relayed_at - fault_at:+.2f}s"
        )
    return "\n".join(out)


# -- the table ----------------------------------------------------------------------------------------

COLUMNS = (
    "fault",
    "offered",
    "acknowledged",
    "not acked (5xx/none)",
    "retried → acked (replayed)",
    "stored (acked)",
    "relayed (acked)",
    "duplicates",
    "lost",
    "reordered across topics",
    "acks back after",
    "ledger caught up after",
    "relay caught up after",
)


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def table(outcomes: list[Outcome]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for o in outcomes:
        failed = f"{o.failed:,}" + (f" ({o.failed_stored:,} stored)" if o.failed else "")
        cells = [
            o.fault,
            f"{o.offered:,}",
            f"{o.acknowledged:,}",
            failed,
            f"{o.retried:,} → {o.acked_on_retry:,} ({o.replayed:,})",
            f"{o.stored:,}",
            "—" if o.relayed is None else f"{o.relayed:,}",
            str(o.duplicates),
            str(o.lost),
            "—" if o.relayed is None else str(o.inversions),
            _seconds(o.acks_back_s),
            _seconds(o.ledger_caught_up_s),
            _seconds(o.relay_caught_up_s),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _load_note(outcome: Outcome) -> str:
    if not outcome.load_s:
        return ""
    note = f"; {outcome.offered / outcome.load_s:.0f} events/s offered over {outcome.load_s:.0f} s"
    if outcome.held_back:
        note += f" ({outcome.held_back} ticks skipped while {outcome.max_in_flight} requests were waiting)"
    return note


def report(outcomes: list[Outcome], meta: Mapping[str, Any]) -> str:
    notes = [f"- **{o.fault}**: {o.note}{_load_note(o)}" for o in outcomes]
    problems = [f"- **{o.fault}**: {p}" for o in outcomes for p in o.problems]
    parts = [
        "# Fault suite — last run",
        "",
        f"{meta.get('when', '')} · commit `{meta.get('commit', '?')}` · {meta.get('duration', '?')} · "
        f"load {meta.get('rate', '?')} events/s through the gateway · "
        f"relay: {'yes' if meta.get('relay') else 'not present'} · load average before / after: "
        f"{meta.get('loadavg', '?')} on {os.cpu_count()} cores · `./corridor test tests/faults`",
        "",
        table(outcomes),
        "",
        "Offered: events POSTed under load (one attempt each); acknowledged: answered 201 (after "
        "acks=all); not acked: answered 5xx or not answered, of which some were stored all the same; "
        "retried: those stored plus a sample of the others, POSTed again with the same id after the load "
        "(up to 90 s: a claim left by a killed gateway is taken over after 60 s), acknowledged then, and "
        "how many of those 201s were replays of the stored result; stored / relayed: events acknowledged "
        "(under load or on retry) found in `ledger.events` / in every entitled partner topic; "
        "duplicates and lost count ledger rows and partner-topic copies; reordered across topics: "
        "(partner, trade) pairs whose copies interleave the three trade topics otherwise than the events "
        "were sent (each topic's own order and one order for all parties are checked and held; the order "
        "across topics is the relay's merge of a poll, ADR 11); acks back: from the fault to the first 201 "
        "after the last failed answer and the last second without any 201; ledger (relay) caught up: from "
        "the fault to the last event stored (relayed) more than 2 s after its ack.",
    ]
    if notes:
        parts += ["", *notes]
    if problems:
        parts += ["", "Problems:", *problems]
    return "\n".join(parts) + "\n"


def git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True
        )
        return done.stdout.strip() or "?"
    except OSError:
        return "?"
