"""The registry's JSON answers as pydantic models, for its OpenAPI document only (Confluent's shapes).

The handlers answer with plain dicts built by ``service.py`` (Confluent's field names, ``schemaType``
left out for AVRO, ``references`` when empty); these models describe the same shapes so a client generated
from ``/openapi.json`` is typed. Errors are Confluent's ``{"error_code", "message"}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SchemaReference(BaseModel):
    name: str
    subject: str
    version: int


class SchemaString(BaseModel):
    """``GET /schemas/ids/{id}``."""

    schemaType: str | None = Field(None, description="Omitted for AVRO.")
    references: list[SchemaReference] | None = None
    schema_: str = Field(alias="schema", description="The schema text as registered.")

    model_config = ConfigDict(populate_by_name=True)


class SubjectVersionSchema(BaseModel):
    """A subject version: ``GET /subjects/{s}/versions/{v}``, lookup, ``GET /schemas``."""

    subject: str
    version: int
    id: int
    schemaType: str | None = Field(None, description="Omitted for AVRO.")
    references: list[SchemaReference] | None = None
    schema_: str = Field(alias="schema")

    model_config = ConfigDict(populate_by_name=True)


class RegisterSchema(BaseModel):
    """The body of a registration, a lookup or a compatibility check."""

    schema_: str = Field(alias="schema", description="The schema text (JSON, as a string).")
    schemaType: str | None = Field(None, description="AVRO (the default); the only type supported.")
    references: list[SchemaReference] | None = None

    model_config = ConfigDict(populate_by_name=True)


class ConfigUpdate(BaseModel):
    compatibility: str = Field(description="BACKWARD, BACKWARD_TRANSITIVE, FORWARD, … or NONE.")


class ModeUpdate(BaseModel):
    mode: str = Field(description="READWRITE, the only mode this registry runs.")


class SubjectVersion(BaseModel):
    subject: str
    version: int


class RegisteredId(BaseModel):
    id: int


class CompatibilityLevel(BaseModel):
    compatibilityLevel: str


class CompatibilityUpdate(BaseModel):
    compatibility: str


class Mode(BaseModel):
    mode: str


class CompatibilityCheck(BaseModel):
    is_compatible: bool
    messages: list[str] | None = None


class Empty(BaseModel):
    """``GET /``: an empty object, as Confluent answers."""

    model_config = ConfigDict(extra="forbid")


class ClusterScope(BaseModel):
    path: list[str]
    clusters: dict[str, str]


class ClusterId(BaseModel):
    """``GET /v1/metadata/id``: Confluent's ServerClusterId."""

    id: str
    scope: ClusterScope


class ServerVersion(BaseModel):
    version: str
    commitId: str


class RegistryError(BaseModel):
    error_code: int
    message: str


#: An Avro schema as JSON: a record/enum/… object, a union array or a primitive's name.
RAW_SCHEMA: dict[str, Any] = {
    "description": "The schema text as registered: an Avro schema in JSON.",
    "oneOf": [
        {"type": "object", "additionalProperties": True, "description": "a record, enum, fixed, …"},
        {
            "type": "array",
            "description": "a union",
            "items": {"oneOf": [{"type": "string"}, {"type": "object", "additionalProperties": True}]},
        },
        {"type": "string", "description": "a primitive or named type"},
    ],
}


def responses() -> dict[tuple[str, str, str], Any]:
    """(method, path, status) → model, for ``complete_openapi``."""
    version = "/subjects/{subject}/versions/{version}"
    ids = "/schemas/ids/{schema_id}"
    out: dict[tuple[str, str, str], Any] = {
        ("get", "/", "200"): Empty,
        ("get", "/v1/metadata/id", "200"): ClusterId,
        ("get", "/v1/metadata/version", "200"): ServerVersion,
        ("get", ids, "200"): SchemaString,
        ("get", f"{ids}/schema", "200"): RAW_SCHEMA,
        ("get", version, "200"): SubjectVersionSchema,
        ("get", f"{version}/schema", "200"): RAW_SCHEMA,
        ("get", "/subjects/{subject}/metadata", "200"): SubjectVersionSchema,
        ("post", "/subjects/{subject}/versions", "200"): RegisteredId,
        ("post", "/subjects/{subject}", "200"): SubjectVersionSchema,
        ("put", "/config", "200"): CompatibilityUpdate,
        ("put", "/config/{subject}", "200"): CompatibilityUpdate,
        ("post", "/compatibility/subjects/{subject}/versions/{version}", "200"): CompatibilityCheck,
        ("post", "/compatibility/subjects/{subject}/versions", "200"): CompatibilityCheck,
    }
    for method in ("get", "delete"):
        out[(method, "/config", "200")] = CompatibilityLevel
        out[(method, "/config/{subject}", "200")] = CompatibilityLevel
    for method in ("get", "put"):
        out[(method, "/mode", "200")] = Mode
    for method in ("get", "put", "delete"):
        out[(method, "/mode/{subject}", "200")] = Mode
    return out


def login_error(schemas: dict[str, Any], description: str) -> dict[str, Any]:
    """401 (no or a wrong login) and 403 (a ``read`` login asking for a write) in Confluent's shape."""
    from corridor.registry.handlers import CONTENT_TYPE

    schemas.setdefault("RegistryError", RegistryError.model_json_schema())
    return {
        "description": description,
        "content": {CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/RegistryError"}}},
    }


def list_schemas(doc: dict[str, Any]) -> None:
    """``GET /schemas`` and ``…/versions`` by id answer arrays of the models above."""
    paths = doc["paths"]
    content = next(iter(paths["/schemas"]["get"]["responses"]["200"]["content"]))

    def array_of(path: str, name: str) -> None:
        answer = paths[path]["get"]["responses"]["200"]
        answer["content"] = {
            content: {"schema": {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}}}
        }

    schemas = doc["components"]["schemas"]
    for model in (SubjectVersionSchema, SubjectVersion, SchemaReference):
        generated = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        for name, definition in generated.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas.setdefault(model.__name__, generated)
    array_of("/schemas", "SubjectVersionSchema")
    array_of("/schemas/ids/{schema_id}/versions", "SubjectVersion")
    # the bodies the handlers read by hand (so every error keeps Confluent's shape)
    bodies: dict[tuple[str, str], type[BaseModel]] = {
        ("post", "/subjects/{subject}/versions"): RegisterSchema,
        ("post", "/subjects/{subject}"): RegisterSchema,
        ("post", "/compatibility/subjects/{subject}/versions/{version}"): RegisterSchema,
        ("post", "/compatibility/subjects/{subject}/versions"): RegisterSchema,
        ("put", "/config"): ConfigUpdate,
        ("put", "/config/{subject}"): ConfigUpdate,
        ("put", "/mode"): ModeUpdate,
        ("put", "/mode/{subject}"): ModeUpdate,
    }
    for (method, path), body_model in bodies.items():
        generated = body_model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in generated.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas.setdefault(body_model.__name__, generated)
        ref = {"schema": {"$ref": f"#/components/schemas/{body_model.__name__}"}}
        paths[path][method]["requestBody"] = {
            "required": True,
            "content": {content: ref, "application/json": ref},
        }
