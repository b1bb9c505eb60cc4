"""Problem details (RFC 9457) and how backend failures map onto HTTP statuses."""

from __future__ import annotations

import json

import asyncpg
import httpx
import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, UnknownTopicOrPartitionError

from corridor.core.domain.validation import FieldError
from corridor.core.registry_client import RegistryError
from corridor.gateway import problems


def test_body_has_the_rfc_9457_members_and_field_errors() -> None:
    problem = problems.invalid("bad", problems.error_list([FieldError("data.incoterm", "sea-only")]))
    body = json.loads(problem.encode())
    assert body == {
        "type": "urn:corridor:problem:invalid-event",
        "title": "Invalid event",
        "status": 422,
        "detail": "bad",
        "errors": [{"field": "data.incoterm", "reason": "sea-only"}],
    }


def test_batch_errors_carry_the_item_index_first() -> None:
    errors = problems.error_list([FieldError("id", "twice"), FieldError("type", "unknown")], index=3)
    assert errors == [
        {"index": 3, "field": "id", "reason": "twice"},
        {"index": 3, "field": "type", "reason": "unknown"},
    ]
    assert list(errors[0]) == ["index", "field", "reason"]


def test_unauthorized_challenges_for_a_bearer_token() -> None:
    missing = problems.unauthorized("no key", invalid_key=False)
    assert missing.status == 401 and missing.headers["WWW-Authenticate"] == 'Bearer realm="corridor"'
    wrong = problems.unauthorized("bad key", invalid_key=True)
    assert wrong.headers["WWW-Authenticate"] == 'Bearer realm="corridor", error="invalid_token"'


def test_extra_members_are_merged_and_titles_are_fixed_per_type() -> None:
    problem = problems.typed(503, "kafka-unavailable", "Kafka down", "x", extra={"results": []})
    assert problem.body()["results"] == []
    assert problems.too_large("a").title == problems.too_large("b").title
    assert problems.unsupported_media_type(None, ["application/json"]).detail.startswith("no Content-Type")


@pytest.mark.parametrize(
    ("exc", "status", "slug"),
    [
        (KafkaConnectionError("refused"), 503, "kafka-unavailable"),
        (KafkaTimeoutError(), 503, "kafka-unavailable"),
        (UnknownTopicOrPartitionError(), 503, "kafka-unavailable"),
        (TimeoutError(), 503, "kafka-unavailable"),
        (httpx.ConnectError("refused"), 503, "schema-registry-unavailable"),
        (RegistryError(500, 50001, "store down"), 503, "schema-registry-unavailable"),
        (RegistryError(409, 409, "incompatible"), 500, "internal-error"),
        (asyncpg.exceptions.ConnectionDoesNotExistError("gone"), 503, "database-unavailable"),
        (ConnectionRefusedError(), 503, "database-unavailable"),
        (RuntimeError("bug"), 500, "internal-error"),
    ],
)
def test_backend_failures(exc: BaseException, status: int, slug: str) -> None:
    problem = problems.from_backend_error(exc, retry_after_s=7)
    assert (problem.status, problem.slug) == (status, slug)
    if status == 503:
        assert problem.headers["Retry-After"] == "7"
    else:
        assert "Retry-After" not in problem.headers


def test_problem_is_an_exception_with_identity() -> None:
    a, b = problems.malformed("x"), problems.malformed("x")
    assert a != b and len({a, b}) == 2  # hashable, as exceptions must be
    with pytest.raises(problems.Problem, match="x"):
        raise a
