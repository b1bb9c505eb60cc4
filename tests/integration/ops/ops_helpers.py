"""Helpers of the ops integration tests: service processes (ledger, gateway) with their own consumer
group and PostgreSQL schemas, the ``corridor`` CLI as a user runs it, and /metrics reading."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from corridor.core.metrics import sample_sum
from tests.integration.ledger.ledger_helpers import PROJECT_ROOT, free_port, unique, wait_ready


@dataclass
class Isolation:
    """Where one test's services keep their state on the shared stack."""

    group_id: str = field(default_factory=lambda: unique("it-ops"))
    ledger_schema: str = field(default_factory=lambda: unique("ledger_ops"))
    partners_schema: str = field(default_factory=lambda: unique("partners_ops"))
    gateway_schema: str = field(default_factory=lambda: unique("gateway_ops"))

    @property
    def schemas(self) -> tuple[str, ...]:
        return (self.ledger_schema, self.partners_schema, self.gateway_schema)


def stack_env(stack: Any, **extra: str) -> dict[str, str]:
    """The environment of a process pointed at the test stack (no inherited CORRIDOR_* settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CORRIDOR_", "OTEL_"))}
    env.update(
        CORRIDOR_DATABASE_URL=stack.database_url,
        CORRIDOR_BOOTSTRAP_SERVERS=stack.bootstrap_servers,
        CORRIDOR_SCHEMA_REGISTRY_URL=stack.schema_registry_url,
        CORRIDOR_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


class Service:
    """A ``python -m corridor.<name>`` process on a free port, its stderr in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = log_path.open("w")
        command = [sys.executable, "-m", f"corridor.{name}", "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(
            [*command, *argv],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )

    async def ready(self, within: float = 90.0) -> Service:
        await wait_ready(self.url, within=within, process=self.process)
        return self

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON lines the process wrote (log records and console-exported spans)."""
        out = []
        for line in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    async def metrics(self) -> str:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as http:
            response = await http.get("/metrics")
            response.raise_for_status()
            return response.text


def ledger_argv(iso: Isolation, retry_delays: str = "1,1,1") -> list[str]:
    return [
        "--group-id",
        iso.group_id,
        "--db-schema",
        iso.ledger_schema,
        "--partners-schema",
        iso.partners_schema,
        "--start-from",
        "latest",
        "--retry-delays",
        retry_delays,
    ]


async def run_cli(stack: Any, *args: str, within: float = 180, **env: str) -> tuple[int, str, str]:
    """``corridor <args>`` in a subprocess against the test stack: (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "corridor.cli",
        *args,
        cwd=PROJECT_ROOT,
        env=stack_env(stack, **env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), within)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def lag_of(metrics_text: str, group: str, topics: tuple[str, ...]) -> float:
    return sum(sample_sum(metrics_text, "corridor_consumer_lag", group=group, topic=t) for t in topics)
