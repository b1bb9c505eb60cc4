"""contracts/vectors/ (the shared test vectors every partner client passes) are current, complete, and
hold for the Python code: the SDK's codec decodes each record to its value, ``signatures.verify_event``
gives each certificate's verdict over the stated canonical bytes, the webhook code each header's result.

A stale file fails here: regenerate with ``.venv/bin/python contracts/vectors/_generate.py``."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import importlib.util
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from corridor.core import signatures
from corridor.core.codec import Codec
from corridor.core.schemas import catalog
from corridor.webhooks import signing

ROOT = Path(__file__).resolve().parents[3]
VECTORS = ROOT / "contracts" / "vectors"


def _load(name: str) -> dict[str, Any]:
    return dict(json.loads((VECTORS / name).read_text(encoding="utf-8")))


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("corridor_vectors_generate", VECTORS / "_generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _VectorRegistry:
    """The registry's GET /schemas/ids/{id}, answered from schemas.json."""

    def __init__(self) -> None:
        self.schemas = _load("schemas.json")["schemas"]

    async def schema_by_id(self, schema_id: int) -> str:
        return str(self.schemas[str(schema_id)]["schema"])


def _codec() -> Codec:
    return Codec(_VectorRegistry(), auto_register=False)  # type: ignore[arg-type]


def test_the_committed_vectors_are_what_the_code_makes_now() -> None:
    built = _generator().build()
    stale = [name for name, text in built.items() if (VECTORS / name).read_text(encoding="utf-8") != text]
    assert not stale, f"stale: {stale}; run .venv/bin/python contracts/vectors/_generate.py and commit"


def test_every_event_type_has_a_record_and_its_schema() -> None:
    records = _load("records.json")["records"]
    schemas = _load("schemas.json")["schemas"]
    assert sorted(r["type"] for r in records) == sorted(catalog().events)
    for record in records:
        assert (
            json.loads(schemas[str(record["schema_id"])]["schema"]) == catalog().event(record["type"]).schema
        )
        assert record["headers"]["ce_type"] == record["type"]
        assert record["key"] == record["value"]["trade_id"]


def test_the_python_codec_decodes_each_record_to_its_value() -> None:
    generate = _generator()
    codec = _codec()
    for record in _load("records.json")["records"]:
        value = bytes.fromhex(record["value_hex"])
        assert base64.b64decode(record["value_base64"]) == value
        schema_id, full_name, decoded = asyncio.run(codec.decode_record(value))
        assert (schema_id, full_name) == (record["schema_id"], record["type"])
        assert generate.plain(decoded) == record["value"], record["name"]
        event = asyncio.run(codec.decode(value))
        assert generate.plain(event.to_avro()) == record["value"], record["name"]


def _keyring() -> dict[str, signatures.AuthorityKey]:
    keys = _load("certificates.json")["keys"]
    return signatures.keyring_of(
        signatures.AuthorityKey(
            k["partner_id"],
            k["key_id"],
            base64.b64decode(k["public_key"]),
            revoked_at=dt.datetime.fromisoformat(k["revoked_at"]) if k["revoked_at"] else None,
        )
        for k in keys
    )


@pytest.mark.parametrize("case", _load("certificates.json")["cases"], ids=lambda c: c["name"])
def test_certificate_vectors_hold_for_the_python_code(case: dict[str, Any]) -> None:
    from corridor.core.domain.validation import parse_event

    event = asyncio.run(_codec().decode(bytes.fromhex(case["value_hex"])))
    canonical = signatures.canonical_bytes(event)
    assert canonical.decode("utf-8") == case["canonical"]
    assert hashlib.sha256(canonical).hexdigest() == case["canonical_sha256"]
    verdict = signatures.verify_event(event, _keyring(), certificate_status=case["certificate_status"])
    assert (verdict.status.value, verdict.key_id, verdict.signer) == (
        case["verdict"],
        case["key_id"],
        case["signer"],
    )
    # the JSON forms (gateway, webhook body) give the same bytes as the Avro form
    for form in ("json", "json_members_absent", "json_as_sent"):
        if form in case:
            assert signatures.canonical_bytes(parse_event(case["type"], case[form])) == canonical, form


def test_certificate_vectors_cover_every_verdict_and_the_awkward_cases() -> None:
    cases = _load("certificates.json")["cases"]
    assert {c["verdict"] for c in cases} == {v.value for v in signatures.VerdictStatus}
    text = "".join(c["canonical"] for c in cases)
    for needle in ("ٹریڈ", "天津", "\\n", "\\t", '\\"', "\u2028", "🚢", "2147483647", '"999999999999999.999"',
                   '"0.0001"', '"0"', ".999Z", "2028-02-29"):  # fmt: skip
        assert needle in text, needle
    assert any(c["type"].endswith("CertificateAmended") and c["verdict"] == "valid" for c in cases)


@pytest.mark.parametrize("case", _load("webhooks.json")["cases"], ids=lambda c: c["name"])
def test_webhook_vectors_hold_for_the_python_code(case: dict[str, Any]) -> None:
    body = base64.b64decode(case["body_base64"])
    results = []
    for secret in case["secrets"]:
        try:
            results.append(("ok", signing.verify(case["header"], body, secret, now=case["now"])))
        except signing.SignatureMismatch as exc:
            results.append(("stale" if exc.stale else "refused", exc.reason))
    outcomes = {r[0] for r in results}
    if case["result"] == "ok":
        assert ("ok", case["timestamp"]) in results
    elif case["result"] == "stale":
        assert "stale" in outcomes and "ok" not in outcomes
    else:
        assert outcomes == {"refused"}


def test_webhook_vectors_cover_replay_and_rotation() -> None:
    vectors = _load("webhooks.json")
    assert {c["result"] for c in vectors["cases"]} == {"ok", "bad_signature", "stale", "malformed"}
    answers = [s["answer"] for s in vectors["sequences"][0]["steps"]]
    assert {"processed", "replay", "duplicate", "stale", "bad_signature"} <= set(answers)
