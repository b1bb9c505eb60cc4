"""The gateway's ASGI application: lifespan (pool, producer, registry), problem details, request logging."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus

import httpx
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from corridor.core import logging as core_logging
from corridor.core import metrics, tracing
from corridor.core.tasks import start_expiry, stop_task
from corridor.core.tracing import NO_FRAMEWORK_TELEMETRY
from corridor.gateway import problems
from corridor.gateway.handlers import router
from corridor.gateway.limits import RateLimiter, SharedRateLimiter
from corridor.gateway.problems import Problem
from corridor.gateway.rate_buckets import RateBuckets
from corridor.gateway.service import REQUEST_RECEIVED_MS, Gateway
from corridor.gateway.settings import GatewaySettings

log = structlog.get_logger("corridor.gateway")

#: Log context bound while a request is handled (besides trace_id, method and path).
_REQUEST_KEYS = ("partner_id", "event_id")


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    """A gateway app for ``settings`` (default: the ``CORRIDOR_*`` environment).

    PostgreSQL is required at startup (the lifespan fails with the reason if it is unreachable); Kafka
    and the schema registry are connected in the background and on demand, so the gateway starts, and
    answers 503 for events, while they are down.
    """
    settings = settings or GatewaySettings()
    tracing.configure_tracing("gateway")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            gateway = await Gateway.open(settings)
        except Exception as exc:
            log.error("gateway_database_unavailable", error=f"{type(exc).__name__}: {exc}")
            raise
        app.state.gateway = gateway
        if (
            settings.gateway_rate_scope == "global"
            and settings.gateway_rate_per_s > 0
            and gateway.pool is not None
        ):
            buckets = RateBuckets(gateway.pool, settings.gateway_db_schema)
            try:
                await buckets.ensure_schema()
            except BaseException:
                await gateway.close()
                raise
            app.state.rate_limiter = SharedRateLimiter(
                settings.gateway_rate_per_s,
                settings.gateway_rate_burst,
                buckets,
                lease=settings.gateway_rate_lease,
            )
        app.state.http = httpx.AsyncClient()  # asks the ledger for receipts
        expiry = start_expiry(
            gateway.store.expire_idempotency, settings.gateway_idempotency_retention_s, log, "idempotency"
        )
        log.info(
            "gateway_started",
            bootstrap_servers=settings.bootstrap_servers,
            schema_registry_url=settings.schema_registry_url,
            db_schema=settings.gateway_db_schema,
            partners_db_schema=settings.partners_db_schema,
        )
        try:
            yield
        finally:
            await stop_task(expiry, log, "idempotency_expiry", grace_s=0)
            await app.state.http.aclose()
            await gateway.close()
            log.info("gateway_stopped")

    app = FastAPI(
        title="Corridor Gateway",
        description=(
            "Partners publish trade events (CloudEvents 1.0 over HTTP, JSON data) to Corridor's Kafka "
            "topics. Authenticate with 'Authorization: Bearer <API key>' or 'X-API-Key'. Errors are RFC "
            "9457 problem details. See docs/adr/0005-gateway.md."
        ),
        version="1.0.0",
        lifespan=lifespan,
        # Corridor traces requests itself (RequestContext); FastAPI's own telemetry would add spans per
        # dependency and per serialisation on every request.
        telemetry=NO_FRAMEWORK_TELEMETRY,
    )
    app.include_router(router)
    app.state.rate_limiter = RateLimiter(settings.gateway_rate_per_s, settings.gateway_rate_burst)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def prometheus_metrics() -> Response:
        response: Response = metrics.metrics_response()
        return response

    _install_error_handlers(app)
    app.add_middleware(RequestContext)
    _document(app)
    return app


def problem_response(problem: Problem) -> Response:
    return Response(
        problem.encode(),
        status_code=problem.status,
        media_type=problems.PROBLEM_JSON,
        headers=problem.headers,
    )


def _install_error_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        level = logging.WARNING if exc.status >= 500 else logging.INFO
        metrics.ERRORS.labels("gateway", exc.slug).inc()
        event_id = getattr(request.state, "event_id", None)
        log.log(
            level,
            "request_refused",
            status=exc.status,
            problem=exc.slug,
            detail=exc.detail,
            **({"event_id": event_id} if event_id else {}),
        )
        return problem_response(exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        phrase = (
            HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else ""
        )
        slug = phrase.lower().replace(" ", "-") or "http-error"
        problem = problems.typed(exc.status_code, slug, phrase or "HTTP error", str(exc.detail or phrase))
        problem.headers.update(exc.headers or {})
        return problem_response(problem)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "reason": err.get("msg", "")}
            for err in exc.errors()
        ]
        return problem_response(
            problems.typed(400, "malformed-request", "Malformed request", "bad request", errors)
        )

    async def on_backend_error(request: Request, exc: Exception) -> Response:
        problem = problems.from_backend_error(exc, request.app.state.gateway.retry_after_s)
        metrics.ERRORS.labels("gateway", problem.slug).inc()
        log.warning("backend_error", error=f"{type(exc).__name__}: {exc}", status=problem.status)
        return problem_response(problem)

    import asyncpg

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    for exc_type in (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
        app.add_exception_handler(exc_type, on_backend_error)


class RequestContext:
    """Per request: arrival time, a SERVER span (continuing the caller's ``traceparent``), trace id and
    route bound to the log context, the request metrics and one ``request`` log line; an unhandled error
    becomes a 500 problem.

    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` runs each request in extra tasks and
    memory streams, which cost more CPU than the rest of a single-event request (measured, ADR 0007)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        REQUEST_RECEIVED_MS.set(metrics.now_ms())
        # A connection's later requests can inherit the context a handler had while it read a large body
        # (the server re-arms its socket reader from inside the handler); start every request clean.
        structlog.contextvars.unbind_contextvars(*_REQUEST_KEYS)
        method, path = scope["method"], scope["path"]
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"traceparent"), None)
        status = 500
        response_started = False

        async def send_and_note(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
            await send(message)

        with (
            tracing.server_span(
                f"{method} {path}", incoming, {"http.request.method": method, "url.path": path}
            ) as span,
            structlog.contextvars.bound_contextvars(
                trace_id=tracing.trace_id_of(span), method=method, path=path
            ),
        ):
            # the request's trace: the caller's (a valid traceparent header is continued) or a new one;
            # ``request.state`` is this dict
            state = scope.setdefault("state", {})
            state["traceparent"] = tracing.traceparent_of(span)
            try:
                await self.app(scope, receive, send_and_note)
            except Exception:
                log.exception("gateway_unhandled_error")
                metrics.ERRORS.labels("gateway", "internal").inc()
                if response_started:
                    raise
                response = problem_response(problems.internal())
                status = response.status_code
                await response(scope, receive, send)
            span.set_attribute("http.response.status_code", status)
            span.update_name(metrics.route_label(method, scope))
            metrics.observe_request("gateway", method, scope, time.perf_counter() - started)
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            if path.startswith("/v1/"):
                # who and what, as the handler learnt it (its own bindings ended with it)
                known = {k: v for k in _REQUEST_KEYS if (v := state.get(k)) is not None}
                log.info("request", status=status, duration_ms=duration_ms, **known)
            else:
                log.debug("request", status=status, duration_ms=duration_ms)


def _document(app: FastAPI) -> None:
    """The OpenAPI document: the partner API key on /v1/, named request schemas per media type, the
    binary-mode ce-* headers, /metrics as text."""
    from corridor.core.openapi import Health, complete_openapi
    from corridor.gateway.handlers import request_schemas

    complete_openapi(
        app,
        protected=lambda path: path.startswith("/v1/"),
        responses={("get", "/healthz", "200"): Health, ("get", "/readyz", "200"): Readiness},
        extra=request_schemas,
    )


class Readiness(BaseModel):
    """``/readyz``: ready or not, with each dependency's state."""

    model_config = ConfigDict(extra="allow")

    status: str
    checks: dict[str, str] | None = None


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Corridor's structlog JSON lines, with uvicorn's stdlib records rendered the same."""
    core_logging.configure_service_logging("gateway", level, fmt)
