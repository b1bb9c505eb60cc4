"""Kafka access of partners and services: SCRAM credentials, ACLs and partner topics.

A partner reads its events straight from Kafka, on the broker's SASL listener, logged in with SCRAM
as ``User:<partner id>``. Its ACLs allow READ and DESCRIBE on its topic ``partner.<id>.v1`` and READ
on the consumer groups ``<id>.*``, nothing else; the broker's authorizer denies the rest
(docs/adr/0010-partner-isolation.md). aiokafka's admin client has no call for SCRAM credentials and
creates one ACL per request, so the admin requests are spelled out here on aiokafka's protocol types
and sent through its client (the broker forwards them to the KRaft controller).
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from corridor.core.kafka import new_topic
from corridor.core.partners.store import PartnerError, _check_partner_id

SCRAM_MECHANISM = "SCRAM-SHA-512"
#: PBKDF2 rounds of the stored credential (the broker's minimum for SHA-512 is 4096).
SCRAM_ITERATIONS = 8192
_SCRAM_SHA_512 = 2  # ScramMechanism in the admin protocol: 1 = SHA-256, 2 = SHA-512

# Admin protocol enums (org.apache.kafka.common.resource / acl).
_RESOURCE = {"ANY": 1, "TOPIC": 2, "GROUP": 3, "CLUSTER": 4, "TRANSACTIONAL_ID": 5}
_PATTERN = {"ANY": 1, "LITERAL": 3, "PREFIXED": 4}
_OPERATION = {
    "ANY": 1, "ALL": 2, "READ": 3, "WRITE": 4, "CREATE": 5, "DESCRIBE": 8, "DESCRIBE_CONFIGS": 10,
    "IDEMPOTENT_WRITE": 12,
}  # fmt: skip
_PERMISSION = {"ANY": 1, "DENY": 2, "ALLOW": 3}
_NAMES = {
    "resource": {v: k for k, v in _RESOURCE.items()},
    "pattern": {v: k for k, v in _PATTERN.items()},
    "operation": {v: k for k, v in _OPERATION.items()},
    "permission": {v: k for k, v in _PERMISSION.items()},
}
_SECURITY_DISABLED = 54
_RESOURCE_NOT_FOUND = 91
_TOPIC_ALREADY_EXISTS = 36


class KafkaAccessError(PartnerError):
    """The broker did not grant or revoke a partner's access (unreachable, refused, …)."""


class KafkaSecurityDisabled(KafkaAccessError):
    """The broker runs without an authorizer (no partner listener): ACLs cannot be set."""


@dataclass(frozen=True)
class KafkaCredentials:
    """A partner's login on the SASL listener; the password is shown once, like the API key."""

    username: str
    password: str
    mechanism: str = SCRAM_MECHANISM

    def to_dict(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password, "mechanism": self.mechanism}


@dataclass(frozen=True, order=True)
class AclBinding:
    resource_type: str  # TOPIC, GROUP …
    resource_name: str
    pattern_type: str  # LITERAL or PREFIXED
    operation: str  # READ, DESCRIBE …
    principal: str
    host: str = "*"
    permission: str = "ALLOW"

    def to_dict(self) -> dict[str, str]:
        return {
            "resource_type": self.resource_type,
            "resource_name": self.resource_name,
            "pattern_type": self.pattern_type,
            "operation": self.operation,
            "principal": self.principal,
            "host": self.host,
            "permission": self.permission,
        }


def principal_of(partner_id: str) -> str:
    return f"User:{partner_id}"


def partner_acls(partner_id: str) -> list[AclBinding]:
    """Everything a partner may do on the broker: read its own topic with a group of its own."""
    from corridor.core.routing import group_prefix, partner_topic

    principal, topic = principal_of(partner_id), partner_topic(partner_id)
    return [
        AclBinding("TOPIC", topic, "LITERAL", "READ", principal),
        AclBinding("TOPIC", topic, "LITERAL", "DESCRIBE", principal),
        AclBinding("GROUP", group_prefix(partner_id), "PREFIXED", "READ", principal),
    ]


