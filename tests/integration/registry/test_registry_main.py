"""``python -m corridor.registry`` as the stack launcher runs it: env-configured, JSON logs, clean exit."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.registry.conftest import registry_users_file, writer_auth

pytestmark = pytest.mark.integration

PROJECT_ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def registry_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRIDOR_")}
    env["CORRIDOR_REGISTRY_USERS_FILE"] = str(registry_users_file())
    env.update(overrides)
    return env


@pytest.fixture
def launched() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start registry processes; any still running at the end are terminated, then killed."""
    processes: list[subprocess.Popen[str]] = []

    def launch(port: int, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "corridor.registry", "--host", "127.0.0.1", "--port", str(port), *extra],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        return process

    yield launch
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_exits_with_a_clear_message_without_database_url(
    launched: Callable[..., subprocess.Popen[str]],
) -> None:
    process = launched(free_port(), registry_env())
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "CORRIDOR_DATABASE_URL is not set" in stderr


def test_exits_with_a_clear_message_without_users_file(
    launched: Callable[..., subprocess.Popen[str]], database_url: str, tmp_path: Path
) -> None:
    missing = tmp_path / "registry-users.json"
    env = registry_env(CORRIDOR_DATABASE_URL=database_url, CORRIDOR_REGISTRY_USERS_FILE=str(missing))
    process = launched(free_port(), env)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 2
    assert f"no users file at {missing}" in stderr


def test_exits_when_the_database_is_unreachable(launched: Callable[..., subprocess.Popen[str]]) -> None:
    env = registry_env(CORRIDOR_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/corridor")
    process = launched(free_port(), env)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "registry_database_unavailable" in stderr


def test_serves_subjects_and_logs_json(
    launched: Callable[..., subprocess.Popen[str]],
    database_url: str,
    execute_sql: Callable[[str], None],
    registry_db_schema: str,
) -> None:
    db_schema = f"{registry_db_schema}_main"
    execute_sql(f'DROP SCHEMA IF EXISTS "{db_schema}" CASCADE')
    port = free_port()
    env = registry_env(CORRIDOR_DATABASE_URL=database_url, CORRIDOR_REGISTRY_DB_SCHEMA=db_schema)
    process = launched(port, env, "--log-level", "DEBUG")
    try:
        # what the stack launcher waits for
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/subjects", timeout=2, auth=writer_auth())
                if response.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "registry did not answer GET /subjects"
            time.sleep(0.2)
        assert response.json() == []
        assert response.headers["content-type"].startswith("application/vnd.schemaregistry.v1+json")
        httpx.get(f"http://127.0.0.1:{port}/subjects/nope/versions", timeout=5, auth=writer_auth())

        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        # uvicorn shuts down gracefully, then re-raises the signal it caught (its documented behaviour)
        assert process.returncode in (0, -signal.SIGTERM)
    finally:
        execute_sql(f'DROP SCHEMA IF EXISTS "{db_schema}" CASCADE')

    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert events, stderr
    names = [event.get("event") for event in events]
    assert "registry_started" in names
    assert "registry_stopped" in names  # the lifespan closed the pool: a graceful stop
    requests = [e for e in events if e.get("event") == "request"]
    assert any(e["path"] == "/subjects" and e["status"] == 200 and e["level"] == "debug" for e in requests)
    assert any(e.get("event") == "registry_error" and e.get("error_code") == 40401 for e in events)
