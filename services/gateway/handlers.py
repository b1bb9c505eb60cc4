"""HTTP routes of the gateway: ``POST /v1/events``, ``POST /v1/events/batch``, ``GET /v1/events/{id}`` (the
sender's receipt, ADR 0027), ``/healthz``, ``/readyz``.

Bodies are read by hand (bounded, before parsing) rather than through FastAPI's body validation, so
every failure leaves as problem details with the field and the reason; the request schemas are still
published in ``/openapi.json``.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from corridor.core.logging import bound_contextvars
from corridor.core.partners import Partner
from corridor.gateway import cloudevents, problems
from corridor.gateway.limits import charge
from corridor.gateway.receipts import MAX_WAIT_S, LedgerUnavailable, ledger_receipt, received
from corridor.gateway.service import Gateway

router = APIRouter()

MAX_IDEMPOTENCY_KEY = 255


# -- documentation models (/openapi.json) ----------------------------------------------------------------


class CloudEventIn(BaseModel):
    """A CloudEvents 1.0 event in structured mode; ``data`` holds the event's fields (see the AsyncAPI
    contract for each type). ``data.event_id`` may be omitted (it is taken from ``id``)."""

    model_config = ConfigDict(
        json_schema_extra={
            "additionalProperties": {
                "type": ["string", "integer", "boolean"],
                "description": (
                    "An extension attribute (1-20 lower-case letters or digits, at most 256 bytes, at most "
                    "8): carried to Kafka as the ce_<name> header."
                ),
            }
        }
    )

    specversion: Literal["1.0"]
    id: str = Field(description="The event id (a UUID); equal to data.event_id. Also the idempotency key.")
    source: str = Field(description="Accepted as sent; Kafka records carry /corridor/partners/<partner id>.")
    type: str = Field(description="Record full name, e.g. corridor.trade.orders.OrderPlaced")
    time: str | None = Field(None, description="Fills data.occurred_at when that is missing.")
    subject: str | None = None
    datacontenttype: Literal["application/json"] | None = None
    traceparent: str | None = Field(None, description="W3C trace context of this event (optional).")
    data: dict[str, Any]


class Accepted(BaseModel):
    """Where the broker stored the acknowledged event (acks=all), and where to learn the ledger's
    decision on it (``receipt_url``). ``status`` is ``received`` (Kafka has it; the ledger decides next),
    or with ``?wait=accepted`` the ledger's word: ``accepted``, ``pending`` or ``rejected`` (then
    ``receipt`` holds it)."""

    event_id: str
    topic: str
    partition: int
    offset: int
    status: str
    receipt_url: str
    receipt: dict[str, Any] | None = None


class ReceiptOut(BaseModel):
    """What became of an event the caller published (ADR 0027)."""

    event_id: str
    trade_id: str | None
    type: str | None
    status: str = Field(description="received | accepted | pending | rejected")
    position: int | None = Field(None, description="the ledger's position of an accepted event")
    decided_at: str | None
    published_at: str | None = Field(None, description="when the accepted event reached partners' feed")
    rule: str | None = Field(None, description="the rule a rejected event broke")
    reason: str | None = Field(None, description="why it was rejected, or what a pending event waits for")
    attempts: int | None
    retry_at: str | None = Field(None, description="next attempt of a pending event")
    topic: str
    partition: int
    offset: int


class FieldProblem(BaseModel):
    index: int | None = Field(None, description="Item of a batch (batches only).")
    field: str
    reason: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


class BatchItem(BaseModel):
    index: int
    status: int
    event_id: str
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    replayed: bool | None = None
    error: ProblemDetails | None = None


class BatchResult(BaseModel):
    results: list[BatchItem]


def _problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        s: {
            "model": ProblemDetails,
            "content": {problems.PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDetails"}}},
            "description": d,
        }
        for s, d in {
            400: "Malformed JSON or headers",
            401: "Missing or unknown API key",
            403: "The partner may not publish this event (role, sender or trade)",
            409: "Idempotency key reused for a different event, or still in progress",
            413: "Body too large (or too many events)",
            415: "Unsupported Content-Type",
            422: "Invalid event: every bad field is listed",
            429: "The partner's rate limit is exceeded; retry after Retry-After seconds",
            503: "Kafka, the schema registry or PostgreSQL unavailable; retry after Retry-After seconds",
        }.items()
        if s in statuses
    }


_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]

#: One named request schema per media type (a generator keeps each content type), see request_schemas().
_REQUEST_SCHEMAS = {
    cloudevents.STRUCTURED: "CloudEventStructured",
    cloudevents.JSON: "CloudEventJson",
}
_BATCH_SCHEMAS = {cloudevents.BATCH: "CloudEventBatch", cloudevents.JSON: "CloudEventBatchJson"}
#: Binary mode: the CloudEvents attributes as ce-* headers (the body is then the event's data).
_CE_HEADER_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": f"ce-{name}",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": f"Binary mode: the CloudEvents `{name}` attribute (percent-encoded). {note}",
    }
    for name, note in (
        ("specversion", "Its presence selects binary mode; must be 1.0."),
        ("id", "Required in binary mode."),
        ("source", "Required in binary mode."),
        ("type", "Required in binary mode."),
        ("time", "Optional."),
        ("subject", "Optional."),
        ("traceparent", "Optional: this event's W3C trace context."),
    )
]


def _request_body(*media: str, batch: bool) -> dict[str, Any]:
    names = _BATCH_SCHEMAS if batch else _REQUEST_SCHEMAS
    content = {m: {"schema": {"$ref": f"#/components/schemas/{names[m]}"}} for m in media}
    return {"requestBody": {"required": True, "content": content}}


def request_schemas(doc: dict[str, Any]) -> None:
    """Add the request schemas ``_request_body`` references to the OpenAPI document."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    structured = CloudEventIn.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas["CloudEventStructured"] = {**structured, "title": "CloudEventStructured"}
    schemas["EventData"] = {
        "title": "EventData",
        "type": "object",
        "description": (
            "Binary mode: the event's fields (the `data` of the event type the ce-type header names); "
            "the attributes are the ce-* headers. Extension attributes: further ce-<name> headers."
        ),
    }
    schemas["CloudEventJson"] = {
        "title": "CloudEventJson",
        "description": (
            "application/json: a structured-mode event, or in binary mode (a ce-specversion header) the "
            "event's data."
        ),
        "oneOf": [
            {"$ref": "#/components/schemas/CloudEventStructured"},
            {"$ref": "#/components/schemas/EventData"},
        ],
    }
    for name in _BATCH_SCHEMAS.values():
        schemas[name] = {
            "title": name,
            "type": "array",
            "maxItems": 500,
            "items": {"$ref": "#/components/schemas/CloudEventStructured"},
        }
    events = doc["paths"]["/v1/events"]["post"]
    events.setdefault("parameters", []).extend(_CE_HEADER_PARAMETERS)


