"""Isolated stacks for the stack launcher's own tests: a temporary state dir and free ports.

They never touch the developer's default stack (state dir ``.corridor``, ports 9092, 55432 and
8080-8082), so these tests can run while it is up, and next to other test sessions.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from corridor.core.settings import get_settings
from corridor.stack import StackConfig, down
from corridor.stack.kafka import jars_current
from tests.support.kafka_login import share_operator_login


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _seed_jars(config: StackConfig) -> None:
    """Hard-link the jars of the default state dir into ``config``'s when they are current for the pom,
    saving the isolated stack a Maven run (~10 s); without them ``up`` resolves its own."""
    default = StackConfig(state_dir=get_settings().state_dir)
    if not jars_current(default):
        return
    try:
        shutil.copytree(default.libs_dir, config.libs_dir, copy_function=os.link)
    except OSError:  # another file system, or the default jars being replaced right now
        shutil.rmtree(config.libs_dir, ignore_errors=True)


def isolated_config(brokers: int, *, resolve_jars: bool = False, **overrides: object) -> StackConfig:
    """A StackConfig on a random free port block: Kafka at +0/+1, +100/+101…, PostgreSQL +50, the
    registry +51, the ledger +52, the gateway +53. ``resolve_jars`` makes its ``up`` run Maven even when
    the default state dir has the jars."""
    # The services these tests check; the monitor, relay and webhooks have tests of their own and would
    # otherwise take their default ports, where a developer's stack may run them.
    overrides.setdefault("services", ("registry", "ledger", "gateway"))
    state_dir = Path(tempfile.mkdtemp(prefix="corridor-stack-it-"))
    # The embedded PostgreSQL runs as an unprivileged user when we are root: it must reach its data dir.
    state_dir.chmod(0o755)
    for _ in range(200):
        # Below Linux's ephemeral range (32768+): a client's outgoing connection must not grab a port
        # between our check and the broker's bind.
        base = random.randrange(20_000, 32_000, 1_000) + 92
        ports = [base + (n - 1) * 100 + k for n in range(1, brokers + 1) for k in (0, 1)]
        ports += [base + 50, base + 51, base + 52, base + 53]
        if all(_free(p) for p in ports):
            config = StackConfig(
                state_dir=state_dir,
                brokers=brokers,
                kafka_port=base,
                postgres_port=base + 50,
                registry_port=base + 51,
                ledger_port=base + 52,
                gateway_port=base + 53,
                startup_timeout=120,
                **overrides,  # type: ignore[arg-type]
            )
            share_operator_login(config.state_dir)
            if not resolve_jars:
                _seed_jars(config)
            return config
    raise RuntimeError("no free block of ports found")


@pytest.fixture(scope="module")
def isolated_cleanup() -> Iterator[list[StackConfig]]:
    """Collects the isolated stacks a module starts; stops and deletes them at the end, whatever happened."""
    configs: list[StackConfig] = []
    yield configs
    for config in configs:
        try:
            down(config, purge=True, report=lambda _message: None)
        finally:
            shutil.rmtree(config.state_dir, ignore_errors=True)
