"""The core's metric helpers: families, headers, e2e latency, lag series, exposition."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from corridor.core import metrics


def test_every_family_is_in_the_exposition_with_its_type() -> None:
    text = metrics.exposition().decode()
    for family in metrics.FAMILIES:
        assert f"# TYPE {family} " in text


def test_header_helpers() -> None:
    headers = [("ce_id", b"e-1"), (metrics.PUBLISHED_MS_HEADER, b"1700000000123"), ("bad_ms", b"soon")]
    assert metrics.header_value(headers, "ce_id") == "e-1"
    assert metrics.header_ms(headers, metrics.PUBLISHED_MS_HEADER) == 1700000000123
    assert metrics.header_ms(headers, "bad_ms") is None
    assert metrics.header_ms(headers, "missing") is None
    assert metrics.header_ms(None, "missing") is None
    assert metrics.short_type("corridor.trade.orders.OrderPlaced") == "OrderPlaced"
    assert metrics.short_type(None) == "unknown"


def test_e2e_latency_is_publish_to_commit_and_never_negative() -> None:
    def count() -> float:
        text = metrics.exposition().decode()
        return (
            metrics.sample_value(text, "corridor_e2e_latency_seconds_count", service="unit", topic="t.e2e")
            or 0.0
        )

    before = count()
    assert metrics.observe_e2e("unit", "t.e2e", 1_000, 1_250) == 0.25
    assert metrics.observe_e2e("unit", "t.e2e", 2_000, 1_000) == 0.0  # clocks disagree: recorded as 0
    assert metrics.observe_e2e("unit", "t.e2e", None, 1_000) is None  # no publish time: not recorded
    assert count() == before + 2
    text = metrics.exposition().decode()
    assert (
        metrics.sample_value(text, "corridor_e2e_latency_seconds_sum", service="unit", topic="t.e2e") == 0.25
    )
    assert (
        metrics.sample_value(
            text, "corridor_e2e_latency_seconds_bucket", service="unit", topic="t.e2e", le="0.25"
        )
        == 2.0
    )


def test_lag_series_are_set_and_cleared_per_partition() -> None:
    metrics.set_lag("unit", "g1", {("t.lag", 0): 5, ("t.lag", 1): -3})
    text = metrics.exposition().decode()
    assert metrics.sample_value(text, "corridor_consumer_lag", group="g1", topic="t.lag", partition="0") == 5
    assert metrics.sample_value(text, "corridor_consumer_lag", group="g1", topic="t.lag", partition="1") == 0
    assert metrics.sample_sum(text, "corridor_consumer_lag", group="g1") == 5
    metrics.clear_lag("unit", "g1", [("t.lag", 0), ("t.lag", 7)])  # an unknown series is no error
    text = metrics.exposition().decode()
    assert (
        metrics.sample_value(text, "corridor_consumer_lag", group="g1", topic="t.lag", partition="0") is None
    )


def test_exposition_joins_a_service_registry() -> None:
    own = CollectorRegistry()
    Counter("unit_own_things", "a service's own counter", registry=own).inc(3)
    text = metrics.exposition(own).decode()
    assert metrics.sample_value(text, "unit_own_things_total") == 3
    assert "# TYPE corridor_events_in_total counter" in text
    response = metrics.metrics_response(own)
    assert response.media_type.startswith("text/plain") and b"unit_own_things_total" in response.body


class _Route:
    path = "/v1/trades/{trade_id}"


def test_request_handler_label_is_the_route_template() -> None:
    assert metrics.route_label("GET", {"route": _Route()}) == "GET /v1/trades/{trade_id}"
    assert metrics.route_label("GET", {}) == "GET (unmatched)"
    metrics.observe_request("unit", "GET", {"route": _Route()}, 0.003)
    text = metrics.exposition().decode()
    assert metrics.sample_value(
        text, "corridor_handler_duration_seconds_count", service="unit", handler="GET /v1/trades/{trade_id}"
    )
