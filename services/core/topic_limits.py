"""What the broker will refuse, read from the cluster rather than assumed (ADR 0017).

``read_limits`` asks the cluster (DescribeConfigs) for each topic's effective ``max.message.bytes``,
``message.timestamp.type`` and ``message.timestamp.before.max.ms``/``after.max.ms`` (a topic without its
own value reports the broker's). ``TopicLimits.record_size`` estimates a record's size as aiokafka does
for its own check, the record-batch header that the broker counts against ``max.message.bytes``
included: a record above that is refused before it is produced (a refused batch would poison the
idempotent producer, ``produce_errors``).

Invariants: an unknown topic has no limits (nothing is refused early for it); the limits are a
snapshot, read again when the broker refuses a record for its size.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from corridor.core.kafka import client_security

#: A record batch's own header (v2 format), counted by the broker against ``max.message.bytes``.
RECORD_BATCH_OVERHEAD = 61

WATCHED = (
    "max.message.bytes",
    "message.timestamp.type",
    "message.timestamp.before.max.ms",
    "message.timestamp.after.max.ms",
)


@dataclass(frozen=True)
class TopicLimit:
    topic: str
    max_message_bytes: int
    timestamp_type: str = "CreateTime"
    timestamp_before_max_ms: int | None = None
    timestamp_after_max_ms: int | None = None

    def refusal(self, size: int, reserve: int = 0) -> str | None:
        """Why a record of ``size`` bytes (``record_size``) is refused, or None: above the topic's
        ``max.message.bytes`` less ``reserve`` (room kept for headers added downstream)."""
        if size <= self.max_message_bytes - reserve:
            return None
        kept = f", {reserve} of them kept for the headers the relay adds to partner copies" if reserve else ""
        return (
            f"the event is {size} bytes as a Kafka record; topic {self.topic} "
            f"takes at most {self.max_message_bytes} bytes (max.message.bytes){kept}"
        )


@dataclass(frozen=True)
class TopicLimits:
    topics: dict[str, TopicLimit] = field(default_factory=dict)

    def get(self, topic: str) -> TopicLimit | None:
        return self.topics.get(topic)

    @property
    def smallest_max_message_bytes(self) -> int | None:
        return min((t.max_message_bytes for t in self.topics.values()), default=None)

    @staticmethod
    def record_size(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> int:
        """A record's size alone in a batch, the batch's header included, as aiokafka's own check
        estimates it (a few bytes above the exact size, never below)."""
        return int(DefaultRecordBatchBuilder.estimate_size_in_bytes(key, value, list(headers)))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


async def read_limits(bootstrap_servers: str, topics: Sequence[str], *, client_id: str) -> TopicLimits:
    """The effective limits of ``topics`` (missing topics are left out)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=client_id, **client_security())
    await admin.start()
    try:
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in topics]
        )
    finally:
        await admin.close()
    found: dict[str, TopicLimit] = {}
    for response in responses:
        for resource in response.to_object()["resources"]:
            if resource.get("error_code"):
                continue
            configs = {c["config_names"]: c["config_value"] for c in resource["config_entries"]}
            size = _int(configs.get("max.message.bytes"))
            if size is None:
                continue
            name = resource["resource_name"]
            found[name] = TopicLimit(
                name,
                size,
                configs.get("message.timestamp.type") or "CreateTime",
                _int(configs.get("message.timestamp.before.max.ms")),
                _int(configs.get("message.timestamp.after.max.ms")),
            )
    return TopicLimits(found)
