"""Fixtures of the contract checks against a running stack: the session's stack with the partner
listener (shared with tests/integration/partners and relay)."""

from __future__ import annotations

import pytest

from tests.integration.relay.relay_helpers import SecureStack, secure_stack


@pytest.fixture(scope="session")
def partner_stack(request: pytest.FixtureRequest) -> SecureStack:
    return secure_stack(request)
