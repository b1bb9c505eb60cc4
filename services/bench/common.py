"""What every stage shares: the run context (stack, run id, scale), bench topics and schemas, statistics.

Every stage works on topics of its own, ``bench.<stage>.<run id>[.<area>]`` with 6 partitions and
replication factor 1 unless the stage varies them, created through :meth:`BenchContext.topics` and
deleted when the run ends; PostgreSQL schemas (``bench_<stage>_<run id>``) and consumer groups are
cleaned up the same way. Nothing of the shared stack (trade topics, ``ledger``/``gateway`` schemas) is
written to.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import math
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from corridor.core.codec import Codec
from corridor.core.kafka import client_security
from corridor.core.registry_client import RegistryClient
from corridor.core.topics import CERTIFICATES, ORDERS, SHIPMENTS
from corridor.stack.admin import wait_for_leaders

#: The stages in run order, with their result keys.
STAGES: tuple[str, ...] = (
    "kafka_tools",
    "raw_kafka",
    "produce",
    "codec",
    "ledger",
    "gateway",
    "e2e",
    "scaling",
    "processes",
)

#: Stages run only when asked for (``--stage``): they need more than a bare stack.
OPTIONAL_STAGES: tuple[str, ...] = ("partner_feed",)  # the stack's gateway, ledger and relay running

AREAS: dict[str, str] = {ORDERS: "orders", SHIPMENTS: "shipments", CERTIFICATES: "certificates"}
_TOPIC_ALREADY_EXISTS = 36
#: Seconds a bench topic just created may take until every partition has a leader on every broker.
LEADERS_WAIT_S = 30.0


@dataclass(frozen=True)
class Scale:
    """How much work each stage does; ``--quick`` is a smoke run of the same code paths."""

    reps: int
    pp_records: int  # ProducerPerformance / ConsumerPerformance
    raw_records: int  # raw aiokafka produce and consume
    produce_events: int  # Corridor produce path
    codec_records: int
    codec_reps: int
    ledger_events: int
    gateway_single: int  # single-event requests per repetition
    gateway_batch_events: int  # events per repetition for each batch size
    #: (offered events/s, "single" or "batch", seconds offered); loads far beyond what the gateway can
    #: take are offered briefly: they only show saturation, and their backlog must clear before the next.
    e2e_loads: tuple[tuple[int, str, float], ...]
    scaling_events: int

    @classmethod
    def full(cls) -> Scale:
        return cls(
            reps=3,
            pp_records=1_000_000,
            raw_records=100_000,
            produce_events=40_000,
            codec_records=20_000,
            codec_reps=5,
            ledger_events=30_000,
            gateway_single=3_000,
            gateway_batch_events=20_000,
            e2e_loads=(
                (100, "single", 20.0),
                (1_000, "single", 8.0),
                (1_000, "batch", 10.0),
                (5_000, "single", 3.0),
                (5_000, "batch", 6.0),
            ),
            scaling_events=8_000,
        )

    @classmethod
    def quick(cls) -> Scale:
        return cls(
            reps=1,
            pp_records=50_000,
            raw_records=5_000,
            produce_events=2_000,
            codec_records=2_000,
            codec_reps=2,
            ledger_events=1_000,
            gateway_single=200,
            gateway_batch_events=1_000,
            e2e_loads=((100, "single", 4.0),),
            scaling_events=1_000,
        )


class Progress:
    """Progress lines on stderr, with the seconds since the bench started."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        print(f"[{time.monotonic() - self.start:7.1f}s] {message}", file=sys.stderr, flush=True)


