"""The endpoint proves it wants the subscription before anything is delivered to it.

In the spirit of DCSA's subscription callback verification: when a subscription is made (and before the
first delivery of one made before this check existed), the service POSTs a signed CloudEvents document
of type :data:`VERIFICATION_TYPE` whose ``data.challenge`` is a fresh random value. The endpoint must
check ``Corridor-Signature`` with the subscription's secret and answer 2xx with the JSON
``{"challenge": "<the same value>"}`` (the reference receiver does, ``receiver.py``). Anything else — an
error, a timeout, a redirect (never followed), another body — and there is no subscription: a URL of
someone else's service, which would not echo a challenge it never expected, cannot be made a target.
The request goes through the same guarded client as deliveries (``callbacks.py``).
"""

from __future__ import annotations

import json
import secrets
import uuid

import httpx

from corridor.webhooks import signing
from corridor.webhooks.delivery import USER_AGENT

VERIFICATION_TYPE = "corridor.webhooks.subscription.verification"
#: The most of an answer that is read (the echo is a few dozen bytes).
MAX_ANSWER_BYTES = 4096


def document(subscription_id: uuid.UUID, partner_id: str, challenge: str) -> dict[str, object]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "corridor/webhooks",
        "type": VERIFICATION_TYPE,
        "datacontenttype": "application/json",
        "data": {"challenge": challenge, "subscription_id": str(subscription_id), "partner_id": partner_id},
    }


async def verify_endpoint(
    http: httpx.AsyncClient,
    callback_url: str,
    secret: str,
    *,
    subscription_id: uuid.UUID,
    partner_id: str,
    timeout_s: float,
) -> str | None:
    """None when the endpoint echoed the challenge, else why it did not confirm."""
    challenge = secrets.token_urlsafe(24)
    body = json.dumps(document(subscription_id, partner_id, challenge), separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/cloudevents+json; charset=utf-8",
        signing.HEADER: signing.sign(secret, body),
        "User-Agent": USER_AGENT,
    }
    try:
        async with http.stream(
            "POST", callback_url, content=body, headers=headers, timeout=timeout_s, follow_redirects=False
        ) as response:
            if 300 <= response.status_code < 400:
                return f"it answered HTTP {response.status_code} (a redirect); redirects are not followed"
            if not 200 <= response.status_code < 300:
                return f"it answered HTTP {response.status_code}"
            answer = b""
            async for chunk in response.aiter_bytes():
                answer += chunk
                if len(answer) > MAX_ANSWER_BYTES:
                    return "its answer is too long for an echo of the challenge"
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}".rstrip(": ")
    try:
        echoed = json.loads(answer).get("challenge")
    except (ValueError, AttributeError):
        echoed = None
    if not isinstance(echoed, str) or not secrets.compare_digest(echoed, challenge):
        return 'it did not answer {"challenge": "<the challenge it was sent>"}'
    return None
