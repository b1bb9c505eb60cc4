"""The session fixtures of tests/conftest.py agree with each other and with the running stack."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from corridor.core.credentials import REGISTRY_SERVICES, credentials_dir, read_secret
from corridor.core.settings import get_settings
from corridor.stack import StackStatus
from corridor.stack.admin import registered_brokers

pytestmark = pytest.mark.integration


def test_fixtures_describe_one_stack(
    kafka_stack: StackStatus,
    stack: StackStatus,
    bootstrap_servers: str,
    schema_registry_url: str,
    gateway_url: str,
    ledger_url: str,
    database_url: str,
) -> None:
    assert stack.ok, stack.problems
    assert bootstrap_servers == stack.bootstrap_servers == kafka_stack.bootstrap_servers
    assert schema_registry_url == stack.schema_registry_url
    if not get_settings().database_url:
        assert stack.database_url == database_url  # the very same embedded server
    assert asyncio.run(registered_brokers(bootstrap_servers)) == {b.node_id for b in stack.brokers}
    # the fixture's three services (a developer's full `stack up` may run the monitor, relay and
    # webhooks dispatcher beside them)
    assert {name: stack.services.get(name) for name in ("registry", "ledger", "gateway")} == {
        "registry": schema_registry_url,
        "ledger": ledger_url,
        "gateway": gateway_url,
    }
    assert httpx.get(f"{schema_registry_url}/subjects", timeout=5).status_code == 401  # no anonymous access
    services_login = read_secret(credentials_dir(stack.state_dir) / REGISTRY_SERVICES).partition(":")
    login = httpx.BasicAuth(services_login[0], services_login[2])
    assert httpx.get(f"{schema_registry_url}/subjects", timeout=5, auth=login).status_code == 200
    for url in (gateway_url, ledger_url):
        assert httpx.get(f"{url}/readyz", timeout=10).status_code == 200, url


def test_kafka_stack_needs_no_ledger_or_gateway(kafka_stack: StackStatus) -> None:
    # kafka_stack asks for the registry only: whatever it started, it was not the ledger or the gateway.
    assert not {"ledger", "gateway"} & set(kafka_stack.started)
    assert "registry" in kafka_stack.services
