"""Fixtures of the e2e tier: what `corridor demo` starts beyond the session's stack is stopped after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture
def demo_services_stopped_after(stack) -> Iterator[None]:
    """`corridor demo` starts the whole stack (the monitor, the relay, the webhooks dispatcher too); stop
    what it started beyond what ran before, so the session leaves no service behind it."""
    from corridor.stack import down
    from corridor.stack.processes import StackState
    from tests.conftest import _default_stack_config

    config = _default_stack_config()

    def running() -> set[str]:
        return {n for n, r in StackState.load(config.state_file).processes.items() if r.alive()}

    before = running()
    yield
    started = running() - before
    if started:
        down(config, only=started, include_postgres=False)
