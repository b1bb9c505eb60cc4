"""The gateway's early size check (services/core/topic_limits.py, ADR 17): the estimate of a record is
what aiokafka produces, never below it, and a refusal names the size, the topic and the limit."""

from __future__ import annotations

from aiokafka.record.default_records import DefaultRecordBatchBuilder

from corridor.core.codec import Codec, frame
from corridor.core.envelope import CloudEvent, source_for
from corridor.core.topic_limits import TopicLimit, TopicLimits
from corridor.demo.story import chromite_story, explosives_story
from corridor.gateway.service import record_size


def test_the_estimate_covers_the_record_as_sent() -> None:
    codec = Codec(None)  # type: ignore[arg-type]  # encode_body needs no registry
    for event in chromite_story().events + explosives_story().events:
        body = codec.encode_body(event)
        source = source_for(event.sender)
        headers = CloudEvent.for_event(event, source=source).to_headers()
        headers += [("corridor_published_ms", b"1764892800000"), ("corridor_received_ms", b"1764892800000")]
        builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 1024 * 1024)
        builder.append(0, 1764892800000, str(event.trade_id).encode(), frame(1234, body), headers)
        actual = len(builder.build())  # the batch as the broker sees it, header included
        estimate = record_size(event, body, source)
        assert actual <= estimate <= actual + 256, (type(event).__name__, actual, estimate)


def test_a_refusal_names_size_topic_and_limit() -> None:
    limit = TopicLimit("trade.orders.v1", 1400)
    assert limit.refusal(1400) is None
    reason = limit.refusal(1401)
    assert reason == (
        "the event is 1401 bytes as a Kafka record; topic trade.orders.v1 takes at most 1400 bytes "
        "(max.message.bytes)"
    )
    assert limit.refusal(888, 512) is None and limit.refusal(889, 512) == (
        "the event is 889 bytes as a Kafka record; topic trade.orders.v1 takes at most 1400 bytes "
        "(max.message.bytes), 512 of them kept for the headers the relay adds to partner copies"
    )
    limits = TopicLimits(
        {"trade.orders.v1": limit, "trade.shipments.v1": TopicLimit("trade.shipments.v1", 9000)}
    )
    assert limits.smallest_max_message_bytes == 1400 and limits.get("trade.certificates.v1") is None
