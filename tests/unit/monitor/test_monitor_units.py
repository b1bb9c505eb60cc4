"""The monitor's other pure parts: latency tracking, the tail's bookkeeping, API shapes, settings."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from corridor.core.credentials import write_secret
from corridor.ledger import deadletter as ledger_dl
from corridor.ledger import topics as ledger_topics
from corridor.monitor.kafka_source import GroupInfo
from corridor.monitor.latency import SOURCE_HEADER, SOURCE_OBSERVED, LatencyTracker, published_ms
from corridor.monitor.live import DLQ_HEADERS, LiveFeed, describe, schema_id_of
from corridor.monitor.settings import MonitorSettings
from corridor.monitor.views import DLQ_TOPIC, group_row, jsonable, sort_groups, topic_kind, topic_sort_key

# -- latency ------------------------------------------------------------------------------------------


def test_latency_is_commit_minus_publish_per_event() -> None:
    tracker = LatencyTracker(window_s=60)
    tracker.published("a", 1_000, SOURCE_OBSERVED)
    tracker.published("b", 1_010, SOURCE_HEADER)
    assert tracker.pending == 2
    assert tracker.matched("a", 1_250) is not None
    assert tracker.matched("b", 1_030) is not None
    assert tracker.matched("unknown", 2_000) is None
    summary = tracker.summary(now_ms=2_000)
    assert summary["count"] == 2
    assert summary["p50_ms"] == pytest.approx(135.0)
    assert summary["max_ms"] == 250.0
    assert summary["sources"] == {SOURCE_OBSERVED: 1, SOURCE_HEADER: 1}
    assert tracker.pending == 0


def test_the_first_sighting_of_an_event_is_its_publish_time() -> None:
    tracker = LatencyTracker()
    tracker.published("a", 1_000, SOURCE_OBSERVED)
    tracker.published("a", 5_000, SOURCE_OBSERVED)  # seen again (a second tail, a redelivery)
    measured = tracker.matched("a", 1_100)
    assert measured is not None and measured.latency_ms == 100.0


def test_a_commit_stamped_before_the_publish_counts_zero() -> None:
    tracker = LatencyTracker()
    tracker.published("a", 1_000, SOURCE_OBSERVED)
    measured = tracker.matched("a", 990)
    assert measured is not None and measured.latency_ms == 0.0
    assert tracker.negative == 1


def test_measurements_leave_the_window_and_unmatched_publications_expire() -> None:
    tracker = LatencyTracker(window_s=10, pending_ttl_s=30)
    tracker.published("old", 0, SOURCE_OBSERVED)
    tracker.matched("old", 100)
    tracker.published("never", 1_000, SOURCE_OBSERVED)
    tracker.published("fresh", 40_000, SOURCE_OBSERVED)
    tracker.expire(now_ms=40_500)
    assert tracker.summary(40_500)["count"] == 0
    assert tracker.pending_ids() == ["fresh"]
    assert tracker.expired == 1


def test_pending_publications_are_bounded() -> None:
    tracker = LatencyTracker(max_pending=2)
    for i in range(5):
        tracker.published(str(i), i, SOURCE_OBSERVED)
    assert tracker.pending_ids() == ["3", "4"]
    assert tracker.expired == 3


def test_summary_over_the_last_seconds_only() -> None:
    tracker = LatencyTracker(window_s=300)
    tracker.published("a", 0, SOURCE_OBSERVED)
    tracker.matched("a", 10)
    tracker.published("b", 100_000, SOURCE_OBSERVED)
    tracker.matched("b", 100_500)
    assert tracker.summary(100_600)["count"] == 2
    assert tracker.summary(100_600, last_s=60)["p99_ms"] == 500.0


def test_published_header_is_read_when_numeric() -> None:
    assert published_ms([("corridor_published_ms", b"1795372444427")]) == 1795372444427
    assert published_ms([("corridor_published_ms", b"soon")]) is None
    assert published_ms([("ce_id", b"x")]) is None
    assert published_ms(None) is None


# -- the tail's bookkeeping --------------------------------------------------------------------------


def record(topic: str, offset: int, headers: list[tuple[str, bytes]], value: bytes | None = None) -> Any:
    return SimpleNamespace(
        topic=topic,
        partition=2,
        offset=offset,
        key=b"trade-1",
        value=value if value is not None else b"\x00\x00\x00\x00\x0c" + b"body",
        timestamp=1_700_000_000_000,
        headers=headers,
    )


CE = [
    ("ce_id", b"0b0f5a4e-0000-4000-8000-000000000001"),
    ("ce_type", b"corridor.trade.orders.OrderPlaced"),
    ("ce_source", b"/corridor/partners/tianjin-rongda-smelting"),
    ("ce_subject", b"order/TJRD-PO-2026-0117"),
    ("ce_time", b"2026-02-10T01:30:00.000Z"),
]


def test_describe_keeps_metadata_and_the_schema_id_but_no_payload() -> None:
    item = describe(record("trade.orders.v1", 41, CE), seq=7, observed_ms=5, live=True)
    assert item["type"] == "OrderPlaced"
    assert item["full_type"] == "corridor.trade.orders.OrderPlaced"
    assert item["event_id"] == "0b0f5a4e-0000-4000-8000-000000000001"
    assert item["schema_id"] == 12
    assert item["size"] == 9
    assert (item["topic"], item["partition"], item["offset"], item["key"]) == (
        "trade.orders.v1",
        2,
        41,
        "trade-1",
    )
    assert "payload" not in item and "value" not in item


def test_schema_id_only_of_framed_values() -> None:
    assert schema_id_of(b"\x00\x00\x00\x01\x00rest") == 256
    assert schema_id_of(b"\x07\x00\x00\x00\x01") is None
    assert schema_id_of(b"\x00\x01") is None
    assert schema_id_of(None) is None


def make_tail() -> LiveFeed:
    return LiveFeed(
        "127.0.0.1:1",
        trade_topics=("trade.orders.v1",),
        dlq_topic=DLQ_TOPIC,
        latency=LatencyTracker(),
        recent=3,
    )


def test_live_records_start_the_latency_clock_backlog_records_do_not() -> None:
    tail = make_tail()
    tail.ingest(record("trade.orders.v1", 1, CE), observed_ms=1_000, live=False)
    assert tail.latency.pending == 0
    tail.ingest(record("trade.orders.v1", 2, CE), observed_ms=2_000, live=True)
    assert tail.latency.pending_ids() == ["0b0f5a4e-0000-4000-8000-000000000001"]
    measured = tail.latency.matched("0b0f5a4e-0000-4000-8000-000000000001", 2_150)
    assert measured is not None and (measured.latency_ms, measured.source) == (150.0, SOURCE_OBSERVED)


def test_the_producers_publish_header_wins_even_for_backlog_records() -> None:
    tail = make_tail()
    headers = [*CE, ("corridor_published_ms", b"900")]
    tail.ingest(record("trade.orders.v1", 1, headers), observed_ms=5_000, live=False)
    measured = tail.latency.matched("0b0f5a4e-0000-4000-8000-000000000001", 1_000)
    assert measured is not None and (measured.latency_ms, measured.source) == (100.0, SOURCE_HEADER)


def test_dead_letters_are_counted_by_reason_and_original_topic() -> None:
    tail = make_tail()
    dlq = [
        *CE,
        ("dlq_original_topic", b"trade.orders.v1"),
        ("dlq_original_partition", b"2"),
        ("dlq_original_offset", b"40"),
        ("dlq_error_class", b"LifecycleViolation"),
        ("dlq_reason", b"second OrderPlaced 1"),
    ]
    for offset in range(3):
        item = tail.ingest(record(DLQ_TOPIC, offset, dlq), observed_ms=1, live=True)
    assert item["kind"] == "dlq" and item["error_class"] == "LifecycleViolation"
    assert item["original_offset"] == "40"
    assert tail.reasons.top(1)[0]["count"] == 3
    assert tail.dlq_by_topic == {"trade.orders.v1": 3}
    assert len(tail.recent) == 0 and len(tail.recent_dlq) == 3
    assert tail.latency.pending == 0  # a dead letter is no publication


def test_recent_events_are_a_ring() -> None:
    tail = make_tail()
    for offset in range(5):
        tail.ingest(record("trade.orders.v1", offset, CE), observed_ms=offset, live=False)
    assert [i["offset"] for i in tail.recent] == [2, 3, 4]
    assert [i["seq"] for i in tail.recent] == [3, 4, 5]


async def test_subscribers_get_what_is_published_and_a_full_queue_drops() -> None:
    tail = make_tail()
    queue = tail.subscribe()
    item = tail.ingest(record("trade.orders.v1", 1, CE), observed_ms=1, live=True)
    tail._publish(item)
    assert queue.get_nowait() is item
    for _ in range(queue.maxsize + 5):
        tail._publish(item)
    assert queue.qsize() == queue.maxsize
    tail.unsubscribe(queue)
    assert tail.subscribers == 0


def test_the_dead_letter_contract_matches_the_ledgers() -> None:
    """The monitor reads the ledger's headers by name without importing the ledger: same names."""
    ledger_names = {v for k, v in vars(ledger_dl).items() if k.startswith("DLQ_") and isinstance(v, str)}
    assert set(DLQ_HEADERS) == ledger_names
    assert ledger_topics.DLQ_TOPIC == DLQ_TOPIC
    assert all(topic_kind(t) == "retry" for t in ledger_topics.RETRY_TOPICS)