# -- helpers ------------------------------------------------------------------------------------------------


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


def api_key_of(headers: Any) -> str | None:
    """The key from ``Authorization: Bearer <key>`` or ``X-API-Key``."""
    authorization = headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return str(credentials.strip())
    key = headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


async def _partner(request: Request, gateway: Gateway) -> Partner:
    api_key = api_key_of(request.headers)
    if api_key is None:
        raise problems.unauthorized(
            "send your API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'", invalid_key=False
        )
    partner = await gateway.authenticate(api_key)
    request.state.partner_id = partner.partner_id if partner else None
    if partner is None:
        raise problems.unauthorized(
            "the API key is unknown, was rotated, or its partner is disabled", invalid_key=True
        )
    return partner


async def _charge(request: Request, partner: Partner, events: int) -> None:
    """Take ``events`` tokens of the partner's rate limit, or answer 429 (services/gateway/limits.py)."""
    await charge(request.app.state, partner.partner_id, events)


def _check_declared_length(request: Request, limit: int) -> None:
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise problems.malformed(f"Content-Length {declared!r} is not a number")
        if int(declared) > limit:
            raise problems.too_large(f"the body has {int(declared)} bytes; the limit here is {limit} bytes")


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it passes ``limit`` bytes (chunked bodies have no Content-Length)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise problems.too_large(f"the body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is None:
        return None
    key = key.strip().strip('"')  # the IETF draft sends it as a quoted string
    if not key or len(key) > MAX_IDEMPOTENCY_KEY:
        raise problems.malformed(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters")
    return key


# -- routes -------------------------------------------------------------------------------------------------


@router.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    tags=["operations"],
    summary="Readiness: Kafka and PostgreSQL are reachable",
    responses={503: {"description": "a dependency is unreachable"}},
)
async def readyz(request: Request) -> Response:
    checks = await _gateway(request).readiness()
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503
    )


