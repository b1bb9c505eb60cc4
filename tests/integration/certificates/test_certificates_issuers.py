"""Certificates known by (issuer, number) through Kafka into the ledger (real Kafka + PostgreSQL): two
issuers' equal numbers in one trade are two rows, two verify answers and two lifecycles; the verify API
and the CLI ask for the issuer when the number alone is ambiguous; a ledger table keyed by (trade,
number) is migrated with its rows (docs/adr/0033-cpfta-certificate-and-issuer-keys.md)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from click.testing import CliRunner

from corridor.cli.certificates import certificates as certificates_group
from corridor.core.domain.events import CertificateIssued, CertificatePresented, CertificateRevoked
from corridor.demo.story import SGS, chromite_story
from corridor.ledger.store import LedgerStore
from tests.integration.ledger.ledger_helpers import InProcessLedger, LedgerSetup, eventually

pytestmark = pytest.mark.integration

COO = "CPFTA-PK-2026-118734"
ASSAY = "SGS-KHI-MIN-26-03391"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_two_issuers_equal_numbers_through_the_ledger_api_and_cli(
    stack: Any,
    ledger: InProcessLedger,
    publish: Any,
    api_key: Any,
    db: asyncpg.Pool,
    ledger_setup: LedgerSetup,
) -> None:
    story = chromite_story()
    events = story.events
    coo = next(e for e in events if isinstance(e, CertificateIssued) and e.certificate_number == COO)
    assay = next(e for e in events if isinstance(e, CertificateIssued) and e.certificate_number == ASSAY)
    # SGS happens to number its assay certificate like TDAP's certificate of origin
    same = assay.model_copy(update={"event_id": uuid.uuid4(), "certificate_number": COO})
    presented = next(e for e in events if isinstance(e, CertificatePresented))
    unnamed = presented.model_copy(update={"event_id": uuid.uuid4(), "occurred_at": coo.occurred_at})
    named = presented.model_copy(
        update={
            "event_id": uuid.uuid4(),
            "occurred_at": coo.occurred_at + dt.timedelta(hours=1),
            "certificate_issuer": "tdap",
        }
    )
    revoked = CertificateRevoked(
        event_id=uuid.uuid4(),
        trade_id=story.trade_id,
        occurred_at=coo.occurred_at + dt.timedelta(hours=2),
        sender=SGS.party_id,
        certificate_number=COO,
        issuer=SGS,
        reason="assay sample mislabelled",
    )
    # the order, its negotiation and the admissions (the certificates' prerequisites), then both
    await publish(*events[:8], same, coo, unnamed, named, revoked)

    buyer = await api_key("tianjin-rongda-smelting", "BUYER")
    customs = await api_key("gacc-tianjin", "CUSTOMS")
    async with httpx.AsyncClient(base_url=ledger.url, timeout=10) as http:

        async def receipt(event_id: uuid.UUID) -> dict[str, Any] | None:
            response = await http.get(f"/v1/events/{event_id}", headers=bearer(customs))
            body = response.json() if response.status_code == 200 else None
            return body if body and body["status"] in ("accepted", "rejected") else None

        async def all_decided() -> bool:
            trade = await http.get(f"/v1/trades/{story.trade_id}", headers=bearer(buyer))
            return (
                trade.status_code == 200
                and trade.json()["version"] >= 12
                and bool(await receipt(unnamed.event_id))
            )

        await eventually(all_decided, within=90)
        refused = await receipt(unnamed.event_id)
        assert refused is not None and refused["status"] == "rejected", refused
        assert "certificate_issuer" in refused["reason"] and "'sgs-pakistan', 'tdap'" in refused["reason"], (
            refused
        )
        accepted = await receipt(named.event_id)
        assert accepted is not None and accepted["status"] == "accepted", accepted

        async def verify(**params: str) -> httpx.Response:
            return await http.get(f"/v1/certificates/{COO}/verify", params=params, headers=bearer(buyer))

        ambiguous = await verify()
        assert ambiguous.status_code == 409, ambiguous.text
        detail = ambiguous.json()["detail"]
        assert "several issuers (sgs-pakistan, tdap)" in detail and "?issuer=" in detail
        tdap = await verify(issuer="tdap")
        assert tdap.status_code == 200, tdap.text
        assert (tdap.json()["issuer"], tdap.json()["status"]) == ("tdap", "PRESENTED")
        sgs = await verify(issuer="sgs-pakistan")
        assert (sgs.json()["issuer"], sgs.json()["status"], sgs.json()["verdict"]) == (
            "sgs-pakistan",
            "REVOKED",
            "unsigned",  # an unsigned certificate says so before its status
        )
        assert (await verify(issuer="cn-miit")).status_code == 404
        bad = await verify(issuer="TDAP; DROP TABLE")
        assert bad.status_code == 422 and "issuer" in bad.json()["detail"]

    rows = await db.fetch(
        f'SELECT issuer, kind, status FROM "{ledger_setup.db_schema}".certificates '
        "WHERE trade_id = $1 AND certificate_number = $2 ORDER BY issuer",
        story.trade_id,
        COO,
    )
    assert [tuple(r) for r in rows] == [
        ("sgs-pakistan", "ASSAY", "REVOKED"),
        ("tdap", "CPFTA_ORIGIN", "PRESENTED"),
    ]

    env = {
        "CORRIDOR_DATABASE_URL": stack.database_url,
        "CORRIDOR_PARTNERS_DB_SCHEMA": ledger_setup.partners_schema,
        "CORRIDOR_LEDGER_DB_SCHEMA": ledger_setup.db_schema,
    }

    def run_cli(*args: str) -> Any:
        return CliRunner().invoke(certificates_group, list(args), env=env, catch_exceptions=False)

    result = await asyncio.to_thread(run_cli, "verify", COO, "--trade-id", str(story.trade_id))
    assert result.exit_code == 1 and "--issuer" in result.output, result.output
    result = await asyncio.to_thread(
        run_cli, "verify", COO, "--trade-id", str(story.trade_id), "--issuer", "tdap", "--json"
    )
    # the in-process ledger of this test may log to the same stdout meanwhile: the JSON is the object
    body = json.loads(result.output[result.output.index("{\n") :])
    assert (body["issuer"], body["status"], body["verdict"]) == ("tdap", "PRESENTED", "unsigned"), body


async def test_a_table_keyed_by_trade_and_number_is_migrated_with_its_rows(
    stack: Any, db: asyncpg.Pool
) -> None:
    schema = f"cert_key_{uuid.uuid4().hex[:8]}"
    trade_id = uuid.uuid4()
    try:
        # the certificates table as ledgers before ADR 0033 made it, with a row
        await db.execute(f'CREATE SCHEMA "{schema}"')
        await db.execute(
            f"""CREATE TABLE "{schema}".certificates (
                    trade_id uuid NOT NULL, certificate_number text NOT NULL, kind text NOT NULL,
                    issuer text NOT NULL, status text NOT NULL, valid_until date, superseded_by text,
                    verification text, preference text, state jsonb NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (trade_id, certificate_number))"""
        )
        await db.execute(
            f"""INSERT INTO "{schema}".certificates
                    (trade_id, certificate_number, kind, issuer, status, state)
                VALUES ($1, $2, 'CPFTA_ORIGIN', 'tdap', 'ISSUED', '{{}}')""",
            trade_id,
            COO,
        )
        store = LedgerStore(db, schema)
        await store.migrate()
        await store.migrate()  # idempotent
        key = await db.fetchval(
            """SELECT array_agg(a.attname::text ORDER BY array_position(i.indkey, a.attnum))
               FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
               WHERE i.indrelid = $1::regclass AND i.indisprimary""",
            f'"{schema}".certificates',
        )
        assert key == ["trade_id", "issuer", "certificate_number"]
        row = await db.fetchrow(
            f'SELECT issuer, status FROM "{schema}".certificates WHERE trade_id = $1', trade_id
        )
        assert tuple(row) == ("tdap", "ISSUED")
        # another issuer's certificate of the same number in the same trade is a row of its own
        await db.execute(
            f"""INSERT INTO "{schema}".certificates
                    (trade_id, certificate_number, kind, issuer, status, state)
                VALUES ($1, $2, 'ASSAY', 'sgs-pakistan', 'ISSUED', '{{}}')""",
            trade_id,
            COO,
        )
        with pytest.raises(asyncpg.UniqueViolationError):
            await db.execute(
                f"""INSERT INTO "{schema}".certificates (trade_id, certificate_number, kind, issuer, status,
                                                         state)
                    VALUES ($1, $2, 'ASSAY', 'sgs-pakistan', 'ISSUED', '{{}}')""",
                trade_id,
                COO,
            )
    finally:
        await db.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
