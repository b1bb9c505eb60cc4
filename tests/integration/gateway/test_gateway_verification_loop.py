"""The certificate verification loop through the gateway and the ledger (real Kafka and PostgreSQL):
docs/adr/0038-certificate-verification-loop.md.

A real gateway posting to Kafka and a real ledger (the receipts module's: its own consumer group and
schema) on the session's stack. The chromite trade's TDAP certificate of origin goes round the loop:
origin data transmitted to GACC Tianjin, presented, verification requested (preference suspended), a
decision too early refused by the ledger, TDAP's answer NOT_CONFIRMED, the preference denied after the
suspension; the ledger API shows each state to the loop's parties.

The attacks on the loop (impostors for every step, the exporting country's customs, a late answer,
outsiders reading) are in tests/security/test_attacks_verification_loop.py, with these helpers.
"""

# ruff: noqa: F811 - the receipts module's fixtures are imported and then requested by name

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from typing import Any

import httpx
import pytest

from tests.integration.gateway.test_gateway_receipts import (  # noqa: F401 - fixtures, used by name
    CE_JSON,
    client,
    post,
    produce,
    receipts_ledger,
    until,
)
from tests.unit.gateway.gateway_samples import cloudevent

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

_CERTS = "corridor.trade.certificates."
LOOP = {"OriginDataTransmitted", "VerificationRequested", "VerificationAnswered"}


