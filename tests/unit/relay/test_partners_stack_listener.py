"""The stack's listeners, logins and authorizer as rendered in server.properties (no broker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corridor.core import credentials
from corridor.core.settings import Settings
from corridor.stack.config import DEFAULT_LISTENERS, PARTNER_LISTENERS, StackConfig
from corridor.stack.kafka import (
    broker_login,
    parse_properties,
    render_server_properties,
    write_server_properties,
)


def props(config: StackConfig, node_id: int = 1, brokers: int = 1) -> dict[str, str]:
    return parse_properties(render_server_properties(config, node_id, brokers))


def test_the_default_stack_has_the_partner_listener(tmp_path: Path) -> None:
    config = StackConfig.from_settings(Settings(state_dir=tmp_path, bootstrap_servers="127.0.0.1:9092"))
    assert config.listeners == PARTNER_LISTENERS and config.secured
    p = props(config)
    assert p["listeners"] == (
        "INTERNAL://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093,PARTNER://127.0.0.1:9094"
    )
    assert p["advertised.listeners"] == "INTERNAL://127.0.0.1:9092,PARTNER://127.0.0.1:9094"
    assert p["listener.security.protocol.map"] == (
        "INTERNAL:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT,PARTNER:SASL_SSL"
    )
    # TLS with the stack's broker certificate (services/stack/tls.py), a PEM keystore in the state dir
    assert p["listener.name.partner.ssl.keystore.type"] == "PEM"
    assert p["listener.name.partner.ssl.keystore.location"] == str(
        tmp_path / "credentials" / "tls-broker.pem"
    )
    assert p["listener.name.partner.ssl.client.auth"] == "none"  # partners log in with SCRAM
    assert "ssl.keystore.location" not in p  # the internal listeners stay without TLS (loopback only)
    assert config.tls_ca_file == tmp_path / "credentials" / "tls-ca.pem"
    assert p["listener.name.partner.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert p["listener.name.partner.scram-sha-512.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    )
    assert "listener.name.partner.plain.sasl.jaas.config" not in p  # partners: SCRAM only
    assert p["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert p["allow.everyone.if.no.acl.found"] == "false"
    assert config.partner_bootstrap_servers(3) == "127.0.0.1:9094,127.0.0.1:9194,127.0.0.1:9294"


def test_nobody_is_anonymous(tmp_path: Path) -> None:
    """Every listener authenticates; the super users are the brokers (PLAIN) and the operator (SCRAM),
    never User:ANONYMOUS (docs/adr/0024-kafka-principals.md)."""
    for listeners in (DEFAULT_LISTENERS, PARTNER_LISTENERS):
        config = StackConfig(state_dir=tmp_path, listeners=listeners)
        p = props(config)
        protocols = dict(item.split(":") for item in p["listener.security.protocol.map"].split(","))
        assert set(protocols.values()) <= {"SASL_PLAINTEXT", "SASL_SSL"}, protocols
        assert p["super.users"] == "User:corridor-broker;User:corridor-operator"
        assert "ANONYMOUS" not in render_server_properties(config, 1, 1)
        assert p["listener.name.internal.sasl.enabled.mechanisms"] == "SCRAM-SHA-512,PLAIN"
        assert p["listener.name.controller.sasl.enabled.mechanisms"] == "PLAIN"
        assert p["sasl.mechanism.inter.broker.protocol"] == "PLAIN"
        assert p["sasl.mechanism.controller.protocol"] == "PLAIN"


def test_the_brokers_password_is_the_stacks_secret(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path)
    p = props(config)
    password = broker_login(config)["sasl_plain_password"]
    path = credentials.kafka_password_file(tmp_path, credentials.KAFKA_BROKER_USER)
    assert path.read_text() == password and path.stat().st_mode & 0o077 == 0
    jaas = p["listener.name.controller.plain.sasl.jaas.config"]
    assert f'user_corridor-broker="{password}"' in jaas and 'username="corridor-broker"' in jaas
    assert p == props(config)  # made once, kept
    written = write_server_properties(config, 1, 1)
    assert written.stat().st_mode & 0o077 == 0  # it holds the password: owner only


def test_a_stack_stays_on_loopback(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        StackConfig(state_dir=tmp_path, host="0.0.0.0", listeners=PARTNER_LISTENERS)
    with pytest.raises(ValueError, match="loopback"):
        StackConfig(state_dir=tmp_path, host="0.0.0.0")  # SASL without TLS: passwords stay on loopback


def test_every_node_has_its_partner_port(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path, listeners=PARTNER_LISTENERS, kafka_port=29092)
    assert props(config, 2, 3)["listeners"].endswith(",PARTNER://127.0.0.1:29194")
