"""What one delivery sends (pure): the CloudEvents JSON document, its headers, and the retry schedule.

The body is a CloudEvents 1.0 structured-mode JSON document (``application/cloudevents+json``): the
record's CloudEvents attributes (``ce_*`` headers on the partner topic), ``partitionkey`` = the trade id
(CloudEvents partitioning extension), ``traceparent`` (distributed tracing extension), for certificates
``signatureverdict`` (the relay's check of the issuer's signature, docs/adr/0013) and ``data`` = the
event as JSON (decimals as strings, instants with their offset). Every attempt is signed afresh
(``Corridor-Signature``) and says which delivery and attempt it is.
"""

from __future__ import annotations

import json
import random
from typing import Any

from corridor.core.domain.base import TradeEvent
from corridor.core.envelope import CloudEvent
from corridor.webhooks import signing

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
DELIVERY_HEADER = "Corridor-Delivery"  # one id per (event, subscription), the same on every attempt
ATTEMPT_HEADER = "Corridor-Attempt"  # 1, 2, …
USER_AGENT = "corridor-webhooks/1"
#: Header the relay puts on certificate events of the partner topics: the signature's verdict.
SIGNATURE_VERDICT_HEADER = "corridor_signature_verdict"


def backoff_delay(attempt: int, *, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt ``attempt`` (from 1): capped exponential with equal jitter.

    The ceiling doubles from ``base_s`` up to ``max_s``; half of it is always waited, the other half at
    random, so a crowd of deliveries failing together does not come back together."""
    ceiling: float = min(max_s, base_s * 2.0 ** (attempt - 1))
    jitter = (rng or random).uniform(0, ceiling / 2)
    return ceiling / 2 + jitter


def document(
    event: TradeEvent,
    envelope: CloudEvent,
    *,
    signature_verdict: str | None = None,
    extensions: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The CloudEvents JSON document of an event read from a partner topic; ``extensions`` are the
    partner's extension attributes the record carries (``ce_<name>``), passed on as they came."""
    doc: dict[str, Any] = {
        "specversion": envelope.specversion,
        "id": envelope.id,
        "source": envelope.source,
        "type": envelope.type,
        "time": envelope.time or None,
        "subject": envelope.subject or None,
        "datacontenttype": "application/json",
        "partitionkey": str(event.trade_id),
        "traceparent": envelope.traceparent or None,
        "signatureverdict": signature_verdict,
        "data": event.model_dump(mode="json"),
    }
    # Corridor's own attributes win; the gateway refuses extensions with their names anyway
    doc = {**(extensions or {}), **doc}
    return {k: v for k, v in doc.items() if v is not None}


def body(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def headers(secrets: str | list[str], payload: bytes, *, delivery_id: str, attempt: int) -> dict[str, str]:
    return {
        "Content-Type": CONTENT_TYPE,
        signing.HEADER: signing.sign_all([secrets] if isinstance(secrets, str) else secrets, payload),
        DELIVERY_HEADER: delivery_id,
        ATTEMPT_HEADER: str(attempt),
        "User-Agent": USER_AGENT,
    }
