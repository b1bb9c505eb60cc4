"""A partner's Kafka access as services/core/partners.py builds it: ACL bindings, the SCRAM credential,
and the admin requests aiokafka lacks (encoded with its protocol types), without a broker."""

from __future__ import annotations

import asyncio
import hashlib
from io import BytesIO

import pytest

from corridor.core import partners
from corridor.core.partners import kafka_admin


def test_a_partner_may_read_its_topic_with_its_groups_and_nothing_else() -> None:
    bindings = partners.partner_acls("sgs-pakistan")
    assert {(b.resource_type, b.resource_name, b.pattern_type, b.operation) for b in bindings} == {
        ("TOPIC", "partner.sgs-pakistan.v1", "LITERAL", "READ"),
        ("TOPIC", "partner.sgs-pakistan.v1", "LITERAL", "DESCRIBE"),
        ("GROUP", "sgs-pakistan.", "PREFIXED", "READ"),
    }
    assert all(
        b.principal == "User:sgs-pakistan" and b.host == "*" and b.permission == "ALLOW" for b in bindings
    )


def test_scram_salted_password_is_pbkdf2_sha512() -> None:
    salted = partners.scram_salted_password("pencil", b"salt", 4096)
    assert salted == hashlib.pbkdf2_hmac("sha512", b"pencil", b"salt", 4096)
    assert len(salted) == 64
    assert partners.SCRAM_ITERATIONS >= 4096  # the broker refuses fewer for SHA-512
    password = partners.new_kafka_password()
    assert len(password) == 43 and password != partners.new_kafka_password()


def _encode(request: object, api_key: int, version: int) -> tuple[object, bytes]:
    struct = request.prepare({api_key: (version, version)})  # type: ignore[attr-defined]
    return struct, struct.encode()


def test_alter_scram_credentials_request_encodes_flexible_v0() -> None:
    protocol = kafka_admin._protocol()
    upsert = ("acme", 2, 8192, b"s" * 32, b"p" * 64, {})
    struct, data = _encode(protocol["AlterScram"]([("old", 2, {})], [upsert]), 51, 0)
    assert struct.FLEXIBLE_VERSION and struct.API_KEY == 51  # type: ignore[attr-defined]
    decoded = type(struct).SCHEMA.decode(BytesIO(data))  # type: ignore[attr-defined]
    assert decoded[0] == [("old", 2, {})]
    assert decoded[1] == [upsert]
    # compact encodings: array length + 1, string length + 1
    assert data[:2] == bytes([2, 4]) and data[2:5] == b"old"


def test_acl_requests_carry_every_binding() -> None:
    protocol = kafka_admin._protocol()
    creations = [(2, "partner.acme.v1", 3, "User:acme", "*", 3, 3), (3, "acme.", 4, "User:acme", "*", 3, 3)]
    struct, _ = _encode(protocol["CreateAcls"](creations), 30, 1)
    assert struct.creations == creations  # type: ignore[attr-defined]
    described, _ = _encode(protocol["DescribeAcls"]("User:acme"), 29, 1)
    assert described.principal == "User:acme" and described.resource_type == 1  # type: ignore[attr-defined]


def test_broker_errors_are_named() -> None:
    with pytest.raises(partners.KafkaSecurityDisabled, match="without an authorizer"):
        kafka_admin._check(54, "No Authorizer is configured.", "creating ACLs")
    with pytest.raises(partners.KafkaAccessError, match=r"ClusterAuthorizationFailedError \(error 31\)"):
        kafka_admin._check(31, None, "storing the SCRAM credential of acme")
    kafka_admin._check(0, None, "fine")


def test_an_unreachable_broker_is_a_clear_error() -> None:
    with pytest.raises(partners.KafkaAccessError, match="unreachable"):
        asyncio.run(partners.grant_kafka_access("127.0.0.1:1", "acme"))
    with pytest.raises(partners.PartnerError, match="invalid partner id"):
        asyncio.run(partners.revoke_kafka_access("127.0.0.1:1", "Bad_Id"))