# -- API shapes ---------------------------------------------------------------------------------------


def test_topic_kinds_and_order() -> None:
    names = [
        "zzz",
        "partner.tdap.v1",
        "trade.dlq.v1",
        "trade.retry.5s.v1",
        "trade.certificates.v1",
        "trade.orders.v1",
    ]
    assert sorted(names, key=topic_sort_key) == [
        "trade.orders.v1",
        "trade.certificates.v1",
        "trade.retry.5s.v1",
        "trade.dlq.v1",
        "partner.tdap.v1",
        "zzz",
    ]
    kinds = (
        "trade.shipments.v1",
        "trade.dlq.v1",
        "trade.retry.5m.v1",
        "partner.sgs-pakistan.v1",
        "partner.x",
    )
    assert [topic_kind(n) for n in kinds] == ["trade", "dlq", "retry", "partner", "other"]


def test_group_row_groups_partitions_by_topic() -> None:
    info = GroupInfo("g", "consumer", "Stable", 2, {("t", 1): 5, ("t", 0): 10, ("u", 0): -1})
    row = group_row(info, {("t", 0): 12, ("t", 1): 5, ("u", 0): 9}, history=[(1.5, 2)])
    assert row["lag"] == 2 and row["partitions"] == 3
    assert row["topics"] == [
        {
            "topic": "t",
            "lag": 2,
            "partitions": [
                {"partition": 0, "committed": 10, "end": 12, "lag": 2},
                {"partition": 1, "committed": 5, "end": 5, "lag": 0},
            ],
        },
        {"topic": "u", "lag": 0, "partitions": [{"partition": 0, "committed": None, "end": 9, "lag": None}]},
    ]
    assert row["history"] == [[1500, 2]]


