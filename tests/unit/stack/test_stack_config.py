"""StackConfig: defaults follow the settings, everything can be moved for an isolated stack."""

from __future__ import annotations

from pathlib import Path

from corridor.core.settings import DEFAULT_POSTGRES_PORT, Settings
from corridor.stack.config import StackConfig


def defaults(tmp_path: Path) -> Settings:
    """Default settings whatever CORRIDOR_* variables the developer has set."""
    return Settings(
        state_dir=tmp_path,
        bootstrap_servers="127.0.0.1:9092",
        schema_registry_url="http://127.0.0.1:8081",
        gateway_url="http://127.0.0.1:8080",
        ledger_url="http://127.0.0.1:8082",
        monitor_url="http://127.0.0.1:8083",
        relay_url="http://127.0.0.1:8084",
        webhooks_url="http://127.0.0.1:8085",
        database_url=None,
        postgres_port=DEFAULT_POSTGRES_PORT,
    )


def test_defaults_follow_settings(tmp_path: Path) -> None:
    config = StackConfig.from_settings(defaults(tmp_path))
    assert config.state_dir == tmp_path
    assert config.bootstrap_servers(1) == "127.0.0.1:9092"
    assert config.bootstrap_servers(3) == "127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292"
    assert config.registry_url == "http://127.0.0.1:8081"
    assert (config.gateway_url, config.ledger_url) == ("http://127.0.0.1:8080", "http://127.0.0.1:8082")
    assert config.services == ("registry", "ledger", "gateway", "monitor", "relay", "webhooks")
    assert (config.monitor_port, config.relay_port, config.webhooks_port) == (8083, 8084, 8085)
    assert config.postgres_port == DEFAULT_POSTGRES_PORT
    assert config.embedded_postgres
    assert config.brokers is None


def test_local_urls_move_the_ports(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        bootstrap_servers="localhost:19092",
        schema_registry_url="http://127.0.0.1:18081",
        database_url="postgresql://u:p@db.example:5432/x",
    )
    config = StackConfig.from_settings(settings)
    assert config.kafka_port == 19092
    assert config.registry_port == 18081
    assert not config.embedded_postgres


def test_remote_urls_leave_the_defaults(tmp_path: Path) -> None:
    settings = defaults(tmp_path).model_copy(update={"bootstrap_servers": "kafka.partner.example:9092"})
    assert StackConfig.from_settings(settings).kafka_port == 9092


def test_overrides_win(tmp_path: Path) -> None:
    config = StackConfig.from_settings(defaults(tmp_path), kafka_port=29092, brokers=3)
    assert (config.kafka_port, config.brokers) == (29092, 3)
    assert config.controller_port(2) == 29193
    assert config.broker_logs_dir(2) == tmp_path / "kafka" / "broker-2" / "logs"
