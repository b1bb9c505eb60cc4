"""The stack's partner listener and authorizer as rendered in server.properties (no broker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corridor.core.settings import Settings
from corridor.stack.config import DEFAULT_LISTENERS, PARTNER_LISTENERS, StackConfig
from corridor.stack.kafka import parse_properties, render_server_properties


def props(config: StackConfig, node_id: int = 1, brokers: int = 1) -> dict[str, str]:
    return parse_properties(render_server_properties(config, node_id, brokers))


def test_the_default_stack_has_the_partner_listener(tmp_path: Path) -> None:
    config = StackConfig.from_settings(Settings(state_dir=tmp_path, bootstrap_servers="127.0.0.1:9092"))
    assert config.listeners == PARTNER_LISTENERS and config.secured
    p = props(config)
    assert p["listeners"] == (
        "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093,PARTNER://127.0.0.1:9094"
    )
    assert p["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9092,PARTNER://127.0.0.1:9094"
    assert p["listener.security.protocol.map"] == (
        "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PARTNER:SASL_PLAINTEXT"
    )
    assert p["listener.name.partner.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert p["listener.name.partner.scram-sha-512.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    )
    assert p["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert p["super.users"] == "User:ANONYMOUS"
    assert p["allow.everyone.if.no.acl.found"] == "false"
    assert p["inter.broker.listener.name"] == "PLAINTEXT"  # brokers talk plaintext, as super users
    assert config.partner_bootstrap_servers(3) == "127.0.0.1:9094,127.0.0.1:9194,127.0.0.1:9294"


def test_without_a_sasl_listener_there_is_no_authorizer(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path)
    assert config.listeners == DEFAULT_LISTENERS and not config.secured
    assert config.partner_bootstrap_servers(1) is None
    assert "authorizer.class.name" not in props(config)
    override = StackConfig.from_settings(Settings(state_dir=tmp_path), listeners=DEFAULT_LISTENERS)
    assert "super.users" not in props(override)


def test_a_secured_stack_stays_on_loopback(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        StackConfig(state_dir=tmp_path, host="0.0.0.0", listeners=PARTNER_LISTENERS)
    assert StackConfig(state_dir=tmp_path, host="0.0.0.0").host == "0.0.0.0"  # plaintext only: allowed


def test_every_node_has_its_partner_port(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path, listeners=PARTNER_LISTENERS, kafka_port=29092)
    assert props(config, 2, 3)["listeners"].endswith(",PARTNER://127.0.0.1:29194")