def new_kafka_password() -> str:
    """32 random bytes, url-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def scram_salted_password(password: str, salt: bytes, iterations: int = SCRAM_ITERATIONS) -> bytes:
    """SCRAM's ``Hi(password, salt, i)`` (RFC 5802) for SHA-512: PBKDF2-HMAC-SHA-512; the broker derives
    the stored and server keys from it and keeps neither the password nor this value."""
    return hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations)


def _protocol() -> dict[str, Any]:
    """aiokafka request classes for the two SCRAM admin APIs (built once, on first use)."""
    global _PROTOCOL
    if _PROTOCOL is not None:
        return _PROTOCOL
    from aiokafka.protocol.admin import CreateAclsRequest_v1, DeleteAclsRequest_v1, DescribeAclsRequest_v1
    from aiokafka.protocol.api import Request, RequestStruct, Response
    from aiokafka.protocol.types import (
        CompactArray,
        CompactBytes,
        CompactString,
        Int8,
        Int16,
        Int32,
        Schema,
        TaggedFields,
    )

    class AlterScramResponse(Response):  # type: ignore[misc]
        API_KEY = 51
        API_VERSION = 0
        SCHEMA = Schema(
            ("throttle_time_ms", Int32),
            (
                "results",
                CompactArray(
                    ("user", CompactString("utf-8")),
                    ("error_code", Int16),
                    ("error_message", CompactString("utf-8")),
                    ("tags", TaggedFields),
                ),
            ),
            ("tags", TaggedFields),
        )

    class AlterScramStruct(RequestStruct):  # type: ignore[misc]
        FLEXIBLE_VERSION = True
        API_KEY = 51
        API_VERSION = 0
        RESPONSE_TYPE = AlterScramResponse
        SCHEMA = Schema(
            (
                "deletions",
                CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields)),
            ),
            (
                "upsertions",
                CompactArray(
                    ("name", CompactString("utf-8")),
                    ("mechanism", Int8),
                    ("iterations", Int32),
                    ("salt", CompactBytes),
                    ("salted_password", CompactBytes),
                    ("tags", TaggedFields),
                ),
            ),
            ("tags", TaggedFields),
        )

    class AlterScram(Request[AlterScramStruct]):  # type: ignore[misc]
        API_KEY = 51

        def __init__(self, deletions: list[tuple[Any, ...]], upsertions: list[tuple[Any, ...]]) -> None:
            self.deletions, self.upsertions = deletions, upsertions

        def build(self, request_struct_class: type[AlterScramStruct]) -> AlterScramStruct:
            return request_struct_class(self.deletions, self.upsertions, {})

    class DescribeScramResponse(Response):  # type: ignore[misc]
        API_KEY = 50
        API_VERSION = 0
        SCHEMA = Schema(
            ("throttle_time_ms", Int32),
            ("error_code", Int16),
            ("error_message", CompactString("utf-8")),
            (
                "results",
                CompactArray(
                    ("user", CompactString("utf-8")),
                    ("error_code", Int16),
                    ("error_message", CompactString("utf-8")),
                    (
                        "credential_infos",
                        CompactArray(("mechanism", Int8), ("iterations", Int32), ("tags", TaggedFields)),
                    ),
                    ("tags", TaggedFields),
                ),
            ),
            ("tags", TaggedFields),
        )

    class DescribeScramStruct(RequestStruct):  # type: ignore[misc]
        FLEXIBLE_VERSION = True
        API_KEY = 50
        API_VERSION = 0
        RESPONSE_TYPE = DescribeScramResponse
        SCHEMA = Schema(
            ("users", CompactArray(("name", CompactString("utf-8")), ("tags", TaggedFields))),
            ("tags", TaggedFields),
        )

    class DescribeScram(Request[DescribeScramStruct]):  # type: ignore[misc]
        API_KEY = 50

        def __init__(self, users: list[str]) -> None:
            self.users = users

        def build(self, request_struct_class: type[DescribeScramStruct]) -> DescribeScramStruct:
            return request_struct_class([(u, {}) for u in self.users], {})

    # aiokafka's own ACL requests carry one binding each; these carry a list.
    class CreateAcls(Request[CreateAclsRequest_v1]):  # type: ignore[misc]
        API_KEY = 30

        def __init__(self, creations: list[tuple[Any, ...]]) -> None:
            self.creations = creations

        def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
            return request_struct_class(self.creations)

    class DeleteAcls(Request[DeleteAclsRequest_v1]):  # type: ignore[misc]
        API_KEY = 31

        def __init__(self, filters: list[tuple[Any, ...]]) -> None:
            self.filters = filters

        def build(self, request_struct_class: type[DeleteAclsRequest_v1]) -> DeleteAclsRequest_v1:
            return request_struct_class(self.filters)

    class DescribeAcls(Request[DescribeAclsRequest_v1]):  # type: ignore[misc]
        API_KEY = 29

        def __init__(self, principal: str) -> None:
            self.principal = principal

        def build(self, request_struct_class: type[DescribeAclsRequest_v1]) -> DescribeAclsRequest_v1:
            any_ = (_RESOURCE["ANY"], None, _PATTERN["ANY"])
            return request_struct_class(*any_, self.principal, None, _OPERATION["ANY"], _PERMISSION["ANY"])

    _PROTOCOL = {
        "AlterScram": AlterScram,
        "DescribeScram": DescribeScram,
        "CreateAcls": CreateAcls,
        "DeleteAcls": DeleteAcls,
        "DescribeAcls": DescribeAcls,
    }
    return _PROTOCOL


_PROTOCOL: dict[str, Any] | None = None


class _KafkaAdmin:
    """aiokafka's admin client on the internal listener as a super user, raising KafkaAccessError.

    ``login``: aiokafka security settings; by default the operator's (``client_security``)."""

    def __init__(
        self, bootstrap_servers: str, timeout_s: float = 10.0, login: dict[str, Any] | None = None
    ) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        from corridor.core.kafka import client_security

        self.bootstrap_servers = bootstrap_servers
        self.client = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id="corridor-partners",
            request_timeout_ms=int(timeout_s * 1000),
            **(client_security() if login is None else login),
        )

    async def __aenter__(self) -> _KafkaAdmin:
        from aiokafka.errors import KafkaError

        try:
            await self.client.start()
        except (KafkaError, OSError) as exc:
            await self.client.close()
            raise KafkaAccessError(f"Kafka at {self.bootstrap_servers} is unreachable: {exc}") from exc
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.client.close()

    async def send(self, request: Any) -> Any:
        from aiokafka.errors import KafkaError

        try:
            return await self.client._send_request(request)
        except (KafkaError, OSError) as exc:
            raise KafkaAccessError(f"Kafka at {self.bootstrap_servers}: {type(exc).__name__}: {exc}") from exc


