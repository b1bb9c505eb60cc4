"""The SDK with a wrong password: a ``PartnerLoginError`` that says the listener refused the login
(it was a traceback ending in aiokafka's "Unable to bootstrap", the same words as a wrong address)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from corridor.sdk import PartnerConsumer, PartnerLoginError
from tests.integration.relay.relay_helpers import SecureStack, add_partner

pytestmark = pytest.mark.integration


def test_a_wrong_password_is_a_clear_login_error(partner_stack: SecureStack) -> None:
    partner_id = f"sdk-login-{uuid.uuid4().hex[:8]}"
    add_partner(partner_stack, partner_id, "BUYER")
    consumer = PartnerConsumer(
        bootstrap=partner_stack.partner_bootstrap,
        username=partner_id,
        password="not-the-password",
        partner_id=partner_id,
        registry_url=partner_stack.registry_url,
        group=f"{partner_id}.erp",
        cafile=partner_stack.ca_file,
        request_timeout_ms=10_000,
    )

    async def log_in() -> None:
        async with consumer:
            pass

    with pytest.raises(PartnerLoginError) as refused:
        asyncio.run(log_in())
    message = str(refused.value)
    assert f"refused the SCRAM-SHA-512 login of '{partner_id}'" in message
    assert "wrong or rotated password" in message and "Unable to bootstrap" not in message
