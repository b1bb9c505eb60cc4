"""The ledger's HTTP API: health, readiness, metrics, and the trade query API for partners.

``GET /v1/trades/{trade_id}``, ``GET /v1/trades`` and ``GET /v1/certificates/{number}/verify`` need
``Authorization: Bearer <api key>`` or ``X-API-Key: <api key>``, as the gateway and the webhooks API
(``corridor.core.partners.authenticate``). A query parameter the endpoint does not know is a 422 naming
the valid ones, never silently ignored. A partner sees only
trades it was admitted to and not withdrawn from (its buyer and supplier, and the parties they admitted:
``TradeState.trust``); any other trade answers 404, exactly like one that does not exist, so trade ids
do not leak. What a party sees of a trade is cut to its role's need to know (``trust.RECEIVES``, applied
by ``views.trade_view``); ``verify`` answers only parties whose role receives certificates. Errors are
``application/problem+json`` (RFC 9457).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from corridor.core import metrics as core_metrics
from corridor.core import partners, signatures
from corridor.core.domain import trust
from corridor.core.domain.events import CertificateIssued
from corridor.core.domain.lifecycle import OrderStatus
from corridor.core.domain.validators import check_party_id
from corridor.core.problems import Problem
from corridor.ledger import certificates
from corridor.ledger.store import LedgerStore
from corridor.ledger.views import decode_cursor, encode_cursor, summary_view, trade_view

router = APIRouter()

MAX_LIMIT = 500


def _not_found(trade_id: str) -> Problem:
    return Problem(404, "Not Found", f"no trade {trade_id} visible to you")


def _api_key(request: Request) -> str | None:
    """``Authorization: Bearer <key>`` or ``X-API-Key: <key>``, as the gateway and webhooks accept."""
    scheme, _, key = request.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and key.strip():
        return key.strip()
    header = request.headers.get("x-api-key", "").strip()
    return header or None


def only_query(*names: str) -> Any:
    """A dependency refusing query parameters other than ``names``: a misspelt filter must not be
    ignored (answering every trade), it is a 422 naming the valid ones and the nearest."""

    def check(request: Request) -> None:
        unknown = [k for k in request.query_params if k not in names]
        if not unknown:
            return
        import difflib

        nearest = {k: difflib.get_close_matches(k, names, n=1, cutoff=0.5) for k in unknown}
        hints = "".join(f" ({k}: did you mean {n[0]}?)" for k, n in nearest.items() if n)
        raise Problem(
            422,
            "Unprocessable Content",
            f"unknown query parameter(s) {', '.join(map(repr, unknown))}{hints}; valid: "
            f"{', '.join(names) or 'none'}",
            errors=[{"field": f"query.{k}", "reason": "unknown query parameter"} for k in unknown],
        )

    return Depends(check)


async def current_partner(request: Request) -> partners.Partner:
    key = _api_key(request)
    challenge = {"WWW-Authenticate": 'Bearer realm="corridor"'}
    if key is None:
        raise Problem(
            401,
            "Unauthorized",
            "send your API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            headers=challenge,
        )
    partner = await partners.authenticate(
        request.app.state.store.pool, key, schema=request.app.state.partners_schema
    )
    if partner is None:
        raise Problem(401, "Unauthorized", "unknown, rotated or disabled API key", headers=challenge)
    return partner


Caller = Annotated[partners.Partner, Depends(current_partner)]


def _store(request: Request) -> LedgerStore:
    store: LedgerStore = request.app.state.store
    return store


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    ledger = request.app.state.ledger
    checks: dict[str, Any] = {}
    try:
        await _store(request).ping()
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready, with the reason
        checks["database"] = f"{type(exc).__name__}: {exc}"
    if request.app.state.api_only:
        checks["consumer"] = "ok"  # none by design: the query API over other processes' tables
    else:
        checks["consumer"] = "ok" if ledger is not None and ledger.ready else "not ready"
    ready = all(v == "ok" for v in checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "not ready", "checks": checks}
    if ledger is not None:
        body.update(
            group_id=ledger.group_id,
            assigned_partitions=len(ledger.assigned),
            paused_partitions=len(ledger.paused),
            held_events=len(ledger.pending),
            cached_trades=len(ledger.cache),
            stats=ledger.stats.as_dict(),
        )
    publisher = request.app.state.publisher
    if publisher is not None:
        body["publisher"] = {
            "topic": publisher.topic,
            "leading": publisher.leading,
            **publisher.stats.as_dict(),
        }
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """The core's families (``corridor_*``, services/core/metrics.py) and the ledger's own counters."""
    response: Response = core_metrics.metrics_response(request.app.state.metrics)
    return response


@router.get("/v1/trades/{trade_id}", dependencies=[only_query()])
async def get_trade(trade_id: str, request: Request, caller: Caller) -> Response:
    try:
        tid = uuid.UUID(trade_id)
    except ValueError:
        raise _not_found(trade_id) from None
    found = await _store(request).trade(tid)
    if found is None:
        raise _not_found(trade_id)
    state, updated_at = found
    role = state.trust.role_of(caller.partner_id)
    if role is None:
        raise _not_found(trade_id)
    return JSONResponse(
        trade_view(state, updated_at, dt.datetime.now(dt.UTC).date(), reader=caller.partner_id)
    )


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


@router.get(
    "/v1/trades", dependencies=[only_query("party", "state", "hs_code", "from", "to", "limit", "cursor")]
)
async def search_trades(
    request: Request,
    caller: Caller,
    party: Annotated[str | None, Query(description="another party of the trade")] = None,
    state: Annotated[str | None, Query(description="order status, e.g. CLOSED")] = None,
    hs_code: Annotated[str | None, Query(description="6-digit HS code, dots allowed")] = None,
    from_: Annotated[dt.datetime | None, Query(alias="from", description="placed at or after")] = None,
    to: Annotated[dt.datetime | None, Query(description="placed before")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> Response:
    status = state.upper() if state else None
    if status is not None and status not in OrderStatus.__members__:
        raise Problem(
            422,
            "Unprocessable Content",
            f"unknown state {state!r}; one of {', '.join(OrderStatus.__members__)}",
        )
    hs = hs_code.replace(".", "").strip() if hs_code else None
    if hs is not None and not (hs.isdigit() and len(hs) == 6):
        raise Problem(422, "Unprocessable Content", f"hs_code {hs_code!r} is not a 6-digit HS code")
    try:
        after = decode_cursor(cursor) if cursor else None
    except ValueError as exc:
        raise Problem(422, "Unprocessable Content", str(exc)) from None
    rows = await _store(request).search(
        visible_to=caller.partner_id,
        party=party,
        status=status,
        hs_code=hs,
        placed_from=_utc(from_),
        placed_to=_utc(to),
        after=after,
        limit=limit + 1,
    )
    page = rows[:limit]
    next_cursor = (
        encode_cursor(page[-1]["placed_at"], page[-1]["trade_id"]) if len(rows) > limit and page else None
    )
    return JSONResponse({"items": [summary_view(r) for r in page], "next_cursor": next_cursor})


@router.get("/v1/certificates/{number}/verify", dependencies=[only_query("issuer", "trade_id")])
async def verify_certificate(
    number: str,
    request: Request,
    caller: Caller,
    issuer: Annotated[
        str | None,
        Query(
            description="partner id of the issuing authority: certificate numbers are unique per issuer "
            "only, so two issuers' equal numbers are told apart by it"
        ),
    ] = None,
    trade_id: Annotated[
        str | None, Query(description="the trade, when several certificates share the number")
    ] = None,
) -> Response:
    """The issuer's signature on the certificate, checked now against the registered authority keys and
    the certificate's status: valid, tampered, unknown_signer, revoked, superseded or unsigned
    (docs/adr/0013-signed-certificates.md). A certificate is known by its issuer and number (ADR 0033):
    without ``issuer`` the number must be one issuer's among the certificates the caller sees, otherwise
    409 names the issuers and asks for ``?issuer=``. Certificates of trades the caller is not party to
    answer 404."""
    if issuer is not None and (reason := check_party_id(issuer)):
        raise Problem(422, "Unprocessable Content", f"query parameter issuer: {reason}")
    try:
        tid = uuid.UUID(trade_id) if trade_id else None
    except ValueError:
        raise Problem(404, "Not Found", f"no trade {trade_id} visible to you") from None
    store = _store(request)
    keyring = await signatures.load_keyring(store.pool, schema=request.app.state.partners_schema)
    found = await certificates.check(
        store, keyring, number, issuer=issuer, visible_to=caller.partner_id, trade_id=tid
    )
    # need to know: only a party whose role receives certificates may check them (a carrier may not)
    kept = []
    for cert in found:
        trade = await store.trade(cert.trade_id)
        role = trade[0].trust.role_of(caller.partner_id) if trade else None
        if role is not None and trust.receives_type(role, CertificateIssued.avro_name):
            state = trade[0].certificate(cert.issuer, cert.certificate_number) if trade else None
            if (
                cert.status == "PREFERENCE_SUSPENDED"
                and state is not None
                and role not in trust.PRINCIPAL_ROLES
            ):
                # a verification in progress is its parties' only (ADR 0038): others see it as presented
                concerned = {state.issuer, state.presented_to}
                if caller.partner_id not in concerned:
                    shown = "VERIFIED" if state.verification is not None else "PRESENTED"
                    cert = dataclasses.replace(cert, status=shown)
            kept.append(cert)
    found = kept
    if not found:
        of = f" of {issuer}" if issuer else ""
        raise Problem(404, "Not Found", f"no certificate {number}{of} visible to you")
    if len(found) > 1:
        issuers = sorted({c.issuer for c in found})
        if len(issuers) > 1:
            raise Problem(
                409,
                "Conflict",
                f"certificates of several issuers ({', '.join(issuers)}) are numbered {number}: add "
                "?issuer=<the issuing authority's partner id>",
            )
        raise Problem(
            409, "Conflict", f"certificates of several of your trades are numbered {number}: add ?trade_id="
        )
    return JSONResponse(found[0].to_dict())


#: Receipt statuses that end a wait: the ledger's decision (``pending`` may still change).
FINAL = ("accepted", "rejected")


def receipt_view(found: dict[str, Any]) -> dict[str, Any]:
    """A receipt as the API answers it (ADR 0027): the same fields whatever the status, null when they
    do not apply."""
    status = found["status"]
    return {
        "event_id": str(found["event_id"]),
        "trade_id": str(found["trade_id"]) if found.get("trade_id") else None,
        "type": found.get("type"),
        "status": status,
        "position": found.get("seq") if status == "accepted" else None,
        "decided_at": _iso(found.get("ingested_at") if status == "accepted" else found.get("updated_at")),
        "published_at": _iso(found.get("published_at")),
        "rule": found.get("error_class"),
        "reason": found.get("reason"),
        "attempts": found.get("attempts"),
        "retry_at": _iso(found.get("retry_at")),
    }


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@router.get("/v1/events/{event_id}", dependencies=[only_query("wait_s")])
async def get_receipt(
    event_id: str,
    request: Request,
    caller: Caller,
    wait_s: Annotated[
        float, Query(ge=0, description="seconds to wait for the ledger's decision (accepted or rejected)")
    ] = 0.0,
) -> Response:
    """The ledger's word on an event the caller sent: ``accepted`` (with the ledger's position),
    ``pending`` (waiting for a prerequisite: what for, and the next attempt) or ``rejected`` (the rule
    and the reason). Only the event's sender gets its receipt; any other caller, and an event the ledger
    has no word on yet, answer 404."""
    try:
        eid = uuid.UUID(event_id)
    except ValueError:
        raise Problem(
            422,
            "Unprocessable Content",
            f"event id {event_id!r} is not a UUID",
            errors=[{"field": "path.event_id", "reason": "not a UUID"}],
        ) from None
    store = _store(request)
    waiters: asyncio.Semaphore = request.app.state.receipt_waiters
    if waiters.locked():
        wait_s = 0.0  # as many waits as the process allows are open: answer what is known now
    deadline = dt.datetime.now(dt.UTC) + dt.timedelta(
        seconds=min(wait_s, request.app.state.receipt_max_wait_s)
    )
    pause = 0.05
    async with contextlib.AsyncExitStack() as stack:
        if wait_s:
            await stack.enter_async_context(waiters)
        while True:
            found = await store.receipt(eid, caller.partner_id)  # only the sender's own
            if (found is not None and found["status"] in FINAL) or dt.datetime.now(dt.UTC) >= deadline:
                break
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 0.5)  # a long wait costs the database a query every 0.5 s at most
    if found is None:
        raise Problem(
            404,
            "Not Found",
            f"the ledger has no word on event {event_id} of yours (not received yet, or not yours)",
        )
    return JSONResponse(receipt_view(found))
