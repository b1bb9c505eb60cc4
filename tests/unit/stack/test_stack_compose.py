"""deploy/compose.yaml must describe the same backbone as `corridor stack up --brokers 3`: three KRaft
nodes with the partner listener and the authorizer (tests/unit/deploy/test_compose_file.py validates the
file itself and its topics and principals)."""

from __future__ import annotations

import shlex
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from corridor.core.settings import (
    DEFAULT_BOOTSTRAP_SERVERS,
    DEFAULT_GATEWAY_URL,
    DEFAULT_LEDGER_URL,
    DEFAULT_POSTGRES_PORT,
    DEFAULT_SCHEMA_REGISTRY_URL,
    PROJECT_ROOT,
)
from corridor.deploy.access import backbone_topics
from corridor.stack.config import DEFAULT_JVM_OPTS, KAFKA_POM, PARTNER_LISTENERS, StackConfig
from corridor.stack.kafka import server_properties
from corridor.stack.services import SERVICES, Service

COMPOSE = PROJECT_ROOT / "deploy" / "compose.yaml"
DOCKERFILE = PROJECT_ROOT / "deploy" / "Dockerfile"

# Broker settings that must be equal in both; the rest (addresses, paths, thread counts) differ by design.
# inter.broker.listener.name differs by design: compose's brokers replicate over the DOCKER listener,
# since the PLAINTEXT one advertises 127.0.0.1 (the host), which inside a container is the container.
SHARED_SETTINGS = (
    "process.roles",
    "controller.listener.names",
    "num.partitions",
    "auto.create.topics.enable",
    "default.replication.factor",
    "min.insync.replicas",
    "unclean.leader.election.enable",
    "offsets.topic.replication.factor",
    "offsets.topic.num.partitions",
    "transaction.state.log.replication.factor",
    "transaction.state.log.min.isr",
    "transaction.state.log.num.partitions",
    "share.coordinator.state.topic.replication.factor",
    "share.coordinator.state.topic.min.isr",
    "group.initial.rebalance.delay.ms",
    "transactional.id.expiration.ms",
    # the authorizer and the partner listener (docs/adr/0010-partner-isolation.md). Not super.users nor
    # the internal and controller listeners: the local stack's authenticate (docs/adr/0024), compose's are
    # still plaintext with User:ANONYMOUS as super user until it gets the principals (issue 16, item 7).
    "authorizer.class.name",
    "allow.everyone.if.no.acl.found",
    "listener.name.partner.sasl.enabled.mechanisms",
    "listener.name.partner.scram-sha-512.sasl.jaas.config",
)
NODES = (1, 2, 3)


def env_name(key: str) -> str:
    """The apache/kafka image's spelling of a setting: '_' -> '__', '-' -> '___', '.' -> '_'."""
    return "KAFKA_" + key.replace("_", "__").replace("-", "___").replace(".", "_").upper()


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


@pytest.fixture(scope="module")
def kafka_env(compose: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in compose["services"]["kafka-1"]["environment"].items()}


def local_config(tmp_path: Path) -> StackConfig:
    """The default stack's configuration: with the partner listener (StackConfig.from_settings)."""
    return StackConfig(state_dir=tmp_path, listeners=PARTNER_LISTENERS)


def pom_kafka_version() -> str:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(KAFKA_POM).getroot().find("m:properties/m:kafka.version", ns)
    assert version is not None and version.text
    return version.text


def test_kafka_image_matches_the_pom(compose: dict[str, Any]) -> None:
    expected = f"apache/kafka:{pom_kafka_version()}"
    for name in (*(f"kafka-{n}" for n in NODES), "kafka-init"):
        assert compose["services"][name]["image"] == expected


