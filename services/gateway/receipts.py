"""Receipts at the gateway (ADR 0027): what became of an event its sender published.

The ledger decides (accepted, pending, rejected) and keeps its word in PostgreSQL; it answers
``GET /v1/events/{id}`` to the event's sender. The gateway asks the ledger with the caller's own API
key (so the ledger's rule "only the sender sees a receipt" is the one rule), and when the ledger has
no word yet but the gateway acknowledged the event to this caller, answers ``received``: Kafka has it,
the ledger has not decided. ``?wait=accepted`` on ``POST /v1/events`` waits, bounded, for the decision.
"""

from __future__ import annotations

from typing import Any

import httpx

from corridor.core.logging import get_logger

log = get_logger("corridor.gateway.receipts")

#: The longest the gateway lets a caller wait for the ledger's decision.
MAX_WAIT_S = 30.0


class LedgerUnavailable(Exception):
    """The ledger did not answer (the event is safe in Kafka; ask again later)."""


async def ledger_receipt(
    client: httpx.AsyncClient, ledger_url: str, api_key: str, event_id: str, wait_s: float
) -> dict[str, Any] | None:
    """The ledger's receipt of ``event_id`` for the owner of ``api_key``, None when it has no word."""
    wait_s = max(0.0, min(wait_s, MAX_WAIT_S))
    try:
        response = await client.get(
            f"{ledger_url.rstrip('/')}/v1/events/{event_id}",
            params={"wait_s": wait_s} if wait_s else None,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=wait_s + 5.0,
        )
    except httpx.HTTPError as exc:
        raise LedgerUnavailable(f"the ledger did not answer: {type(exc).__name__}") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        log.warning("ledger_receipt_failed", status=response.status_code, body=response.text[:300])
        raise LedgerUnavailable(f"the ledger answered {response.status_code}")
    body: dict[str, Any] = response.json()
    return body


def received(event_id: str, acknowledged: dict[str, Any]) -> dict[str, Any]:
    """The receipt of an event Kafka acknowledged that the ledger has not decided on yet."""
    return {
        "event_id": event_id,
        "trade_id": acknowledged.get("trade_id"),
        "type": acknowledged.get("type"),
        "status": "received",
        "position": None,
        "decided_at": None,
        "published_at": None,
        "rule": None,
        "reason": "acknowledged by Kafka; the ledger has not decided yet",
        "attempts": None,
        "retry_at": None,
    }
