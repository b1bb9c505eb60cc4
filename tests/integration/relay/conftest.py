"""Fixtures of the relay and SDK integration tests: the session's stack with the partner listener
(tests/integration/relay/relay_helpers.py) and the session's relay process."""

from __future__ import annotations

import pytest

from tests.integration.relay.relay_helpers import RelayProcess, SecureStack, secure_stack, session_relay


@pytest.fixture(scope="session")
def partner_stack(request: pytest.FixtureRequest) -> SecureStack:
    return secure_stack(request)


@pytest.fixture
def relay(partner_stack: SecureStack) -> RelayProcess:
    """The session's relay, running (a test that killed it gets it back)."""
    return session_relay(partner_stack)
