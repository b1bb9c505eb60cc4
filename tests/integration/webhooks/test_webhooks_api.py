"""The subscriptions API: partner API keys, validation, one's own subscriptions only."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.integration.webhooks.conftest import Partner, Webhooks

pytestmark = pytest.mark.integration

SECRET = "whsec_api-test-secret-0042"


async def test_subscriptions_are_the_partners_own(
    webhooks: Webhooks, partner: Partner, partner_factory: Any, receivers: Any
) -> None:
    stranger: Partner = await partner_factory()
    async with httpx.AsyncClient(base_url=webhooks.url, timeout=10) as http:
        assert (await http.get("/v1/subscriptions")).status_code == 401
        bad_key = {"Authorization": f"Bearer cor_{partner.partner_id}_{'x' * 43}"}
        assert (await http.get("/v1/subscriptions", headers=bad_key)).status_code == 401

        refused = await http.post(
            "/v1/subscriptions",
            json={
                "callback_url": "http://erp.example.com/hooks",
                "secret": "short",
                "event_types": ["OrderPlaced", "ShipmentTeleported"],
                "location": "XXSST",
            },
            headers=partner.auth,
        )
        assert refused.status_code == 422
        assert [e["field"] for e in refused.json()["errors"]] == [
            "callback_url",
            "secret",
            "event_types",
            "location",
        ]
        assert (await http.post("/v1/subscriptions", json={}, headers=partner.auth)).status_code == 422

        _, url = receivers(SECRET)  # a receiver that confirms the subscription (verification.py)
        created = await http.post(
            "/v1/subscriptions",
            json={
                "callback_url": url,
                "secret": SECRET,
                "event_types": ["CertificateIssued", "corridor.trade.certificates.PreferenceDecided"],
                "location": "CNTXG",
            },
            headers={"X-API-Key": partner.api_key},  # as at the gateway: either header
        )
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["secret"] == SECRET and body["verified_at"] is not None
        assert body["partner_id"] == partner.partner_id and body["trade_id"] is None
        assert body["event_types"] == [
            "corridor.trade.certificates.CertificateIssued",
            "corridor.trade.certificates.PreferenceDecided",
        ]
        assert created.headers["location"] == f"/v1/subscriptions/{body['id']}"
        sid = body["id"]

        listed = (await http.get("/v1/subscriptions", headers=partner.auth)).json()["items"]
        assert [s["id"] for s in listed] == [sid] and "secret" not in listed[0]
        assert (await http.get(f"/v1/subscriptions/{sid}", headers=partner.auth)).json()[
            "location"
        ] == "CNTXG"

        for method, path in (
            ("GET", f"/v1/subscriptions/{sid}"),
            ("DELETE", f"/v1/subscriptions/{sid}"),
            ("GET", f"/v1/subscriptions/{sid}/dead-letters"),
            ("POST", f"/v1/subscriptions/{sid}/redeliver"),
        ):
            response = await http.request(method, path, headers=stranger.auth)
            assert response.status_code == 404, (method, path)
        assert (await http.get("/v1/subscriptions", headers=stranger.auth)).json()["items"] == []
        assert (await http.get("/v1/subscriptions/not-a-uuid", headers=partner.auth)).status_code == 404

        assert (await http.delete(f"/v1/subscriptions/{sid}", headers=partner.auth)).status_code == 204
        assert (await http.get(f"/v1/subscriptions/{sid}", headers=partner.auth)).status_code == 404
        assert (await http.get("/v1/subscriptions", headers=partner.auth)).json()["items"] == []


async def test_answers_match_the_openapi_document(
    webhooks: Webhooks, partner: Partner, receivers: Any
) -> None:
    """What a client generated from /openapi.json expects is what the API answers."""
    from tests.support.openapi_check import answer_errors

    problems: list[str] = []
    async with httpx.AsyncClient(base_url=webhooks.url, timeout=10) as http:
        spec = (await http.get("/openapi.json")).json()

        async def check(method: str, template: str, url: str, **kwargs: Any) -> Any:
            answer = await http.request(method, url, **kwargs)
            body = answer.json() if answer.content else None
            if body is not None:
                problems.extend(answer_errors(spec, method, template, answer.status_code, body))
            return body

        created = await check(
            "POST",
            "/v1/subscriptions",
            "/v1/subscriptions",
            # a receiver that confirms the subscription (callbacks are verified before they exist)
            json={"callback_url": receivers(SECRET)[1], "secret": SECRET, "location": "PKKHI"},
            headers=partner.auth,
        )
        one = "/v1/subscriptions/{subscription_id}"
        await check(
            "POST", f"{one}/secret", f"/v1/subscriptions/{created['id']}/secret", headers=partner.auth
        )
        await check("GET", "/v1/subscriptions", "/v1/subscriptions", headers=partner.auth)
        await check("GET", one, f"/v1/subscriptions/{created['id']}", headers=partner.auth)
        await check(
            "GET",
            f"{one}/dead-letters",
            f"/v1/subscriptions/{created['id']}/dead-letters",
            headers=partner.auth,
        )
        await check("GET", "/v1/subscriptions", "/v1/subscriptions")  # 401, problem+json
        await check("GET", one, f"/v1/subscriptions/{uuid.uuid4()}", headers=partner.auth)  # 404
        await check("GET", "/healthz", "/healthz")
        await http.delete(f"/v1/subscriptions/{created['id']}", headers=partner.auth)
    assert not problems, "\n".join(problems)