@router.post(
    "/v1/events",
    tags=["events"],
    status_code=201,
    summary="Publish one event (CloudEvents structured or binary mode)",
    description=(
        "Validates, authorises (role, sender, trade party) and produces the event with acks=all; answers "
        "201 only after the broker acknowledged. Idempotent per partner on the CloudEvents id (or the "
        "Idempotency-Key header): the same event again returns the first result, a different event with "
        "the same id is 409."
    ),
    response_model=Accepted,
    responses=_problem_responses(400, 401, 403, 409, 413, 415, 422, 429, 503),
    openapi_extra={
        **_request_body(cloudevents.STRUCTURED, cloudevents.JSON, batch=False),
        "security": _SECURITY,
    },
)
async def post_event(
    request: Request,
    wait: Annotated[
        Literal["accepted"] | None,
        Query(description="wait for the ledger's decision (at most wait_s seconds) and answer it"),
    ] = None,
    wait_s: Annotated[float, Query(gt=0, le=MAX_WAIT_S)] = 10.0,
) -> Response:
    gateway = _gateway(request)
    limit = gateway.settings.gateway_max_event_bytes
    _check_declared_length(request, limit)
    partner = await _partner(request, gateway)
    with bound_contextvars(partner_id=partner.partner_id):
        await _charge(request, partner, 1)
        idempotency_key = _idempotency_key(request)
        body = await _read_body(request, limit)
        item = cloudevents.parse_single(request.headers.get("content-type"), request.headers, body)
        event_id = item.id if isinstance(item, cloudevents.IncomingEvent) else None
        request.state.event_id = event_id
        with bound_contextvars(event_id=event_id):
            [result] = await gateway.publish(
                partner,
                [item],
                batch=False,
                idempotency_key=idempotency_key,
                traceparent=request.state.traceparent,
            )
    if result.problem is not None:
        raise result.problem
    headers = {"Idempotent-Replayed": "true"} if result.replayed else {}
    acknowledged = dict(result.result or {})
    event = str(acknowledged.get("event_id"))
    answer: dict[str, Any] = {**acknowledged, "status": "received", "receipt_url": f"/v1/events/{event}"}
    if wait is not None:
        try:
            found = await _ask_ledger(request, gateway, event, wait_s)
        except LedgerUnavailable as exc:
            found = None
            answer["receipt_error"] = str(exc)
        if found is not None:
            answer.update(status=found["status"], receipt=found)
    return JSONResponse(answer, status_code=201, headers=headers)


async def _ask_ledger(
    request: Request, gateway: Gateway, event_id: str, wait_s: float
) -> dict[str, Any] | None:
    """The ledger's receipt, asked with the caller's own key (the ledger shows the sender only)."""
    api_key = api_key_of(request.headers)
    assert api_key is not None  # the caller was authenticated with it
    return await ledger_receipt(
        request.app.state.http, gateway.settings.ledger_url, api_key, event_id, wait_s
    )


