"""The monitor's arithmetic: rates from offset samples, percentiles, lag, dead-letter reasons."""

from __future__ import annotations

import pytest

from corridor.monitor.stats import (
    RateSeries,
    ReasonCounter,
    Sample,
    group_lag,
    histogram,
    partition_lag,
    percentile,
    percentiles,
    rate_between,
    reason_pattern,
    total_lag,
)

# -- rates -----------------------------------------------------------------------------------------


def test_rate_is_the_end_offset_delta_over_the_elapsed_time() -> None:
    assert rate_between(Sample(10.0, 1_000), Sample(12.0, 1_050)) == 25.0


def test_a_topic_recreated_or_a_clock_that_did_not_move_gives_no_rate() -> None:
    assert rate_between(Sample(10.0, 1_000), Sample(12.0, 10)) == 0.0  # total went down
    assert rate_between(Sample(10.0, 1_000), Sample(10.0, 1_500)) == 0.0
    assert rate_between(Sample(12.0, 1_000), Sample(10.0, 1_500)) == 0.0


def test_series_rate_is_the_last_interval_and_history_has_one_point_per_interval() -> None:
    series = RateSeries(keep=10)
    assert series.rate() == 0.0  # one sample is no rate yet
    for at, total in ((0.0, 0), (2.0, 10), (4.0, 10), (6.0, 70)):
        series.add(at, total)
    assert series.rate() == 30.0
    assert series.history() == [(2.0, 5.0), (4.0, 0.0), (6.0, 30.0)]


def test_series_keeps_only_the_newest_samples() -> None:
    series = RateSeries(keep=3)
    for i in range(10):
        series.add(float(i), i * 100)
    assert len(series) == 3
    assert series.latest == Sample(9.0, 900)
    assert [at for at, _ in series.history()] == [8.0, 9.0]


def test_a_sample_at_the_same_instant_is_ignored() -> None:
    series = RateSeries()
    series.add(1.0, 10)
    series.add(1.0, 99)
    assert series.latest == Sample(1.0, 10)


def test_rate_over_a_window_averages_the_intervals_inside_it() -> None:
    series = RateSeries()
    for at, total in ((0.0, 0), (10.0, 100), (20.0, 100), (30.0, 400)):
        series.add(at, total)
    assert series.rate_over(10) == 30.0  # 300 records in the last 10 s
    assert series.rate_over(20) == 15.0  # 300 in 20 s
    assert series.rate_over(60) == pytest.approx(400 / 30)


def test_rate_over_skips_an_interval_where_the_total_dropped() -> None:
    series = RateSeries()
    for at, total in ((0.0, 500), (10.0, 20), (20.0, 120)):
        series.add(at, total)
    assert series.rate_over(60) == 5.0  # 100 records over the 20 s window, the drop counts 0


def test_a_series_needs_two_samples() -> None:
    with pytest.raises(ValueError):
        RateSeries(keep=1)


# -- percentiles -------------------------------------------------------------------------------------


def test_percentiles_interpolate_between_ranks() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 100.0


def test_percentiles_of_few_values() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0
    assert percentile([10.0, 20.0], 50) == 15.0


def test_percentiles_sorts_and_names_them() -> None:
    result = percentiles([30.0, 10.0, 20.0, 40.0])
    assert result == {"p50": 25.0, "p95": pytest.approx(38.5), "p99": pytest.approx(39.7)}
    assert percentiles([]) == {"p50": None, "p95": None, "p99": None}


def test_a_percentile_outside_0_to_100_is_an_error() -> None:
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_histogram_counts_each_value_in_its_first_bucket_and_overflow_last() -> None:
    buckets = histogram([1, 5, 6, 10, 11, 1_000], bounds=(5, 10, 100))
    assert [(b.upper_ms, b.count) for b in buckets] == [(5, 2), (10, 2), (100, 1), (None, 1)]


# -- lag ------------------------------------------------------------------------------------------------


def test_lag_is_end_minus_committed() -> None:
    assert partition_lag(120, 100) == 20
    assert partition_lag(120, 120) == 0  # read everything: the committed offset is the next to read


def test_lag_unknown_without_a_commit_and_never_negative() -> None:
    assert partition_lag(120, None) is None
    assert partition_lag(120, -1) is None  # Kafka's "no offset"
    assert partition_lag(None, 5) is None
    assert partition_lag(10, 50) == 0  # committed past the end (topic recreated)


def test_group_lag_per_partition_and_total() -> None:
    committed = {("b", 0): 5, ("a", 1): 10, ("a", 0): -1}
    ends = {("a", 0): 7, ("a", 1): 15, ("b", 0): 5}
    rows = group_lag(committed, ends)
    assert [(r.topic, r.partition, r.committed, r.end, r.lag) for r in rows] == [
        ("a", 0, None, 7, None),
        ("a", 1, 10, 15, 5),
        ("b", 0, 5, 5, 0),
    ]
    assert total_lag(rows) == 5


def test_group_lag_of_a_partition_the_monitor_has_not_seen() -> None:
    rows = group_lag({("gone", 0): 3}, {})
    assert rows[0].lag is None and total_lag(rows) == 0


# -- dead-letter reasons -------------------------------------------------------------------------------


def test_reason_patterns_mask_ids_times_and_numbers() -> None:
    a = (
        "trade 498bc871-d604-4aca-a8fb-6469424e6b5a already has order TJRD-PO-2026-0117 "
        "(placed 2026-02-10T01:30:00+00:00); order TJRD-PO-2026-0117 cannot be placed on it"
    )
    b = a.replace("498bc871-d604-4aca-a8fb-6469424e6b5a", "00000000-0000-4000-8000-000000000001").replace(
        "0117", "0200"
    )
    assert reason_pattern(a) == reason_pattern(b)
    assert reason_pattern(a) == (
        "trade <id> already has order TJRD-PO-#-# (placed <time>); order TJRD-PO-#-# cannot be placed on it"
    )
    assert reason_pattern("cannot decode Avro body with schema id 12") == (
        "cannot decode Avro body with schema id #"
    )


def test_long_reasons_are_cut() -> None:
    assert len(reason_pattern("x" * 1_000)) == 160


def test_reason_counter_ranks_by_count_and_keeps_an_example() -> None:
    counter = ReasonCounter()
    for schema_id in (3, 4, 5):
        counter.add("UnknownSchemaId", f"schema registry: Schema {schema_id} not found")
    counter.add("WireFormatError", "magic byte is 7, expected 0")
    counter.add(None, None)
    top = counter.top(2)
    assert top == [
        {
            "error_class": "UnknownSchemaId",
            "reason": "schema registry: Schema # not found",
            "count": 3,
            "example": "schema registry: Schema 5 not found",
        },
        {
            "error_class": "WireFormatError",
            "reason": "magic byte is #, expected #",
            "count": 1,
            "example": "magic byte is 7, expected 0",
        },
    ]
    assert counter.total == 5
    assert counter.by_class() == {"UnknownSchemaId": 3, "WireFormatError": 1, "unknown": 1}