def _iso(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class Loop:
    """The trade's parties and the loop's events as JSON data (test partner ids)."""

    def __init__(self, trade: Any, admin: Any) -> None:
        events = trade.cast.events
        self.trade = trade
        self.trade_id = trade.cast.trade_id
        self.coo = next(
            d
            for t, d in events
            if t.endswith("CertificateIssued") and d["certificate_kind"] == "CPFTA_ORIGIN"
        )
        self.presented = next(d for t, d in events if t.endswith("CertificatePresented"))
        self.issuer: dict[str, Any] = self.coo["issuer"]
        self.customs: dict[str, Any] = self.presented["customs"]
        self.number: str = self.coo["certificate_number"]
        self.declaration: str = self.presented["declaration_number"]
        self.at = dt.datetime.fromisoformat(self.presented["occurred_at"].replace("Z", "+00:00"))
        # what comes before the certificate: the order, every admission, the certificate itself
        self.before = [
            (t, d)
            for t, d in events
            if t.rsplit(".", 1)[-1] in ("OrderPlaced", "PartyAdmitted") or d is self.coo
        ]
        self.inspection_body = next(
            d["party_id"] for t, d in events if t.endswith("PartyAdmitted") and d["role"] == "INSPECTION_BODY"
        )
        # the outsiders: another customs office and another issuing authority, admitted to this trade by
        # the supplier; and a competitor that is a registered partner but no party of the trade
        self.other_customs = self._outsider(admin, "CUSTOMS", self.customs)
        self.other_issuer = self._outsider(admin, "ISSUING_AUTHORITY", self.issuer)
        self.competitor, competitor_key = admin.add("BUYER")
        trade.keys[self.competitor] = competitor_key
        self.supplier = trade.cast.supplier

    def _outsider(self, admin: Any, role: str, like: dict[str, Any]) -> dict[str, Any]:
        partner_id, key = admin.add(role)
        self.trade.keys[partner_id] = key
        return {**copy.deepcopy(like), "party_id": partner_id, "legal_id": partner_id, "name_en": partner_id}

    def admissions(self) -> list[tuple[str, dict[str, Any]]]:
        return [
            (
                "corridor.trade.orders.PartyAdmitted",
                self._event(
                    self.supplier,
                    self.at - dt.timedelta(days=20),
                    party_id=p["party_id"],
                    role=p["role"],
                    note="another authority of the trade",
                ),
            )
            for p in (self.other_customs, self.other_issuer)
        ]

    def _event(self, sender: str, at: dt.datetime, **fields: Any) -> dict[str, Any]:
        return {
            "event_id": str(uuid.uuid4()),
            "trade_id": self.trade_id,
            "occurred_at": _iso(at),
            "sender": sender,
            **fields,
        }

    def origin_data(
        self, issuer: dict[str, Any] | None = None, sender: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        issuer = issuer or self.issuer
        goods = [
            {
                "item_number": g["item_number"],
                "hs_code": g["hs_code"],
                "quantity": g["quantity"],
                "gross_weight": g["gross_weight"],
            }
            for g in self.coo["goods"]
        ]
        goods[0] = {**goods[0], "quantity": {**goods[0]["quantity"], "value": "5500.000"}}  # not as certified
        data = self._event(
            sender or issuer["party_id"],
            self.at - dt.timedelta(days=14),
            certificate_number=self.number,
            issuer=issuer,
            customs=self.customs,
            exporter_id=self.coo["exporter"]["party_id"],
            consignee_id=self.coo["consignee"]["party_id"],
            goods=goods,
        )
        return _CERTS + "OriginDataTransmitted", data

    def request(
        self, customs: dict[str, Any] | None = None, sender: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        customs = customs or self.customs
        data = self._event(
            sender or customs["party_id"],
            self.at + dt.timedelta(hours=1),
            certificate_number=self.number,
            certificate_issuer=self.issuer["party_id"],
            declaration_number=self.declaration,
            customs=customs,
            reason="the quantity transmitted is not the quantity certified",
            reply_by=(self.at + dt.timedelta(days=30)).date().isoformat(),
        )
        return _CERTS + "VerificationRequested", data

    def answer(
        self, issuer: dict[str, Any] | None = None, sender: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        issuer = issuer or self.issuer
        data = self._event(
            sender or issuer["party_id"],
            self.at + dt.timedelta(days=5),
            certificate_number=self.number,
            issuer=issuer,
            customs=self.customs,
            answer="NOT_CONFIRMED",
            findings=["the exporter's production records do not cover the quantity certified"],
        )
        return _CERTS + "VerificationAnswered", data

    def decision(self, after: dt.timedelta) -> tuple[str, dict[str, Any]]:
        data = self._event(
            self.customs["party_id"],
            self.at + after,
            certificate_number=self.number,
            declaration_number=self.declaration,
            customs=self.customs,
            decision="DENIED",
            reason="origin not confirmed by the issuing authority (verification)",
        )
        return _CERTS + "PreferenceDecided", data


def accepted(client: httpx.Client, trade: Any, event: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    result = post(client, trade, *event, wait="accepted", wait_s=30)
    assert result["status"] == "accepted", (event[0], result)
    return result


def refused_at_gateway(client: httpx.Client, trade: Any, event: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    event_type, data = event
    response = client.post(
        "/v1/events",
        content=json.dumps(cloudevent(event_type, data)),
        headers={**CE_JSON, **trade.auth(data["sender"])},
    )
    assert response.status_code == 403, (event_type, data["sender"], response.status_code, response.text)
    body: dict[str, Any] = response.json()
    return body


def view(ledger_url: str, trade: Any, trade_id: str, reader: str) -> httpx.Response:
    return httpx.get(f"{ledger_url}/v1/trades/{trade_id}", headers=trade.auth(reader), timeout=30)


def certificate_in(body: dict[str, Any], number: str) -> dict[str, Any]:
    return next(c for c in body["certificates"] if c["certificate_number"] == number)


def _set_up(client: httpx.Client, trade: Any, admin: Any) -> Loop:
    loop = Loop(trade, admin)
    for event in loop.before + loop.admissions():
        accepted(client, trade, event)
    return loop


def test_the_loop_negative_answer_and_preference_denied_after_suspension(
    client: httpx.Client, trade: Any, admin: Any, receipts_ledger: Any
) -> None:
    loop = _set_up(client, trade, admin)
    customs = loop.customs["party_id"]
    accepted(client, trade, loop.origin_data())
    accepted(client, trade, ("corridor.trade.certificates.CertificatePresented", loop.presented))
    body = view(receipts_ledger.url, trade, loop.trade_id, customs).json()
    cert = certificate_in(body, loop.number)
    # the transmitted quantity is not the certified one: a finding the importing customs reads
    assert cert["status"] == "PRESENTED"
    assert [f for f in cert["origin_findings"] if f.startswith("goods[1].quantity")], cert["origin_findings"]

    accepted(client, trade, loop.request())
    cert = certificate_in(view(receipts_ledger.url, trade, loop.trade_id, customs).json(), loop.number)
    assert cert["status"] == "PREFERENCE_SUSPENDED", cert
    assert cert["verification_request"]["reply_by"] == (loop.at + dt.timedelta(days=30)).date().isoformat()

    # a decision before the answer and before the deadline: acknowledged, then refused by the ledger
    early = post(client, trade, *loop.decision(dt.timedelta(hours=2)), wait="accepted", wait_s=30)
    assert early["status"] == "rejected" and "stays suspended" in early["receipt"]["reason"], early

    accepted(client, trade, loop.answer())
    accepted(client, trade, loop.decision(dt.timedelta(days=6)))
    for reader in (customs, loop.issuer["party_id"], trade.cast.buyer, loop.supplier):
        response = view(receipts_ledger.url, trade, loop.trade_id, reader)
        assert response.status_code == 200, (reader, response.text)
        cert = certificate_in(response.json(), loop.number)
        assert cert["status"] == "PREFERENCE_DENIED", (reader, cert)
        assert cert["verification_request"]["answer"] == "NOT_CONFIRMED", (reader, cert)
        assert {t["type"] for t in response.json()["timeline"]} >= LOOP, reader
