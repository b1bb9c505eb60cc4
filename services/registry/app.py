"""The registry's ASGI application: lifespan (pool + migrations), error mapping, request logging."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus
from pathlib import Path

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from corridor.core import logging as core_logging
from corridor.core import metrics
from corridor.registry import errors
from corridor.registry.auth import PUBLIC_PATHS, REALM, Users, needs_write
from corridor.registry.handlers import DEFAULT_MAX_REQUEST_BYTES, RegistryResponse, router
from corridor.registry.service import STORE_EXCEPTIONS, RegistryService
from corridor.registry.store import Store

log = structlog.get_logger("corridor.registry")


def create_app(
    database_url: str,
    *,
    users_file: Path,
    db_schema: str = "registry",
    pool_min_size: int = 1,
    pool_max_size: int = 10,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
) -> FastAPI:
    """A registry app storing into ``db_schema`` of the PostgreSQL at ``database_url``.

    The pool is opened (and the tables created) in the lifespan, so a server built from this app does
    not answer until the database is usable, and fails to start with the reason if it is not.
    ``db_schema`` exists so tests can use a throwaway schema next to a running stack's ``registry``.
    ``users_file`` holds the users and their roles (``corridor.registry.auth``); there is no anonymous
    access, so it is required, and the app refuses to build when it cannot be read.
    """
    users = Users(users_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            store = await Store.open(
                database_url, db_schema=db_schema, min_size=pool_min_size, max_size=pool_max_size
            )
        except Exception as exc:
            log.error(
                "registry_database_unavailable", db_schema=db_schema, error=f"{type(exc).__name__}: {exc}"
            )
            raise
        app.state.service = RegistryService(store)
        log.info("registry_started", db_schema=db_schema)
        try:
            yield
        finally:
            await store.close()
            log.info("registry_stopped")

    app = FastAPI(
        title="Corridor Schema Registry",
        description="Confluent Schema Registry-compatible REST API stored in PostgreSQL",
        lifespan=lifespan,
        default_response_class=RegistryResponse,
    )
    app.include_router(router)
    app.state.max_request_bytes = max_request_bytes

    @app.get("/metrics")
    async def prometheus_metrics() -> Response:
        """Prometheus metrics: the core's ``corridor_*`` families (services/core/metrics.py)."""
        response: Response = metrics.metrics_response()
        return response

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        """For the stack's readiness probe, without a credential (the lifespan opened the database)."""
        return {"status": "ok"}

    _install_error_handlers(app)
    _install_authentication(app, users)
    _install_request_logging(app)
    from corridor.core.openapi import REGISTRY_SCHEMES, REGISTRY_SECURITY, complete_openapi
    from corridor.registry import api_models

    # HTTP basic authentication on every path (ADR 0023); /readyz is open and not in the document
    complete_openapi(
        app,
        protected=lambda path: path not in PUBLIC_PATHS,
        schemes=REGISTRY_SCHEMES,
        security=REGISTRY_SECURITY,
        error=api_models.login_error,
        responses=api_models.responses(),
        extra=api_models.list_schemas,
    )
    return app


def _install_authentication(app: FastAPI, users: Users) -> None:
    """401 without a valid credential, 403 for a write by a ``read`` user; before routing, before the
    body is read."""

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.url.path in PUBLIC_PATHS:
            return await call_next(request)
        header = request.headers.get("authorization")
        user = users.cached(header) or await asyncio.to_thread(users.authenticate, header)
        if user is None:
            metrics.ERRORS.labels("registry", "http_401").inc()
            log.info("registry_unauthenticated", method=request.method, path=request.url.path)
            response = _error_response(401, 401, "Unauthorized")
            response.headers["WWW-Authenticate"] = f'Basic realm="{REALM}"'
            return response
        raw_path = request.scope.get("raw_path", b"").decode("latin-1") or request.url.path
        if needs_write(request.method, raw_path.split("?", 1)[0]) and not user.can_write:
            metrics.ERRORS.labels("registry", "http_403").inc()
            log.warning("registry_forbidden", user=user.name, method=request.method, path=request.url.path)
            return _error_response(
                403,
                403,
                f"User {user.name} is denied {request.method} {request.url.path}: the read role "
                "cannot change the registry",
            )
        request.state.user = user.name
        return await call_next(request)


def _error_response(status: int, error_code: int, message: str) -> Response:
    return RegistryResponse({"error_code": error_code, "message": message}, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    async def registry_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, errors.RegistryError)
        # Not-found answers are routine (clients probe with them); the rest deserve attention.
        level = logging.INFO if exc.status == 404 else logging.WARNING
        metrics.ERRORS.labels("registry", f"http_{exc.status}").inc()
        log.log(
            level,
            "registry_error",
            method=request.method,
            path=request.url.path,
            status=exc.status,
            error_code=exc.error_code,
            message=exc.message,
        )
        return _error_response(exc.status, exc.error_code, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        phrase = (
            HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else ""
        )
        # Confluent's framework answers unknown routes and methods as "HTTP 404 Not Found" etc.
        return _error_response(exc.status_code, exc.status_code, f"HTTP {exc.status_code} {phrase}".strip())

    async def validation_error(request: Request, exc: Exception) -> Response:
        return _error_response(422, 422, f"Unprocessable request: {exc}")

    async def store_error(request: Request, exc: Exception) -> Response:
        metrics.ERRORS.labels("registry", "store").inc()
        log.warning(
            "registry_store_error",
            method=request.method,
            path=request.url.path,
            error=f"{type(exc).__name__}: {exc}",
        )
        return _error_response(
            500, errors.STORE_ERROR, f"Error in the backend data store: {type(exc).__name__}"
        )

    async def unstorable_text(request: Request, exc: Exception) -> Response:
        # PostgreSQL text cannot hold NUL: a subject (path or query) containing one cannot exist
        return _error_response(
            422, errors.INVALID_SUBJECT, "Invalid subject: a subject must not contain control characters."
        )

    import asyncpg

    app.add_exception_handler(asyncpg.CharacterNotInRepertoireError, unstorable_text)
    app.add_exception_handler(errors.RegistryError, registry_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    for exc_type in STORE_EXCEPTIONS:
        app.add_exception_handler(exc_type, store_error)


def _install_request_logging(app: FastAPI) -> None:
    @app.middleware("http")
    async def log_request(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            log.exception("registry_unhandled_error", method=request.method, path=request.url.path)
            metrics.ERRORS.labels("registry", "internal").inc()
            return _error_response(500, 500, "Internal server error")
        metrics.observe_request("registry", request.method, request.scope, time.perf_counter() - started)
        log.debug(
            "request",
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return response


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Corridor's structlog setup, plus uvicorn's stdlib logs as the same lines (one JSON object per line)."""
    core_logging.configure_service_logging("registry", level, fmt)
