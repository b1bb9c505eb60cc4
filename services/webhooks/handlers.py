"""HTTP routes of the webhooks service: partners manage their subscriptions and dead letters.

Every ``/v1/`` route needs the partner's API key, as at the gateway (``Authorization: Bearer <key>`` or
``X-API-Key``; ``corridor.core.partners.authenticate``). A partner sees and changes only its own
subscriptions; anyone else's answer 404, like one that does not exist. Errors are
``application/problem+json`` (RFC 9457).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from corridor.core import metrics as core_metrics
from corridor.core import partners
from corridor.core.domain.validators import check_unlocode
from corridor.core.problems import Problem
from corridor.webhooks import subscriptions as subs
from corridor.webhooks.dispatcher import Dispatcher
from corridor.webhooks.store import WebhookStore

router = APIRouter()


class SubscriptionIn(BaseModel):
    """A subscription: where to POST, the shared secret that signs each delivery, and the filters."""

    model_config = ConfigDict(extra="forbid")

    callback_url: str = Field(description="https URL the events are POSTed to (http only to localhost).")
    secret: str | None = Field(
        None, description="Shared secret for Corridor-Signature (16-256 characters); made for you if omitted."
    )
    event_types: list[str] = Field(
        default_factory=list, description="Event types (full or short names); empty: every type."
    )
    trade_id: uuid.UUID | None = Field(None, description="Only this trade's events.")
    location: str | None = Field(None, description="Only events naming this UN/LOCODE, e.g. PKKHI.")


class RedeliverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dead_letter_ids: list[uuid.UUID] | None = Field(
        None, description="The dead letters to deliver again (default: every one not redelivered yet)."
    )


async def current_partner(request: Request) -> partners.Partner:
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    key = bearer.strip() if scheme.lower() == "bearer" else request.headers.get("x-api-key", "").strip()
    challenge = {"WWW-Authenticate": 'Bearer realm="corridor"'}
    if not key:
        raise Problem(
            401, "Unauthorized", "send your API key as 'Authorization: Bearer <key>'", headers=challenge
        )
    partner = await partners.authenticate(_store(request).pool, key, schema=request.app.state.partners_schema)
    if partner is None:
        raise Problem(401, "Unauthorized", "unknown, rotated or disabled API key", headers=challenge)
    return partner


Caller = Annotated[partners.Partner, Depends(current_partner)]


def _store(request: Request) -> WebhookStore:
    store: WebhookStore = request.app.state.store
    return store


def _dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


async def _own(request: Request, caller: partners.Partner, subscription_id: str) -> subs.Subscription:
    try:
        sid = uuid.UUID(subscription_id)
    except ValueError:
        sid = None
    found = await _store(request).subscription(sid, caller.partner_id) if sid else None
    if found is None:
        raise Problem(404, "Not Found", f"no subscription {subscription_id} of yours")
    return found


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    checks: dict[str, str] = {}
    try:
        await _store(request).ping()
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready, with the reason
        checks["database"] = f"{type(exc).__name__}: {exc}"
    dispatcher = _dispatcher(request)
    checks["dispatcher"] = "ok" if dispatcher.ready else "not consuming"
    ready = all(v == "ok" for v in checks.values())
    body = {
        "status": "ready" if ready else "not ready",
        "checks": checks,
        "group_id": dispatcher.group_id,
        "assigned_partitions": dispatcher.assigned,
        "stats": dispatcher.stats.as_dict(),
    }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics() -> Response:
    response: Response = core_metrics.metrics_response()
    return response


@router.post("/v1/subscriptions", status_code=201)
async def create_subscription(body: SubscriptionIn, request: Request, caller: Caller) -> Response:
    """Subscribe to your partner topic's events. The answer carries the secret (shown only now)."""
    errors = []
    reason = subs.check_callback_url(body.callback_url, allow_http=request.app.state.allow_http)
    if reason:
        errors.append({"field": "callback_url", "reason": reason})
    if body.secret is not None and (reason := subs.check_secret(body.secret)):
        errors.append({"field": "secret", "reason": reason})
    event_types, unknown = subs.event_type_names(body.event_types)
    if unknown:
        errors.append({"field": "event_types", "reason": f"unknown event types {unknown}"})
    if body.location is not None and (reason := check_unlocode(body.location)):
        errors.append({"field": "location", "reason": reason})
    if errors:
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        raise Problem(422, "Unprocessable Content", detail, errors=errors)
    created = await _store(request).create_subscription(
        caller.partner_id,
        body.callback_url,
        body.secret or subs.new_secret(),
        subs.Filters(event_types, body.trade_id, body.location),
    )
    _dispatcher(request).subscriptions.invalidate(caller.partner_id)
    return JSONResponse(
        created.to_dict(with_secret=True),
        status_code=201,
        headers={"Location": f"/v1/subscriptions/{created.id}"},
    )


@router.get("/v1/subscriptions")
async def list_subscriptions(request: Request, caller: Caller) -> Response:
    found = await _store(request).subscriptions(caller.partner_id)
    return JSONResponse({"items": [s.to_dict() for s in found]})


@router.get("/v1/subscriptions/{subscription_id}")
async def get_subscription(subscription_id: str, request: Request, caller: Caller) -> Response:
    return JSONResponse((await _own(request, caller, subscription_id)).to_dict())


@router.delete("/v1/subscriptions/{subscription_id}", status_code=204)
async def delete_subscription(subscription_id: str, request: Request, caller: Caller) -> Response:
    subscription = await _own(request, caller, subscription_id)
    await _store(request).delete_subscription(subscription.id, caller.partner_id)
    _dispatcher(request).subscriptions.invalidate(caller.partner_id)
    return Response(status_code=204)


@router.get("/v1/subscriptions/{subscription_id}/dead-letters")
async def dead_letters(
    subscription_id: str,
    request: Request,
    caller: Caller,
    pending: Annotated[bool, Query(description="only those not redelivered yet")] = False,
) -> Response:
    subscription = await _own(request, caller, subscription_id)
    found = await _store(request).dead_letters(subscription.id, pending_only=pending)
    return JSONResponse({"items": [d.to_dict() for d in found]})


@router.post("/v1/subscriptions/{subscription_id}/redeliver")
async def redeliver(
    subscription_id: str,
    request: Request,
    caller: Caller,
    body: RedeliverIn | None = None,
    wait: Annotated[bool, Query(description="answer after the attempts, with how many got through")] = False,
) -> Response:
    """Deliver dead letters again, oldest first, with the usual retries (after the partner's delivery in
    progress). 202 at once, or with ``?wait=true`` 200 once done."""
    subscription = await _own(request, caller, subscription_id)
    ids = body.dead_letter_ids if body else None
    letters = await _store(request).dead_letters(subscription.id, pending_only=ids is None, ids=ids)
    if ids is not None and len(letters) != len(set(ids)):
        missing = sorted(set(map(str, ids)) - {str(d.id) for d in letters})
        raise Problem(404, "Not Found", f"no dead letters {missing} of this subscription")
    done = _dispatcher(request).redeliver(subscription, letters)
    queued = {"queued": len(letters), "dead_letter_ids": [str(d.id) for d in letters]}
    if not wait:
        return JSONResponse(queued, status_code=202)
    return JSONResponse({**queued, "delivered": await done}, status_code=200)
