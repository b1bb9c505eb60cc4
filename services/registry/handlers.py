"""HTTP routes of the Confluent Schema Registry REST API (the subset listed in docs/adr/0003).

Path and query parameters are read by hand rather than through FastAPI's validation so every error
leaves in Confluent's ``{"error_code", "message"}`` shape. Booleans are parsed leniently because
confluent-kafka's Python client sends both ``true`` and ``True``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from corridor.registry import errors
from corridor.registry.schemas import SUPPORTED_TYPES
from corridor.registry.service import RegistryService, schema_fields, version_body
from corridor.registry.store import LookupFilter

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"
#: Media types a request body may be sent as (Confluent's list); no Content-Type at all is accepted too.
ACCEPTED_MEDIA_TYPES = (
    CONTENT_TYPE,
    "application/vnd.schemaregistry+json",
    "application/json",
    "application/octet-stream",
)
DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
#: Confluent's default context, the only one this registry has.
DEFAULT_CONTEXT = "."
MAX_SUBJECT_BYTES = 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RegistryResponse(JSONResponse):
    """JSON with Confluent's media type (clients also accept plain application/json)."""

    media_type = CONTENT_TYPE


router = APIRouter(default_response_class=RegistryResponse)


def _service(request: Request) -> RegistryService:
    service: RegistryService = request.app.state.service
    return service


def _flag(request: Request, *names: str) -> bool:
    for name in names:
        value = request.query_params.get(name)
        if value is not None:
            return value.strip().lower() in ("true", "1", "yes")
    return False


