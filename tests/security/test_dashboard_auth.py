"""The dashboard wants the operator's login, answers only to its own names, and decodes only the
backbone's own topics (issue 16 item 5). A real monitor (uvicorn in a thread) on the stack's Kafka."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from corridor.monitor.settings import MonitorSettings
from tests.integration.monitor.monitor_helpers import OPERATOR_TOKEN, InProcessMonitor

pytestmark = pytest.mark.integration

PAGES = (
    "/",
    "/api/overview",
    "/api/events/recent",
    "/api/trades/states",
    "/api/records/trade.orders.v1/0/0",
    "/api/stream",
    "/static/app.js",
    "/metrics",
)


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
async def dashboard(kafka_stack: Any) -> AsyncIterator[str]:
    monitor = InProcessMonitor(
        MonitorSettings(
            bootstrap_servers=kafka_stack.bootstrap_servers,
            schema_registry_url=kafka_stack.schema_registry_url,
            database_url=kafka_stack.database_url,
            monitor_token=OPERATOR_TOKEN,
            monitor_refresh_s=1.0,
            log_level="WARNING",
        )
    )
    await asyncio.to_thread(monitor.start)
    try:
        yield monitor.url
    finally:
        await asyncio.to_thread(monitor.stop)


async def test_without_the_operator_login_every_page_is_401(dashboard: str) -> None:
    async with httpx.AsyncClient(base_url=dashboard, timeout=10) as http:
        for path in PAGES:
            for headers in ({}, {"Authorization": "Bearer not-the-token"}, basic("operator", "wrong")):
                response = await http.get(path, headers=headers)
                assert response.status_code == 401, (path, headers, response.text)
                assert response.headers["www-authenticate"].startswith("Basic realm=")
        assert (await http.get("/api/overview", headers=basic("admin", OPERATOR_TOKEN))).status_code == 401
        assert (await http.get("/healthz")).status_code == 200  # the stack's probe


async def test_bearer_and_basic_logins(dashboard: str) -> None:
    async with httpx.AsyncClient(base_url=dashboard, timeout=10) as http:
        bearer = await http.get("/api/events/recent", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"})
        assert bearer.status_code == 200
        assert (await http.get("/", headers=basic("operator", OPERATOR_TOKEN))).status_code == 200


async def test_a_foreign_host_header_is_refused_even_with_the_login(dashboard: str) -> None:
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 sends its own name."""
    login = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    port = dashboard.rsplit(":", 1)[1]
    async with httpx.AsyncClient(base_url=dashboard, timeout=10) as http:
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example"):
            response = await http.get("/api/overview", headers={**login, "Host": host})
            assert response.status_code == 400, host
        for host in (f"localhost:{port}", f"127.0.0.1:{port}"):
            assert (await http.get("/api/overview", headers={**login, "Host": host})).status_code == 200


async def test_records_of_partner_topics_are_not_decoded(dashboard: str) -> None:
    login = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    async with httpx.AsyncClient(base_url=dashboard, timeout=10) as http:
        for topic in ("partner.tianjin-rongda-smelting.v1", "__consumer_offsets", "trade.orders.v2"):
            response = await http.get(f"/api/records/{topic}/0/0", headers=login)
            assert response.status_code == 403, topic
        own = await http.get("/api/records/trade.orders.v1/0/999999999", headers=login)
        assert own.status_code in (404, 503)  # looked for (no such offset, or Kafka not sampled yet)