@dataclass
class BenchContext:
    """One run of ``corridor bench``: where the stack is, the run id and what to clean up at the end."""

    bootstrap_servers: str
    registry_url: str
    database_url: str
    libs_dir: Path
    java: str
    kafka_version: str | None
    out: Path
    quick: bool
    scale: Scale
    run_id: str = field(default_factory=lambda: time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(2))
    progress: Progress = field(default_factory=Progress)
    profile: set[str] = field(default_factory=set)
    _topics: list[str] = field(default_factory=list)
    _schemas: list[str] = field(default_factory=list)
    _groups: list[str] = field(default_factory=list)
    _registry: RegistryClient | None = None
    _codec: Codec | None = None

    # -- names ---------------------------------------------------------------------------------------

    def topic(self, stage: str, suffix: str = "") -> str:
        return f"bench.{stage}.{self.run_id}" + (f".{suffix}" if suffix else "")

    def area_topics(self, stage: str) -> dict[str, str]:
        """Trade topic → bench topic of the same area (``bench.<stage>.<run id>.orders`` …)."""
        return {trade: self.topic(stage, area) for trade, area in AREAS.items()}

    def group(self, stage: str, suffix: str = "") -> str:
        name = f"bench.{stage}.{self.run_id}" + (f".{suffix}" if suffix else "")
        self._groups.append(name)
        return name

    def db_schema(self, stage: str, suffix: str = "") -> str:
        name = f"bench_{stage}_{self.run_id}" + (f"_{suffix}" if suffix else "")
        self._schemas.append(name)
        return name

    # -- shared clients ------------------------------------------------------------------------------

    async def codec(self) -> Codec:
        """A codec with every event schema resolved (under the trade subjects, as in production)."""
        if self._codec is None:
            self._registry = RegistryClient(self.registry_url)
            self._codec = Codec(self._registry)
            await self._codec.prepare()
        return self._codec

    # -- topics --------------------------------------------------------------------------------------

    async def create_topics(self, names: Iterable[str], partitions: int = 6) -> list[str]:
        names = list(names)
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers, **client_security(), client_id="corridor-bench"
        )
        await admin.start()
        try:
            response = await admin.create_topics(
                [
                    NewTopic(
                        name=n,
                        num_partitions=partitions,
                        replication_factor=1,
                        topic_configs={"min.insync.replicas": "1", "retention.ms": "3600000"},
                    )
                    for n in names
                ],
                timeout_ms=30_000,
            )
            for name, code, message in response.topic_errors:
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise RuntimeError(f"cannot create bench topic {name}: error {code} {message or ''}")
            self._topics.extend(n for n in names if n not in self._topics)
        finally:
            await admin.close()
        await wait_for_leaders(self.bootstrap_servers, names, LEADERS_WAIT_S)
        return names

    async def delete_topics(self, names: Sequence[str]) -> None:
        names = [n for n in names if n.startswith("bench.")]  # never anything but our own
        if not names:
            return
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers, **client_security(), client_id="corridor-bench"
        )
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            doomed = [n for n in names if n in existing]
            if doomed:
                await admin.delete_topics(doomed, timeout_ms=30_000)
        finally:
            await admin.close()
        self._topics = [t for t in self._topics if t not in names]

    # -- cleanup -------------------------------------------------------------------------------------

    async def cleanup(self) -> None:
        """Delete every topic, PostgreSQL schema and consumer group this run created (best effort)."""
        try:
            await self.delete_topics(list(self._topics))
        except Exception as exc:
            self.progress(f"warning: could not delete bench topics {self._topics}: {exc}")
        if self._schemas:
            try:
                conn = await asyncpg.connect(self.database_url)
                try:
                    for schema in self._schemas:
                        if schema.startswith("bench_"):
                            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
                finally:
                    await conn.close()
                self._schemas.clear()
            except Exception as exc:
                self.progress(f"warning: could not drop bench schemas: {exc}")
        if self._groups:
            await asyncio.to_thread(self._delete_groups, sorted(set(self._groups)))
            self._groups.clear()
        if self._registry is not None:
            await self._registry.close()

    def _delete_groups(self, groups: list[str]) -> None:
        """Consumer groups through Kafka's own tool (aiokafka's admin client cannot delete groups)."""
        with java_login_file() as login:
            argv = [
                self.java, "-Xmx256m", "-cp", f"{self.libs_dir}/*",
                "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
                "--bootstrap-server", self.bootstrap_servers, "--command-config", login, "--delete",
            ]  # fmt: skip
            for group in groups:
                argv += ["--group", group]
            try:
                subprocess.run(argv, capture_output=True, timeout=60, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                self.progress(f"warning: could not delete bench consumer groups: {exc}")


def login_props(security: dict[str, Any] | None = None) -> list[str]:
    """The aiokafka login of ``client_security()`` (the operator's on the local stack, ADR 24) in Java
    client property names: Kafka's tools log in the same way as everything else of the bench."""
    security = client_security() if security is None else security
    if not security:
        return []
    props = [f"security.protocol={security['security_protocol']}"]
    if "sasl_mechanism" in security:
        mechanism = security["sasl_mechanism"]
        module = (
            "org.apache.kafka.common.security.plain.PlainLoginModule"
            if mechanism == "PLAIN"
            else "org.apache.kafka.common.security.scram.ScramLoginModule"
        )
        username = security["sasl_plain_username"].replace('"', '\\"')
        password = security["sasl_plain_password"].replace('"', '\\"')
        props += [
            f"sasl.mechanism={mechanism}",
            f'sasl.jaas.config={module} required username="{username}" password="{password}";',
        ]
    return props


@contextlib.contextmanager
def java_login_file() -> Iterator[str]:
    """A properties file with :func:`login_props` for Kafka's tools that take one (``--consumer.config``,
    ``--command-config``): it holds a password, so 0600 from the start (mkstemp) and deleted afterwards."""
    fd, name = tempfile.mkstemp(prefix="corridor-bench-", suffix=".properties")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write("".join(f"{prop}\n" for prop in login_props()))
        yield name
    finally:
        os.unlink(name)


# -- statistics ----------------------------------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0–100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(latencies_ms: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(latencies_ms),
        "p50_ms": round(percentile(latencies_ms, 50), 3),
        "p99_ms": round(percentile(latencies_ms, 99), 3),
        "p99_9_ms": round(percentile(latencies_ms, 99.9), 3),
        "max_ms": round(max(latencies_ms), 3) if latencies_ms else math.nan,
    }


