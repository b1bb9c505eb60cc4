"""deploy/compose.yaml loads as Docker Compose v2 would load it (compose-go, no daemon), and creates the
topics of services/deploy/access.py at replication 3 (tests/unit/stack/test_stack_compose.py compares
its brokers with the local stack's)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from corridor.core.partners import SCRAM_MECHANISM
from corridor.core.settings import PROJECT_ROOT
from corridor.deploy.render import compose_topic_commands
from corridor.deploy.validate import compose_config
from corridor.stack.config import INTERNAL_PRINCIPAL, STANDARD_AUTHORIZER

pytestmark = pytest.mark.timeout(900)  # the first run on a machine builds composecheck

COMPOSE = PROJECT_ROOT / "deploy" / "compose.yaml"


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    done = compose_config(COMPOSE)
    assert done.returncode == 0, done.stderr
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


def test_the_loader_refuses_what_compose_would_refuse(tmp_path: Path) -> None:
    text = COMPOSE.read_text()
    broken = tmp_path / "compose.yaml"
    broken.write_text(text.replace("condition: service_completed_successfully", "condition: finished"))
    done = compose_config(broken)
    assert done.returncode == 1 and "depends_on.kafka-init.condition" in done.stderr
    broken.write_text(
        text.replace(
            "      registry:\n        condition: service_healthy",
            "      regsitry:\n        condition: service_healthy",
            1,
        )
    )
    done = compose_config(broken)
    assert done.returncode == 1 and "regsitry" in done.stderr


def test_three_brokers_with_the_partner_listener_and_the_authorizer(model: dict[str, Any]) -> None:
    nodes = {
        name: s for name, s in model["services"].items() if name.startswith("kafka-") and name != "kafka-init"
    }
    assert sorted(nodes) == ["kafka-1", "kafka-2", "kafka-3"]
    for service in nodes.values():
        env = service["environment"]
        assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == STANDARD_AUTHORIZER
        assert env["KAFKA_SUPER_USERS"] == INTERNAL_PRINCIPAL  # the principal of the plaintext listeners
        assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
        protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
        assert [name for name, p in protocols.items() if p != "PLAINTEXT"] == ["PARTNER"]
        assert protocols["PARTNER"] == "SASL_PLAINTEXT"
        assert env["KAFKA_LISTENER_NAME_PARTNER_SASL_ENABLED_MECHANISMS"] == SCRAM_MECHANISM
        # Every published port is on the loopback address: the plaintext listeners are the super user.
        assert all(p["host_ip"] == "127.0.0.1" for p in service["ports"])


def test_kafka_init_creates_exactly_the_backbones_topics(model: dict[str, Any]) -> None:
    script = model["services"]["kafka-init"]["command"][0]
    lines = [line.strip() for line in script.splitlines() if line.strip().startswith("create ")]
    assert lines == compose_topic_commands()
    assert all(shlex.split(line) for line in lines)


def test_no_service_publishes_beyond_the_loopback_address(model: dict[str, Any]) -> None:
    for name, service in model["services"].items():
        for port in service.get("ports") or ():
            assert port["host_ip"] == "127.0.0.1", name
