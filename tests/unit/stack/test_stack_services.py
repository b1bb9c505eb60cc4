"""The table of HTTP services: ports, readiness, start and stop order, env — and status/down on fake
processes (sleepers recorded under the services' names, a tiny HTTP server answering for one)."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from corridor.core.settings import PROJECT_ROOT, Settings
from corridor.stack import api, processes, services
from corridor.stack.config import StackConfig
from corridor.stack.processes import StackState
from corridor.stack.services import SERVICE_NAMES, SERVICES

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_the_table() -> None:
    assert SERVICE_NAMES == ("registry", "ledger", "gateway", "monitor", "relay", "webhooks")  # start order
    assert [s.module for s in SERVICES] == [f"corridor.{name}" for name in SERVICE_NAMES]
    assert [s.ready_path for s in SERVICES] == ["/readyz"] * 6
    assert [[s.name for s in stage] for stage in services.stages(SERVICES)] == [
        ["registry"],
        ["ledger", "gateway", "monitor", "relay", "webhooks"],
    ]
    assert all(s.available() for s in SERVICES), "every service has its __main__.py"


def test_default_ports_and_urls(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path)
    assert {s.name: s.port(config) for s in SERVICES} == {
        "registry": 8081, "ledger": 8082, "gateway": 8080, "monitor": 8083, "relay": 8084, "webhooks": 8085
    }  # fmt: skip
    assert (config.monitor_url, config.relay_url, config.webhooks_url) == (
        "http://127.0.0.1:8083", "http://127.0.0.1:8084", "http://127.0.0.1:8085"
    )  # fmt: skip
    assert services.RELAY.ready_url(config) == "http://127.0.0.1:8084/readyz"
    assert config.gateway_url == "http://127.0.0.1:8080"
    assert config.ledger_url == "http://127.0.0.1:8082"
    assert services.GATEWAY.ready_url(config) == "http://127.0.0.1:8080/readyz"
    assert services.LEDGER.log_file(config) == tmp_path / "ledger" / "ledger.log"
    assert services.GATEWAY.argv(config) == [
        sys.executable, "-m", "corridor.gateway", "--host", "127.0.0.1", "--port", "8080"
    ]  # fmt: skip


def test_settings_urls_move_the_ports(tmp_path: Path) -> None:
    settings = Settings(
        state_dir=tmp_path,
        gateway_url="http://localhost:18080",
        ledger_url="http://127.0.0.1:18082/",
        schema_registry_url="http://127.0.0.1:18081",
        monitor_url="http://127.0.0.1:18083",
        relay_url="http://localhost:18084",
        webhooks_url="http://127.0.0.1:18085/",
        database_url=None,
    )
    config = StackConfig.from_settings(settings)
    assert (config.gateway_port, config.ledger_port, config.registry_port) == (18080, 18082, 18081)
    assert (config.monitor_port, config.relay_port, config.webhooks_port) == (18083, 18084, 18085)
    remote = settings.model_copy(update={"gateway_url": "https://gateway.partner.example"})
    assert StackConfig.from_settings(remote).gateway_port == 8080


def test_choosing_services(tmp_path: Path) -> None:
    config = StackConfig(state_dir=tmp_path)
    assert [s.name for s in config.enabled_services] == list(SERVICE_NAMES)  # all by default
    # Start order comes from the table, whatever order they are named in.
    chosen = config.replace(services=["gateway", "registry"])
    assert chosen.services == ("gateway", "registry")
    assert [s.name for s in chosen.enabled_services] == ["registry", "gateway"]
    assert config.replace(services=()).enabled_services == ()
    # The older switch still means "Kafka and PostgreSQL only".
    assert config.replace(with_registry=False).enabled_services == ()
    with pytest.raises(ValueError, match=r"unknown service.*billing"):
        config.replace(services=("registry", "billing"))


def test_environment(tmp_path: Path) -> None:
    config = StackConfig(
        state_dir=tmp_path, registry_port=18081, gateway_port=18080, ledger_port=18082,
        monitor_port=18083, relay_port=18084, webhooks_port=18085,
    )  # fmt: skip
    env = services.environment(config, services.LEDGER, "postgresql://db/x", "127.0.0.1:19092")
    # The embedded server: the ledger logs in as its own role, with the password the stack keeps (0600).
    password_file = tmp_path / "credentials" / "postgres-ledger.password"
    assert env["CORRIDOR_DATABASE_URL"] == (
        f"postgresql://corridor_ledger:{password_file.read_text()}@127.0.0.1:55432/corridor"
    )
    assert password_file.stat().st_mode & 0o077 == 0
    # One URL given by the operator (an external server): every service uses it as it is.
    external = config.replace(database_url="postgresql://u:p@db.example/x")
    env_external = services.environment(external, services.LEDGER, "postgresql://u:p@db.example/x", "b:1")
    assert env_external["CORRIDOR_DATABASE_URL"] == "postgresql://u:p@db.example/x"
    assert env["CORRIDOR_BOOTSTRAP_SERVERS"] == "127.0.0.1:19092"
    assert env["CORRIDOR_SCHEMA_REGISTRY_URL"] == "http://127.0.0.1:18081"
    assert env["CORRIDOR_GATEWAY_URL"] == "http://127.0.0.1:18080"
    assert env["CORRIDOR_LEDGER_URL"] == "http://127.0.0.1:18082"
    assert env["CORRIDOR_MONITOR_URL"] == "http://127.0.0.1:18083"
    assert env["CORRIDOR_RELAY_URL"] == "http://127.0.0.1:18084"
    assert env["CORRIDOR_WEBHOOKS_URL"] == "http://127.0.0.1:18085"
    assert env["CORRIDOR_STATE_DIR"] == str(tmp_path)
    assert env["CORRIDOR_SERVICE_NAME"] == "ledger"
    # The services run the installed ``corridor`` package, never the source tree through PYTHONPATH.
    assert str(PROJECT_ROOT) not in env.get("PYTHONPATH", "").split(os.pathsep)


# -- status and down on fake processes -------------------------------------------------------------


class _Answer(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def answering() -> Iterator[int]:
    """A port where GET anything answers 200."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_stack(tmp_path: Path) -> Iterator[tuple[StackConfig, StackState]]:
    """A state dir whose stack.json records sleepers as broker-1 and every service of the table."""
    config = StackConfig(
        state_dir=tmp_path, brokers=1, kafka_port=1, registry_port=2, ledger_port=3, gateway_port=4,
        monitor_port=6, relay_port=7, webhooks_port=8, database_url="postgresql://u@127.0.0.1:5/x",
    )  # fmt: skip
    state = StackState(layout={"brokers": 1, "services": list(SERVICE_NAMES)})
    for name in ("broker-1", *SERVICE_NAMES):
        state.processes[name] = processes.spawn(name, SLEEP, log=tmp_path / f"{name}.log")
    state.save(config.state_file)
    # Until a child has exec'd, its command line is still ours and it does not count as alive.
    deadline = time.monotonic() + 10
    while not all(r.alive() for r in state.processes.values()) and time.monotonic() < deadline:
        time.sleep(0.02)
    yield config, state
    processes.terminate(list(state.processes.values()), timeout=5)


