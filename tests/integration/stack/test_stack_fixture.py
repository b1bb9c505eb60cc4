"""The session fixtures of tests/conftest.py agree with each other and with the running stack."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from services.core.settings import get_settings
from services.stack import StackStatus
from services.stack import registry as registry_process
from services.stack.admin import registered_brokers

pytestmark = pytest.mark.integration


def test_fixtures_describe_one_stack(
    stack: StackStatus, bootstrap_servers: str, schema_registry_url: str, database_url: str
) -> None:
    assert stack.ok, stack.problems
    assert bootstrap_servers == stack.bootstrap_servers
    assert schema_registry_url == stack.schema_registry_url
    if not get_settings().database_url:
        assert stack.database_url == database_url  # the very same embedded server
    assert asyncio.run(registered_brokers(bootstrap_servers)) == {b.node_id for b in stack.brokers}
    if registry_process.available():
        assert stack.services.get("registry") == schema_registry_url
        assert httpx.get(f"{schema_registry_url}/subjects", timeout=5).status_code == 200
