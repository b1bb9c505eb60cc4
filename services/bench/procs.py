"""Starting the gateway or the ledger in a process of its own (``corridor.bench.servers``) and stopping it.

A load generator in the same process would take the CPU it measures, so the services run apart; their
JSON logs go to files under the output directory (``bench/logs/``), not through pipes that could fill.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from corridor.core.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    service: str  # gateway | ledger
    args: list[str]
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def hot_frames(self) -> Path:
        """Where the process writes the hot frames of a profiled window (``corridor.bench.hot``)."""
        return self.log.with_name(f"{self.log.stem}-{self.port}.hot.json")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "corridor.bench.servers",
            self.service,
            "--port",
            str(self.port),
            "--hot-frames",
            str(self.hot_frames),
            *self.args,
        ]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                argv,
                cwd=PROJECT_ROOT,
                env={**os.environ, **self.env},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    async def wait_ready(self, wait_s: float = 60.0, path: str = "/readyz") -> None:
        deadline = time.monotonic() + wait_s
        last = ""
        async with httpx.AsyncClient(timeout=3.0) as client:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"the bench {self.service} exited ({self.proc.returncode}); see {self.log}"
                    )
                try:
                    response = await client.get(self.url + path)
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text[:200]}"
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                await asyncio.sleep(0.2)
        raise RuntimeError(
            f"the bench {self.service} was not ready in {wait_s:.0f}s ({last}); see {self.log}"
        )

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None