def test_status_tells_down_from_not_ready(fake_stack: tuple[StackConfig, StackState], answering: int) -> None:
    config, state = fake_stack
    processes.terminate([state.processes["ledger"]], timeout=5)
    # The registry "answers" (its record's port moved to the test server); the ledger's process is
    # gone; the gateway's runs but nothing answers its port.
    state.layout["registry_port"] = answering
    state.save(config.state_file)
    result = api.status(config)
    assert result.services == {"registry": f"http://127.0.0.1:{answering}"}
    assert result.registry is not None and result.registry.ready and result.registry.managed
    ledger, gateway = result.service_status["ledger"], result.service_status["gateway"]
    assert not ledger.alive and not ledger.ready
    assert gateway.alive and not gateway.ready and gateway.pid == state.processes["gateway"].pid
    assert "ledger is down" in result.problems
    assert "gateway is not ready (GET http://127.0.0.1:4/readyz is not 200)" in result.problems
    assert result.gateway_url == "http://127.0.0.1:4" and result.ledger_url == "http://127.0.0.1:3"
    data = result.to_dict()
    assert data["services"] == result.services
    assert data["service_status"]["gateway"]["log"].endswith("gateway/gateway.log")


def test_status_shows_a_service_it_did_not_start(tmp_path: Path, answering: int) -> None:
    config = StackConfig(state_dir=tmp_path, gateway_port=answering, services=("gateway",))
    result = api.status(config)
    found = result.service_status["gateway"]
    assert (found.managed, found.alive, found.ready, found.pid) == (False, True, True, None)
    assert result.services == {"gateway": f"http://127.0.0.1:{answering}"}
    assert "ledger" not in result.service_status  # not chosen: its port is not even probed


def test_down_stops_services_in_reverse_start_order_before_brokers(
    fake_stack: tuple[StackConfig, StackState],
) -> None:
    config, state = fake_stack
    said: list[str] = []
    stopped = api.down(config, report=said.append)
    assert stopped == ["ledger", "gateway", "monitor", "relay", "webhooks", "registry", "broker-1"]
    assert [line for line in said if line.startswith("stopping")] == [
        "stopping ledger, gateway, monitor, relay, webhooks…",
        "stopping registry…",
        "stopping broker-1…",
    ]
    assert not any(r.alive() for r in state.processes.values())
    assert StackState.load(config.state_file).processes == {}


def test_down_only_some_services(fake_stack: tuple[StackConfig, StackState]) -> None:
    config, state = fake_stack
    assert api.down(config, only=["gateway"], report=lambda _m: None) == ["gateway"]
    assert not state.processes["gateway"].alive()
    assert all(state.processes[n].alive() for n in ("broker-1", "registry", "ledger"))
    assert sorted(StackState.load(config.state_file).processes) == sorted(
        {"broker-1", *SERVICE_NAMES} - {"gateway"}
    )


# -- the command line (only what fails before anything starts) --------------------------------------


def test_cli_rejects_unknown_or_contradictory_choices(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from corridor.cli.stack import stack as stack_cli

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(stack_cli, ["--state-dir", str(tmp_path), "up", *args])
        return result.exit_code, result.output

    code, out = run("--services", "registry,billing")
    assert code == 2 and "unknown billing; choose from registry,ledger,gateway,monitor,relay,webhooks" in out
    code, out = run("--services", "gateway", "--no-services")
    assert code == 2 and "exclude each other" in out
    assert not (tmp_path / "stack.json").exists()
