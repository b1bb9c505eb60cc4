"""Helpers of the monitor's integration and browser tests (imported by conftest.py and the tests)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition

from corridor.core.kafka import Published, client_security
from corridor.core.topics import TRADE_TOPICS
from corridor.monitor.app import create_app
from corridor.monitor.settings import MonitorSettings
from tests.integration.ledger.ledger_helpers import InProcessLedger, LedgerSetup

#: The operator token of the tests' monitors (random per session).
OPERATOR_TOKEN = f"tok_{uuid.uuid4().hex}{uuid.uuid4().hex}"


def operator_login() -> dict[str, str]:
    return {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


class InProcessMonitor:
    """The monitor app under uvicorn in a thread with its own event loop, on a free port."""

    def __init__(self, settings: MonitorSettings) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings),
            log_config=None,
            access_log=False,
            lifespan="on",
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name=f"monitor-{self.port}",
            daemon=True,
        )

    def start(self, within: float = 30.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + within
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the monitor did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()


async def wait_until(
    probe: Callable[[], Awaitable[Any]],
    *,
    within: float = 30.0,
    interval: float = 0.25,
    what: str = "condition",
) -> Any:
    """Await ``probe()`` until it returns something truthy; its last value in the failure message."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} did not happen within {within:.0f}s (last: {last!r})")


async def get_json(http: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await http.get(path, params=params or None)
    response.raise_for_status()
    return response.json()


async def trade_end_offsets(bootstrap_servers: str) -> dict[tuple[str, int], int]:
    """End offsets of every trade topic partition, read straight from Kafka."""
    consumer = AIOKafkaConsumer(
        *TRADE_TOPICS, bootstrap_servers=bootstrap_servers, **client_security()
    )  # no group: reads nothing
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in TRADE_TOPICS for p in consumer.partitions_for_topic(t) or ()]
        assert len(parts) == 18, f"the trade topics should have 6 partitions each, found {parts}"
        ends = await consumer.end_offsets(parts)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def commit_group(bootstrap_servers: str, group: str, offsets: dict[tuple[str, int], int]) -> None:
    """Create consumer group ``group`` with these committed offsets (no member stays)."""
    committer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, **client_security(), group_id=group, enable_auto_commit=False
    )
    await committer.start()
    try:
        tps = {TopicPartition(t, p): o for (t, p), o in offsets.items()}
        committer.assign(list(tps))
        await committer.commit(tps)
    finally:
        await committer.stop()


def topic_ends(topics_view: dict[str, Any]) -> dict[tuple[str, int], int]:
    """End offset of every partition of the trade topics, as an API answer states them."""
    return {
        (t["name"], p["partition"]): p["end"]
        for t in topics_view["topics"]
        if t["name"] in TRADE_TOPICS
        for p in t["partitions"]
    }


def group_of(groups_view: dict[str, Any], group_id: str) -> dict[str, Any] | None:
    return next((g for g in groups_view["groups"] if g["group_id"] == group_id), None)


@dataclass
class Produced:
    """What one test run published, and what the monitor said before and after."""

    group: str
    acks: list[Published]
    before: dict[tuple[str, int], int]
    after: dict[tuple[str, int], int]
    overview: dict[str, Any]
    attempts: int
    trade_ids: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.acks)

    def per_partition(self) -> Counter[tuple[str, int]]:
        return Counter((a.topic, a.partition) for a in self.acks)

    def per_topic(self) -> Counter[str]:
        return Counter(a.topic for a in self.acks)


@dataclass
class World:
    """The test's ledger and the monitor watching it."""

    stack: Any
    setup: LedgerSetup
    ledger: InProcessLedger
    monitor: InProcessMonitor

    @property
    def url(self) -> str:
        return self.monitor.url

    @property
    def login(self) -> dict[str, str]:
        """The operator's login, as a script sends it."""
        return operator_login()