def _check(code: int, message: str | None, what: str) -> None:
    if code == 0:
        return
    from aiokafka.errors import for_code

    name = for_code(code).__name__
    detail = f"{what}: {name} (error {code}){': ' + message if message else ''}"
    if code == _SECURITY_DISABLED:
        raise KafkaSecurityDisabled(
            f"{detail} — the broker runs without an authorizer; restart the stack "
            "(`corridor stack down && corridor stack up`) to get the partner listener"
        )
    raise KafkaAccessError(detail)


async def _upsert_scram(admin: _KafkaAdmin, username: str, password: str) -> None:
    salt = secrets.token_bytes(32)
    upsertion: tuple[Any, ...] = (
        username, _SCRAM_SHA_512, SCRAM_ITERATIONS, salt, scram_salted_password(password, salt), {},
    )  # fmt: skip
    response = await admin.send(_protocol()["AlterScram"]([], [upsertion]))
    for user, code, message, _tags in response.results:
        _check(code, message, f"storing the SCRAM credential of {user}")


async def _delete_scram(admin: _KafkaAdmin, username: str) -> bool:
    """Delete the credential; False if there was none."""
    response = await admin.send(_protocol()["AlterScram"]([(username, _SCRAM_SHA_512, {})], []))
    for user, code, message, _tags in response.results:
        if code == _RESOURCE_NOT_FOUND:
            return False
        _check(code, message, f"deleting the SCRAM credential of {user}")
    return True