def test_groups_sorted_ledger_first_then_active_then_by_lag() -> None:
    rows = [
        {"group_id": "idle-big", "members": 0, "lag": 900},
        {"group_id": "active-small", "members": 1, "lag": 1},
        {"group_id": "corridor-ledger", "members": 1, "lag": 0},
        {"group_id": "active-big", "members": 3, "lag": 50},
    ]
    order = [g["group_id"] for g in sort_groups(rows, first="corridor-ledger")]
    assert order == ["corridor-ledger", "active-big", "active-small", "idle-big"]


def test_avro_records_become_exact_json() -> None:
    record = {
        "amount": Decimal("1578676.7700"),
        "at": dt.datetime(2026, 3, 26, 5, 0, tzinfo=dt.UTC),
        "day": dt.date(2026, 4, 15),
        "id": uuid.UUID("0b0f5a4e-0000-4000-8000-000000000001"),
        "raw": b"\x01\xff",
        "lines": [{"qty": Decimal("5498.700")}],
    }
    assert jsonable(record) == {
        "amount": "1578676.7700",
        "at": "2026-03-26T05:00:00+00:00",
        "day": "2026-04-15",
        "id": "0b0f5a4e-0000-4000-8000-000000000001",
        "raw": "01ff",
        "lines": [{"qty": "5498.700"}],
    }


