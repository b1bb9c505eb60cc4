"""HTTP routes of the webhooks service: partners manage their subscriptions and dead letters.

Every ``/v1/`` route needs the partner's API key, as at the gateway (``Authorization: Bearer <key>`` or
``X-API-Key``; ``corridor.core.partners.authenticate``). A partner sees and changes only its own
subscriptions; anyone else's answer 404, like one that does not exist. Errors are
``application/problem+json`` (RFC 9457).

Order of checks on a request with a body: its declared size (413, :class:`RequestSizeLimit`, before a
byte is read), the API key (401), then the body, read up to the limit (413 past it) and validated. No
route declares a FastAPI body parameter, since FastAPI reads those before it runs dependencies.

A subscription is made only once its callback host resolves to addresses the service may reach
(callbacks.py) and the endpoint echoed the signed verification challenge (verification.py), and only
below the partner's limit of subscriptions (409 at it).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from corridor.core import metrics as core_metrics
from corridor.core import partners
from corridor.core.domain.validators import check_unlocode
from corridor.core.problems import Problem
from corridor.webhooks import subscriptions as subs
from corridor.webhooks.callbacks import CallbackRefused
from corridor.webhooks.dispatcher import Dispatcher
from corridor.webhooks.store import TooManySubscriptions, WebhookStore
from corridor.webhooks.verification import verify_endpoint

router = APIRouter()
M = TypeVar("M", bound=BaseModel)


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


class RotateSecretIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    secret: str | None = Field(
        None, description="The new secret (16-256 characters); made for you if omitted."
    )


class RedeliverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dead_letter_ids: list[uuid.UUID] | None = Field(
        None, description="The dead letters to deliver again (default: every one not redelivered yet)."
    )


class RequestSizeLimit:
    """413 for a ``/v1/`` request whose Content-Length exceeds ``limit``, before anything is read (and
    before the API key is looked up); a body sent without a length is cut at the limit as it streams."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"").decode("latin-1").strip()
        if declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        await self.app(scope, receive, send)


async def _too_large(send: Any, limit: int) -> None:
    import json

    body = json.dumps(
        {"type": "about:blank", "title": "Content Too Large", "status": 413,
         "detail": f"the request body may have at most {limit} bytes"}
    ).encode()  # fmt: skip
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _read_body(request: Request) -> bytes:
    """The body, at most the service's limit (413 past it); called only after the API key checked."""
    limit: int = request.app.state.settings.webhooks_max_request_bytes
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise Problem(413, "Content Too Large", f"the request body may have at most {limit} bytes")
    return body


async def _parse(request: Request, model: type[M], *, optional: bool = False) -> M | None:
    raw = await _read_body(request)
    if optional and not raw.strip():
        return None
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e.get("loc", ()))} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


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
async def create_subscription(request: Request, caller: Caller) -> Response:
    """Subscribe to your partner topic's events. The answer carries the secret (shown only now).

    The callback must resolve to a public address (or one the operator allowed) and echo the signed
    verification challenge sent to it before this answers."""
    body = await _parse(request, SubscriptionIn)
    assert body is not None
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
    settings = request.app.state.settings
    store = _store(request)
    if len(await store.subscriptions(caller.partner_id)) >= settings.webhooks_max_subscriptions_per_partner:
        raise _too_many(settings.webhooks_max_subscriptions_per_partner)
    parts = urlsplit(body.callback_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        await request.app.state.policy.resolve(parts.hostname or "", port)
    except CallbackRefused as exc:
        raise Problem(
            422,
            "Unprocessable Content",
            f"callback_url: {exc}",
            errors=[{"field": "callback_url", "reason": str(exc)}],
        ) from None
    secret = body.secret or subs.new_secret()
    subscription_id = uuid.uuid4()
    refusal = await verify_endpoint(
        _dispatcher(request).http,
        body.callback_url,
        secret,
        subscription_id=subscription_id,
        partner_id=caller.partner_id,
        timeout_s=settings.webhooks_timeout_s,
    )
    if refusal is not None:
        reason = f"the endpoint did not confirm the subscription: {refusal}"
        raise Problem(
            422,
            "Unprocessable Content",
            f"callback_url: {reason}",
            errors=[{"field": "callback_url", "reason": reason}],
        )
    try:
        created = await store.create_subscription(
            caller.partner_id,
            body.callback_url,
            secret,
            subs.Filters(event_types, body.trade_id, body.location),
            max_per_partner=settings.webhooks_max_subscriptions_per_partner,
            subscription_id=subscription_id,
            verified=True,
        )
    except TooManySubscriptions as exc:
        raise _too_many(exc.limit) from None
    _dispatcher(request).subscriptions.invalidate(caller.partner_id)
    return JSONResponse(
        created.to_dict(with_secret=True),
        status_code=201,
        headers={"Location": f"/v1/subscriptions/{created.id}"},
    )


def _too_many(limit: int) -> Problem:
    return Problem(409, "Conflict", f"at most {limit} subscriptions per partner; delete one first")


@router.post("/v1/subscriptions/{subscription_id}/secret")
async def rotate_secret(subscription_id: str, request: Request, caller: Caller) -> Response:
    """Replace the subscription's secret. The old one keeps signing deliveries next to the new one (two
    ``v1=`` in Corridor-Signature) until ``previous_secret_until``, so the receiver can switch without
    losing a delivery. The answer carries the new secret (shown only now)."""
    subscription = await _own(request, caller, subscription_id)
    body = await _parse(request, RotateSecretIn, optional=True)
    secret = (body.secret if body else None) or subs.new_secret()
    if reason := subs.check_secret(secret):
        raise Problem(
            422, "Unprocessable Content", f"secret: {reason}", errors=[{"field": "secret", "reason": reason}]
        )
    overlap = dt.timedelta(seconds=request.app.state.settings.webhooks_secret_overlap_s)
    rotated = await _store(request).rotate_secret(
        subscription.id, caller.partner_id, secret, dt.datetime.now(dt.UTC) + overlap
    )
    if rotated is None:
        raise Problem(404, "Not Found", f"no subscription {subscription_id} of yours")
    _dispatcher(request).subscriptions.invalidate(caller.partner_id)
    return JSONResponse(rotated.to_dict(with_secret=True))


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
    wait: Annotated[bool, Query(description="answer after the attempts, with how many got through")] = False,
) -> Response:
    """Deliver dead letters again, oldest first, with the usual retries (after the partner's delivery in
    progress). 202 at once, or with ``?wait=true`` 200 once done. Body (optional): ``RedeliverIn``."""
    subscription = await _own(request, caller, subscription_id)
    body = await _parse(request, RedeliverIn, optional=True)
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
