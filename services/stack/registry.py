"""The schema registry (``python -m services.registry``) as a stack process: argv, env, readiness."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from services.core.settings import PROJECT_ROOT
from services.stack.config import StackConfig
from services.stack.errors import StackError

REGISTRY_MAIN = PROJECT_ROOT / "services" / "registry" / "__main__.py"
READY_PATH = "/subjects"


def available() -> bool:
    """False while the registry package has no entry point yet (the stack then skips it)."""
    return REGISTRY_MAIN.exists()


def argv(config: StackConfig) -> list[str]:
    return [
        sys.executable,
        "-m",
        "services.registry",
        "--host",
        config.host,
        "--port",
        str(config.registry_port),
    ]


def environment(config: StackConfig, database_url: str, bootstrap_servers: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "CORRIDOR_DATABASE_URL": database_url,
            "CORRIDOR_BOOTSTRAP_SERVERS": bootstrap_servers,
            "CORRIDOR_SCHEMA_REGISTRY_URL": config.registry_url,
            "CORRIDOR_STATE_DIR": str(config.state_dir),
            "CORRIDOR_SERVICE_NAME": "registry",
            # Importable from the source tree even when the project is not pip-installed.
            "PYTHONPATH": os.pathsep.join(p for p in (str(PROJECT_ROOT), env.get("PYTHONPATH", "")) if p),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def log_file(config: StackConfig) -> Path:
    return config.registry_dir / "registry.log"


def answers(url: str, timeout: float = 2.0) -> bool:
    """True if ``GET <url>/subjects`` answers 200."""
    try:
        return httpx.get(url + READY_PATH, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(config: StackConfig, timeout: float, check_process: Callable[[], None]) -> None:
    deadline = time.monotonic() + timeout
    while not answers(config.registry_url, timeout=1.0):
        check_process()
        if time.monotonic() > deadline:
            raise StackError(
                f"the schema registry did not answer GET {config.registry_url}{READY_PATH} "
                f"within {timeout:.0f}s",
                log_file(config),
            )
        time.sleep(0.2)
