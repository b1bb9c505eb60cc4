"""One isolated single-broker stack with its services: up twice, status via the CLI, topics, a
foreign process on a service's port, one broker killed, down."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from click.testing import CliRunner

from corridor.cli.stack import stack as stack_cli
from corridor.core.credentials import REGISTRY_SERVICES, credentials_dir, read_secret
from corridor.core.topics import TOPIC_SPECS
from corridor.stack import (
    StackConfig,
    StackError,
    StackStatus,
    down,
    kill_broker,
    start_broker,
    status,
    up,
)
from corridor.stack.admin import describe_topics

from .conftest import isolated_config

pytestmark = pytest.mark.integration

#: The services isolated_config starts (the monitor, relay and webhooks are tested elsewhere).
SERVICE_NAMES = ("registry", "ledger", "gateway")


@pytest.fixture(scope="module")
def single(isolated_cleanup: list[StackConfig]) -> Iterator[tuple[StackConfig, StackStatus]]:
    config = isolated_config(brokers=1, resolve_jars=True)  # this module also covers the Maven step
    isolated_cleanup.append(config)
    yield config, up(config)


def cli(config: StackConfig, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(stack_cli, ["--state-dir", str(config.state_dir), *args])
    return result.exit_code, result.stdout


def urls(config: StackConfig) -> dict[str, str]:
    return {"registry": config.registry_url, "ledger": config.ledger_url, "gateway": config.gateway_url}


def test_first_up_started_everything(single: tuple[StackConfig, StackStatus]) -> None:
    config, first = single
    assert first.started == ["broker-1", "postgres", "registry", "ledger", "gateway"]
    assert first.reused == []
    assert first.ok, first.problems
    assert first.bootstrap_servers == f"127.0.0.1:{config.kafka_port}"
    assert first.brokers[0].alive and first.brokers[0].listening
    assert (config.kafka_dir / "broker-1" / "logs" / "server.log").stat().st_size > 0
    assert (config.libs_dir / ".pom.sha256").exists()
    assert first.services == urls(config)
    assert (first.gateway_url, first.ledger_url) == (config.gateway_url, config.ledger_url)
    for name in SERVICE_NAMES:
        assert first.service_status[name].managed and first.service_status[name].ready
        assert (config.state_dir / name / f"{name}.log").stat().st_size > 0


def test_the_services_answer(single: tuple[StackConfig, StackStatus]) -> None:
    config, _ = single
    assert httpx.get(f"{config.registry_url}/subjects", timeout=5).status_code == 401  # no anonymous access
    services_login = read_secret(credentials_dir(config.state_dir) / REGISTRY_SERVICES).partition(":")
    login = httpx.BasicAuth(services_login[0], services_login[2])
    assert httpx.get(f"{config.registry_url}/subjects", timeout=5, auth=login).status_code == 200
    for url in (config.ledger_url, config.gateway_url):
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200
    ledger = httpx.get(f"{config.ledger_url}/readyz", timeout=10).json()
    assert ledger["group_id"] == "corridor-ledger" and ledger["assigned_partitions"] > 0


def test_second_up_reuses_the_same_processes(single: tuple[StackConfig, StackStatus]) -> None:
    config, first = single
    again = up(config)
    assert again.started == []
    assert "broker-1" in again.reused and "postgres" in again.reused
    assert [b.pid for b in again.brokers] == [b.pid for b in first.brokers]
    assert again.postgres.pid == first.postgres.pid
    assert set(again.reused) == {"broker-1", "postgres", *SERVICE_NAMES}
    for name in SERVICE_NAMES:
        assert again.service_status[name].pid == first.service_status[name].pid, name
    assert again.registry is not None and again.registry.pid == first.service_status["registry"].pid


def test_status_json_from_the_cli(single: tuple[StackConfig, StackStatus]) -> None:
    config, _ = single
    code, out = cli(config, "status", "--json")
    assert code == 0, out
    data = json.loads(out)
    for key in ("bootstrap_servers", "schema_registry_url", "gateway_url", "ledger_url", "database_url",
                "services", "service_status", "brokers", "postgres", "state_dir"):  # fmt: skip
        assert key in data, key
    assert data["bootstrap_servers"] == f"127.0.0.1:{config.kafka_port}"
    assert data["state_dir"] == str(config.state_dir)
    assert data["brokers"][0]["node_id"] == 1 and data["brokers"][0]["alive"] is True
    assert data["postgres"]["embedded"] is True and data["postgres"]["alive"] is True
    assert data["database_url"].endswith(f":{config.postgres_port}/corridor")
    assert data["services"] == urls(config)
    assert (data["gateway_url"], data["ledger_url"]) == (config.gateway_url, config.ledger_url)
    assert all(data["service_status"][name]["ready"] for name in SERVICE_NAMES)

    code, out = cli(config, "status")
    assert code == 0, out
    for title, url in (("schema registry", config.registry_url), ("ledger", config.ledger_url),
                       ("gateway", config.gateway_url)):  # fmt: skip
        row = next(line for line in out.splitlines() if line.startswith(title + " "))
        assert row.split()[-1] == url and " up " in row, row


def test_trade_topics_exist_with_their_specs(single: tuple[StackConfig, StackStatus]) -> None:
    _, first = single
    described = asyncio.run(describe_topics(first.bootstrap_servers, [s.name for s in TOPIC_SPECS]))
    for spec in TOPIC_SPECS:
        topic = described[spec.name]
        assert topic["partitions"] == spec.partitions
        assert topic["replication_factor"] == 1
        for key, value in spec.configs_for(1).items():
            assert topic["configs"][key] == value, (spec.name, key)


class _Foreign(BaseHTTPRequestHandler):
    """Something else on the gateway's port, answering every GET with ``status``."""

    status = 404

    def do_GET(self) -> None:
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


