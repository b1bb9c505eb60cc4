"""Regenerate the shared test vectors of contracts/vectors/ from the schemas and the Python code.

    .venv/bin/python contracts/vectors/_generate.py           # rewrite the four JSON files
    .venv/bin/python contracts/vectors/_generate.py --check   # exit 1 when a file is stale

What every client (Python, Java, Go, TypeScript) must reproduce byte for byte: the Confluent wire format
of one record per event type (from the valid examples in contracts/examples/valid/, so an event type
added to schemas/ with its example flows in when this runs again), the canonical bytes, signature and
verdict of certificates (services/core/signatures.py, ADR 13) and the ``Corridor-Signature`` header of
webhook deliveries (services/webhooks/signing.py, ADR 12). The format is in contracts/vectors/README.md.

Deterministic: fixed keys (Ed25519 seeds derived from a label), fixed timestamps, schema ids derived
from the schema text; re-running on unchanged code rewrites identical files. tests/unit/contracts/
test_vectors.py fails when a committed file differs from what this script makes.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import json
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastavro import schemaless_reader, schemaless_writer

from corridor.core import signatures
from corridor.core.codec import frame
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import EVENT_TYPES
from corridor.core.domain.validation import parse_event
from corridor.core.schemas import EventSchema, catalog
from corridor.webhooks import signing
from corridor.webhooks.receiver import Receiver

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parent / "examples" / "valid"
FORMAT_VERSION = 1
_IDS = uuid.UUID("6a1f0d3c-52b7-4e0a-9c8d-7e3b1f5a2c94")  # namespace of the vectors' event ids


# -- values as JSON --------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A decoded Avro value as the vectors write it (README "Decoded values"): decimals as strings with
    the schema's scale, instants as UTC ``…T…​.mmmZ``, dates ``YYYY-MM-DD``, uuids as strings, bytes as
    base64, nulls kept."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.UTC)
        return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def schema_text(schema: EventSchema) -> str:
    """The schema as JSON with sorted keys: the catalog's expansion orders keys differently from one
    process to the next, and the vectors must not change with it."""
    return json.dumps(schema.schema, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def schema_id(schema: EventSchema) -> int:
    """A stable id per schema (any registry gives its own ids: clients must look them up)."""
    return 1 + int.from_bytes(hashlib.sha256(schema_text(schema).encode()).digest()[:3], "big")


def encode(event: TradeEvent) -> tuple[bytes, dict[str, Any]]:
    """(Confluent-framed bytes, decoded value as plain JSON) of an event with the catalog's schema."""
    schema = catalog().event(event.avro_name)
    buf = io.BytesIO()
    schemaless_writer(buf, schema.parsed, event.to_avro())
    body = buf.getvalue()
    decoded = schemaless_reader(io.BytesIO(body), schema.parsed, None)
    return frame(schema_id(schema), body), plain(decoded)


def decoded_event(value: bytes) -> TradeEvent:
    """The typed event a consumer gets from the framed bytes (what it verifies)."""
    sid = int.from_bytes(value[1:5], "big")
    schema = next(s for s in catalog().events.values() if schema_id(s) == sid)
    record = schemaless_reader(io.BytesIO(value[5:]), schema.parsed, None)
    return EVENT_TYPES[schema.full_name].model_validate(record)


# -- schemas and records -------------------------------------------------------------------------------


def schemas_file() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for schema in sorted(catalog().events.values(), key=lambda s: s.full_name):
        out[str(schema_id(schema))] = {
            "subject": schema.subject,
            "topic": schema.topic,
            "type": schema.full_name,
            "schema": schema_text(schema),
        }
    return {"format": FORMAT_VERSION, "schemas": out}


def _example(name: str) -> dict[str, Any]:
    path = EXAMPLES / f"{name}.json"
    if not path.exists():
        raise SystemExit(
            f"event type {name} has no example {path.relative_to(HERE.parents[1])}: add one "
            "(contracts/examples/_generate.py) before regenerating the vectors"
        )
    return dict(json.loads(path.read_text(encoding="utf-8")))


