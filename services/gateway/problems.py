"""Problem details (RFC 9457) for every error the gateway answers, and how failures map onto them.

Each problem has a ``type`` URI (``urn:corridor:problem:<slug>``), a ``title`` that is fixed per type,
a ``detail`` for this occurrence, and, where fields are at fault, ``errors: [{"field", "reason"}]``
(plus ``index`` for items of a batch, and ``rule`` when a trust rule refused it). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
from aiokafka.errors import KafkaError

from corridor.core.domain.validation import FieldError
from corridor.core.problems import PROBLEM_JSON, Problem
from corridor.core.produce_errors import Stage, classify
from corridor.core.registry_client import RegistryError

WWW_AUTHENTICATE = 'Bearer realm="corridor"'


def typed(
    status: int,
    slug: str,
    title: str,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Problem:
    """A typed problem (``urn:corridor:problem:<slug>``), as every gateway answer is."""
    return Problem(status, title, detail, slug=slug, errors=errors, headers=headers or {}, extra=extra or {})


def error_list(errors: Iterable[FieldError | Any], index: int | None = None) -> list[dict[str, Any]]:
    """``[{"field", "reason"}]`` (with ``index`` first when the errors belong to a batch item)."""
    out = []
    for err in errors:
        entry: dict[str, Any] = {} if index is None else {"index": index}
        entry.update(field=err.field, reason=err.reason)
        rule = getattr(err, "rule", None)  # a trust rule (corridor.core.domain.trust.RULES) names itself
        if rule:
            entry["rule"] = rule
        out.append(entry)
    return out


# -- constructors, one per problem type -----------------------------------------------------------------


def malformed(detail: str) -> Problem:
    return typed(400, "malformed-request", "Malformed request", detail)


def unauthorized(detail: str, *, invalid_key: bool) -> Problem:
    challenge = WWW_AUTHENTICATE + (', error="invalid_token"' if invalid_key else "")
    return typed(
        401, "unauthorized", "Missing or invalid API key", detail, headers={"WWW-Authenticate": challenge}
    )


def forbidden(detail: str, errors: list[dict[str, Any]]) -> Problem:
    return typed(403, "forbidden", "Not allowed to publish this event", detail, errors=errors)


def conflict(detail: str, errors: list[dict[str, Any]] | None = None) -> Problem:
    return typed(409, "idempotency-conflict", "Idempotency key reused with a different event", detail, errors)


def in_progress(detail: str, retry_after_s: int) -> Problem:
    return typed(
        409,
        "request-in-progress",
        "A request with this idempotency key is still being processed",
        detail,
        headers={"Retry-After": str(retry_after_s)},
    )


def too_large(detail: str) -> Problem:
    return typed(413, "content-too-large", "Request too large", detail)


def record_too_large(detail: str, errors: list[dict[str, Any]]) -> Problem:
    """An event larger than its topic's ``max.message.bytes`` (the broker would refuse it)."""
    return typed(413, "event-too-large", "Event too large for Kafka", detail, errors)


def produce_failed(reason: str, retry_after_s: int) -> Problem:
    """An event Kafka did not acknowledge, with the classified reason (``core.produce_errors``)."""
    return unavailable(
        "kafka-unavailable",
        "Kafka did not acknowledge the event",
        f"{reason}; the event was not stored: retry with the same event id",
        retry_after_s,
    )


def unsupported_media_type(content_type: str | None, accepted: Iterable[str]) -> Problem:
    given = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
    return typed(
        415,
        "unsupported-media-type",
        "Unsupported media type",
        f"{given} is not accepted here; send {' or '.join(accepted)}",
    )


def invalid(detail: str, errors: list[dict[str, Any]]) -> Problem:
    return typed(422, "invalid-event", "Invalid event", detail, errors=errors)


def unavailable(slug: str, title: str, detail: str, retry_after_s: int) -> Problem:
    return typed(503, slug, title, detail, headers={"Retry-After": str(retry_after_s)})


def internal(detail: str = "the gateway failed to handle the request; it has been logged") -> Problem:
    return typed(500, "internal-error", "Internal error", detail)


# -- failures of the backends -----------------------------------------------------------------------------


def from_backend_error(exc: BaseException, retry_after_s: int) -> Problem:
    """The answer for a failure of Kafka, the schema registry or PostgreSQL while handling a request.

    Unreachable or timing-out backends are 503 with ``Retry-After`` (the client retries, with the same
    event id, which is idempotent). A registry that *refuses* our schema is a server-side fault (500).
    """
    name = type(exc).__name__
    if isinstance(exc, KafkaError | TimeoutError):
        return unavailable(
            "kafka-unavailable",
            "Kafka did not acknowledge the event",
            f"the event was not acknowledged by Kafka ({classify(exc, Stage.SEND).reason}); retry with the "
            "same event id",
            retry_after_s,
        )
    if isinstance(exc, httpx.TransportError) or (isinstance(exc, RegistryError) and exc.status >= 500):
        return unavailable(
            "schema-registry-unavailable",
            "Schema registry unavailable",
            f"the event's schema could not be resolved ({name}: {exc}); retry later",
            retry_after_s,
        )
    if isinstance(exc, RegistryError):
        return internal(f"the schema registry refused the event's schema: {exc}")
    if _is_database_error(exc):
        return unavailable(
            "database-unavailable",
            "Database unavailable",
            f"PostgreSQL failed ({name}); retry later",
            retry_after_s,
        )
    return internal()


def _is_database_error(exc: BaseException) -> bool:
    import asyncpg

    return isinstance(exc, asyncpg.PostgresError | asyncpg.InterfaceError | ConnectionError | OSError)


__all__ = [
    "PROBLEM_JSON",
    "WWW_AUTHENTICATE",
    "Problem",
    "conflict",
    "error_list",
    "forbidden",
    "from_backend_error",
    "in_progress",
    "internal",
    "invalid",
    "malformed",
    "produce_failed",
    "record_too_large",
    "too_large",
    "typed",
    "unauthorized",
    "unavailable",
    "unsupported_media_type",
]
