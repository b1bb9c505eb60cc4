"""Signed certificates through Kafka into the ledger: every verdict from signatures.verify_event, the
ledger's GET /v1/certificates/{number}/verify and ``corridor certificates verify`` (real Kafka + PostgreSQL).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from click.testing import CliRunner, Result

from corridor.cli.certificates import certificates as certificates_group
from corridor.core import signatures
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import CertificateAmended, CertificateIssued, CertificateRevoked
from corridor.demo.story import TDAP, Story, chromite_story, signed
from tests.integration.ledger.ledger_helpers import InProcessLedger, LedgerSetup, eventually

pytestmark = pytest.mark.integration

COO = "CPFTA-PK-2026-118734"
AMENDED_COO = "CPFTA-PK-2026-119052"
ASSAY = "SGS-KHI-MIN-26-03391"
BUYER = "tianjin-rongda-smelting"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def coo_of(story: Story) -> CertificateIssued:
    return next(e for e in story.events if isinstance(e, CertificateIssued) and e.certificate_number == COO)


def order_and(story: Story, *events: TradeEvent) -> list[TradeEvent]:
    """The trade's order negotiation and admissions (the certificate's prerequisites), then ``events``."""
    return [*story.events[:8], *events]


async def wait_for_versions(http: httpx.AsyncClient, key: str, trades: dict[uuid.UUID, int]) -> None:
    async def stored() -> bool:
        for trade_id, version in trades.items():
            response = await http.get(f"/v1/trades/{trade_id}", headers=bearer(key))
            if response.status_code != 200 or response.json()["version"] < version:
                return False
        return True

    await eventually(stored, within=90)


def run_cli(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(certificates_group, list(args), env=env, catch_exceptions=False)


async def test_every_verdict_through_the_ledger_its_api_and_the_cli(
    stack: Any,
    ledger: InProcessLedger,
    publish: Any,
    api_key: Any,
    db: asyncpg.Pool,
    ledger_setup: LedgerSetup,
    tmp_path: Path,
) -> None:
    schema = ledger_setup.partners_schema
    await signatures.ensure_schema(db, schema=schema)
    tdap_key = signatures.generate_private_key()
    tdap = await signatures.add_key(db, "tdap", signatures.public_key_bytes(tdap_key), schema=schema)
    sgs_key = signatures.generate_private_key()  # not registered (yet)
    keys = {"tdap": (tdap.key_id, tdap_key), "sgs-pakistan": ("sgs-pakistan-unregistered", sgs_key)}

    # A: the whole chromite story, signed: the CPFTA certificate is valid through to the preference
    # granted; SGS signed its assay with a key it never registered
    whole = signed(chromite_story(), keys)
    # B: the CPFTA certificate altered after TDAP signed it (one more line in box 11)
    b_story = signed(chromite_story(), keys)
    forged = coo_of(b_story).model_copy(update={"remarks": "Preference: 100 % duty exemption"})
    tampered = order_and(b_story, forged)
    # C: signed, then revoked by TDAP (a signed certificate's revocation is signed too, ADR 16)
    c_story = signed(chromite_story(), keys)
    revocation = signatures.sign_event(
        CertificateRevoked(
            event_id=uuid.uuid4(),
            trade_id=c_story.trade_id,
            occurred_at=coo_of(c_story).occurred_at + dt.timedelta(days=2),
            sender="tdap",
            certificate_number=COO,
            issuer=TDAP,
            reason="Origin criterion not met on verification visit",
        ),
        tdap_key,
        tdap.key_id,
    )
    revoked = order_and(c_story, coo_of(c_story), revocation)
    # D: signed, then superseded by a signed amendment
    d_story = signed(chromite_story(), keys)
    amendment = signatures.sign_event(
        CertificateAmended(
            event_id=uuid.uuid4(),
            trade_id=d_story.trade_id,
            occurred_at=coo_of(d_story).occurred_at + dt.timedelta(days=1),
            sender="tdap",
            certificate_number=AMENDED_COO,
            supersedes_certificate_number=COO,
            issuer=TDAP,
            goods=coo_of(d_story).goods,
            reason="Box 7: marks corrected",
        ),
        tdap_key,
        tdap.key_id,
    )
    superseded = order_and(d_story, coo_of(d_story), amendment)

    # what anyone can check offline, before the ledger sees anything
    ring = await signatures.load_keyring(db, schema=schema)
    assert signatures.verify_event(coo_of(whole), ring).status == "valid"
    assert signatures.verify_event(forged, ring).status == "tampered"
    assert (
        signatures.verify_event(
            next(e for e in whole.events if getattr(e, "certificate_number", "") == ASSAY), ring
        ).status
        == "unknown_signer"
    )

    await publish(*whole.events, *tampered, *revoked, *superseded)
    buyer = await api_key(BUYER, "BUYER")
    stranger = await api_key(f"stranger-{uuid.uuid4().hex[:6]}", "BUYER")
    trades = {
        whole.trade_id: len(whole.events),
        b_story.trade_id: len(tampered),
        c_story.trade_id: len(revoked),
        d_story.trade_id: len(superseded),
    }
    async with httpx.AsyncClient(base_url=ledger.url, timeout=10) as http:
        await wait_for_versions(http, buyer, trades)

        async def verify(number: str, trade_id: uuid.UUID, key: str = buyer) -> httpx.Response:
            return await http.get(
                f"/v1/certificates/{number}/verify", params={"trade_id": str(trade_id)}, headers=bearer(key)
            )

        expected = [
            (COO, whole.trade_id, "valid", "PREFERENCE_GRANTED", "valid"),
            (ASSAY, whole.trade_id, "unknown_signer", "ISSUED", "unknown_signer"),
            (COO, b_story.trade_id, "tampered", "ISSUED", "tampered"),
            (COO, c_story.trade_id, "revoked", "REVOKED", "valid"),
            (COO, d_story.trade_id, "superseded", "SUPERSEDED", "valid"),
            (AMENDED_COO, d_story.trade_id, "valid", "ISSUED", "valid"),
        ]
        for number, trade_id, verdict, status, recorded in expected:
            response = await verify(number, trade_id)
            assert response.status_code == 200, response.text
            body = response.json()
            assert (body["verdict"], body["status"], body["recorded_verdict"]) == (
                verdict,
                status,
                recorded,
            ), (
                number,
                body,
            )
            assert body["certificate_number"] == number and body["trade_id"] == str(trade_id)
        body = (await verify(COO, b_story.trade_id)).json()
        assert (
            body["key_id"] == tdap.key_id and body["signer"] == "tdap" and "does not match" in body["reason"]
        )

        # a trade the caller is not party to is not there; several trades share the number: name one
        assert (await verify(COO, whole.trade_id, stranger)).status_code == 404
        assert (await http.get(f"/v1/certificates/{COO}/verify")).status_code == 401
        ambiguous = await http.get(f"/v1/certificates/{COO}/verify", headers=bearer(buyer))
        assert ambiguous.status_code == 409 and "trade_id" in ambiguous.json()["detail"]

        # the stored projection row carries the verdict from ingestion
        row = await db.fetchrow(
            f'SELECT signature_verdict, signature_key_id FROM "{ledger_setup.db_schema}".certificates '
            "WHERE trade_id = $1 AND certificate_number = $2",
            b_story.trade_id,
            COO,
        )
        assert (row["signature_verdict"], row["signature_key_id"]) == ("tampered", tdap.key_id)

        # SGS registers its key late: checked now the assay is valid; the ledger's record keeps what it saw
        await signatures.add_key(
            db,
            "sgs-pakistan",
            signatures.public_key_bytes(sgs_key),
            key_id="sgs-pakistan-unregistered",
            schema=schema,
        )
        body = (await verify(ASSAY, whole.trade_id)).json()
        assert (body["verdict"], body["recorded_verdict"]) == ("valid", "unknown_signer")

    # the CLI says the same, from the ledger's copy and from a file
    env = {
        "CORRIDOR_DATABASE_URL": stack.database_url,
        "CORRIDOR_PARTNERS_DB_SCHEMA": schema,
        "CORRIDOR_LEDGER_DB_SCHEMA": ledger_setup.db_schema,
    }
    result = await asyncio.to_thread(
        run_cli, env, "verify", COO, "--trade-id", str(b_story.trade_id), "--json"
    )
    assert result.exit_code == 1 and json.loads(result.output)["verdict"] == "tampered", result.output
    result = await asyncio.to_thread(run_cli, env, "verify", COO, "--trade-id", str(whole.trade_id))
    assert result.exit_code == 0 and result.output.startswith(f"{COO}: VALID"), result.output
    result = await asyncio.to_thread(run_cli, env, "verify", COO, "--trade-id", str(c_story.trade_id))
    assert result.exit_code == 1 and "REVOKED" in result.output
    result = await asyncio.to_thread(run_cli, env, "verify", COO)
    assert result.exit_code == 1 and "--trade-id" in result.output

    forged_file = tmp_path / "forged.json"
    forged_file.write_text(json.dumps({"type": forged.avro_name, "data": forged.model_dump(mode="json")}))
    result = await asyncio.to_thread(run_cli, env, "verify", "--file", str(forged_file), "--json")
    assert result.exit_code == 1 and json.loads(result.output)["verdict"] == "tampered"
    assert json.loads(result.output)["status"] == "ISSUED"  # the ledger's status of that certificate
    genuine_file = tmp_path / "genuine.json"
    genuine_file.write_text(json.dumps(coo_of(d_story).model_dump(mode="json")))  # bare event, no type
    result = await asyncio.to_thread(run_cli, env, "verify", "--file", str(genuine_file), "--json")
    assert result.exit_code == 1 and json.loads(result.output)["verdict"] == "superseded"