def records_file() -> dict[str, Any]:
    records = []
    for schema in sorted(catalog().events.values(), key=lambda s: s.full_name):
        example = _example(schema.name)
        event = parse_event(schema.full_name, example["data"])
        value, decoded = encode(event)
        records.append(
            {
                "name": schema.name,
                "type": schema.full_name,
                "topic": schema.topic,
                "subject": schema.subject,
                "key": example["key"],
                "headers": example["headers"],
                "schema_id": schema_id(schema),
                "value_hex": value.hex(),
                "value_base64": base64.b64encode(value).decode("ascii"),
                "value": decoded,
            }
        )
    return {"format": FORMAT_VERSION, "records": records}


# -- certificates ----------------------------------------------------------------------------------------


def _key(label: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(f"corridor vectors/{label}".encode()).digest())


TDAP = _key("tdap")
SGS = _key("sgs-pakistan")
TDAP_OLD = _key("tdap/revoked")  # a key TDAP reported compromised
CCPIT = _key("ccpit")  # a real key, of another authority
STRANGER = _key("stranger")  # registered nowhere

REVOKED_AT = dt.datetime(2026, 2, 1, 0, 0, tzinfo=dt.UTC)
KEYRING = signatures.keyring_of(
    [
        signatures.AuthorityKey("tdap", "tdap-2026", signatures.public_key_bytes(TDAP)),
        signatures.AuthorityKey("sgs-pakistan", "sgs-pakistan-2026", signatures.public_key_bytes(SGS)),
        signatures.AuthorityKey(
            "tdap", "tdap-2025", signatures.public_key_bytes(TDAP_OLD), revoked_at=REVOKED_AT
        ),
        signatures.AuthorityKey("ccpit", "ccpit-2026", signatures.public_key_bytes(CCPIT)),
    ]
)


def _cpfta() -> TradeEvent:
    return parse_event("CertificateIssued", _example("CertificateIssued")["data"])


def _with(event: TradeEvent, seed: str, **changes: Any) -> TradeEvent:
    return event.model_copy(update={"event_id": uuid.uuid5(_IDS, seed), **changes})


