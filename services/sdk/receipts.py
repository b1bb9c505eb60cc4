"""Receipts: what the ledger decided about an event you published (docs/adr/0027).

The gateway answers ``201`` when Kafka has your event; the ledger then accepts it (it becomes part of
the trade and reaches the other parties), keeps it pending (it waits for a prerequisite: the order, a
booking, your admission to the trade) or rejects it (it breaks a rule; nobody else ever sees it).
:func:`fetch_receipt` asks the gateway (``GET /v1/events/{id}``) with your API key; only the sender of
an event gets its receipt::

    receipt = await fetch_receipt(gateway_url, api_key, event_id, wait_s=10)
    if receipt.status == "rejected":
        alert(receipt.rule, receipt.reason)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

#: The statuses of a receipt: ``received`` (Kafka has it, the ledger has not decided), ``accepted``,
#: ``pending`` (may still change), ``rejected`` (final).
STATUSES = ("received", "accepted", "pending", "rejected")
MAX_WAIT_S = 30.0


class ReceiptError(Exception):
    """The gateway did not give a receipt: ``status`` is its HTTP status (404: no such event of yours,
    401: the key, 503: the ledger is unavailable — ask again later), ``detail`` its explanation."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Receipt:
    event_id: uuid.UUID
    trade_id: uuid.UUID | None
    type: str | None
    status: str
    position: int | None  # the ledger's position of an accepted event
    decided_at: str | None
    published_at: str | None  # when an accepted event went to the parties' feed
    rule: str | None  # the rule a rejected event broke (LifecycleViolation, TrustViolation, …)
    reason: str | None  # why it was rejected, or what a pending event waits for
    attempts: int | None
    retry_at: str | None  # the next attempt of a pending event

    @property
    def decided(self) -> bool:
        return self.status in ("accepted", "rejected")

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Receipt:
        return cls(
            event_id=uuid.UUID(body["event_id"]),
            trade_id=uuid.UUID(body["trade_id"]) if body.get("trade_id") else None,
            type=body.get("type"),
            status=str(body["status"]),
            position=body.get("position"),
            decided_at=body.get("decided_at"),
            published_at=body.get("published_at"),
            rule=body.get("rule"),
            reason=body.get("reason"),
            attempts=body.get("attempts"),
            retry_at=body.get("retry_at"),
        )


async def fetch_receipt(
    gateway_url: str,
    api_key: str,
    event_id: uuid.UUID | str,
    *,
    wait_s: float = 0.0,
    client: httpx.AsyncClient | None = None,
) -> Receipt:
    """The receipt of ``event_id`` (one of yours); ``wait_s`` (at most 30) waits for the ledger's
    decision. Raises :class:`ReceiptError` when the gateway has none to give."""
    wait_s = max(0.0, min(wait_s, MAX_WAIT_S))
    own = client is None
    http = client or httpx.AsyncClient()
    try:
        response = await http.get(
            f"{gateway_url.rstrip('/')}/v1/events/{event_id}",
            params={"wait_s": wait_s} if wait_s else None,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=wait_s + 15.0,
        )
    finally:
        if own:
            await http.aclose()
    if response.status_code != 200:
        try:
            detail = str(response.json().get("detail") or response.text)
        except ValueError:
            detail = response.text
        raise ReceiptError(response.status_code, detail)
    return Receipt.from_json(response.json())