async def _create_acls(admin: _KafkaAdmin, bindings: list[AclBinding]) -> None:
    creations = [
        (
            _RESOURCE[b.resource_type], b.resource_name, _PATTERN[b.pattern_type], b.principal, b.host,
            _OPERATION[b.operation], _PERMISSION[b.permission],
        )
        for b in bindings
    ]  # fmt: skip
    response = await admin.send(_protocol()["CreateAcls"](creations))
    for binding, (code, message) in zip(bindings, response.creation_responses, strict=True):
        _check(code, message, f"creating ACL {binding.operation} on {binding.resource_name}")


async def _delete_acls(admin: _KafkaAdmin, principal: str) -> int:
    """Delete every ACL of ``principal``; returns how many there were."""
    any_filter = (
        _RESOURCE["ANY"],
        None,
        _PATTERN["ANY"],
        principal,
        None,
        _OPERATION["ANY"],
        _PERMISSION["ANY"],
    )
    return await _delete_acl_filters(admin, [any_filter], f"the ACLs of {principal}")


async def _delete_acl_filters(admin: _KafkaAdmin, filters: list[tuple[Any, ...]], what: str) -> int:
    response = await admin.send(_protocol()["DeleteAcls"](filters))
    deleted = 0
    for code, message, matching in response.filter_responses:
        _check(code, message, f"deleting {what}")
        deleted += len(matching)
    return deleted


async def remove_acls(bootstrap_servers: str, bindings: list[AclBinding]) -> int:
    """Delete exactly these bindings (an operator revoking one right, or a fault test); returns how
    many the broker had. ``add_acls`` puts them back."""
    exact = [
        (
            _RESOURCE[b.resource_type], b.resource_name, _PATTERN[b.pattern_type], b.principal, b.host,
            _OPERATION[b.operation], _PERMISSION[b.permission],
        )
        for b in bindings
    ]  # fmt: skip
    async with _KafkaAdmin(bootstrap_servers) as admin:
        return await _delete_acl_filters(admin, exact, f"{len(bindings)} ACL(s)")


async def add_acls(bootstrap_servers: str, bindings: list[AclBinding]) -> None:
    """Create these bindings (kept if they exist)."""
    async with _KafkaAdmin(bootstrap_servers) as admin:
        await _create_acls(admin, bindings)


async def _describe_acls(admin: _KafkaAdmin, principal: str) -> list[AclBinding]:
    response = await admin.send(_protocol()["DescribeAcls"](principal))
    _check(response.error_code, response.error_message, f"listing the ACLs of {principal}")
    found = []
    for resource_type, name, pattern_type, acls in response.resources:
        for acl_principal, host, operation, permission in acls:
            found.append(
                AclBinding(
                    _NAMES["resource"].get(resource_type, str(resource_type)),
                    name,
                    _NAMES["pattern"].get(pattern_type, str(pattern_type)),
                    _NAMES["operation"].get(operation, str(operation)),
                    acl_principal,
                    host,
                    _NAMES["permission"].get(permission, str(permission)),
                )
            )
    return sorted(found)


async def _scram_users(admin: _KafkaAdmin, usernames: list[str]) -> dict[str, list[str]]:
    """{user: [mechanism, …]} for those of ``usernames`` that have credentials."""
    response = await admin.send(_protocol()["DescribeScram"](usernames))
    _check(response.error_code, response.error_message, "describing SCRAM credentials")
    found: dict[str, list[str]] = {}
    for user, code, message, infos, _tags in response.results:
        if code == _RESOURCE_NOT_FOUND:
            continue
        _check(code, message, f"describing the SCRAM credentials of {user}")
        found[user] = [{1: "SCRAM-SHA-256", 2: "SCRAM-SHA-512"}.get(m, str(m)) for m, _i, _t in infos]
    return found


async def ensure_partner_topics(
    admin_client: Any, partner_ids: Iterable[str], partitions: int | None = None
) -> list[str]:
    """Create the missing ``partner.<id>.v1`` topics (RF and min ISR follow the cluster size) with an
    aiokafka admin client; returns the topics created. Safe against a concurrent creator."""

    from corridor.core.routing import PARTNER_TOPIC_PARTITIONS, partner_topic_spec

    specs = [partner_topic_spec(p, partitions or PARTNER_TOPIC_PARTITIONS) for p in partner_ids]
    existing = set(await admin_client.list_topics())
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []
    brokers = max(1, len((await admin_client.describe_cluster())["brokers"]))
    response = await admin_client.create_topics([new_topic(s, brokers) for s in missing])
    created = []
    for topic, code, message in response.topic_errors:
        if code == 0:
            created.append(topic)
        elif code != _TOPIC_ALREADY_EXISTS:
            _check(code, message, f"creating topic {topic}")
    return created


