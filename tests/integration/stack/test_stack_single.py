"""One isolated single-broker stack: up twice, status via the CLI, topics, one broker killed, down."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from services.core.topics import TOPIC_SPECS
from services.stack import StackConfig, StackStatus, down, kill_broker, start_broker, status, up
from services.stack import registry as registry_process
from services.stack.admin import describe_topics
from services.stack.cli import stack as stack_cli

from .conftest import isolated_config

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def single(isolated_cleanup: list[StackConfig]) -> Iterator[tuple[StackConfig, StackStatus]]:
    config = isolated_config(brokers=1)
    isolated_cleanup.append(config)
    yield config, up(config)


def cli(config: StackConfig, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(stack_cli, ["--state-dir", str(config.state_dir), *args])
    return result.exit_code, result.stdout


def test_first_up_started_everything(single: tuple[StackConfig, StackStatus]) -> None:
    config, first = single
    expected = {"broker-1", "postgres"} | ({"registry"} if registry_process.available() else set())
    assert set(first.started) == expected
    assert first.reused == []
    assert first.ok, first.problems
    assert first.bootstrap_servers == f"127.0.0.1:{config.kafka_port}"
    assert first.brokers[0].alive and first.brokers[0].listening
    assert (config.kafka_dir / "broker-1" / "logs" / "server.log").stat().st_size > 0
    assert (config.libs_dir / ".pom.sha256").exists()


def test_second_up_reuses_the_same_processes(single: tuple[StackConfig, StackStatus]) -> None:
    config, first = single
    again = up(config)
    assert again.started == []
    assert "broker-1" in again.reused and "postgres" in again.reused
    assert [b.pid for b in again.brokers] == [b.pid for b in first.brokers]
    assert again.postgres.pid == first.postgres.pid
    if first.registry is not None:
        assert again.registry is not None and again.registry.pid == first.registry.pid


def test_status_json_from_the_cli(single: tuple[StackConfig, StackStatus]) -> None:
    config, _ = single
    code, out = cli(config, "status", "--json")
    assert code == 0, out
    data = json.loads(out)
    for key in ("bootstrap_servers", "schema_registry_url", "database_url", "services", "brokers", "postgres",
                "state_dir"):  # fmt: skip
        assert key in data, key
    assert data["bootstrap_servers"] == f"127.0.0.1:{config.kafka_port}"
    assert data["state_dir"] == str(config.state_dir)
    assert data["brokers"][0]["node_id"] == 1 and data["brokers"][0]["alive"] is True
    assert data["postgres"]["embedded"] is True and data["postgres"]["alive"] is True
    assert data["database_url"].endswith(f":{config.postgres_port}/corridor")
    if registry_process.available():
        assert data["services"] == {"registry": config.registry_url}


def test_trade_topics_exist_with_their_specs(single: tuple[StackConfig, StackStatus]) -> None:
    _, first = single
    described = asyncio.run(describe_topics(first.bootstrap_servers, [s.name for s in TOPIC_SPECS]))
    for spec in TOPIC_SPECS:
        topic = described[spec.name]
        assert topic["partitions"] == spec.partitions
        assert topic["replication_factor"] == 1
        for key, value in spec.configs_for(1).items():
            assert topic["configs"][key] == value, (spec.name, key)


def test_kill_and_restart_one_broker(single: tuple[StackConfig, StackStatus]) -> None:
    config, _ = single
    old_pid = kill_broker(config, 1, signal.SIGKILL)
    assert not status(config).broker(1).alive
    code, out = cli(config, "status")
    assert code == 1 and "broker 1 is down" in out
    restarted = start_broker(config, 1)
    assert restarted.alive and restarted.listening and restarted.pid != old_pid
    assert status(config).ok


def test_down_stops_only_what_up_started(single: tuple[StackConfig, StackStatus]) -> None:
    config, _ = single
    bystander = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True
    )
    try:
        before = status(config)
        stopped = down(config)
        assert "broker-1" in stopped and "postgres" in stopped
        after = status(config)
        assert not after.ok
        assert not any(b.alive for b in after.brokers)
        assert not after.postgres.alive
        assert after.services == {}
        for pid in [b.pid for b in before.brokers] + [before.postgres.pid]:
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
