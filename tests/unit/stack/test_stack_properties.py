"""server.properties as rendered for one and for three KRaft nodes."""

from __future__ import annotations

from pathlib import Path

import pytest

from corridor.stack.config import Listener, StackConfig
from corridor.stack.kafka import (
    broker_argv,
    new_cluster_id,
    parse_properties,
    render_server_properties,
    replication_for,
)


@pytest.fixture
def config(tmp_path: Path) -> StackConfig:
    return StackConfig(state_dir=tmp_path)


def props(config: StackConfig, node_id: int, brokers: int) -> dict[str, str]:
    return parse_properties(render_server_properties(config, node_id, brokers))


def test_single_node(config: StackConfig, tmp_path: Path) -> None:
    p = props(config, 1, 1)
    assert p["process.roles"] == "broker,controller"
    assert p["node.id"] == "1"
    assert p["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert p["listeners"] == "INTERNAL://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert p["advertised.listeners"] == "INTERNAL://127.0.0.1:9092"
    assert p["listener.security.protocol.map"] == "INTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    assert p["controller.listener.names"] == "CONTROLLER"
    assert p["inter.broker.listener.name"] == "INTERNAL"
    assert p["log.dirs"] == str(tmp_path / "kafka" / "broker-1" / "data")
    assert p["auto.create.topics.enable"] == "false"
    assert p["group.initial.rebalance.delay.ms"] == "0"
    for key in (
        "default.replication.factor",
        "min.insync.replicas",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
    ):
        assert p[key] == "1", key


@pytest.mark.parametrize("node_id, port, controller", [(1, 9092, 9093), (2, 9192, 9193), (3, 9292, 9293)])
def test_three_nodes(config: StackConfig, node_id: int, port: int, controller: int) -> None:
    p = props(config, node_id, 3)
    assert p["node.id"] == str(node_id)
    assert p["controller.quorum.voters"] == "1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293"
    assert p["listeners"] == f"INTERNAL://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}"
    assert p["advertised.listeners"] == f"INTERNAL://127.0.0.1:{port}"
    assert p["default.replication.factor"] == "3"
    assert p["min.insync.replicas"] == "2"
    assert p["offsets.topic.replication.factor"] == "3"
    assert p["transaction.state.log.replication.factor"] == "3"
    assert p["transaction.state.log.min.isr"] == "2"
    assert p["log.dirs"].endswith(f"broker-{node_id}/data")


def test_every_property_is_rendered_once(config: StackConfig) -> None:
    keys = [
        line.split("=", 1)[0]
        for line in render_server_properties(config, 2, 3).splitlines()
        if line and not line.startswith("#")
    ]
    assert len(keys) == len(set(keys))


def test_replication_follows_cluster_size() -> None:
    assert replication_for(1) == (1, 1)
    assert replication_for(2) == (2, 1)
    assert replication_for(3) == (3, 2)
    assert replication_for(5) == (3, 2)


def test_other_ports_for_an_isolated_stack(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path, kafka_port=19092, port_stride=10)
    p = props(config, 2, 2)
    assert p["listeners"] == "INTERNAL://127.0.0.1:19102,CONTROLLER://127.0.0.1:19103"
    assert p["controller.quorum.voters"] == "1@127.0.0.1:19093,2@127.0.0.1:19103"
    assert config.bootstrap_servers(2) == "127.0.0.1:19092,127.0.0.1:19102"


def test_a_partner_listener_slots_in(tmp_path: Path) -> None:
    """The shape a SASL_PLAINTEXT/SCRAM listener for partners will take: one more Listener."""
    partner = Listener(
        "PARTNER",
        "SASL_PLAINTEXT",
        2,
        properties={"sasl.enabled.mechanisms": "SCRAM-SHA-512"},
    )
    config = StackConfig(state_dir=tmp_path)
    config = config.replace(listeners=(*config.listeners, partner))
    p = props(config, 1, 1)
    assert p["listeners"].endswith(",PARTNER://127.0.0.1:9094")
    assert p["advertised.listeners"] == "INTERNAL://127.0.0.1:9092,PARTNER://127.0.0.1:9094"
    assert "PARTNER:SASL_PLAINTEXT" in p["listener.security.protocol.map"]
    assert p["listener.name.partner.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert p["inter.broker.listener.name"] == "INTERNAL"


def test_broker_command_line(config: StackConfig, tmp_path: Path) -> None:
    argv = broker_argv(config, Path("/usr/bin/java"), 2)
    assert argv[0] == "/usr/bin/java"
    assert "-Xmx768m" in argv and "-XX:+UseG1GC" in argv
    assert f"-Dkafka.logs.dir={tmp_path}/kafka/broker-2/logs" in argv
    assert any(a.startswith("-Dlog4j2.configurationFile=") and a.endswith("log4j2.properties") for a in argv)
    assert argv[argv.index("-cp") + 1] == f"{tmp_path}/kafka/libs/*"
    assert argv[-2:] == ["kafka.Kafka", str(tmp_path / "kafka" / "broker-2" / "server.properties")]


def test_cluster_id_looks_like_a_kafka_uuid() -> None:
    ids = {new_cluster_id() for _ in range(50)}
    assert len(ids) == 50
    for cid in ids:
        assert len(cid) == 22 and not cid.startswith("-")


def test_listener_advertised_elsewhere_still_binds_the_stack_host(tmp_path: Path) -> None:
    """The fault suite's FAULTS listener (docs/adr/0042-network-partitions.md): bound on loopback,
    advertised at the address its proxy listens on; the other listeners are unchanged."""
    from corridor.stack.config import DEFAULT_LISTENERS, PARTNER_LISTENER

    faults = Listener(
        "FAULTS", "SASL_PLAINTEXT", 2, properties=PARTNER_LISTENER.properties, advertised_host="10.231.10.1"
    )
    config = StackConfig(state_dir=tmp_path, listeners=(*DEFAULT_LISTENERS, faults))
    p = props(config, 2, 3)
    assert p["listeners"] == (
        "INTERNAL://127.0.0.1:9192,CONTROLLER://127.0.0.1:9193,FAULTS://127.0.0.1:9194"
    )
    assert p["advertised.listeners"] == "INTERNAL://127.0.0.1:9192,FAULTS://10.231.10.1:9194"
    assert p["listener.security.protocol.map"].endswith("FAULTS:SASL_PLAINTEXT")
    assert "listener.name.faults.scram-sha-512.sasl.jaas.config" in p
