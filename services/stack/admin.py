"""Talking to the running cluster with aiokafka's admin client: readiness, topics, topic configs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError
from aiokafka.protocol.metadata import MetadataRequest

from corridor.core.kafka import client_security, new_topic
from corridor.core.topics import TopicSpec
from corridor.stack.errors import StackError

Report = Callable[[str], None]
#: aiokafka security settings of the admin client; None: the operator's (client_security)
Login = Mapping[str, Any] | None

_TOPIC_ALREADY_EXISTS = 36


class _PlainOnLoopback(logging.Filter):
    """aiokafka warns at every PLAIN login without TLS; the stack's own (the brokers' login,
    kafka.broker_login) only ever goes to its loopback listeners, so the warning says nothing there."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "Sending username and password in the clear"


logging.getLogger("aiokafka.conn").addFilter(_PlainOnLoopback())


@contextlib.contextmanager
def _quiet_aiokafka() -> Iterator[None]:
    """aiokafka logs every refused connection at ERROR; while a broker boots that is expected."""
    logger = logging.getLogger("aiokafka")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(previous)


@contextlib.asynccontextmanager
async def admin_client(
    bootstrap_servers: str, request_timeout_ms: int = 10_000, login: Login = None
) -> AsyncIterator[AIOKafkaAdminClient]:
    """An admin client logged in with ``login`` (aiokafka settings; ``stack up`` passes the brokers' own
    login, kafka.broker_login), else as the operator (corridor.core.kafka.client_security)."""
    client = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="corridor-stack",
        request_timeout_ms=request_timeout_ms,
        **(client_security() if login is None else login),
    )
    await client.start()
    try:
        yield client
    finally:
        await client.close()


async def registered_brokers(bootstrap_servers: str, login: Login = None) -> set[int]:
    """Node ids of the brokers the cluster metadata lists (in KRaft: registered and unfenced)."""
    async with admin_client(bootstrap_servers, request_timeout_ms=5_000, login=login) as client:
        cluster = await client.describe_cluster()
    return {int(b["node_id"]) for b in cluster["brokers"]}


async def wait_for_brokers(
    addresses: Mapping[int, str],
    wait_s: float,
    report: Report,
    check_processes: Callable[[], None] | None = None,
    login: Login = None,
) -> set[int]:
    """Wait until every node answers a metadata request on its own address and lists itself there.

    Asking each node directly (not any node of the cluster) matters after a restart: the rest of
    the cluster keeps listing a killed broker until its session times out, long before the new
    process serves. ``addresses`` maps node id to ``host:port``. ``check_processes`` is called
    between attempts and should raise if a broker process died, so a crash is reported at once
    with its log instead of after the whole wait.
    """
    start = time.monotonic()
    ready: set[int] = set()
    shown = -1
    last_error = ""
    with _quiet_aiokafka():
        while True:
            if check_processes is not None:
                check_processes()
            for node_id, address in sorted(addresses.items()):
                if node_id in ready:
                    continue
                try:
                    if node_id in await registered_brokers(address, login):
                        ready.add(node_id)
                except (TimeoutError, KafkaError, OSError) as exc:
                    last_error = f"{type(exc).__name__}: {exc}"
            if len(ready) != shown:
                report(f"waiting for metadata ({len(ready)}/{len(addresses)} brokers)…")
                shown = len(ready)
            if len(ready) == len(addresses):
                return ready
            if time.monotonic() - start > wait_s:
                missing = sorted(set(addresses) - ready)
                raise StackError(
                    f"brokers {missing} did not answer within {wait_s:.0f}s "
                    f"(last error: {last_error or 'none'})"
                )
            await asyncio.sleep(0.5)


async def ensure_topics(
    bootstrap_servers: str,
    specs: Iterable[TopicSpec],
    brokers: int,
    report: Report,
    wait_s: float = 60.0,
    login: Login = None,
) -> tuple[list[str], list[str]]:
    """Create the missing topics with explicit partitions, replication and configs.

    Existing topics are left alone (a warning is reported if their partition count differs).
    Returns (created, existing).
    """
    specs = list(specs)
    async with admin_client(bootstrap_servers, login=login) as client:
        existing = set(await client.list_topics())
        missing = [s for s in specs if s.name not in existing]
        present = [s.name for s in specs if s.name in existing]
        if missing:
            report(f"creating topics {', '.join(s.name for s in missing)}…")
            response = await client.create_topics(
                [new_topic(s, brokers) for s in missing],
                timeout_ms=int(wait_s * 1000),
            )
            for topic, code, message in response.topic_errors:
                # "already exists" means a concurrent `up` won the race: fine.
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise StackError(f"could not create topic {topic}: error {code} {message or ''}".strip())
        for described in await client.describe_topics(present) if present else []:
            spec = next(s for s in specs if s.name == described["topic"])
            if len(described["partitions"]) != spec.partitions:
                report(
                    f"warning: topic {spec.name} has {len(described['partitions'])} partitions, "
                    f"TOPIC_SPECS says {spec.partitions} (left alone)"
                )
    # Existing topics too: right after a restart their partitions may still be electing leaders.
    await wait_for_leaders(bootstrap_servers, [s.name for s in specs], wait_s, login)
    return [s.name for s in missing], present


async def wait_for_leaders(
    bootstrap_servers: str, topics: list[str], wait_s: float, login: Login = None
) -> None:
    """Wait until every broker's metadata shows every partition of ``topics`` with a leader.

    Each broker is asked itself: metadata reaches the brokers of a cluster one by one, and a client
    that happens to ask a lagging one right after `up` would not find the new topics.
    """
    if not topics:
        return
    deadline = time.monotonic() + wait_s
    async with admin_client(bootstrap_servers, login=login) as client:
        nodes = sorted(int(b["node_id"]) for b in (await client.describe_cluster())["brokers"])
        while True:
            lagging: list[str] = []
            for node_id in nodes:
                # aiokafka's describe_topics asks a random node; _send_request names the node to ask.
                response = await client._send_request(MetadataRequest(topics), node_id=node_id)
                described = response.to_object()["topics"]
                complete = len(described) == len(topics) and all(
                    t["error_code"] == 0
                    and t["partitions"]
                    and all(p["leader"] >= 0 for p in t["partitions"])
                    for t in described
                )
                if not complete:
                    lagging.append(str(node_id))
            if not lagging:
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"topics {', '.join(topics)} not ready on broker(s) {', '.join(lagging)} "
                    f"after {wait_s:.0f}s"
                )
            await asyncio.sleep(0.2)


async def describe_topics(
    bootstrap_servers: str, topics: list[str], login: Login = None
) -> dict[str, dict[str, Any]]:
    """{topic: {"partitions": n, "replication_factor": rf, "configs": {name: value}}}."""
    async with admin_client(bootstrap_servers, login=login) as client:
        described = await client.describe_topics(topics)
        responses = await client.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics]
        )
    result: dict[str, dict[str, Any]] = {}
    for topic in described:
        partitions = topic.get("partitions", [])
        result[topic["topic"]] = {
            "error_code": topic["error_code"],
            "partitions": len(partitions),
            "replication_factor": min((len(p["replicas"]) for p in partitions), default=0),
            "configs": {},
        }
    for response in responses:
        for resource in response.to_object()["resources"]:
            entry = result.setdefault(resource["resource_name"], {"configs": {}})
            entry["configs"] = {c["config_names"]: c["config_value"] for c in resource["config_entries"]}
    return result
