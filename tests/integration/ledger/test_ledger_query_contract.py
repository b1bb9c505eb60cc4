"""The ledger's query API takes the key as the gateway does (``X-API-Key`` too), and refuses query
parameters it does not know instead of ignoring them (``?status=PLACED`` answered every trade)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from corridor.demo.story import chromite_story
from tests.integration.ledger.ledger_helpers import InProcessLedger, eventually

pytestmark = pytest.mark.integration


async def test_x_api_key_and_unknown_filters(ledger: InProcessLedger, publish: Any, api_key: Any) -> None:
    story = chromite_story()
    await publish(story.events[0])  # OrderPlaced
    buyer = await api_key("tianjin-rongda-smelting", "BUYER")
    async with httpx.AsyncClient(base_url=ledger.url, timeout=10) as http:

        async def placed() -> bool:
            response = await http.get(f"/v1/trades/{story.trade_id}", headers={"X-API-Key": buyer})
            return response.status_code == 200

        await eventually(placed, within=90)
        assert (await http.get("/v1/trades", headers={"X-API-Key": "cor_x_bad"})).status_code == 401
        missing = await http.get("/v1/trades")
        assert missing.status_code == 401 and "X-API-Key" in missing.json()["detail"]

        unknown = await http.get("/v1/trades", params={"status": "PLACED"}, headers={"X-API-Key": buyer})
        assert unknown.status_code == 422
        assert unknown.headers["content-type"].startswith("application/problem+json")
        body = unknown.json()
        assert "'status'" in body["detail"] and "did you mean state?" in body["detail"]
        assert "party, state, hs_code, from, to, limit, cursor" in body["detail"]
        assert body["errors"] == [{"field": "query.status", "reason": "unknown query parameter"}]

        # the known filter answers as before
        known = await http.get("/v1/trades", params={"state": "PLACED"}, headers={"X-API-Key": buyer})
        assert known.status_code == 200
        assert str(story.trade_id) in {t["trade_id"] for t in known.json()["items"]}
        one = await http.get(
            f"/v1/trades/{story.trade_id}", params={"expand": "all"}, headers={"X-API-Key": buyer}
        )
        assert one.status_code == 422 and "'expand'" in one.json()["detail"]
        verify = await http.get(
            "/v1/certificates/X/verify", params={"trade": str(uuid.uuid4())}, headers={"X-API-Key": buyer}
        )
        assert verify.status_code == 422 and "did you mean trade_id?" in verify.json()["detail"]