def _int_param(request: Request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or not value.strip():
        return default
    try:
        return int(value)
    except ValueError:
        raise errors.RegistryError(
            400, 400, f"query parameter {name} must be an integer, not {value!r}"
        ) from None


def _page(request: Request, items: list[Any]) -> list[Any]:
    """Confluent's offset/limit paging; a non-positive limit means no limit."""
    offset = max(_int_param(request, "offset", 0), 0)
    limit = _int_param(request, "limit", -1)
    window = items[offset:]
    return window[:limit] if limit > 0 else window


def _schema_id(raw: str) -> int:
    try:
        schema_id = int(raw)
    except ValueError:
        # Confluent (JAX-RS) answers a non-integer id as an unmatched route
        raise errors.RegistryError(404, 404, "HTTP 404 Not Found") from None
    if not 0 < schema_id <= errors.MAX_SCHEMA_ID:
        raise errors.schema_not_found(schema_id)  # no such id can exist (ids are positive int32)
    return schema_id


def _subject(subject: str) -> str:
    """A subject to create something under: no control characters (Confluent's rule), and short enough
    for PostgreSQL's indexes (a btree entry holds at most about 2,700 bytes)."""
    if not subject.strip() or _CONTROL.search(subject):
        raise errors.invalid_subject(subject)
    if len(subject.encode("utf-8")) > MAX_SUBJECT_BYTES:
        raise errors.invalid_subject(subject, f"a subject has at most {MAX_SUBJECT_BYTES} bytes (UTF-8)")
    return subject


def _optional(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return value if value else None


async def _body(request: Request) -> object:
    """The JSON body: of an accepted media type, bounded in size (413), parsed (400 when malformed)."""
    content_type = request.headers.get("content-type")
    if content_type is not None:
        mime = content_type.split(";", 1)[0].strip().lower()
        if mime and mime not in ACCEPTED_MEDIA_TYPES:
            raise errors.unsupported_media_type(content_type)
    limit: int = getattr(request.app.state, "max_request_bytes", DEFAULT_MAX_REQUEST_BYTES)
    declared = request.headers.get("content-length", "")
    if declared.strip().isdigit() and int(declared) > limit:
        raise errors.request_too_large(int(declared), limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.request_too_large(None, limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        return None
    try:
        body = json.loads(raw)
        # "\ud800" parses, but is no character: it could be neither stored nor answered
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError) as exc:
        reason = "it nests too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise errors.RegistryError(400, 400, f"the request body is not valid JSON: {reason}") from None
    return body


def _raw_schema(text: str) -> Response:
    # /schema endpoints return the schema document itself, not a JSON string holding it
    return Response(content=text.encode("utf-8"), media_type=CONTENT_TYPE)


# -- root ----------------------------------------------------------------------------------------


@router.get("/")
async def root() -> dict[str, Any]:
    return {}


# -- schemas -------------------------------------------------------------------------------------


@router.get("/v1/metadata/id")
async def cluster_id() -> dict[str, Any]:
    # Confluent's ServerClusterId. No Kafka cluster backs this registry (its store is PostgreSQL), so the
    # kafka-cluster scope is empty; the registry's own cluster name is Confluent's default.
    clusters = {"kafka-cluster": "", "schema-registry-cluster": "schema-registry"}
    return {"id": "", "scope": {"path": [], "clusters": clusters}}


@router.get("/v1/metadata/version")
async def server_version() -> dict[str, Any]:
    from importlib.metadata import version

    return {"version": version("corridor"), "commitId": ""}


@router.get("/contexts")
async def list_contexts(request: Request) -> list[str]:
    # Contexts are not supported (ADR 0003): every subject lives in Confluent's default context ".",
    # which Confluent always lists.
    return _page(request, [DEFAULT_CONTEXT])


@router.get("/schemas")
async def list_schemas(request: Request) -> list[dict[str, Any]]:
    """Every subject version (or each subject's latest with ``latestOnly``), ordered by subject and
    version, as Confluent's ``GET /schemas`` lists them."""
    service = _service(request)
    deleted, latest_only = _flag(request, "deleted"), _flag(request, "latestOnly", "latest_only")
    lookup = LookupFilter.from_flags(deleted, False)
    found: list[dict[str, Any]] = []
    for subject in await service.list_subjects(_optional(request, "subjectPrefix"), lookup):
        try:
            versions = await service.list_versions(subject, lookup)
        except errors.RegistryError:
            continue  # deleted between the two reads
        for version in versions[-1:] if latest_only else versions:
            try:
                found.append(version_body(await service.get_version(subject, version, deleted)))
            except errors.RegistryError:
                continue
    return _page(request, found)


@router.get("/schemas/types")
async def schema_types() -> list[str]:
    return list(SUPPORTED_TYPES)


@router.get("/schemas/ids/{schema_id}")
async def schema_by_id(schema_id: str, request: Request) -> dict[str, Any]:
    # ?subject= only selects a Confluent context; with the default context ids are global, so the
    # schema is the same whatever subject is named.
    stored = await _service(request).schema_by_id(_schema_id(schema_id))
    return schema_fields(stored)


@router.get("/schemas/ids/{schema_id}/schema")
async def schema_text_by_id(schema_id: str, request: Request) -> Response:
    stored = await _service(request).schema_by_id(_schema_id(schema_id))
    return _raw_schema(stored.text)


@router.get("/schemas/ids/{schema_id}/subjects")
async def subjects_by_id(schema_id: str, request: Request) -> list[str]:
    subjects = await _service(request).subjects_for_id(
        _schema_id(schema_id), _flag(request, "deleted"), _optional(request, "subject")
    )
    return _page(request, subjects)


@router.get("/schemas/ids/{schema_id}/versions")
async def versions_by_id(schema_id: str, request: Request) -> list[dict[str, Any]]:
    versions = await _service(request).versions_for_id(
        _schema_id(schema_id), _flag(request, "deleted"), _optional(request, "subject")
    )
    return _page(request, versions)


# -- subjects ------------------------------------------------------------------------------------


@router.get("/subjects")
async def list_subjects(request: Request) -> list[str]:
    lookup = LookupFilter.from_flags(_flag(request, "deleted"), _flag(request, "deletedOnly", "deleted_only"))
    subjects = await _service(request).list_subjects(_optional(request, "subjectPrefix"), lookup)
    return _page(request, subjects)


@router.get("/subjects/{subject}/versions")
async def list_versions(subject: str, request: Request) -> list[int]:
    lookup = LookupFilter.from_flags(_flag(request, "deleted"), _flag(request, "deletedOnly", "deleted_only"))
    versions = await _service(request).list_versions(subject, lookup)
    return _page(request, versions)


@router.get("/subjects/{subject}/versions/{version}")
async def get_version(subject: str, version: str, request: Request) -> dict[str, Any]:
    found = await _service(request).get_version(
        subject, errors.parse_version(version), _flag(request, "deleted")
    )
    return version_body(found)


@router.get("/subjects/{subject}/metadata")
async def latest_with_metadata(subject: str, request: Request) -> dict[str, Any]:
    """The latest version of a subject whose metadata has every ``key``/``value`` pair asked for.

    This registry stores no metadata (ADR 0003), so no version has any property: without ``key``
    parameters the answer is the latest version (every version matches the empty filter), with one it
    is Confluent's 40403 ``Schema not found``; an unknown subject is 40401.
    """
    deleted = _flag(request, "deleted")
    found = await _service(request).get_version(subject, -1, deleted)
    keys = request.query_params.getlist("key")
    values = request.query_params.getlist("value")
    if len(keys) != len(values):
        raise errors.RegistryError(400, 400, "every key parameter needs a value parameter")
    if keys:
        raise errors.schema_not_found()
    return version_body(found)


@router.get("/subjects/{subject}/versions/{version}/schema")
async def get_version_schema(subject: str, version: str, request: Request) -> Response:
    found = await _service(request).get_version(
        subject, errors.parse_version(version), _flag(request, "deleted")
    )
    return _raw_schema(found.schema.text)


@router.get("/subjects/{subject}/versions/{version}/referencedby")
async def referenced_by(subject: str, version: str, request: Request) -> list[int]:
    ids = await _service(request).referenced_by(
        subject, errors.parse_version(version), _flag(request, "deleted")
    )
    return _page(request, ids)


@router.post("/subjects/{subject}/versions")
async def register(subject: str, request: Request) -> dict[str, Any]:
    # ?normalize is accepted: identity is always the canonical JSON form, which already ignores
    # whitespace and key order.
    schema_id = await _service(request).register(_subject(subject), await _body(request))
    return {"id": schema_id}


@router.post("/subjects/{subject}")
async def lookup(subject: str, request: Request) -> dict[str, Any]:
    found = await _service(request).lookup(subject, await _body(request), _flag(request, "deleted"))
    return version_body(found)


@router.delete("/subjects/{subject}")
async def delete_subject(subject: str, request: Request) -> list[int]:
    return await _service(request).delete_subject(subject, _flag(request, "permanent"))


@router.delete("/subjects/{subject}/versions/{version}")
async def delete_version(subject: str, version: str, request: Request) -> int:
    return await _service(request).delete_version(
        subject, errors.parse_version(version), _flag(request, "permanent")
    )


# -- config --------------------------------------------------------------------------------------


@router.get("/config")
async def get_global_config(request: Request) -> dict[str, Any]:
    return {"compatibilityLevel": await _service(request).get_global_compatibility()}


@router.put("/config")
async def put_global_config(request: Request) -> dict[str, Any]:
    return {"compatibility": await _service(request).set_compatibility(None, await _body(request))}


@router.delete("/config")
async def delete_global_config(request: Request) -> dict[str, Any]:
    return {"compatibilityLevel": await _service(request).delete_global_compatibility()}


@router.get("/config/{subject}")
async def get_subject_config(subject: str, request: Request) -> dict[str, Any]:
    level = await _service(request).get_subject_compatibility(subject, _flag(request, "defaultToGlobal"))
    return {"compatibilityLevel": level}


@router.put("/config/{subject}")
async def put_subject_config(subject: str, request: Request) -> dict[str, Any]:
    return {
        "compatibility": await _service(request).set_compatibility(_subject(subject), await _body(request))
    }


@router.delete("/config/{subject}")
async def delete_subject_config(subject: str, request: Request) -> dict[str, Any]:
    return {"compatibilityLevel": await _service(request).delete_subject_compatibility(subject)}


# -- mode (READWRITE, READONLY, READONLY_OVERRIDE) -------------------------------------------------


@router.get("/mode")
async def get_mode(request: Request) -> dict[str, Any]:
    return {"mode": await _service(request).get_mode(None)}


@router.put("/mode")
async def put_mode(request: Request) -> dict[str, Any]:
    return {"mode": await _service(request).set_mode(None, await _body(request))}


@router.get("/mode/{subject}")
async def get_subject_mode(subject: str, request: Request) -> dict[str, Any]:
    # Confluent answers a subject without a mode of its own with the global one
    default_to_global = request.query_params.get("defaultToGlobal", "true").strip().lower() != "false"
    return {"mode": await _service(request).get_mode(subject, default_to_global)}


@router.put("/mode/{subject}")
async def put_subject_mode(subject: str, request: Request) -> dict[str, Any]:
    return {"mode": await _service(request).set_mode(_subject(subject), await _body(request))}


@router.delete("/mode/{subject}")
async def delete_subject_mode(subject: str, request: Request) -> dict[str, Any]:
    return {"mode": await _service(request).delete_subject_mode(subject)}


# -- compatibility -------------------------------------------------------------------------------


@router.post("/compatibility/subjects/{subject}/versions/{version}")
async def test_against_version(subject: str, version: str, request: Request) -> dict[str, Any]:
    return await _service(request).test_compatibility(
        subject, errors.parse_version(version), await _body(request), _flag(request, "verbose")
    )


@router.post("/compatibility/subjects/{subject}/versions")
async def test_against_subject(subject: str, request: Request) -> dict[str, Any]:
    return await _service(request).test_compatibility(
        subject, None, await _body(request), _flag(request, "verbose")
    )