@router.get(
    "/v1/events/{event_id}",
    tags=["events"],
    summary="The receipt of an event you published: received, accepted, pending or rejected",
    description=(
        "The ledger decides what happens to every acknowledged event: accepted (with its position), "
        "pending (waiting for a prerequisite: what for and the next attempt) or rejected (the rule and "
        "the reason). Only the event's sender gets its receipt; ``received`` means Kafka has the event "
        "and the ledger has not decided yet. ``wait_s`` waits (bounded) for a decision."
    ),
    response_model=ReceiptOut,
    responses=_problem_responses(401, 404, 422, 503),
    openapi_extra={"security": _SECURITY},
)
async def get_receipt(
    event_id: str,
    request: Request,
    wait_s: Annotated[float, Query(ge=0, le=MAX_WAIT_S)] = 0.0,
) -> Response:
    gateway = _gateway(request)
    partner = await _partner(request, gateway)
    await _charge(request, partner, 1)  # asking costs a token like publishing: polling is bounded too
    try:
        uuid.UUID(event_id)
    except ValueError:
        raise problems.typed(
            422, "invalid-event-id", "Invalid event id", f"event id {event_id!r} is not a UUID",
            errors=[{"field": "path.event_id", "reason": "not a UUID"}],
        ) from None  # fmt: skip
    try:
        found = await _ask_ledger(request, gateway, event_id, wait_s)
    except LedgerUnavailable as exc:
        raise problems.unavailable(
            "ledger-unavailable", "Ledger unavailable", f"{exc}; ask again later",
            gateway.settings.gateway_retry_after_s,
        ) from None  # fmt: skip
    if found is None:
        acknowledged = await gateway.store.acknowledged(partner.partner_id, event_id)
        if acknowledged is None:
            raise problems.typed(
                404, "not-found", "Not Found", f"no event {event_id} of yours was acknowledged here"
            )
        found = received(event_id, acknowledged)
    return JSONResponse(found)


@router.post(
    "/v1/events/batch",
    tags=["events"],
    status_code=201,
    summary="Publish up to 500 events in order",
    description=(
        "The whole batch is validated and authorised first: any invalid item is 422 (any forbidden item "
        "403) listing each item's index and fields, and nothing is produced. Otherwise every event is "
        "produced in order and its acknowledgement awaited: 201 when all were acknowledged (or had been "
        "before), 207 with each item's status otherwise, 503 when none was."
    ),
    response_model=BatchResult,
    responses={
        207: {"model": BatchResult, "description": "Some events were not acknowledged; see each item"},
        **_problem_responses(400, 401, 403, 409, 413, 415, 422, 429, 503),
    },
    openapi_extra={**_request_body(cloudevents.BATCH, cloudevents.JSON, batch=True), "security": _SECURITY},
)
async def post_batch(request: Request) -> Response:
    gateway = _gateway(request)
    limit = gateway.settings.gateway_max_batch_bytes
    _check_declared_length(request, limit)
    partner = await _partner(request, gateway)
    with bound_contextvars(partner_id=partner.partner_id):
        body = await _read_body(request, limit)
        max_items = gateway.settings.gateway_max_batch_items
        try:
            items = cloudevents.parse_batch(request.headers.get("content-type"), body)
            if not items:
                raise problems.invalid(
                    "the batch is empty", [{"field": "(batch)", "reason": f"send 1 to {max_items} events"}]
                )
            if len(items) > max_items:
                raise problems.too_large(
                    f"the batch has {len(items)} events; at most {max_items} are accepted"
                )
        except problems.Problem:
            await _charge(request, partner, 1)  # a refused request costs a token too
            raise
        await _charge(request, partner, len(items))  # one token per event
        results = await gateway.publish(partner, items, batch=True, traceparent=request.state.traceparent)
    body_json = {"results": [r.to_json() for r in results]}
    statuses = {r.status for r in results}
    if statuses == {201}:
        return JSONResponse(body_json, status_code=201)
    if statuses == {503}:
        first = next(r.problem for r in results if r.problem is not None)
        problem = problems.typed(
            503,
            first.slug or "unavailable",
            first.title,
            f"none of the {len(results)} events was acknowledged: {first.detail}",
            headers=first.headers,
            extra=body_json,
        )
        raise problem
    return JSONResponse(body_json, status_code=207)