async def grant_kafka_access(
    bootstrap_servers: str, partner_id: str, *, password: str | None = None
) -> KafkaCredentials:
    """Give a partner (new) SCRAM credentials, its ACLs and its topic; returns the credentials.

    ``bootstrap_servers`` is the internal listener (its super user may alter credentials and ACLs).
    Idempotent apart from the password: a second call replaces the credential (``rotate-key``).
    The ACLs are set before the credential, so a partner never logs in without them; on a broker
    without an authorizer nothing is stored and :class:`KafkaSecurityDisabled` is raised.
    """
    _check_partner_id(partner_id)
    credentials = KafkaCredentials(partner_id, password or new_kafka_password())
    async with _KafkaAdmin(bootstrap_servers) as admin:
        await _create_acls(admin, partner_acls(partner_id))
        try:
            await ensure_partner_topics(admin.client, [partner_id])
        except KafkaAccessError:
            raise
        except Exception as exc:  # aiokafka raises its own types for topic creation
            raise KafkaAccessError(
                f"creating the topic of {partner_id}: {type(exc).__name__}: {exc}"
            ) from exc
        await _upsert_scram(admin, credentials.username, credentials.password)
        await _await_scram_user(admin, credentials.username)
    return credentials


async def ensure_principals(
    bootstrap_servers: str,
    principals: list[tuple[str, str, list[AclBinding]]],
    *,
    login: dict[str, Any] | None = None,
) -> None:
    """Store each ``(username, password, bindings)``: its ACLs first, then its SCRAM credential, and wait
    until the broker knows them all (``corridor stack up``'s service and operator principals).

    Idempotent: ACLs that exist are kept (Kafka's CreateAcls adds nothing twice), the credential is
    rewritten with the same password. ``login`` is who asks (the brokers' own login while no SCRAM user
    exists yet)."""
    async with _KafkaAdmin(bootstrap_servers, login=login) as admin:
        for username, password, bindings in principals:
            if bindings:
                await _create_acls(admin, bindings)
            await _upsert_scram(admin, username, password)
        for username, _password, _bindings in principals:
            await _await_scram_user(admin, username)


async def _await_scram_user(admin: _KafkaAdmin, username: str, wait_s: float = 5.0) -> None:
    """Wait until the broker answers with the new credential: the controller stores it at once, the
    broker applies it from the metadata log a moment later (and a login before that fails)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if username in await _scram_users(admin, [username]):
            return
        await asyncio.sleep(0.1)


async def revoke_kafka_access(bootstrap_servers: str, partner_id: str) -> dict[str, Any]:
    """Delete a partner's SCRAM credential and its ACLs (its topic and data stay).

    New logins fail at once; ACLs are checked on every request, so a connection the partner opened
    before is refused from now on too. Returns what was removed.
    """
    _check_partner_id(partner_id)
    async with _KafkaAdmin(bootstrap_servers) as admin:
        credential = await _delete_scram(admin, partner_id)
        try:
            acls = await _delete_acls(admin, principal_of(partner_id))
        except KafkaSecurityDisabled:
            acls = 0  # no authorizer, so no ACLs
    return {"scram_credential_deleted": credential, "acls_deleted": acls}


async def describe_kafka_access(bootstrap_servers: str, partner_id: str) -> dict[str, Any]:
    """The partner's SCRAM mechanisms and ACLs as the broker has them."""
    _check_partner_id(partner_id)
    async with _KafkaAdmin(bootstrap_servers) as admin:
        users = await _scram_users(admin, [partner_id])
        acls = await _describe_acls(admin, principal_of(partner_id))
    return {"scram": users.get(partner_id, []), "acls": [a.to_dict() for a in acls]}