def test_broker_settings_match_the_local_stack(compose: dict[str, Any], tmp_path: Path) -> None:
    for node in NODES:
        env = {k: str(v) for k, v in compose["services"][f"kafka-{node}"]["environment"].items()}
        local = server_properties(local_config(tmp_path), node_id=node, brokers=len(NODES))
        assert env["KAFKA_NODE_ID"] == local["node.id"]
        for key in SHARED_SETTINGS:
            name = env_name(key)
            assert env.get(name) == local[key], f"kafka-{node}: {name} differs from {key}={local[key]}"
        protocols = dict(item.split(":") for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
        local_protocols = dict(item.split(":") for item in local["listener.security.protocol.map"].split(","))
        # the same protocol on the same listener; DOCKER (the containers' way in) as INTERNAL
        for name in ("INTERNAL", "CONTROLLER", "PARTNER"):
            assert protocols[name] == local_protocols[name], name
        assert protocols["DOCKER"] == local_protocols["INTERNAL"]
        for name in ("internal", "controller", "partner"):
            key = f"listener.name.{name}.sasl.enabled.mechanisms"
            assert env[env_name(key)] == local[key], key
        assert env["KAFKA_SUPER_USERS"] == local["super.users"]
        assert (
            env["KAFKA_SASL_MECHANISM_INTER_BROKER_PROTOCOL"] == local["sasl.mechanism.inter.broker.protocol"]
        )


def test_listeners_and_ports_match(compose: dict[str, Any], tmp_path: Path) -> None:
    config = local_config(tmp_path)
    assert f"{config.host}:{config.client_port(1)}" == DEFAULT_BOOTSTRAP_SERVERS
    voters = ",".join(f"{n}@kafka-{n}:9093" for n in NODES)
    for node in NODES:
        service = compose["services"][f"kafka-{node}"]
        env = service["environment"]
        client, partner = config.port(node, "INTERNAL"), config.port(node, "PARTNER")
        listeners = dict(item.split("://") for item in env["KAFKA_LISTENERS"].split(","))
        assert listeners == {
            "INTERNAL": ":9092",
            "CONTROLLER": ":9093",
            "PARTNER": ":9094",
            "DOCKER": ":19092",
        }
        advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
        # The host reaches node N where the local stack's node N listens.
        assert advertised == {
            "INTERNAL": f"{config.host}:{client}",
            "PARTNER": f"{config.host}:{partner}",
            "DOCKER": f"kafka-{node}:19092",
        }
        assert service["ports"] == [f"127.0.0.1:{client}:9092", f"127.0.0.1:{partner}:9094"]
        assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == voters

    registry_port = urlsplit(DEFAULT_SCHEMA_REGISTRY_URL).port
    assert compose["services"]["registry"]["ports"] == [f"127.0.0.1:{registry_port}:{registry_port}"]
    assert compose["services"]["postgres"]["ports"] == [f"127.0.0.1:{DEFAULT_POSTGRES_PORT}:5432"]
    for url, name in ((DEFAULT_GATEWAY_URL, "gateway"), (DEFAULT_LEDGER_URL, "ledger")):
        port = urlsplit(url).port
        assert compose["services"][name]["ports"] == [f"127.0.0.1:{port}:{port}"]


def test_heap_matches(kafka_env: dict[str, str]) -> None:
    heap = [opt for opt in DEFAULT_JVM_OPTS if opt.startswith(("-Xms", "-Xmx"))]
    assert kafka_env["KAFKA_HEAP_OPTS"].split() == heap


def created_topics(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    script = compose["services"]["kafka-init"]["command"][0]
    topics: dict[str, dict[str, Any]] = {}
    for line in script.splitlines():
        words = shlex.split(line.strip())
        if not words or words[0] != "create":
            continue
        topic: dict[str, Any] = {"configs": {}}
        pairs = iter(words[1:])
        for flag in pairs:
            value = next(pairs)
            if flag == "--config":
                key, _, val = value.partition("=")
                topic["configs"][key] = val
            else:
                topic[flag.lstrip("-")] = value
        topics[topic["topic"]] = topic
    return topics


def test_init_container_creates_the_backbones_topics(compose: dict[str, Any]) -> None:
    topics = created_topics(compose)
    assert sorted(topics) == sorted(spec.name for spec in backbone_topics())
    for spec in backbone_topics():
        topic = topics[spec.name]
        assert int(topic["partitions"]) == spec.partitions
        assert int(topic["replication-factor"]) == spec.replication_factor(len(NODES)) == 3
        assert topic["configs"] == spec.configs_for(len(NODES))


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_python_services(compose: dict[str, Any], service: Service, tmp_path: Path) -> None:
    """Every service of the local stack's table, from the one image, on the local stack's port."""
    found = compose["services"][service.name]
    port = service.port(StackConfig(state_dir=tmp_path))
    assert found["build"]["dockerfile"] == "deploy/Dockerfile"
    assert found["image"] == compose["services"]["registry"]["image"]
    assert found["command"] == ["python", "-m", service.module, "--host", "0.0.0.0", "--port", str(port)]
    assert found["ports"] == [f"127.0.0.1:{port}:{port}"]
    env = found["environment"]
    database = urlsplit(env["CORRIDOR_DATABASE_URL"])
    # its own role (ADR 25), the password from its own env file (PGPASSWORD), never in the file itself
    assert (database.hostname, database.username, database.password) == (
        "postgres",
        f"corridor_{service.name}",
        None,
    )
    assert found["env_file"] == [{"path": f"./credentials/{service.name}.env", "required": True}]
    # the DOCKER listener of every node
    assert env["CORRIDOR_BOOTSTRAP_SERVERS"] == ",".join(f"kafka-{n}:19092" for n in NODES)
    assert env["CORRIDOR_SERVICE_NAME"] == service.name
    assert f"http://127.0.0.1:{port}{service.ready_path}" in " ".join(found["healthcheck"]["test"])
    if service.stage > 0:  # started after the registry, which it reaches by its container name
        assert found["depends_on"] == {"registry": {"condition": "service_healthy"}}
        assert env["CORRIDOR_SCHEMA_REGISTRY_URL"] == "http://registry:8081"
    assert compose["services"]["postgres"]["image"] == "postgres:17"


def test_only_the_table_builds_on_the_python_image(compose: dict[str, Any]) -> None:
    python = {n for n, s in compose["services"].items() if "build" in s}
    assert python == {s.name for s in SERVICES}


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text()
    assert "\nFROM python:3.11-slim\n" in text
    assert "pip install ." in text
    assert '"-m", "corridor.registry"' in text
    # gateway, registry, ledger, monitor, relay, webhooks
    assert "\nEXPOSE 8080 8081 8082 8083 8084 8085\n" in text