def test_a_foreign_process_on_a_service_port(single: tuple[StackConfig, StackStatus]) -> None:
    config, first = single
    assert down(config, only=["gateway"]) == ["gateway"]
    handler = type("Foreign", (_Foreign,), {})
    foreign = ThreadingHTTPServer((config.host, config.gateway_port), handler)
    threading.Thread(target=foreign.serve_forever, daemon=True).start()
    try:
        # It does not answer like a gateway: `up` refuses to start one on its port.
        with pytest.raises(StackError, match="in use by a process this stack did not start"):
            up(config)
        # It does: `up` uses it, `status` shows it as not ours, `down` leaves it alone.
        handler.status = 200
        result = up(config)
        assert "gateway (external)" in result.reused and "gateway" not in result.started
        assert result.ok and result.services["gateway"] == config.gateway_url
        assert result.service_status["gateway"].managed is False
        assert down(config, only=["gateway"]) == []
        assert httpx.get(f"{config.gateway_url}/readyz", timeout=5).status_code == 200
    finally:
        foreign.shutdown()
        foreign.server_close()
    # Gone: the next `up` starts our own gateway again, and reuses the rest.
    result = up(config)
    assert result.started == ["gateway"]
    assert result.service_status["gateway"].managed and result.ok
    assert result.service_status["ledger"].pid == first.service_status["ledger"].pid


def test_kill_and_restart_one_broker(single: tuple[StackConfig, StackStatus]) -> None:
    config, _ = single
    old_pid = kill_broker(config, 1, signal.SIGKILL)
    assert not status(config).broker(1).alive
    code, out = cli(config, "status")
    assert code == 1 and "broker 1 is down" in out
    restarted = start_broker(config, 1)
    assert restarted.alive and restarted.listening and restarted.pid != old_pid
    # The ledger and the gateway reconnect by themselves; they may need a moment to be ready again.
    deadline = time.monotonic() + 60
    while not (now := status(config)).ok and time.monotonic() < deadline:
        time.sleep(0.5)
    assert now.ok, now.problems


def test_down_stops_only_what_up_started(single: tuple[StackConfig, StackStatus]) -> None:
    config, _ = single
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    try:
        before = status(config)
        stopped = down(config)
        # The services first (reverse start order), then the broker, then PostgreSQL.
        assert stopped == ["ledger", "gateway", "registry", "broker-1", "postgres"]
        after = status(config)
        assert not after.ok
        assert not any(b.alive for b in after.brokers)
        assert not after.postgres.alive
        assert after.services == {} and after.service_status == {}
        pids = [b.pid for b in before.brokers] + [before.postgres.pid]
        pids += [before.service_status[name].pid for name in SERVICE_NAMES]
        for pid in pids:
            assert pid is not None and not _running(pid)
        assert bystander.poll() is None, "down must not touch processes it did not start"
        assert down(config) == []  # idempotent
    finally:
        bystander.kill()
        bystander.wait()


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in {"Z", "X"}
    except FileNotFoundError:
        return False