def _certificate_cases() -> list[tuple[str, str, TradeEvent, str | None, TradeEvent | None]]:
    """(name, description, event as sent, ledger status, the JSON form to show when it differs)."""
    cpfta = _cpfta()
    goods = cpfta.goods  # type: ignore[attr-defined]
    issuer = cpfta.issuer  # type: ignore[attr-defined]
    sign = signatures.sign_event

    base = sign(_with(cpfta, "cpfta"), TDAP, "tdap-2026")
    quantity = goods[0].quantity
    awkward_text = (
        'Box 11: "wholly obtained" \\ back-slash, tab\there, line\nbreak, CR\r, '
        "U+2028\u2028 U+2029\u2029 DEL-free, é (NFC) vs e\u0301 (NFD), emoji 🚢, "
        "Urdu کرومائٹ, Chinese 铬铁矿, Arabic-Indic ١٢٣, NBSP\u00a0, BOM-less \ufeff"
    )
    limits_goods = [
        goods[0].model_copy(
            update={
                "item_number": 2147483647,
                "quantity": quantity.model_copy(update={"value": Decimal("999999999999999.999")}),
                "gross_weight": None,
                "fob_value": goods[0].fob_value.model_copy(update={"amount": Decimal("0.0001")}),
            }
        ),
        goods[0].model_copy(
            update={
                "item_number": 1,
                "quantity": quantity.model_copy(update={"value": Decimal("0.000")}),
                "fob_value": None,
                "marks_and_numbers": None,
                "package_type": None,
                "gross_weight": None,
            }
        ),
        goods[0].model_copy(
            update={"item_number": 3, "quantity": quantity.model_copy(update={"value": Decimal("100.000")})}
        ),
    ]
    no_options = _with(cpfta, "optional-absent", valid_until=None, invoice_number=None, remarks=None)
    pkt = dt.timezone(dt.timedelta(hours=5))
    amended = parse_event("CertificateAmended", _example("CertificateAmended")["data"])
    assay = type(cpfta).model_validate(
        {
            **cpfta.model_dump(),
            "event_id": uuid.uuid5(_IDS, "assay"),
            "sender": "sgs-pakistan",
            "certificate_number": "SGS-KHI-MIN-26-03391",
            "certificate_kind": "ASSAY",
            # an assay certificate states no origin criterion, invoices or origin declarations
            "goods": [{**g.model_dump(), "origin_criterion": None} for g in goods],
            "invoices": None,
            "importing_country": None,
            "exporter_declaration": None,
            "certification": None,
            "issuer": {
                **issuer.model_dump(),
                "party_id": "sgs-pakistan",
                "legal_id": "sgs-pakistan",
                "name_en": "SGS Pakistan (Pvt) Ltd.",
            },
            "results": [
                {"parameter": "Cr2O3", "value": Decimal("41.2600"), "unit": "P1"},
                {"parameter": "H2O (moisture)", "value": Decimal("2.1000"), "unit": "P1"},
                {"parameter": "SiO2", "value": Decimal("0.0500"), "unit": "P1"},
                {"parameter": "net weight", "value": Decimal("5512400.0000"), "unit": "KGM"},
            ],
        }
    )
    signed_assay = sign(assay, SGS, "sgs-pakistan-2026")
    tampered_qty = base.model_copy(
        update={
            "goods": [
                goods[0].model_copy(
                    update={"quantity": quantity.model_copy(update={"value": Decimal("5512.399")})}
                )
            ]
        }
    )
    sig = base.signature  # type: ignore[attr-defined]
    return [
        ("cpfta_origin_valid", "The demo's CPFTA certificate of origin: Urdu and Chinese party names, "
         "decimals with trailing zeros (5512.400, 1573790.2000), an instant written at +05:00, a date.",
         base, None, base),
        ("assay_valid", "An assay certificate with results: 41.2600 → \"41.26\", 2.1000 → \"2.1\", 0.0500 → "
         "\"0.05\", 5512400.0000 → \"5512400\" (no exponent).", signed_assay, None, None),
        ("unicode_text_valid", "Free text with quotes, back-slash, tab, line feed, carriage return "
         "(escaped), "
         "U+2028/U+2029, NFC vs NFD accents, an emoji beyond the BMP, Urdu, Chinese, NBSP and U+FEFF (all "
         "written as raw UTF-8, never normalised).",
         sign(_with(cpfta, "unicode", remarks=awkward_text), TDAP, "tdap-2026"), None, None),
        ("numbers_at_limits_valid", "Largest int item number (2147483647), the largest quantity of "
         "precision 18 scale 3 (999999999999999.999), the smallest money (0.0001), zero (0.000 → \"0\"), "
         "100.000 → \"100\", and optional fields null inside an array item.",
         sign(_with(cpfta, "limits", goods=limits_goods), TDAP, "tdap-2026"), None, None),
        ("timestamp_millis_valid", "An instant with milliseconds at the end of a year in local time "
         "(2027-01-01T04:59:59.999+05:00 → \"2026-12-31T23:59:59.999Z\") and a date on 29 February; "
         "issued ten months after the shipment, so flagged issued_retroactively (a boolean member).",
         sign(_with(cpfta, "timestamps", occurred_at=dt.datetime(2027, 1, 1, 4, 59, 59, 999000, tzinfo=pkt),
                    valid_until=dt.date(2028, 2, 29), issued_retroactively=True), TDAP, "tdap-2026"),
         None, None),
        ("optional_fields_absent_valid", "valid_until, invoice_number and remarks null: left out of the "
         "canonical bytes, so the JSON with these members absent and the JSON with them null verify alike.",
         sign(no_options, TDAP, "tdap-2026"), None, None),
        ("amendment_valid", "A CertificateAmended: the type member keeps an issue's signature from "
         "passing as "
         "an amendment's.", sign(_with(amended, "amended"), TDAP, "tdap-2026"), None, None),
        ("tampered_quantity",
         "The valid CPFTA certificate with one thousandth of a tonne taken off after signing.",
         tampered_qty, None, None),
        ("tampered_time", "The valid CPFTA certificate re-dated by one millisecond.",
         base.model_copy(update={"occurred_at": base.occurred_at + dt.timedelta(milliseconds=1)}),
         None, None),
        ("tampered_signature_truncated", "The signature cut to 63 bytes.",
         base.model_copy(update={"signature": sig.model_copy(update={"value": sig.value[:63]})}), None, None),
        ("tampered_algorithm", "The algorithm member says something other than Ed25519.",
         base.model_copy(update={"signature": sig.model_copy(update={"algorithm": "Ed448"})}), None, None),
        ("tampered_certificate_number",
         "The valid certificate's signature moved to another certificate number.",
         base.model_copy(update={"certificate_number": "CPFTA-PK-2026-118735"}), None, None),
        ("unknown_signer_key", "Signed with a key registered nowhere.",
         sign(_with(cpfta, "stranger"), STRANGER, "tdap-2027"), None, None),
        ("unknown_signer_other_authority", "Signed with CCPIT's registered key, but the issuer is TDAP.",
         sign(_with(cpfta, "ccpit"), CCPIT, "ccpit-2026"), None, None),
        ("revoked_key", "Signed with TDAP's revoked key: revoked, whatever the certificate's date.",
         sign(_with(cpfta, "revoked-key"), TDAP_OLD, "tdap-2025"), None, None),
        ("revoked_certificate", "A valid signature on a certificate the ledger lists as REVOKED.",
         base, "REVOKED", None),
        ("superseded_certificate", "A valid signature on a certificate an amendment replaced.",
         base, "SUPERSEDED", None),
        ("unsigned", "A certificate without signature.", _with(cpfta, "unsigned"), None, None),
    ]  # fmt: skip


