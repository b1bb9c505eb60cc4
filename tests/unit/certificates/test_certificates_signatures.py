"""Signed certificates (services/core/signatures.py): the canonical encoding, signing and every verdict."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastavro import schemaless_reader, schemaless_writer

from corridor.core import signatures as sig
from corridor.core.domain.events import (
    CertificateAmended,
    CertificateIssued,
    CertificateKind,
    OrderCancelled,
    Signature,
)
from corridor.core.schemas import catalog
from corridor.demo import story

PKT = dt.timezone(dt.timedelta(hours=5))
#: A fixed authority key (never use a key from a test anywhere else).
SEED = hashlib.sha256(b"corridor unit-test authority").digest()
KEY = Ed25519PrivateKey.from_private_bytes(SEED)
PUBLIC = sig.public_key_bytes(KEY)
KEY_ID = "tdap-test-1"
RING = sig.keyring_of([sig.AuthorityKey("tdap", KEY_ID, PUBLIC)])


def certificate(**changes: Any) -> CertificateIssued:
    fields: dict[str, Any] = {
        "event_id": uuid.UUID("6a0e5f3c-2b1d-4c8e-9f7a-0d3b5e1c9a24"),
        "trade_id": uuid.UUID("5f1d2c9e-8a3b-4c71-9e42-1b7d6a0c3f85"),
        "occurred_at": dt.datetime(2026, 3, 1, 15, 0, tzinfo=PKT),
        "sender": "tdap",
        "certificate_number": "CPFTA-PK-2026-118734",
        "certificate_kind": "CPFTA_ORIGIN",
        "issuer": story.TDAP,
        "exporter": story.SUPPLIER,
        "consignee": story.BUYER,
        "order_id": "TJRD-PO-2026-0117",
        "goods": [
            {
                "item_number": 1,
                "description": "Chromite ore lumps in bulk",
                "hs_code": "261000",
                "origin_criterion": "P",
                "quantity": {"value": Decimal("5512.400"), "unit": "TNE"},
                "fob_value": {"amount": Decimal("1573790.20"), "currency": "USD"},
            }
        ],
        "place_of_issue": {"unlocode": "PKKHI", "name": "Karachi"},
        "valid_until": dt.date(2027, 3, 1),
    }
    fields.update(changes)
    return CertificateIssued(**fields)


def avro_round_trip(event: CertificateIssued) -> CertificateIssued:
    schema = catalog().event(event.avro_name).parsed
    buf = io.BytesIO()
    schemaless_writer(buf, schema, event.to_avro())
    buf.seek(0)
    return CertificateIssued.model_validate(schemaless_reader(buf, schema, schema))


# -- canonical encoding --------------------------------------------------------------------------------


def test_canonical_bytes_are_sorted_compact_utf8_without_nulls() -> None:
    data = json.loads(sig.canonical_bytes(certificate()))
    assert list(data) == ["data", "type"]
    assert data["type"] == "corridor.trade.certificates.CertificateIssued"
    body = data["data"]
    assert list(body) == sorted(body)
    assert "signature" not in body and "remarks" not in body and "invoice_number" not in body
    assert "facility_type" not in body["place_of_issue"]
    assert body["results"] == []  # empty, not null: kept
    assert body["occurred_at"] == "2026-03-01T10:00:00.000Z"  # UTC, milliseconds, Z
    assert body["valid_until"] == "2027-03-01"
    assert body["goods"][0]["quantity"]["value"] == "5512.4"  # plain, no trailing zeros
    assert body["goods"][0]["fob_value"]["amount"] == "1573790.2"
    text = sig.canonical_bytes(certificate()).decode("utf-8")
    assert text == json.dumps(json.loads(text), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert "天津荣达铁合金冶炼有限公司" in text  # raw UTF-8, not \u escapes


def test_canonical_bytes_pinned() -> None:
    """The encoding is a contract (docs/adr/0013): every verifier rebuilds these exact bytes."""
    # Parties as they were before Party.registrations existed: the bytes signed then are unchanged, as
    # the field defaults to null (ADR 0046).
    before = certificate(
        exporter=story.SUPPLIER.model_copy(update={"registrations": None}),
        consignee=story.BUYER.model_copy(update={"registrations": None}),
    )
    assert hashlib.sha256(sig.canonical_bytes(before)).hexdigest() == (
        "6e88bd75ee805293926442695ec1bff98a005f9a56c9c7740d31ed3652f579e0"
    )
    encoded = sig.canonical_bytes(certificate())
    assert b'"registrations":[{"scheme":"CN_CUSTOMS_CODE","value":"1201961234"}]' in encoded
    assert encoded.startswith(
        b'{"data":{"certificate_kind":"CPFTA_ORIGIN","certificate_number":"CPFTA-PK-2026-118734",'
        b'"consignee":{"country":"CN","id_scheme":"USCC","legal_id":"91120116MA05K7QX33",'
    )
    assert (
        b'"goods":[{"description":"Chromite ore lumps in bulk","fob_value":{"amount":"1573790.2",' in encoded
    )
    assert encoded.endswith(
        b'"trade_id":"5f1d2c9e-8a3b-4c71-9e42-1b7d6a0c3f85","valid_until":"2027-03-01"},'
        b'"type":"corridor.trade.certificates.CertificateIssued"}'
    )
    assert hashlib.sha256(encoded).hexdigest() == (
        "9ce627a37f942805028e858dfbc4be410e427dae23ca136e2c14160bcda30779"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("5500.000"), "5500"),
        (Decimal("285.50"), "285.5"),
        (Decimal("0.000"), "0"),
        (Decimal("-0"), "0"),
        (Decimal("0.0050"), "0.005"),
        (Decimal("1E+3"), "1000"),
    ],
)
def test_decimals_do_not_depend_on_their_scale(value: Decimal, expected: str) -> None:
    assert sig._canonical(value) == expected


def test_strings_escape_as_rfc8785_does() -> None:
    # (the models refuse control characters in text; the encoding must still define them)
    odd = certificate().model_copy(update={"remarks": 'line\nbreak "quoted" tab\t \u0001 ✓'})
    text = sig.canonical_bytes(odd).decode()
    assert r'"remarks":"line\nbreak \"quoted\" tab\t \u0001 ✓"' in text


def test_a_new_optional_field_left_null_does_not_change_the_encoding() -> None:
    data = certificate().model_dump(mode="python", exclude={"signature"})
    assert sig._canonical({**data, "field_added_later": None}) == sig._canonical(data)


def test_the_encoding_survives_avro_json_and_local_times() -> None:
    event = certificate()
    assert sig.canonical_bytes(avro_round_trip(event)) == sig.canonical_bytes(event)
    assert sig.canonical_bytes(CertificateIssued.model_validate_json(event.model_dump_json())) == (
        sig.canonical_bytes(event)
    )
    utc = certificate(occurred_at=dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC))
    assert sig.canonical_bytes(utc) == sig.canonical_bytes(event)


def test_the_signature_field_is_not_part_of_what_is_signed() -> None:
    signed = sig.sign_event(certificate(), KEY, KEY_ID)
    assert signed.signature is not None
    assert sig.canonical_bytes(signed) == sig.canonical_bytes(certificate())


def test_floats_have_no_canonical_form() -> None:
    with pytest.raises(sig.SignatureError):
        sig._canonical(1.5)


# -- signing and verdicts ------------------------------------------------------------------------------


def test_signed_certificate_is_valid_after_avro_and_json() -> None:
    signed = sig.sign_event(certificate(), KEY, KEY_ID)
    assert signed.signature == Signature(algorithm="Ed25519", key_id=KEY_ID, value=signed.signature.value)
    assert len(signed.signature.value) == 64
    for copy in (
        signed,
        avro_round_trip(signed),
        CertificateIssued.model_validate(signed.model_dump(mode="json")),
    ):
        verdict = sig.verify_event(copy, RING)
        assert verdict.status == sig.VerdictStatus.VALID and verdict.valid, verdict
        assert (verdict.key_id, verdict.signer, verdict.certificate_number) == (
            KEY_ID,
            "tdap",
            "CPFTA-PK-2026-118734",
        )


def test_ed25519_signatures_are_deterministic() -> None:
    assert sig.sign_event(certificate(), KEY, KEY_ID) == sig.sign_event(certificate(), KEY, KEY_ID)


@pytest.mark.parametrize(
    "change",
    [
        {"remarks": "Box 11: added after signing"},
        {"certificate_kind": CertificateKind.NON_PREFERENTIAL_ORIGIN},
        {"occurred_at": dt.datetime(2026, 3, 1, 15, 0, 0, 1000, tzinfo=PKT)},  # one millisecond later
        {"trade_id": uuid.UUID("11111111-2222-4333-8444-555555555555")},
    ],
    ids=["remarks", "kind", "time", "trade"],
)
def test_a_certificate_altered_after_signing_is_tampered(change: dict[str, Any]) -> None:
    signed = sig.sign_event(certificate(), KEY, KEY_ID)
    verdict = sig.verify_event(signed.model_copy(update=change), RING)
    assert verdict.status == sig.VerdictStatus.TAMPERED, verdict
    assert "does not match" in verdict.reason


def test_altered_goods_quantity_in_the_json_is_tampered() -> None:
    data = sig.sign_event(certificate(), KEY, KEY_ID).model_dump(mode="json")
    data["goods"][0]["quantity"]["value"] = "6512.400"
    assert sig.verify_event(CertificateIssued.model_validate(data), RING).status == sig.VerdictStatus.TAMPERED


def test_a_changed_signature_or_algorithm_is_tampered() -> None:
    signed = sig.sign_event(certificate(), KEY, KEY_ID)
    assert signed.signature is not None
    flipped = bytes([signed.signature.value[0] ^ 1]) + signed.signature.value[1:]
    for bad in (
        signed.signature.model_copy(update={"value": flipped}),
        signed.signature.model_copy(update={"value": signed.signature.value[:32]}),
        signed.signature.model_copy(update={"algorithm": "RS256"}),
    ):
        verdict = sig.verify_event(signed.model_copy(update={"signature": bad}), RING)
        assert verdict.status == sig.VerdictStatus.TAMPERED, verdict


def test_unknown_key_and_another_partners_key_are_unknown_signers() -> None:
    signed = sig.sign_event(certificate(), KEY, KEY_ID)
    verdict = sig.verify_event(signed, {})
    assert verdict.status == sig.VerdictStatus.UNKNOWN_SIGNER and "no registered key" in verdict.reason
    # the same key registered for SGS: a valid signature, but not by the certificate's issuer
    sgs_ring = sig.keyring_of([sig.AuthorityKey("sgs-pakistan", KEY_ID, PUBLIC)])
    verdict = sig.verify_event(signed, sgs_ring)
    assert verdict.status == sig.VerdictStatus.UNKNOWN_SIGNER and "not to the issuer tdap" in verdict.reason
    # signed with another key under TDAP's key id
    forged = sig.sign_event(certificate(), Ed25519PrivateKey.generate(), KEY_ID)
    assert sig.verify_event(forged, RING).status == sig.VerdictStatus.TAMPERED


def test_revoked_key_and_certificate_states() -> None:
    signed = sig.sign_event(certificate(), KEY, KEY_ID)
    revoked_ring = sig.keyring_of(
        [sig.AuthorityKey("tdap", KEY_ID, PUBLIC, revoked_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC))]
    )
    verdict = sig.verify_event(signed, revoked_ring)
    assert verdict.status == sig.VerdictStatus.REVOKED and "key" in verdict.reason
    assert sig.verify_event(signed, RING, certificate_status="REVOKED").status == sig.VerdictStatus.REVOKED
    assert sig.verify_event(signed, RING, certificate_status="SUPERSEDED").status == (
        sig.VerdictStatus.SUPERSEDED
    )
    for live in ("ISSUED", "PRESENTED", "VERIFIED", "PREFERENCE_GRANTED", None):
        assert sig.verify_event(signed, RING, certificate_status=live).status == sig.VerdictStatus.VALID
    # the content check comes first: a tampered revoked certificate is tampered
    tampered = signed.model_copy(update={"remarks": "x"})
    assert sig.verify_event(tampered, RING, certificate_status="REVOKED").status == sig.VerdictStatus.TAMPERED


def test_unsigned_certificates_and_other_events() -> None:
    assert sig.verify_event(certificate(), RING).status == sig.VerdictStatus.UNSIGNED
    cancelled = OrderCancelled(
        event_id=uuid.uuid4(),
        trade_id=uuid.uuid4(),
        occurred_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        sender="tianjin-rongda-smelting",
        order_id="TJRD-PO-2026-0117",
        reason="furnace outage",
    )
    assert sig.verify_event(cancelled, RING).status == sig.VerdictStatus.UNSIGNED
    with pytest.raises(sig.SignatureError):
        sig.sign_event(cancelled, KEY, KEY_ID)


def test_amendments_are_signed_too() -> None:
    amended = CertificateAmended(
        event_id=uuid.uuid4(),
        trade_id=uuid.uuid4(),
        occurred_at=dt.datetime(2026, 3, 2, 11, 45, tzinfo=PKT),
        sender="tdap",
        certificate_number="CPFTA-PK-2026-119052",
        supersedes_certificate_number="CPFTA-PK-2026-118734",
        issuer=story.TDAP,
        goods=certificate().goods,
        reason="Box 7: marks corrected",
    )
    signed = sig.sign_event(amended, KEY, KEY_ID)
    assert sig.verify_event(signed, RING).valid
    assert json.loads(sig.canonical_bytes(signed))["type"] == CertificateAmended.avro_name
    assert sig.verify_event(signed.model_copy(update={"reason": "other"}), RING).status == (
        sig.VerdictStatus.TAMPERED
    )


def test_verdict_as_json() -> None:
    verdict = sig.verify_event(sig.sign_event(certificate(), KEY, KEY_ID), RING)
    assert verdict.to_dict() == {
        "certificate_number": "CPFTA-PK-2026-118734",
        "verdict": "valid",
        "reason": f"signed by tdap with key {KEY_ID!r}",
        "key_id": KEY_ID,
        "signer": "tdap",
    }


# -- keys ----------------------------------------------------------------------------------------------


def test_public_keys_load_from_pem_raw_and_base64() -> None:
    pem = sig.public_key_pem(PUBLIC).encode()
    assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert sig.load_public_key(pem) == PUBLIC
    assert sig.load_public_key(PUBLIC) == PUBLIC
    assert sig.load_public_key(base64.b64encode(PUBLIC) + b"\n") == PUBLIC
    with pytest.raises(sig.SignatureError, match="32 raw bytes"):
        sig.load_public_key(b"not a key")
    ec_pem = (
        generate_private_key(SECP256R1())
        .public_key()
        .public_bytes(sig.serialization.Encoding.PEM, sig.serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(sig.SignatureError, match="not Ed25519"):
        sig.load_public_key(ec_pem)


def test_private_keys_round_trip_through_pem() -> None:
    loaded = sig.load_private_key(sig.private_key_pem(KEY))
    assert sig.public_key_bytes(loaded) == PUBLIC
    assert sig.public_key_bytes(sig.load_private_key(SEED)) == PUBLIC


def test_default_key_id_names_the_partner_and_the_key() -> None:
    key_id = sig.default_key_id("tdap", PUBLIC)
    assert key_id == f"tdap-{hashlib.sha256(PUBLIC).hexdigest()[:8]}"
    assert (
        sig.AuthorityKey("tdap", key_id, PUBLIC).to_dict()["fingerprint"]
        == hashlib.sha256(PUBLIC).hexdigest()
    )


def test_sign_refuses_a_bad_key_id() -> None:
    with pytest.raises(sig.SignatureError, match="key id"):
        sig.sign_event(certificate(), KEY, " ")
