"""The OpenAPI documents of the HTTP services, completed where FastAPI cannot infer them.

What FastAPI derives from the routes is kept; :func:`complete_openapi` adds, once per app (the result is
cached on the app like FastAPI's own):

* the partner API-key security schemes (``Authorization: Bearer <key>`` or ``X-API-Key``), and on every
  protected operation its ``security`` and the ``401``/``403`` problem responses, so a generated client
  sends the key (services with other logins pass their own ``schemes``/``security`` and error answers:
  the registry's HTTP basic authentication, the monitor's operator token; ADR 0023);
* ``/metrics`` as the Prometheus text exposition (``text/plain``), not JSON;
* response schemas FastAPI cannot see (handlers that build their ``JSONResponse`` themselves): each named
  pydantic model goes under ``components/schemas``;
* any further top-level sections (the webhooks service's OpenAPI 3.1 ``webhooks``).

Decisions: docs/adr/0019-contracts-partners-generate-from.md. ``tests/unit/contracts/test_openapi.py``
validates every service's document with openapi-spec-validator and holds these rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON = "application/problem+json"
#: The Prometheus text exposition format, version 0.0.4 (what prometheus_client serves).
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The partner's API key, cor_<partner id>_<secret>, issued by `corridor partners add`.",
    },
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "The same key."},
}
#: Either scheme authenticates: a client sends one of them.
SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
#: The schema registry's login (ADR 0023): HTTP basic, ``basic.auth.user.info`` of Confluent's clients.
REGISTRY_SCHEMES: dict[str, Any] = {
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": "A registry user (`user:password`): the services', the operator's, or the partner's "
        "read-only `partner-<id>` login that `corridor partners add` prints.",
    }
}
REGISTRY_SECURITY: list[dict[str, list[str]]] = [{"basicAuth": []}]
#: The monitor's operator token (ADR 0023): Bearer for scripts, or Basic (``operator`` / token).
OPERATOR_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "The operator token."},
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": "User `operator`, the token as password.",
    },
}
OPERATOR_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"basicAuth": []}]


class FieldIssue(BaseModel):
    """One bad field of a request."""

    index: int | None = Field(None, description="Item of a batch (batches only).")
    field: str
    reason: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldIssue] | None = None


class Health(BaseModel):
    """``/healthz``: the process answers."""

    status: str


class Readiness(BaseModel):
    """``/readyz``: ready or not; services add their own details (checks, lag, …)."""

    model_config = ConfigDict(extra="allow")

    status: str


def _schema_ref(schemas: dict[str, Any], model: type[BaseModel]) -> dict[str, str]:
    """Put ``model`` (and the models it uses) under ``components/schemas``; a reference to it."""
    generated = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
    for name, definition in generated.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas.setdefault(model.__name__, generated)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _problem(schemas: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": _schema_ref(schemas, ProblemDetails)}},
    }


ResponseKey = tuple[str, str, str]  # (method, path, status)


def complete_openapi(
    app: FastAPI,
    *,
    protected: Callable[[str], bool] | None = None,
    responses: Mapping[ResponseKey, type[BaseModel] | dict[str, Any]] | None = None,
    extra: Callable[[dict[str, Any]], None] | None = None,
    metrics_path: str | None = "/metrics",
    schemes: dict[str, Any] | None = None,
    security: list[dict[str, list[str]]] | None = None,
    error: Callable[[dict[str, Any], str], dict[str, Any]] | None = None,
) -> None:
    """Complete ``app``'s OpenAPI document (see the module docstring).

    ``protected(path)`` says which paths need the partner API key; ``responses`` gives the JSON schema
    (a pydantic model, or a JSON schema) of the answers FastAPI cannot infer; ``extra`` edits the document
    last (e.g. adds ``webhooks``). ``schemes``/``security`` replace the partner API key, ``error(schemas,
    description)`` the problem+json 401/403 answers.
    """
    error = error or _problem
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = original()
        components = doc.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        paths = doc.setdefault("paths", {})
        if metrics_path is not None:
            paths[metrics_path] = {
                "get": {
                    "tags": ["operations"],
                    "summary": "Prometheus metrics",
                    "operationId": "metrics",
                    "responses": {
                        "200": {
                            "description": "The Prometheus text exposition format",
                            "content": {PROMETHEUS_TEXT: {"schema": {"type": "string"}}},
                        }
                    },
                }
            }
        if protected is not None:
            components["securitySchemes"] = schemes or SECURITY_SCHEMES
            for path, operations in paths.items():
                if not protected(path):
                    continue
                for operation in operations.values():
                    operation["security"] = security or SECURITY
                    answers = operation.setdefault("responses", {})
                    if schemes is None:
                        answers.setdefault("401", error(schemas, "Missing, unknown or disabled API key"))
                        answers.setdefault("403", error(schemas, "The partner may not do this"))
                    else:
                        answers.setdefault("401", error(schemas, "Missing or wrong login"))
                        answers.setdefault("403", error(schemas, "This login may not do this"))
                    if "{" in path and schemes is None:  # another partner's resource looks absent
                        answers.setdefault("404", _problem(schemas, "Not found (or not the partner's)"))
        for (method, path, status), model in (responses or {}).items():
            operation = paths[path][method]
            schema = _schema_ref(schemas, model) if isinstance(model, type) else model
            answer = operation.setdefault("responses", {}).setdefault(status, {"description": "OK"})
            media = next(iter(answer.get("content") or {}), "application/json")
            answer["content"] = {media: {"schema": schema}}
        if extra is not None:
            extra(doc)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
