"""Fixtures of the partner-client integration tests: the session's stack with the SASL/SCRAM partner
listener and the session's relay (shared with tests/integration/relay, see relay_helpers.py)."""

from __future__ import annotations

import pytest

from tests.integration.relay.relay_helpers import RelayProcess, SecureStack, secure_stack, session_relay


@pytest.fixture(scope="session")
def partner_stack(request: pytest.FixtureRequest) -> SecureStack:
    return secure_stack(request)


@pytest.fixture
def relay(partner_stack: SecureStack) -> RelayProcess:
    return session_relay(partner_stack)
