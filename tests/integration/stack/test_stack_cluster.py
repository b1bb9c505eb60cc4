"""A three-node KRaft cluster: replication 3 and min ISR 2 everywhere, and a broker survives kill -9."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator

import pytest

from corridor.core.topics import TOPIC_SPECS
from corridor.stack import StackConfig, StackStatus, kill_broker, start_broker, status, up
from corridor.stack.admin import admin_client, describe_topics

from .conftest import isolated_config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cluster(
    isolated_cleanup: list[StackConfig], database_url: str
) -> Iterator[tuple[StackConfig, StackStatus]]:
    # Kafka only: PostgreSQL is the session's (checked, not started) and the services are covered by
    # the single-broker tests, so this module spends its time on the three JVMs.
    config = isolated_config(brokers=3, database_url=database_url, services=())
    isolated_cleanup.append(config)
    yield config, up(config)


def test_three_brokers_registered(cluster: tuple[StackConfig, StackStatus]) -> None:
    config, result = cluster
    assert result.ok, result.problems
    assert [b.node_id for b in result.brokers] == [1, 2, 3]
    assert all(b.alive and b.listening for b in result.brokers)
    assert [b.port for b in result.brokers] == [config.kafka_port + d for d in (0, 100, 200)]
    assert result.started == ["broker-1", "broker-2", "broker-3"]
    assert result.postgres.embedded is False
    assert result.services == {} and result.service_status == {}


def test_trade_topics_replicated_three_times(cluster: tuple[StackConfig, StackStatus]) -> None:
    _, result = cluster
    described = asyncio.run(describe_topics(result.bootstrap_servers, [s.name for s in TOPIC_SPECS]))
    for spec in TOPIC_SPECS:
        topic = described[spec.name]
        assert topic["partitions"] == spec.partitions
        assert topic["replication_factor"] == 3
        assert topic["configs"]["min.insync.replicas"] == "2"


def test_internal_topic_settings(cluster: tuple[StackConfig, StackStatus]) -> None:
    _, result = cluster

    async def broker_configs() -> dict[str, str]:
        from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

        async with admin_client(result.bootstrap_servers) as client:
            responses = await client.describe_configs([ConfigResource(ConfigResourceType.BROKER, "1")])
        entries = responses[0].to_object()["resources"][0]["config_entries"]
        return {e["config_names"]: e["config_value"] for e in entries}

    configs = asyncio.run(broker_configs())
    assert configs["default.replication.factor"] == "3"
    assert configs["min.insync.replicas"] == "2"
    assert configs["offsets.topic.replication.factor"] == "3"
    assert configs["transaction.state.log.replication.factor"] == "3"
    assert configs["transaction.state.log.min.isr"] == "2"


def test_kill_9_and_restart_a_broker(cluster: tuple[StackConfig, StackStatus]) -> None:
    config, _ = cluster
    kill_broker(config, 2, signal.SIGKILL)
    assert [b.alive for b in status(config).brokers] == [True, False, True]
    restarted = start_broker(config, 2)
    assert restarted.alive and restarted.listening
    assert status(config).ok