def certificates_file() -> dict[str, Any]:
    keys = [
        {**k.to_dict(), "created_at": None, "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None}
        for k in KEYRING.values()
    ]
    cases = []
    for name, description, sent, status, original in _certificate_cases():
        value, decoded = encode(sent)
        received = decoded_event(value)
        canonical = signatures.canonical_bytes(received)
        verdict = signatures.verify_event(received, KEYRING, certificate_status=status)
        json_form = (original or sent).model_dump(mode="json")
        if signatures.canonical_bytes(parse_event(sent.avro_name, sent.model_dump(mode="json"))) != canonical:
            raise SystemExit(f"{name}: the JSON and the Avro form canonicalise differently")
        case: dict[str, Any] = {
            "name": name,
            "description": description,
            "type": sent.avro_name,
            "schema_id": schema_id(catalog().event(sent.avro_name)),
            "value_hex": value.hex(),
            "value": decoded,
            "json": sent.model_dump(mode="json"),
            "certificate_status": status,
            "canonical": canonical.decode("utf-8"),
            "canonical_sha256": hashlib.sha256(canonical).hexdigest(),
            "verdict": verdict.status.value,
            "key_id": verdict.key_id,
            "signer": verdict.signer,
        }
        if original is not None and original is not sent:
            case["json_as_sent"] = json_form
        if name == "optional_fields_absent_valid":
            absent = {k: v for k, v in case["json"].items() if v is not None}
            if signatures.canonical_bytes(parse_event(sent.avro_name, absent)) != canonical:
                raise SystemExit(f"{name}: absent and null optional fields canonicalise differently")
            case["json_members_absent"] = absent
        if name == "cpfta_origin_valid":
            # the gateway's form as the issuer wrote it: local time with its offset
            case["json"]["occurred_at"] = sent.occurred_at.astimezone(
                dt.timezone(dt.timedelta(hours=5))
            ).isoformat()
            if signatures.canonical_bytes(parse_event(sent.avro_name, case["json"])) != canonical:
                raise SystemExit(f"{name}: the local-time JSON canonicalises differently")
        cases.append(case)
    return {
        "format": FORMAT_VERSION,
        "algorithm": signatures.ALGORITHM,
        "keys": keys,
        "cases": cases,
    }


# -- webhooks ------------------------------------------------------------------------------------------

SECRET = "whsec_vectors_0123456789abcdef"
OLD_SECRET = "whsec_vectors_previous_secret"
T0 = 1773741600  # 2026-03-17T10:00:00Z


def _body(seed: str, remarks: str = "Zhob Valley → 天津 · ژوب") -> bytes:
    document = {
        "specversion": "1.0",
        "id": str(uuid.uuid5(_IDS, seed)),
        "source": "/corridor/partners/tdap",
        "type": "corridor.trade.certificates.CertificateVerified",
        "data": {"note": remarks},
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _check(header: str | None, body: bytes, secrets: list[str], now: int) -> dict[str, Any]:
    stale = None
    for secret in secrets:
        try:
            return {"result": "ok", "timestamp": signing.verify(header, body, secret, now=now)}
        except signing.SignatureMismatch as exc:
            stale = stale or (exc if exc.stale else None)
            last = exc
    if stale is not None:
        return {"result": "stale", "reason": stale.reason}
    malformed = not header or "needs t=" in last.reason or "is not an integer" in last.reason
    return {"result": "malformed" if malformed else "bad_signature", "reason": last.reason}


def webhooks_file() -> dict[str, Any]:
    body = _body("webhook-1")
    mac = signing.mac(SECRET, T0, body)
    cases_in: list[tuple[str, str, str | None, bytes, list[str], int]] = [
        ("valid", "Signed now with the subscription's secret.",
         signing.sign(SECRET, body, timestamp=T0), body, [SECRET], T0),
        ("valid_clock_skew_inside_tolerance", "The receiver's clock 300 s ahead (the tolerance, inclusive).",
         f"t={T0},v1={mac}", body, [SECRET], T0 + 300),
        ("valid_second_v1_during_rotation", "Two v1 entries while the secret changes; one match is enough.",
         f"t={T0},v1={signing.mac(OLD_SECRET, T0, body)},v1={mac}", body, [SECRET], T0),
        ("valid_receiver_holds_two_secrets", "The receiver tries its old and new secret.",
         signing.sign(OLD_SECRET, body, timestamp=T0), body, [SECRET, OLD_SECRET], T0),
        ("valid_upper_case_hex_and_spaces", "Upper-case hex and spaces after commas are accepted.",
         f"t={T0}, v1={mac.upper()}", body, [SECRET], T0),
        ("valid_unknown_scheme_ignored", "Entries of schemes other than v1 are ignored.",
         f"t={T0},v0=deadbeef,v1={mac}", body, [SECRET], T0),
        ("bad_signature_wrong_secret", "Signed with another secret.",
         signing.sign("whsec_someone_else_123456", body, timestamp=T0), body, [SECRET], T0),
        ("bad_signature_body_altered", "One byte of the body changed after signing.",
         f"t={T0},v1={mac}", body.replace(b"1.0", b"1.1", 1), [SECRET], T0),
        ("bad_signature_timestamp_altered", "The t= changed to make an old delivery look fresh.",
         f"t={T0 + 600},v1={mac}", body, [SECRET], T0 + 600),
        ("stale_replayed_later",
         "A captured delivery replayed 301 s later: the signature matches, the time does not.",
         f"t={T0},v1={mac}", body, [SECRET], T0 + 301),
        ("stale_from_the_future", "A timestamp 301 s ahead of the receiver's clock.",
         f"t={T0 + 301},v1={signing.mac(SECRET, T0 + 301, body)}", body, [SECRET], T0),
        ("malformed_no_header", "No Corridor-Signature header.", None, body, [SECRET], T0),
        ("malformed_no_v1", "Only a timestamp.", f"t={T0}", body, [SECRET], T0),
        ("malformed_timestamp", "A timestamp that is no integer.", f"t=soon,v1={mac}", body, [SECRET], T0),
    ]  # fmt: skip
    cases = [
        {
            "name": name,
            "description": description,
            "secrets": secrets,
            "header": header,
            "body_base64": base64.b64encode(data).decode("ascii"),
            "now": now,
            "tolerance_s": signing.DEFAULT_TOLERANCE_S,
            **_check(header, data, secrets, now),
        }
        for name, description, header, data, secrets, now in cases_in
    ]
    return {
        "format": FORMAT_VERSION,
        "header": signing.HEADER,
        "tolerance_s": signing.DEFAULT_TOLERANCE_S,
        "cases": cases,
        "sequences": [_replay_sequence()],
    }


def _replay_sequence() -> dict[str, Any]:
    """What a receiver answers to a run of deliveries (services/webhooks/receiver.py): the same signed
    request again inside the window is a replay (409); the same event with a new signature is a
    duplicate to acknowledge (200) without processing it again; after the window it is stale (401)."""
    first = _body("webhook-seq-1")
    second = _body("webhook-seq-2")
    steps_in = [
        ("delivery", signing.sign(SECRET, first, timestamp=T0), first, T0),
        ("the same request replayed 5 s later", signing.sign(SECRET, first, timestamp=T0), first, T0 + 5),
        ("a retry of the same event, signed afresh",
         signing.sign(SECRET, first, timestamp=T0 + 60), first, T0 + 61),
        ("another event", signing.sign(SECRET, second, timestamp=T0 + 62), second, T0 + 62),
        ("the first request replayed after the window",
         signing.sign(SECRET, first, timestamp=T0), first, T0 + 400),
        ("a forged signature", f"t={T0 + 70},v1={'0' * 64}", second, T0 + 70),
    ]  # fmt: skip
    clock = {"now": 0.0}
    receiver = Receiver(SECRET, clock=lambda: clock["now"])
    steps = []
    for description, header, data, now in steps_in:
        clock["now"] = now
        status, answer = asyncio.run(receiver.receive({signing.HEADER.lower(): header}, data))
        steps.append(
            {
                "description": description,
                "header": header,
                "body_base64": base64.b64encode(data).decode("ascii"),
                "now": now,
                "status": status,
                "answer": answer.get("status") or answer.get("error"),
            }
        )
    return {
        "name": "receiver_replay_and_duplicates",
        "description": _replay_sequence.__doc__.split("\n\n")[0].replace("\n   ", "")
        if _replay_sequence.__doc__
        else "",
        "secrets": [SECRET],
        "tolerance_s": signing.DEFAULT_TOLERANCE_S,
        "steps": steps,
    }


# -- writing ---------------------------------------------------------------------------------------------


def build() -> dict[str, str]:
    """File name → text of every vector file."""
    files = {
        "schemas.json": schemas_file(),
        "records.json": records_file(),
        "certificates.json": certificates_file(),
        "webhooks.json": webhooks_file(),
    }
    return {name: json.dumps(content, ensure_ascii=False, indent=2) + "\n" for name, content in files.items()}


def main(argv: list[str]) -> int:
    files = build()
    if "--check" in argv:
        stale = [n for n, text in files.items() if (HERE / n).read_text(encoding="utf-8") != text]
        if stale:
            print(f"stale vectors: {', '.join(stale)}; run .venv/bin/python contracts/vectors/_generate.py")
            return 1
        return 0
    for name, text in files.items():
        (HERE / name).write_text(text, encoding="utf-8")
    print(f"wrote {', '.join(files)} to {HERE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
