"""The gateway's ASGI application: lifespan (pool, producer, registry), problem details, request logging."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.core import logging as core_logging
from services.core import metrics, tracing
from services.gateway import problems
from services.gateway.handlers import router
from services.gateway.limits import RateLimiter
from services.gateway.problems import Problem
from services.gateway.service import REQUEST_RECEIVED_MS, Gateway
from services.gateway.settings import GatewaySettings

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
    )
    app.include_router(router)
    app.state.rate_limiter = RateLimiter(settings.gateway_rate_per_s, settings.gateway_rate_burst)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        response: Response = metrics.metrics_response()
        return response

    _install_error_handlers(app)
    _install_request_context(app)
    _add_security_schemes(app)
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
        problem = Problem(exc.status_code, slug, phrase or "HTTP error", str(exc.detail or phrase))
        problem.headers.update(exc.headers or {})
        return problem_response(problem)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in err.get("loc", ())), "reason": err.get("msg", "")}
            for err in exc.errors()
        ]
        return problem_response(
            problems.Problem(400, "malformed-request", "Malformed request", "bad request", errors)
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


def _install_request_context(app: FastAPI) -> None:
    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        started = time.perf_counter()
        REQUEST_RECEIVED_MS.set(metrics.now_ms())
        # A connection's later requests can inherit the context a handler had while it read a large body
        # (the server re-arms its socket reader from inside the handler); start every request clean.
        structlog.contextvars.unbind_contextvars(*_REQUEST_KEYS)
        incoming = request.headers.get("traceparent")
        with (
            tracing.server_span(
                f"{request.method} {request.url.path}",
                incoming,
                {"http.request.method": request.method, "url.path": request.url.path},
            ) as span,
            structlog.contextvars.bound_contextvars(
                trace_id=tracing.trace_id_of(span), method=request.method, path=request.url.path
            ),
        ):
            # the request's trace: the caller's (a valid traceparent header is continued) or a new one
            request.state.traceparent = tracing.traceparent_of(span)
            try:
                response = await call_next(request)
            except Exception:
                log.exception("gateway_unhandled_error")
                metrics.ERRORS.labels("gateway", "internal").inc()
                response = problem_response(problems.internal())
            span.set_attribute("http.response.status_code", response.status_code)
            route = metrics.route_label(request.method, request.scope)
            span.update_name(route)
            metrics.observe_request("gateway", request.method, request.scope, time.perf_counter() - started)
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            if request.url.path.startswith("/v1/"):
                # who and what, as the handler learnt it (its own bindings ended with it)
                known = {k: v for k in _REQUEST_KEYS if (v := getattr(request.state, k, None)) is not None}
                log.info("request", status=response.status_code, duration_ms=duration_ms, **known)
            else:
                log.debug("request", status=response.status_code, duration_ms=duration_ms)
        return response


def _add_security_schemes(app: FastAPI) -> None:
    original = app.openapi

    def openapi() -> dict[str, object]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = original()
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "cor_<partner id>_<secret>"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Corridor's structlog setup (services.core.logging), plus stdlib logs (uvicorn, aiokafka) as the
    same JSON lines on stderr."""
    core_logging.configure_logging(level, fmt, service="gateway")
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
