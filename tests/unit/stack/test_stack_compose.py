"""deploy/compose.yaml must describe the same backbone as `corridor stack up` with one broker."""

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
from corridor.core.topics import TOPIC_SPECS
from corridor.stack.config import DEFAULT_JVM_OPTS, KAFKA_POM, StackConfig
from corridor.stack.kafka import server_properties
from corridor.stack.services import SERVICES, Service

COMPOSE = PROJECT_ROOT / "deploy" / "compose.yaml"
DOCKERFILE = PROJECT_ROOT / "deploy" / "Dockerfile"

# Broker settings that must be equal in both; the rest (addresses, paths, thread counts) differ by design.
SHARED_SETTINGS = (
    "process.roles",
    "controller.listener.names",
    "inter.broker.listener.name",
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
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


@pytest.fixture(scope="module")
def kafka_env(compose: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in compose["services"]["kafka"]["environment"].items()}


def pom_kafka_version() -> str:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(KAFKA_POM).getroot().find("m:properties/m:kafka.version", ns)
    assert version is not None and version.text
    return version.text


def test_kafka_image_matches_the_pom(compose: dict[str, Any]) -> None:
    expected = f"apache/kafka:{pom_kafka_version()}"
    assert compose["services"]["kafka"]["image"] == expected
    assert compose["services"]["kafka-init"]["image"] == expected


def test_broker_settings_match_the_local_stack(kafka_env: dict[str, str], tmp_path: Path) -> None:
    local = server_properties(StackConfig(state_dir=tmp_path), node_id=1, brokers=1)
    for key in SHARED_SETTINGS:
        env_name = "KAFKA_" + key.upper().replace(".", "_")
        assert kafka_env.get(env_name) == local[key], f"{env_name} differs from {key}={local[key]}"


def test_listeners_and_ports_match(
    compose: dict[str, Any], kafka_env: dict[str, str], tmp_path: Path
) -> None:
    config = StackConfig(state_dir=tmp_path)
    client, controller = config.client_port(1), config.controller_port(1)
    assert f"{config.host}:{client}" == DEFAULT_BOOTSTRAP_SERVERS
    listeners = dict(item.split("://") for item in kafka_env["KAFKA_LISTENERS"].split(","))
    assert listeners["PLAINTEXT"] == f":{client}"
    assert listeners["CONTROLLER"] == f":{controller}"
    advertised = dict(item.split("://") for item in kafka_env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert advertised["PLAINTEXT"] == DEFAULT_BOOTSTRAP_SERVERS
    assert kafka_env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == f"1@kafka:{controller}"
    assert compose["services"]["kafka"]["ports"] == [f"127.0.0.1:{client}:{client}"]

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


def test_init_container_creates_the_trade_topics(compose: dict[str, Any]) -> None:
    topics = created_topics(compose)
    assert sorted(topics) == sorted(spec.name for spec in TOPIC_SPECS)
    for spec in TOPIC_SPECS:
        topic = topics[spec.name]
        assert int(topic["partitions"]) == spec.partitions
        assert int(topic["replication-factor"]) == spec.replication_factor(1)
        assert topic["configs"] == spec.configs_for(1)


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
    assert urlsplit(env["CORRIDOR_DATABASE_URL"]).hostname == "postgres"
    assert env["CORRIDOR_BOOTSTRAP_SERVERS"] == "kafka:19092"  # the DOCKER listener
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
