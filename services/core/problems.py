"""RFC 9457 problem details: the one ``Problem`` of every Corridor HTTP API, and the handlers the ledger
and the webhooks service install.

A problem has a status, a title fixed per kind, a detail for this occurrence, and where fields are at
fault ``errors: [{"field", "reason"}]``. A *typed* problem (``slug``) has the type URI
``urn:corridor:problem:<slug>`` (the gateway's, whose constructors are ``corridor.gateway.problems``);
an untyped one is ``about:blank`` (the ledger's and the webhooks service's: the status says it all).
The registry answers in the Confluent error format instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"


TYPE_PREFIX = "urn:corridor:problem:"


@dataclass(eq=False)
class Problem(Exception):
    """An HTTP error in problem-details form; raise it anywhere in a request to answer with it.
    ``headers`` go on the response, ``extra`` into the body."""

    status: int
    title: str
    detail: str
    slug: str | None = None
    errors: list[dict[str, Any]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.detail)

    @property
    def type(self) -> str:
        return TYPE_PREFIX + self.slug if self.slug else "about:blank"

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            out["errors"] = self.errors
        out.update(self.extra)
        return out

    def encode(self) -> bytes:
        return json.dumps(self.body(), ensure_ascii=False, separators=(",", ":")).encode()


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    body["instance"] = request.url.path
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def install_problem_handlers(
    app: FastAPI,
    log: Any,
    *,
    service: str,
    unavailable_detail: str,
    internal_detail: str | None = None,
) -> None:
    """Answer ``Problem``s, HTTP errors, request validation errors (422 naming each field) and an
    unreachable database (503, logged as ``<service>_database_error``) as problem+json; with
    ``internal_detail``, any other error too (500, logged as ``<service>_request_failed``)."""

    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        body = {**exc.body(), "instance": request.url.path}
        return JSONResponse(
            body, status_code=exc.status, media_type=PROBLEM_JSON, headers=exc.headers or None
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        title = {404: "Not Found", 405: "Method Not Allowed"}.get(exc.status_code, "HTTP error")
        return problem_response(request, exc.status_code, title, str(exc.detail))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())[1:]), "reason": e.get("msg", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors)
        return problem_response(request, 422, "Unprocessable Content", detail, errors=errors)

    async def unavailable(request: Request, exc: Exception) -> Response:
        log.warning(f"{service}_database_error", path=request.url.path, error=f"{type(exc).__name__}: {exc}")
        return problem_response(request, 503, "Service Unavailable", unavailable_detail)

    app.add_exception_handler(Problem, problem)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    for exc_type in (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError):
        app.add_exception_handler(exc_type, unavailable)
    if internal_detail is not None:

        async def internal(request: Request, exc: Exception) -> Response:
            log.error(f"{service}_request_failed", path=request.url.path, exc_info=exc)
            return problem_response(request, 500, "Internal Server Error", internal_detail)

        app.add_exception_handler(Exception, internal)