# -- settings --------------------------------------------------------------------------------------


def test_settings_default_to_the_local_stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Without a URL: the local stack's server, as the monitor's read-only role with its password."""
    monkeypatch.delenv("CORRIDOR_DATABASE_URL", raising=False)
    monkeypatch.setenv("CORRIDOR_POSTGRES_PORT", "55999")
    monkeypatch.setenv("CORRIDOR_STATE_DIR", str(tmp_path))
    settings = MonitorSettings()
    assert settings.effective_database_url() == "postgresql://corridor_monitor@127.0.0.1:55999/corridor"
    write_secret(tmp_path / "credentials" / "postgres-monitor.password", "s3cret")
    assert (
        settings.effective_database_url() == "postgresql://corridor_monitor:s3cret@127.0.0.1:55999/corridor"
    )
    assert settings.monitor_refresh_s == 2.0
    assert settings.monitor_ledger_schema == "ledger"


def test_settings_refuse_a_bad_schema_name_and_a_silly_refresh() -> None:
    with pytest.raises(ValidationError):
        MonitorSettings(monitor_ledger_schema='ledger"; drop')
    with pytest.raises(ValidationError):
        MonitorSettings(monitor_refresh_s=0)


def test_main_refuses_bad_settings_before_serving(capsys: pytest.CaptureFixture[str]) -> None:
    from corridor.monitor.__main__ import main

    assert main(["--ledger-schema", "Bad Name"]) == 2
    assert "invalid settings" in capsys.readouterr().err
    assert main(["--log-level", "LOUD"]) == 2
    assert "unknown log level" in capsys.readouterr().err


def test_describe_groups_is_capped_at_v2_whatever_the_broker_offers() -> None:
    from corridor.monitor.kafka_source import _DescribeGroups

    request = _DescribeGroups(["a", "b"]).prepare({15: (0, 5)})
    assert request.API_VERSION == 2 and request.groups == ["a", "b"]


# -- one answer, one sample ------------------------------------------------------------------------------


async def test_a_view_asked_mid_sample_waits_for_the_whole_sample(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CI run that failed: the page and /api/overview named the same ``sampled_at_ms`` but showed
    different latencies, because an answer was built between a tick's new latency and its new stamp."""
    import asyncio

    from corridor.monitor.collector import Monitor

    monitor = Monitor(MonitorSettings(bootstrap_servers="127.0.0.1:1"))
    gate = asyncio.Event()

    async def no_kafka() -> bool:
        return False

    async def nothing(now: float) -> None:
        return None

    async def ledger_then_wait(now: float) -> None:
        published = int(now * 1000) - 400
        monitor.latency.published("e1", published, SOURCE_OBSERVED)
        monitor.latency.matched("e1", published + 400)  # this sample's figure is in, its stamp is not yet
        await gate.wait()

    monkeypatch.setattr(monitor, "_ensure_kafka", no_kafka)
    monkeypatch.setattr(monitor, "_sample_groups", nothing)
    monkeypatch.setattr(monitor, "_sample_ledger", ledger_then_wait)
    try:
        tick = asyncio.create_task(monitor.tick())
        await asyncio.sleep(0.05)
        asked = asyncio.create_task(monitor.settled())
        await asyncio.sleep(0.05)
        assert not asked.done()  # no answer while the sample is half-way
        gate.set()
        view = (await asked).latency_view()
        await tick
        assert view["sampled_at_ms"] is not None and view["p50_ms"] == 400.0
        # and a tick that never ends does not wedge the views
        gate.clear()
        stuck = asyncio.create_task(monitor.tick())
        await asyncio.sleep(0.05)
        assert (await monitor.settled(within=0.1)) is monitor
        stuck.cancel()
    finally:
        await monitor.registry.close()
