"""Topic ids: which incarnation of a topic a consumer reads (Kafka's topic ids, KIP-516).

A topic deleted and created again under the same name is a new topic: a new id, logs that start at
offset 0. aiokafka (0.14) knows topics by name only, so a group's positions of the old topic are taken
for the new one, and the group either skips the new topic's first records (when the new log has
passed the old offsets before the group reads it) or waits until it does. A consumer that must read
every record (the ledger) watches the ids with :class:`Incarnations` and rewinds a topic whose id
changed to its start (records it had already stored are recognised by their event id).

aiokafka builds Metadata requests up to v5, which carry no topic id; :func:`topic_ids` sends Metadata
v12 (the first flexible version with ids, answered by every Kafka 3.x/4.x broker) built with
aiokafka's own protocol types. Pure apart from :func:`topic_ids`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from io import BytesIO
from typing import Any

#: Kafka's "no topic id" (Uuid.ZERO_UUID), sent when asking by name.
ZERO_ID = uuid.UUID(int=0)


class Incarnations:
    """The ids last seen per topic; ``changed`` says which topics were recreated since."""

    def __init__(self, known: Mapping[str, uuid.UUID] | None = None) -> None:
        self.known: dict[str, uuid.UUID] = dict(known or {})

    def changed(self, current: Mapping[str, uuid.UUID]) -> set[str]:
        """Topics whose id differs from the one seen before (a first sighting is not a change); the
        current ids become the known ones. A topic missing from ``current`` (deleted, or the broker did
        not answer for it) keeps its old id, so its recreation is noticed when it is back."""
        recreated = {
            topic
            for topic, topic_id in current.items()
            if topic_id != ZERO_ID and self.known.get(topic, topic_id) != topic_id
        }
        self.known.update({t: i for t, i in current.items() if i != ZERO_ID})
        return recreated


def _protocol() -> Any:
    """The Metadata v12 request class (built once, on first use)."""
    global _REQUEST
    if _REQUEST is not None:
        return _REQUEST
    from aiokafka.protocol.abstract import AbstractType
    from aiokafka.protocol.api import Request, RequestStruct, Response
    from aiokafka.protocol.types import (
        Boolean,
        CompactArray,
        CompactString,
        Int16,
        Int32,
        Schema,
        TaggedFields,
    )

    class Uuid(AbstractType[bytes]):  # type: ignore[misc]
        @classmethod
        def encode(cls, value: bytes) -> bytes:
            return value

        @classmethod
        def decode(cls, data: BytesIO) -> bytes:
            return data.read(16)

    class MetadataResponseV12(Response):  # type: ignore[misc]
        API_KEY = 3
        API_VERSION = 12
        SCHEMA = Schema(
            ("throttle_time_ms", Int32),
            (
                "brokers",
                CompactArray(
                    ("node_id", Int32),
                    ("host", CompactString("utf-8")),
                    ("port", Int32),
                    ("rack", CompactString("utf-8")),
                    ("tags", TaggedFields),
                ),
            ),
            ("cluster_id", CompactString("utf-8")),
            ("controller_id", Int32),
            (
                "topics",
                CompactArray(
                    ("error_code", Int16),
                    ("name", CompactString("utf-8")),
                    ("topic_id", Uuid),
                    ("is_internal", Boolean),
                    (
                        "partitions",
                        CompactArray(
                            ("error_code", Int16),
                            ("partition_index", Int32),
                            ("leader_id", Int32),
                            ("leader_epoch", Int32),
                            ("replica_nodes", CompactArray(Int32)),
                            ("isr_nodes", CompactArray(Int32)),
                            ("offline_replicas", CompactArray(Int32)),
                            ("tags", TaggedFields),
                        ),
                    ),
                    ("topic_authorized_operations", Int32),
                    ("tags", TaggedFields),
                ),
            ),
            ("tags", TaggedFields),
        )

    class MetadataRequestV12(RequestStruct):  # type: ignore[misc]
        FLEXIBLE_VERSION = True
        API_KEY = 3
        API_VERSION = 12
        RESPONSE_TYPE = MetadataResponseV12
        SCHEMA = Schema(
            (
                "topics",
                CompactArray(("topic_id", Uuid), ("name", CompactString("utf-8")), ("tags", TaggedFields)),
            ),
            ("allow_auto_topic_creation", Boolean),
            ("include_topic_authorized_operations", Boolean),
            ("tags", TaggedFields),
        )

    class TopicIdsRequest(Request[MetadataRequestV12]):  # type: ignore[misc]
        API_KEY = 3

        def __init__(self, topics: list[str]) -> None:
            self.topics = topics

        def build(self, request_struct_class: type[MetadataRequestV12]) -> MetadataRequestV12:
            return request_struct_class([(ZERO_ID.bytes, t, {}) for t in self.topics], False, False, {})

    _REQUEST = TopicIdsRequest
    return _REQUEST


_REQUEST: Any = None


def ids_of(topics: Iterable[tuple[Any, ...]]) -> dict[str, uuid.UUID]:
    """Topic name → id from a Metadata v12 answer's ``topics`` (error-free entries only)."""
    return {name: uuid.UUID(bytes=topic_id) for code, name, topic_id, *_rest in topics if code == 0 and name}


async def topic_ids(admin: Any, topics: Iterable[str]) -> dict[str, uuid.UUID]:
    """The current id of each of ``topics`` that exists, asked of the cluster through ``admin`` (a
    started ``AIOKafkaAdminClient``; the principal needs DESCRIBE on the topics). Never creates one."""
    response = await admin._send_request(_protocol()(sorted(topics)))
    return ids_of(response.topics)
