"""Partitions chosen at deployment (ADR 0040): the one setting, and the co-partitioning check the ledger,
the relay and the renderings rely on."""

from __future__ import annotations

import pytest

from corridor.core.topics import (
    DEFAULT_TRADE_PARTITIONS,
    PARTITIONS_ENV,
    PartitionCountError,
    check_co_partitioned,
    trade_partitions,
    trade_topic_specs,
)
from corridor.deploy.access import backbone_topics
from corridor.ledger.topics import CO_PARTITIONED_TOPICS, ledger_topic_specs
from corridor.relay.settings import RelaySettings


def test_the_setting_defaults_to_the_local_stacks_six_and_reads_the_deployment() -> None:
    assert trade_partitions({}) == DEFAULT_TRADE_PARTITIONS == 6
    assert trade_partitions({PARTITIONS_ENV: " 24 "}) == 24
    assert trade_partitions({PARTITIONS_ENV: ""}) == 6


@pytest.mark.parametrize(
    ("raw", "reason"), [("24x", "not a whole number"), ("0", "from 1 to"), ("5000", "from 1 to")]
)
def test_a_bad_setting_names_the_variable_and_the_reason(raw: str, reason: str) -> None:
    with pytest.raises(PartitionCountError, match=rf"{PARTITIONS_ENV}=.*{reason}"):
        trade_partitions({PARTITIONS_ENV: raw})


def test_every_trade_keyed_topic_takes_the_one_count() -> None:
    specs = (*trade_topic_specs(24), *ledger_topic_specs(24))
    assert {s.partitions for s in specs} == {24}
    assert set(CO_PARTITIONED_TOPICS) <= {s.name for s in specs}
    by_name = {s.name: s for s in backbone_topics(24)}
    assert by_name["corridor-relay.state.v2"].partitions == 24
    assert by_name["trade.dlq.replays.v1"].partitions == 1  # the replay markers are not keyed by trade


def test_unequal_counts_are_refused_naming_each_topic() -> None:
    assert check_co_partitioned({"trade.orders.v1": 6, "trade.retry.5s.v1": 6}) == 6
    with pytest.raises(
        PartitionCountError, match=r"trade.orders.v1=24, trade.retry.5s.v1=6.*new topic generation"
    ):
        check_co_partitioned({"trade.orders.v1": 24, "trade.retry.5s.v1": 6})
    with pytest.raises(PartitionCountError, match="missing"):
        check_co_partitioned({"trade.orders.v1": 6, "trade.accepted.v1": 0})


def test_the_relay_creates_partner_topics_at_the_deployments_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PARTITIONS_ENV, "12")
    assert RelaySettings().relay_partner_partitions == 12
    monkeypatch.setenv(PARTITIONS_ENV, "twelve")
    with pytest.raises(PartitionCountError, match=PARTITIONS_ENV):
        RelaySettings()
