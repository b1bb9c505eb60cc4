"""The ledger's pure parts: retry and dead-letter headers, API views and cursors, settings."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from pydantic import ValidationError

from corridor.core.domain.lifecycle import replay
from corridor.demo.story import chromite_story
from corridor.ledger import deadletter as dl
from corridor.ledger.settings import LedgerSettings
from corridor.ledger.views import decode_cursor, encode_cursor, trade_view

NOW = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
ORIGINAL = [("ce_id", b"e-1"), ("ce_type", b"corridor.trade.orders.OrderPlaced"), ("traceparent", b"00-ab")]


def as_dict(headers: list[tuple[str, bytes]]) -> dict[str, str]:
    return {k: v.decode() for k, v in headers}


def test_a_record_from_a_trade_topic_is_its_own_origin() -> None:
    origin = dl.origin_of("trade.orders.v1", 3, 41, ORIGINAL, NOW)
    assert origin == dl.Origin("trade.orders.v1", 3, 41, NOW, 1)


def test_retry_headers_carry_the_origin_through_every_tier() -> None:
    origin = dl.origin_of("trade.shipments.v1", 2, 7, ORIGINAL, NOW)
    first = dl.retry_headers(
        ORIGINAL,
        origin,
        attempt=1,
        not_before=NOW + dt.timedelta(seconds=5),
        group="g",
        reason="no order yet",
    )
    assert first[: len(ORIGINAL)] == ORIGINAL  # the original headers first, unchanged
    values = as_dict(first)
    assert values["retry_attempt"] == "1" and values["retry_consumer_group"] == "g"
    assert values["retry_not_before"] == str(int((NOW + dt.timedelta(seconds=5)).timestamp() * 1000))
    later = NOW + dt.timedelta(seconds=6)
    again = dl.origin_of("trade.retry.5s.v1", 0, 99, first, later)
    assert (again.topic, again.partition, again.offset) == ("trade.shipments.v1", 2, 7)
    assert again.first_seen == NOW and again.attempts == 2 and again.retry_group == "g"
    second = dl.retry_headers(first, again, attempt=2, not_before=later, group="g", reason="still")
    assert sum(1 for k, _ in second if k == "retry_attempt") == 1  # replaced, not appended
    assert dl.origin_of("trade.retry.30s.v1", 0, 5, second, later).attempts == 3


def test_dead_letter_headers() -> None:
    origin = dl.Origin("trade.shipments.v1", 2, 7, NOW, 4)
    retried = dl.retry_headers(ORIGINAL, origin, attempt=3, not_before=NOW, group="g", reason="x")
    headers = dl.dlq_headers(retried, origin, error_class="PrerequisiteMissing", reason="gave up", group="g")
    values = as_dict(headers)
    assert headers[: len(ORIGINAL)] == ORIGINAL
    assert not any(k.startswith("retry_") for k in values)
    assert values == {
        **as_dict(ORIGINAL),
        "dlq_original_topic": "trade.shipments.v1",
        "dlq_original_partition": "2",
        "dlq_original_offset": "7",
        "dlq_error_class": "PrerequisiteMissing",
        "dlq_reason": "gave up",
        "dlq_attempts": "4",
        "dlq_first_seen": "2026-11-22T10:00:00.000Z",
        "dlq_consumer_group": "g",
    }
    assert dt.datetime.fromisoformat(values["dlq_first_seen"]) == NOW


def test_mangled_retry_headers_count_as_a_first_sighting() -> None:
    origin = dl.origin_of("trade.retry.5s.v1", 1, 2, [("retry_attempt", b"two")], NOW)
    assert (origin.topic, origin.attempts) == ("trade.retry.5s.v1", 1)


def test_cursor_round_trip_and_refusal() -> None:
    trade_id = uuid.uuid4()
    assert decode_cursor(encode_cursor(NOW, trade_id)) == (NOW, trade_id)
    for bad in ("@@", "bm9ub25l", ""):
        with pytest.raises(ValueError):
            decode_cursor(bad)


def test_trade_view_shows_effective_certificate_status() -> None:
    story = chromite_story()
    state = replay(story.events)
    assert state is not None
    view = trade_view(state, NOW, dt.date(2027, 3, 2))  # the assay certificate has no expiry
    certs = {c["certificate_number"]: c for c in view["certificates"]}
    assert certs["CPFTA-PK-2026-118734"]["status"] == "PREFERENCE_GRANTED"  # used before it expired
    assert certs["CPFTA-PK-2026-118734"]["expired"] is True
    assert certs["SGS-KHI-MIN-26-03391"]["expired"] is False
    assert view["updated_at"] == "2026-11-22T10:00:00Z"
    assert view["order"]["revision"] == 1 and view["order"]["hs_codes"] == ["261000"]
    shipment, second = view["shipments"]  # two vessels of dry bulk: bulk milestones, no containers
    assert [m["event_type"] for m in shipment["milestones"]] == [
        "NOR_TENDERED",
        "LOADING_COMMENCED",
        "LOADING_COMPLETED",
        "FINAL_DRAFT_SURVEY",
        "DEPA",
        "ARRI",
        "DISCHARGE_COMMENCED",
        "DISCHARGE_COMPLETED",
    ]
    assert shipment["quantity_finding"] == "short landed 2.7 TNE of 2,751.3 TNE shipped"
    assert second["allocations"] == [{"line_number": 1, "quantity": "2750.000", "unit": "TNE"}]
    assert "applied" not in view


def test_retry_delays_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORRIDOR_LEDGER_RETRY_DELAYS_S", "1, 2.5,300")
    assert LedgerSettings().ledger_retry_delays_s == (1.0, 2.5, 300.0)
    monkeypatch.setenv("CORRIDOR_LEDGER_RETRY_DELAYS_S", "1,2")
    with pytest.raises(ValidationError):
        LedgerSettings()
    monkeypatch.delenv("CORRIDOR_LEDGER_RETRY_DELAYS_S")
    assert LedgerSettings().ledger_retry_delays_s == (5.0, 30.0, 300.0)
    with pytest.raises(ValidationError):
        LedgerSettings(ledger_db_schema="Robert'); DROP TABLE")
