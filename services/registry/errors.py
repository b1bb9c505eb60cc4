"""Registry errors with Confluent Schema Registry's HTTP statuses and ``error_code`` values.

Clients (confluent-kafka's ``SchemaRegistryClient`` among them) branch on ``error_code``, so the codes
must be exactly Confluent's; the messages are ours.
"""

from __future__ import annotations

from typing import Any

# Confluent error codes. The HTTP status is the first three digits (409 stands alone).
SUBJECT_NOT_FOUND = 40401
VERSION_NOT_FOUND = 40402
SCHEMA_NOT_FOUND = 40403
SUBJECT_SOFT_DELETED = 40404
SUBJECT_NOT_SOFT_DELETED = 40405
VERSION_SOFT_DELETED = 40406
VERSION_NOT_SOFT_DELETED = 40407
SUBJECT_COMPATIBILITY_NOT_CONFIGURED = 40408
SUBJECT_MODE_NOT_CONFIGURED = 40409
INCOMPATIBLE_SCHEMA = 409
INVALID_SCHEMA = 42201
INVALID_VERSION = 42202
INVALID_COMPATIBILITY_LEVEL = 42203
INVALID_MODE = 42204
OPERATION_NOT_PERMITTED = 42205
REFERENCE_EXISTS = 42206
INVALID_SUBJECT = 42208
STORE_ERROR = 50001

MAX_VERSION = 2**31 - 1
#: Schema ids are positive 32-bit integers (Confluent's wire format has 4 bytes for them).
MAX_SCHEMA_ID = 2**31 - 1


class RegistryError(Exception):
    """An error answered to the client as ``{"error_code": ..., "message": ...}``."""

    def __init__(self, status: int, error_code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message

    def body(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "message": self.message}


def subject_not_found(subject: str) -> RegistryError:
    return RegistryError(404, SUBJECT_NOT_FOUND, f"Subject '{subject}' not found.")


def version_not_found(version: int | str) -> RegistryError:
    shown = "latest" if version in (-1, "-1") else version
    return RegistryError(404, VERSION_NOT_FOUND, f"Version {shown} not found.")


def schema_not_found(schema_id: int | None = None) -> RegistryError:
    what = "Schema not found" if schema_id is None else f"Schema {schema_id} not found"
    return RegistryError(404, SCHEMA_NOT_FOUND, what)


def subject_soft_deleted(subject: str) -> RegistryError:
    return RegistryError(
        404,
        SUBJECT_SOFT_DELETED,
        f"Subject '{subject}' is already soft-deleted; add permanent=true to remove it for good.",
    )


def subject_not_soft_deleted(subject: str) -> RegistryError:
    return RegistryError(
        404,
        SUBJECT_NOT_SOFT_DELETED,
        f"Subject '{subject}' must be soft-deleted before it can be deleted permanently.",
    )


def version_soft_deleted(subject: str, version: int) -> RegistryError:
    return RegistryError(
        404,
        VERSION_SOFT_DELETED,
        f"Version {version} of subject '{subject}' is already soft-deleted; "
        "add permanent=true to remove it for good.",
    )


def version_not_soft_deleted(subject: str, version: int) -> RegistryError:
    return RegistryError(
        404,
        VERSION_NOT_SOFT_DELETED,
        f"Version {version} of subject '{subject}' must be soft-deleted before it can be deleted "
        "permanently.",
    )


def compatibility_not_configured(subject: str) -> RegistryError:
    return RegistryError(
        404,
        SUBJECT_COMPATIBILITY_NOT_CONFIGURED,
        f"Subject '{subject}' has no compatibility level of its own; add defaultToGlobal=true for the "
        "global one.",
    )


def mode_not_configured(subject: str) -> RegistryError:
    return RegistryError(
        404,
        SUBJECT_MODE_NOT_CONFIGURED,
        f"Subject '{subject}' has no mode of its own; add defaultToGlobal=true for the global one.",
    )


def incompatible_schema(message: str) -> RegistryError:
    return RegistryError(409, INCOMPATIBLE_SCHEMA, message)


def invalid_schema(reason: str) -> RegistryError:
    return RegistryError(422, INVALID_SCHEMA, f"Invalid schema: {reason}")


def invalid_version(version: str) -> RegistryError:
    return RegistryError(
        422,
        INVALID_VERSION,
        f"Invalid version '{version}': use an integer from 1 to {MAX_VERSION}, -1 or \"latest\".",
    )


def invalid_compatibility_level(level: object) -> RegistryError:
    return RegistryError(
        422,
        INVALID_COMPATIBILITY_LEVEL,
        f"Invalid compatibility level {level!r}. Valid levels: NONE, BACKWARD, BACKWARD_TRANSITIVE, "
        "FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE.",
    )


def invalid_mode(mode: object) -> RegistryError:
    return RegistryError(
        422,
        INVALID_MODE,
        f"Invalid mode {mode!r}. Valid modes: READWRITE, READONLY, READONLY_OVERRIDE, IMPORT.",
    )


def operation_not_permitted(message: str) -> RegistryError:
    return RegistryError(422, OPERATION_NOT_PERMITTED, message)


def reference_exists(subject: str, version: int) -> RegistryError:
    return RegistryError(
        422,
        REFERENCE_EXISTS,
        f"Version {version} of subject '{subject}' is referenced by other schemas; delete those first.",
    )


def invalid_subject(
    subject: str, reason: str = "a subject must not contain control characters"
) -> RegistryError:
    shown = subject if len(subject) <= 100 else subject[:100] + "…"
    return RegistryError(422, INVALID_SUBJECT, f"Invalid subject {shown!r}: {reason}.")


def request_too_large(size: int | None, limit: int) -> RegistryError:
    what = f"{size} bytes" if size is not None else f"more than {limit} bytes"
    return RegistryError(413, 413, f"The request body has {what}; the limit is {limit} bytes.")


def unsupported_media_type(content_type: str) -> RegistryError:
    return RegistryError(
        415,
        415,
        f"HTTP 415 Unsupported Media Type: {content_type!r}; send application/vnd.schemaregistry.v1+json, "
        "application/vnd.schemaregistry+json, application/json or application/octet-stream.",
    )


def store_error(detail: str) -> RegistryError:
    return RegistryError(500, STORE_ERROR, f"Error in the backend data store: {detail}")


def parse_version(raw: str) -> int:
    """A path/version string as Confluent reads it: ``latest`` or ``-1`` → -1, else 1..2^31-1."""
    text = raw.strip()
    if text.lower() == "latest":
        return -1
    try:
        version = int(text)
    except ValueError:
        raise invalid_version(raw) from None
    if version == -1 or 1 <= version <= MAX_VERSION:
        return version
    raise invalid_version(raw)
