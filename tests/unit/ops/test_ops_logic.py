"""Pure logic of the ops tools: dead-letter filters, summaries and replay headers, key → partition,
trace hops and rendering, tail filters and lines."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from aiokafka.structs import ConsumerRecord

from corridor.core.envelope import PUBLISHED_MS_HEADER
from corridor.ops.dlq import DeadLetter, DlqFilter, parse_position, reason_key, summarize
from corridor.ops.kafka_io import Decoded, partition_for_key
from corridor.ops.tail import TailFilter, human_line, partners_of
from corridor.ops.trace import Delivery, EventTrace, TradeTrace, render

TRADE = "2ef1834e-0ea9-4b6e-84a5-b3fe3ed6fa4e"


def _letter(partition: int = 1, offset: int = 5, **headers: str) -> DeadLetter:
    base = {
        "ce_id": "ev-1",
        "ce_type": "corridor.trade.shipments.ShipmentBooked",
        "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
        PUBLISHED_MS_HEADER: "1000",
        "dlq_original_topic": "trade.shipments.v1",
        "dlq_original_partition": "2",
        "dlq_original_offset": "40",
        "dlq_error_class": "PrerequisiteMissing",
        "dlq_reason": f"ShipmentBooked about trade {TRADE}, which has no order yet (gave up after 3 retries)",
        "dlq_attempts": "4",
        "dlq_first_seen": "2026-11-22T10:00:00.000Z",
        "dlq_consumer_group": "corridor-ledger",
        **headers,
    }
    return DeadLetter(
        partition, offset, TRADE.encode(), b"\x00avro", tuple((k, v.encode()) for k, v in base.items()), 0
    )


def test_dead_letter_fields_and_replay_headers() -> None:
    letter = _letter()
    assert letter.position == "1:5"
    assert (letter.original_topic, letter.original_partition, letter.original_offset) == (
        "trade.shipments.v1",
        2,
        40,
    )
    assert (letter.error_class, letter.event_id, letter.trade_id) == ("PrerequisiteMissing", "ev-1", TRADE)
    before = int(time.time() * 1000)
    headers = dict((k, v.decode()) for k, v in letter.replay_headers())
    assert not any(k.startswith(("dlq_", "retry_")) for k in headers)
    assert headers["ce_id"] == "ev-1" and headers["traceparent"] == letter.header("traceparent")
    assert int(headers[PUBLISHED_MS_HEADER]) >= before  # a new publish time: latency of the replay
    assert headers["corridor_replayed_from"] == "trade.dlq.v1:1:5"
    assert [k for k, _ in letter.replay_headers()].count(PUBLISHED_MS_HEADER) == 1


def test_positions_and_filters() -> None:
    assert parse_position(" 3:42 ") == (3, 42)
    for bad in ("3", "a:1", "3:-1", ""):
        with pytest.raises(ValueError):
            parse_position(bad)
    letter = _letter()
    assert DlqFilter().matches(letter)
    assert DlqFilter.parse(["class=PrerequisiteMissing", "topic=trade.shipments.v1"]).matches(letter)
    assert DlqFilter.parse(["type=ShipmentBooked", f"trade={TRADE}", "event=ev-1"]).matches(letter)
    assert DlqFilter.parse(["type=corridor.trade.shipments.ShipmentBooked", "reason=NO ORDER"]).matches(
        letter
    )
    assert DlqFilter.parse(["group=corridor-ledger", "position=1:5"]).matches(letter)
    assert not DlqFilter.parse(["group=other"]).matches(letter)
    assert not DlqFilter.parse(["position=1:6"]).matches(letter)
    assert not DlqFilter.parse(["error_class=LifecycleViolation"]).matches(letter)
    assert str(DlqFilter.parse(["id=ev-1"])) == "event=ev-1"
    for bad in (["nonsense"], ["colour=red"], ["event="], ["position=x"]):
        with pytest.raises(ValueError):
            DlqFilter.parse(bad)


def test_summary_groups_reasons_without_ids_and_counts_depth() -> None:
    other_trade = "6f50569f-f67f-42eb-9840-27ff27167e6b"
    letters = [
        _letter(1, 5),
        _letter(1, 6, dlq_reason=f"ShipmentBooked about trade {other_trade}, which has no order yet"),
        _letter(
            2, 0, dlq_original_topic="trade.orders.v1", dlq_error_class="WireFormatError", dlq_reason="x"
        ),
    ]
    summary = summarize(letters, {"1:5": {"event_id": "ev-1"}})
    assert (summary.total, summary.pending) == (3, 2)
    assert summary.depth == {
        "trade.orders.v1": {"total": 1, "pending": 1},
        "trade.shipments.v1": {"total": 2, "pending": 1},
    }
    top = summary.reasons[0]
    assert top["count"] == 2 and top["error_class"] == "PrerequisiteMissing" and "<id>" in top["reason"]
    assert summary.records[0]["replayed"] == {"event_id": "ev-1"} and summary.records[1]["replayed"] is None
    body = summary.to_json()
    assert body["topic"] == "trade.dlq.v1" and body["top_reasons"] == summary.reasons
    assert reason_key("x" * 300).endswith("…") and len(reason_key("x" * 300)) == 158


def test_partition_for_key_is_kafkas_murmur2() -> None:
    # values of Kafka's default partitioner (murmur2 of the key, positive, modulo the partition count)
    assert partition_for_key(b"abc", 6) == 3
    assert all(0 <= partition_for_key(f"k{i}".encode(), 6) < 6 for i in range(100))
    assert partition_for_key(TRADE.encode(), 6) == partition_for_key(TRADE.encode(), 6)


def _ms(second: float) -> int:
    return int(dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC).timestamp() * 1000 + second * 1000)


def test_event_hops_and_latencies() -> None:
    e = EventTrace("ev-1", "OrderPlaced", occurred_at=dt.datetime(2026, 2, 10, 1, 30, tzinfo=dt.UTC))
    e.records = [
        Delivery("trade.orders.v1", 4, 9, _ms(1.004), _ms(1.000)),
        Delivery("trade.orders.v1", 4, 12, _ms(9.000), None, note="trade.dlq.v1:0:3"),  # a replayed copy
    ]
    e.ledger_position = ("trade.orders.v1", 4, 9)
    e.ledger_ms = _ms(1.040)
    assert e.primary is e.records[0]
    assert e.latencies_ms() == {
        "gateway_to_kafka": 4,
        "kafka_to_ledger": 36,
        "ledger_to_partner": None,
        "kafka_to_partner": None,
        "total": 40,
    }
    e.partners = [Delivery("partner.sgs.v1", 0, 1, _ms(1.100))]
    lat = e.latencies_ms()
    assert (lat["ledger_to_partner"], lat["kafka_to_partner"], lat["total"]) == (60, 96, 100)
    # a copy an older relay (reading the trade topics beside the ledger) made before the commit: no
    # ledger hop for it, never a negative one
    e.partners = [Delivery("partner.sgs.v1", 0, 1, _ms(1.020))]
    lat = e.latencies_ms()
    assert (lat["ledger_to_partner"], lat["kafka_to_partner"], lat["total"]) == (None, 16, 40)
    assert "+-" not in render(TradeTrace(TRADE, [e], {"trade.orders.v1": [4]}))
    e.partners = [Delivery("partner.sgs.v1", 0, 1, _ms(1.100))]
    body = e.to_json()
    assert body["hops"]["gateway_accept"] == "2026-11-22T10:00:01.000Z"
    assert body["hops"]["ledger_commit"] == "2026-11-22T10:00:01.040Z"
    assert (body["topic"], body["partition"], body["offset"]) == ("trade.orders.v1", 4, 9)
    direct = EventTrace(
        "ev-2", "ShipmentBooked", records=[Delivery("trade.shipments.v1", 4, 1, _ms(2), None)]
    )
    assert direct.latencies_ms() == {
        "gateway_to_kafka": None,
        "kafka_to_ledger": None,
        "ledger_to_partner": None,
        "kafka_to_partner": None,
        "total": None,
    }
    rejected = EventTrace("ev-3", "OrderPlaced", decision="rejected", decision_note="LifecycleViolation: x")

    trace = TradeTrace(TRADE, [e, direct, rejected], {"trade.orders.v1": [4]}, ["no partner.*.v1 topics yet"])
    stats = trace.hop_stats()
    assert stats["kafka_to_ledger"] == {"events": 1, "median_ms": 36.0, "max_ms": 36.0}
    text = render(trace)
    assert f"Trade {TRADE}: 3 event(s)" in text
    assert "REJECTED by the ledger (LifecycleViolation: x)" in text
    assert "trade.orders.v1/4@9" in text and "+4 ms" in text and "+36 ms" in text and "100 ms" in text
    assert "2 copies in Kafka" in text and "→ partner.sgs.v1/0@1" in text
    assert "(direct)" in text and "NOT in the ledger" in text
    assert "note: no partner.*.v1 topics yet" in text


def _decoded(**headers: str) -> Decoded:
    record = ConsumerRecord(
        "trade.orders.v1", 2, 17, 0, 0, TRADE.encode(), b"x", None, 0, 0,
        tuple((k, v.encode()) for k, v in headers.items()),
    )  # fmt: skip
    return Decoded(record, dict(headers))


def test_tail_filters_and_undecodable_lines() -> None:
    decoded = _decoded(ce_type="corridor.trade.orders.OrderPlaced", ce_source="/corridor/partners/buyer-1")
    decoded.payload = {"sender": "buyer-1", "supplier": {"party_id": "supplier-9"}, "lines": [{"x": 1}]}
    assert partners_of(decoded) == {"buyer-1", "supplier-9"}
    assert TailFilter(type="OrderPlaced").matches(decoded)
    assert TailFilter(type="corridor.trade.orders.OrderPlaced", partner="supplier-9", trade=TRADE).matches(
        decoded
    )
    assert not TailFilter(type="OrderAmended").matches(decoded)
    assert not TailFilter(partner="carrier-1").matches(decoded)
    assert not TailFilter(trade="another").matches(decoded)
    bad = _decoded(ce_type="corridor.trade.orders.OrderPlaced", ce_time="2026-02-10T01:30:00.000Z")
    bad.error = "WireFormatError: magic byte is 116"
    line = human_line(bad)
    assert "trade.orders.v1/2@17" in line and "OrderPlaced" in line and "undecoded: WireFormatError" in line
    assert line.startswith("2026-02-10T01:30:00.000Z")


def test_partner_copy_time_is_never_the_copied_publish_time() -> None:
    from corridor.ops.trace import partner_time

    assert partner_time({"corridor_relayed_ms": "2000", PUBLISHED_MS_HEADER: "1000"}, 1000) == 2000
    assert partner_time({PUBLISHED_MS_HEADER: "1500"}, 1000) == 1500
    assert partner_time({PUBLISHED_MS_HEADER: "1000"}, 1000) is None  # the original's header, copied
    assert partner_time({}, 1000) is None
