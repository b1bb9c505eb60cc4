"""Issue 15's repro against the real gateway and broker: a record the broker would refuse must neither
be sent nor take its partition down.

1. A carrier's estimated arrival (``ARRI``/``EST``) seven weeks ahead is accepted (201): the record
   timestamp is the time of publication, the business time stays in the payload (Kafka 4 refuses record
   timestamps more than an hour ahead, ``log.message.timestamp.after.max.ms``).
2. Right after it, valid events of several partners on the *same* partition are accepted and each is in
   Kafka once, at the offset the gateway answered.
3. The gateway read the topics' limits from the cluster at start-up (not assumed) and sizes its
   batches under them.

Changing a topic's limit under load, and a producer actually poisoned by a broker refusal, run on the
fault suite's isolated cluster (tests/faults/test_faults.py): the shared stack's topics are left alone.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from aiokafka.partitioner import DefaultPartitioner

from tests.hostile.conftest import EXAMPLES_BY_NAME, Example, GatewayHandle, KafkaReader, cloudevent
from tests.hostile.test_hostile_gateway import check_answer, post_event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

TRANSPORT = EXAMPLES_BY_NAME["TransportEventRecorded"]
ORDER = EXAMPLES_BY_NAME["OrderPlaced"]
BOOKED = EXAMPLES_BY_NAME["ShipmentBooked"]
CUSTOMS = EXAMPLES_BY_NAME["CustomsEventRecorded"]
ADMITTED = EXAMPLES_BY_NAME["PartyAdmitted"]
PARTITIONS = 6  # of every trade topic (services/core/topics.py)
_partitioner = DefaultPartitioner()


def trade_on_partition(partition: int) -> str:
    """A new trade id whose records go to ``partition`` (murmur2 of the key, as aiokafka's and Kafka's
    default partitioner)."""
    parts = list(range(PARTITIONS))
    while True:
        trade_id = str(uuid.uuid4())
        if _partitioner(trade_id.encode(), parts, parts) == partition:
            return trade_id


def publish(
    http: httpx.Client, gateway: GatewayHandle, example: Example, trade_id: str, **changes: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Post the example as a new event of ``trade_id`` (``changes`` applied to its data): (data, answer)."""
    data = example.fresh()
    data["trade_id"] = trade_id
    data.update(changes)
    response = post_event(http, gateway, data["sender"], json.dumps(cloudevent(example.type, data)).encode())
    return data, check_answer(response, {201})


def open_trade(http: httpx.Client, gateway: GatewayHandle, trade_id: str) -> list[dict[str, Any]]:
    """The buyer's order, its admission of the carrier and the customs office (ADR 16: naming a
    partner admits nobody), and the carrier's booking."""
    carrier, buyer = TRANSPORT.sender, ORDER.sender
    booked = {**BOOKED.data["carrier"], "party_id": carrier}
    return [
        publish(http, gateway, ORDER, trade_id)[1],
        publish(http, gateway, ADMITTED, trade_id, sender=buyer, party_id=carrier, role="CARRIER")[1],
        publish(http, gateway, ADMITTED, trade_id, sender=buyer, party_id=CUSTOMS.sender, role="CUSTOMS")[1],
        publish(
            http, gateway, BOOKED, trade_id,
            sender=carrier, carrier=booked, shipment_id=TRANSPORT.data["shipment_id"],
        )[1],
    ]


def test_an_estimate_weeks_ahead_is_accepted_and_its_partition_stays_usable(
    http: httpx.Client, gateway: GatewayHandle, kafka: KafkaReader
) -> None:
    trade_id = str(uuid.uuid4())
    open_trade(http, gateway, trade_id)
    ahead = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(weeks=7)
    before_ms = time.time() * 1000
    eta, answer = publish(
        http,
        gateway,
        TRANSPORT,
        trade_id,
        transport_event_type="ARRI",
        classifier="EST",
        occurred_at=ahead.isoformat(),
    )
    raw, event = kafka.record(answer["topic"], answer["partition"], answer["offset"])
    assert str(event.event_id) == eta["event_id"] and event.occurred_at == ahead  # business time kept
    assert before_ms - 5_000 <= raw.timestamp <= time.time() * 1000 + 5_000  # the time of publication
    ce_time = dict(raw.headers)["ce_time"].decode()
    assert ce_time.startswith(ahead.strftime("%Y-%m-%dT%H:%M:%S")), ce_time

    # the next valid events on that partition number, of three new trades, from three partners (buyer,
    # carrier, customs office): each accepted, each in Kafka once where the gateway said
    partition = answer["partition"]
    answers: list[tuple[str, dict[str, Any]]] = []
    for _ in range(3):
        other = trade_on_partition(partition)
        for stored in open_trade(http, gateway, other):
            answers.append((other, stored))
        answers.append((other, publish(http, gateway, TRANSPORT, other)[1]))
        answers.append((other, publish(http, gateway, CUSTOMS, other)[1]))
    offsets: dict[str, list[int]] = {}
    for trade, stored in answers:
        assert stored["partition"] == partition, stored
        raw, event = kafka.record(stored["topic"], stored["partition"], stored["offset"])
        assert str(event.event_id) == stored["event_id"] and raw.key == trade.encode()
        offsets.setdefault(stored["topic"], []).append(stored["offset"])
    for topic, found in offsets.items():
        assert found == sorted(set(found)), (topic, found)  # each once, in the order sent
    assert offsets[answer["topic"]][0] > answer["offset"]


def test_the_gateway_reads_the_limits_from_the_cluster(gateway: GatewayHandle) -> None:
    """At start-up, per trade topic, as the cluster has them (the 413 for an event above them, with the
    limit lowered on a live topic, is the fault suite's: the shared topics are not altered here)."""
    link = gateway.server.app.state.gateway.kafka
    assert link.limits is not None, "the gateway did not read the topic limits"
    for topic in ("trade.orders.v1", "trade.shipments.v1", "trade.certificates.v1"):
        limit = link.limits.get(topic)
        assert limit is not None and limit.max_message_bytes == 1048588, limit  # services/core/topics.py
        assert limit.timestamp_type == "CreateTime"
        assert limit.timestamp_after_max_ms is not None  # Kafka 4: an hour unless the topic says otherwise
    producer = link._producer
    assert producer is not None and producer._config["max_batch_size"] <= 1048588 - 61
