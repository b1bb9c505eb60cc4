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


def test_a_generations_names_keep_the_contract_version_and_never_stack() -> None:
    from corridor.ops.generation import default_pairs, generation_name

    assert generation_name("trade.orders.v1", 1) == "trade.orders.v1"
    assert generation_name("trade.orders.v1", 2) == "trade.orders.v1.g2"
    assert generation_name("trade.orders.v1.g2", 3) == "trade.orders.v1.g3"
    assert generation_name("trade.orders.v1.g2", 1) == "trade.orders.v1"
    assert default_pairs(2) == [
        ("trade.orders.v1", "trade.orders.v1.g2"),
        ("trade.shipments.v1", "trade.shipments.v1.g2"),
        ("trade.certificates.v1", "trade.certificates.v1.g2"),
    ]
    with pytest.raises(ValueError, match="generation 0"):
        generation_name("trade.orders.v1", 0)


def test_the_copy_command_wants_one_way_of_naming_its_topics() -> None:
    from click.testing import CliRunner

    from corridor.cli import cli
    from corridor.cli.ops import register

    register(cli)
    runner = CliRunner()
    both = runner.invoke(cli, ["generation", "copy", "--partitions", "6", "--to", "2", "--topic", "a=b"])
    assert both.exit_code == 2 and "either --to N or --topic" in both.output
    bad = runner.invoke(cli, ["generation", "copy", "--partitions", "6", "--topic", "a"])
    assert bad.exit_code == 2 and "expected SOURCE=DESTINATION" in bad.output
