"""The ledger fed hand-produced records (past the gateway, straight onto the trade topics) trying each
attack of issue 13 (docs/adr/0016-trade-admission-and-need-to-know.md). Real Kafka and PostgreSQL.

Each record is dead-lettered naming the rule it broke, and afterwards the ledger's answers (the trade,
its parties, the certificate's status and its verify verdict) show no effect of any of them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from corridor.core import signatures
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import (
    CertificateIssued,
    CertificateRevoked,
    LetterOfCreditEventRecorded,
    PartyAdmitted,
    PartyWithdrawn,
    PreferenceDecided,
)
from corridor.demo import story as demo
from corridor.ledger.topics import DLQ_TOPIC
from tests.integration.ledger.ledger_helpers import InProcessLedger, LedgerSetup, eventually, headers_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _copy(event: TradeEvent, **changes: Any) -> Any:
    return event.model_copy(update={"event_id": uuid.uuid4(), **changes})


async def test_hand_produced_attacks_are_dead_lettered_and_change_nothing(
    ledger: InProcessLedger,
    ledger_setup: LedgerSetup,
    publish: Any,
    api_key: Any,
    db: asyncpg.Pool,
    tail: Any,
) -> None:
    schema = ledger_setup.partners_schema
    await signatures.ensure_schema(db, schema=schema)
    keys: demo.SigningKeys = {}
    for issuer in (demo.TDAP, demo.SGS):
        private = signatures.generate_private_key()
        added = await signatures.add_key(
            db, issuer.party_id, signatures.public_key_bytes(private), schema=schema
        )
        keys[issuer.party_id] = (added.key_id, private)
    story = demo.signed(demo.chromite_story(), keys)
    dlq = await tail(DLQ_TOPIC)
    await publish(*story.events)
    buyer = await api_key(demo.BUYER.party_id, "BUYER")
    rival_id = f"rival-{uuid.uuid4().hex[:8]}"
    rival = await api_key(rival_id, "INSPECTION_BODY")
    sgs = await api_key(demo.SGS.party_id, "INSPECTION_BODY")

    async with httpx.AsyncClient(base_url=ledger.url, timeout=10) as http:

        async def trade(key: str) -> httpx.Response:
            return await http.get(f"/v1/trades/{story.trade_id}", headers=_bearer(key))

        async def complete() -> bool:
            response = await trade(buyer)
            return response.status_code == 200 and response.json()["version"] == len(story.events)

        await eventually(complete, within=90)
        assert (await trade(sgs)).status_code == 200  # admitted: it reads the trade (its role's part)

        cpfta = next(
            e
            for e in story.events
            if isinstance(e, CertificateIssued) and e.certificate_kind == "CPFTA_ORIGIN"
        )
        assay = next(
            e for e in story.events if isinstance(e, CertificateIssued) and e.certificate_kind == "ASSAY"
        )
        decided = next(e for e in story.events if isinstance(e, PreferenceDecided))
        rival_party = demo.SGS.model_copy(update={"party_id": rival_id})
        revoke_as_tdap = CertificateRevoked(
            event_id=uuid.uuid4(),
            trade_id=story.trade_id,
            occurred_at=decided.occurred_at,
            sender=demo.TDAP.party_id,
            certificate_number=cpfta.certificate_number,
            issuer=demo.TDAP,
            reason="revoked by someone who is not TDAP",
        )
        paid = next(
            e
            for e in story.events
            if isinstance(e, LetterOfCreditEventRecorded) and e.credit_event_type == "PAYMENT_MADE"
        )
        sgs_key_id, sgs_key = keys[demo.SGS.party_id]
        attacks: dict[str, tuple[TradeEvent, str]] = {
            "self-named issuer": (
                _copy(assay, sender=rival_id, issuer=rival_party, certificate_number="RIVAL-1"),
                "admitted-party",
            ),
            "competitor as exporter": (
                _copy(
                    assay,
                    certificate_number="SGS-X-2",
                    exporter=demo.BUYER.model_copy(
                        update={"party_id": f"rival-buyer-{uuid.uuid4().hex[:6]}"}
                    ),
                ),
                "named-party-admitted",
            ),
            "revocation in the authority's name": (
                _copy(revoke_as_tdap, sender=demo.SGS.party_id),
                "actor-is-sender",
            ),
            "unsigned revocation": (_copy(revoke_as_tdap), "signed-status-change"),
            "revocation signed with another key": (
                signatures.sign_event(_copy(revoke_as_tdap), sgs_key, sgs_key_id),
                "signed-status-change",
            ),
            "forged preference decision": (
                _copy(
                    decided,
                    sender=demo.SGS.party_id,
                    customs=demo.GACC_TIANJIN.model_copy(update={"party_id": demo.SGS.party_id}),
                ),
                "role-in-trade",
            ),
            "admission by the carrier": (
                PartyAdmitted(
                    event_id=uuid.uuid4(),
                    trade_id=story.trade_id,
                    occurred_at=decided.occurred_at,
                    sender=demo.CARRIER.party_id,
                    party_id=rival_id,
                    role="INSPECTION_BODY",
                ),
                "admission-by-principal",
            ),
            # ADR 0030: the supplier declaring its own documents paid, and a payment under another credit
            "payment by the supplier": (_copy(paid, sender=demo.SUPPLIER.party_id), "credit-bank"),
            "payment under another credit": (_copy(paid, lc_number="HCB-TJ-LC-26-99999"), "credit-bank"),
        }
        withdrawal = PartyWithdrawn(
            event_id=uuid.uuid4(),
            trade_id=story.trade_id,
            occurred_at=decided.occurred_at,
            sender=demo.SUPPLIER.party_id,
            party_id=demo.SGS.party_id,
            role="INSPECTION_BODY",
            reason="assay moved elsewhere",
        )
        after_withdrawal = _copy(
            assay,
            certificate_number="SGS-AFTER-WITHDRAWAL",
            occurred_at=withdrawal.occurred_at + dt.timedelta(hours=1),
        )
        await publish(*(event for event, _ in attacks.values()))
        expected = {str(e.event_id): rule for e, rule in attacks.values()}

        def ours(ids: set[str] | dict[str, str]) -> Any:
            return lambda r: (
                headers_of(r).get("dlq_consumer_group") == ledger_setup.group_id
                and headers_of(r).get("ce_id") in ids
            )

        records = await dlq.wait_for(ours(expected), count=len(expected), within=120)
        # only then the withdrawal: applied before an attack of SGS's (the ledger orders a batch by event
        # time), it would refuse that attack for the withdrawal instead of the rule the attack breaks
        await publish(withdrawal)
        await publish(after_withdrawal)
        expected[str(after_withdrawal.event_id)] = "admitted-party"
        records = await dlq.wait_for(ours(expected), count=len(expected), within=120)
        for record in records:
            headers = headers_of(record)
            rule = expected[headers["ce_id"]]
            assert f"(rule {rule})" in headers["dlq_reason"], headers["dlq_reason"]
            # a stranger may be admitted later, so its record waits first; the others break a rule outright
            assert headers["dlq_error_class"] == (
                "PrerequisiteMissing"
                if headers["ce_id"] == str(attacks["self-named issuer"][0].event_id)
                else "TrustViolation"
            ), headers

        stored = {
            str(r["event_id"])
            for r in await db.fetch(
                f'SELECT event_id FROM "{ledger_setup.db_schema}".events WHERE trade_id = $1', story.trade_id
            )
        }
        assert not stored & set(expected)
        view = (await trade(buyer)).json()
        assert rival_id not in {p["party_id"] for p in view["parties"]}
        assert demo.SGS.party_id not in {p["party_id"] for p in view["parties"]}  # withdrawn
        statuses = {c["certificate_number"]: c["status"] for c in view["certificates"]}
        assert statuses[cpfta.certificate_number] == "PREFERENCE_GRANTED"
        assert "RIVAL-1" not in statuses and "SGS-X-2" not in statuses
        assert view["order"]["credit_paid"] == str(paid.amount.amount if paid.amount else None)
        verdict = await http.get(
            f"/v1/certificates/{cpfta.certificate_number}/verify", headers=_bearer(buyer)
        )
        assert verdict.status_code == 200 and verdict.json()["verdict"] == "valid", verdict.text
        assert (await trade(rival)).status_code == 404
        assert (await trade(sgs)).status_code == 404  # a withdrawn party reads nothing more