def rate_summary(rates: Sequence[float], unit: str = "events_per_s") -> dict[str, Any]:
    """Median of the repetitions (what the report shows) and each repetition."""
    return {
        unit: round(statistics.median(rates), 1),
        "reps": [round(r, 1) for r in rates],
    }


async def repeat(
    reps: int, run: Callable[[int], Awaitable[float]], progress: Progress, label: str
) -> list[float]:
    """Run ``run(rep)`` ``reps`` times; each returns a rate. Prints one line per repetition."""
    rates = []
    for rep in range(reps):
        rate = await run(rep)
        progress(f"  {label}: rep {rep + 1}/{reps}: {rate:,.0f}/s")
        rates.append(rate)
    return rates


# -- the machine ------------------------------------------------------------------------------------


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine_info(kafka_version: str | None) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gib: float | None = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False, timeout=10
        ).stdout.strip()
    except OSError:
        commit = ""
    java = ""
    try:
        java = subprocess.run(
            ["java", "-version"], capture_output=True, text=True, check=False, timeout=30
        ).stderr.splitlines()[0]
    except (OSError, IndexError):
        pass
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "os": platform.platform(),
        "python": platform.python_version(),
        "java": java,
        "kafka_version": kafka_version,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "git_commit": commit,
    }


def quiet_logs() -> None:
    """The services' structlog lines (ledger batches …) at WARNING and above only, and aiokafka's routine
    group coordination not at all: the bench prints its own progress."""
    from corridor.core.logging import configure_logging

    configure_logging("WARNING", "console", service="bench")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)
