"""client_security: the services' login on a secured listener, from CORRIDOR_KAFKA_* (deploy/k8s)."""

from __future__ import annotations

import ssl

import pytest

from corridor.core.kafka import client_security, producer_config


def test_unset_or_plaintext_means_the_internal_listener() -> None:
    assert client_security({}) == {}
    assert client_security({"CORRIDOR_KAFKA_SECURITY_PROTOCOL": "plaintext"}) == {}


def test_scram_over_tls_verifies_the_broker() -> None:
    env = {
        "CORRIDOR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "CORRIDOR_KAFKA_SASL_USERNAME": "corridor-ledger",
        "CORRIDOR_KAFKA_SASL_PASSWORD": "secret",
    }
    config = client_security(env)
    assert config["security_protocol"] == "SASL_SSL"
    assert config["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (config["sasl_plain_username"], config["sasl_plain_password"]) == ("corridor-ledger", "secret")
    assert isinstance(config["ssl_context"], ssl.SSLContext)
    assert config["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_sasl_plaintext_has_no_tls() -> None:
    env = {
        "CORRIDOR_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "CORRIDOR_KAFKA_SASL_MECHANISM": "scram-sha-256",
        "CORRIDOR_KAFKA_SASL_USERNAME": "u",
        "CORRIDOR_KAFKA_SASL_PASSWORD": "p",
    }
    config = client_security(env)
    assert config["sasl_mechanism"] == "SCRAM-SHA-256" and "ssl_context" not in config


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CORRIDOR_KAFKA_SECURITY_PROTOCOL": "TLS"}, "CORRIDOR_KAFKA_SECURITY_PROTOCOL: .TLS. is not"),
        ({"CORRIDOR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "CORRIDOR_KAFKA_SASL_USERNAME: required"),
        (
            {"CORRIDOR_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "CORRIDOR_KAFKA_SASL_USERNAME": "u"},
            "CORRIDOR_KAFKA_SASL_PASSWORD: required",
        ),
        (
            {
                "CORRIDOR_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "CORRIDOR_KAFKA_SASL_MECHANISM": "GSSAPI",
                "CORRIDOR_KAFKA_SASL_USERNAME": "u",
                "CORRIDOR_KAFKA_SASL_PASSWORD": "p",
            },
            "CORRIDOR_KAFKA_SASL_MECHANISM: 'GSSAPI' is not one of",
        ),
        (
            {"CORRIDOR_KAFKA_SECURITY_PROTOCOL": "SSL", "CORRIDOR_KAFKA_SSL_CAFILE": "/nonexistent/ca.crt"},
            "CORRIDOR_KAFKA_SSL_CAFILE: no file",
        ),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        client_security(env)


def test_every_producer_takes_the_security_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORRIDOR_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("CORRIDOR_KAFKA_SASL_USERNAME", "corridor-gateway")
    monkeypatch.setenv("CORRIDOR_KAFKA_SASL_PASSWORD", "p")
    config = producer_config("kafka:9093")
    assert config["sasl_plain_username"] == "corridor-gateway" and config["enable_idempotence"] is True
