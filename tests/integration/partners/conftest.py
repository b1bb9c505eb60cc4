"""Fixtures of the partner-isolation tests: the session's stack with the SASL/SCRAM partner listener and
the ACL authorizer (shared with tests/integration/relay, see relay_helpers.py)."""

from __future__ import annotations

import pytest

from tests.integration.relay.relay_helpers import SecureStack, secure_stack


@pytest.fixture(scope="session")
def partner_stack(request: pytest.FixtureRequest) -> SecureStack:
    return secure_stack(request)
