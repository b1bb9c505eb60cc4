"""Attacks on the certificate verification loop (docs/adr/0038-certificate-verification-loop.md), as a
partner who read the code would try them. A real gateway posting to Kafka and a real ledger (its own
consumer group and schema) on the session's stack; the chromite trade's TDAP certificate of origin.

Who may send each step: the origin data and the answer only the certificate's issuer, the request only
the customs office the certificate was presented to, the presentation only a customs office of the
importing country; an answer only until the deadline the customs set. Every impostor is refused with
403 at the gateway, a record produced past the gateway is rejected by the ledger by the same rule, and
what passes the gateway's rules but breaks the loop's (a late answer, a presentation at the exporting
country's customs) is acknowledged and then rejected by the ledger, naming the field. Who sees: nobody
outside the loop (another customs office or issuing authority of the trade, an inspection body, a
competitor) reads any step or the suspension.

The honest loop (a negative answer, the preference denied after the suspension) is
tests/integration/gateway/test_gateway_verification_loop.py, whose helpers these attacks use.
"""

# ruff: noqa: F811 - the receipts module's fixtures are imported and then requested by name

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

import httpx
import pytest

from tests.integration.gateway.test_gateway_receipts import (  # noqa: F401 - fixtures, used by name
    client,
    post,
    produce,
    receipts_ledger,
    until,
)
from tests.integration.gateway.test_gateway_verification_loop import (
    LOOP,
    Loop,
    accepted,
    certificate_in,
    refused_at_gateway,
    view,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

_CERTS = "corridor.trade.certificates."
PRESENTED = _CERTS + "CertificatePresented"


def _set_up(client: httpx.Client, trade: Any, admin: Any, *, presented: bool = True) -> Loop:
    """The trade up to the certificate (and its origin data and presentation at GACC Tianjin when
    ``presented``), with another customs office and another issuing authority admitted to it."""
    loop = Loop(trade, admin)
    for event in loop.before + loop.admissions():
        accepted(client, trade, event)
    if presented:
        accepted(client, trade, loop.origin_data())
        accepted(client, trade, (PRESENTED, loop.presented))
    return loop


def _rejected(client: httpx.Client, trade: Any, event: tuple[str, dict[str, Any]], *fragments: str) -> str:
    """Acknowledged by the gateway (its rules hold), then rejected by the ledger: the receipt's reason."""
    result = post(client, trade, *event, wait="accepted", wait_s=30)
    assert result["status"] == "rejected", (event[0], result)
    reason: str = result["receipt"]["reason"]
    for fragment in fragments:
        assert fragment in reason, reason
    return reason


def test_nobody_but_the_issuer_transmits_origin_data(
    client: httpx.Client, trade: Any, admin: Any, receipts_ledger: Any
) -> None:
    loop = _set_up(client, trade, admin, presented=False)
    sgs = {**loop.other_issuer, "party_id": loop.inspection_body, "role": "INSPECTION_BODY"}
    for impostor in (loop.other_issuer, sgs):
        body = refused_at_gateway(client, trade, loop.origin_data(impostor))
        assert body["errors"], body
    # a competitor (a registered partner, no party of the trade) in the issuer's name
    refused_at_gateway(client, trade, loop.origin_data(sender=loop.competitor))
    accepted(client, trade, loop.origin_data())


def test_nobody_but_the_presented_customs_requests_verification(
    client: httpx.Client, trade: Any, admin: Any, receipts_ledger: Any
) -> None:
    loop = _set_up(client, trade, admin)
    refused_at_gateway(client, trade, loop.request(loop.other_customs))
    refused_at_gateway(client, trade, loop.request(sender=loop.competitor))
    # the importer, who would rather its preference were not suspended, cannot speak for the customs
    refused_at_gateway(client, trade, loop.request(sender=trade.cast.buyer))
    accepted(client, trade, loop.request())


def test_nobody_but_the_issuer_answers(
    client: httpx.Client, trade: Any, admin: Any, receipts_ledger: Any, stack: Any
) -> None:
    loop = _set_up(client, trade, admin)
    accepted(client, trade, loop.request())
    sgs = {**loop.other_issuer, "party_id": loop.inspection_body, "role": "INSPECTION_BODY"}
    for impostor in (loop.other_issuer, sgs):
        refused_at_gateway(client, trade, loop.answer(impostor))
    refused_at_gateway(client, trade, loop.answer(sender=loop.competitor))
    # the importer answering in the issuer's name (a CONFIRMED would lift its suspension)
    event_type, by_importer = loop.answer(sender=trade.cast.buyer)
    by_importer["answer"], by_importer["findings"] = "CONFIRMED", []
    refused_at_gateway(client, trade, (event_type, by_importer))
    # answers produced past the gateway, by another authority and by the importer: the ledger refuses
    # them by the same rule
    for forged, rule in (
        (loop.answer(loop.other_issuer)[1], "verification-parties"),
        (by_importer, "role-in-trade"),
    ):
        produce(stack, trade, event_type, forged)
        refused = until(client, trade, forged["event_id"], forged["sender"], "rejected")
        assert f"rule {rule}" in json.dumps(refused), refused
    accepted(client, trade, loop.answer())


def test_the_exporting_countrys_customs_cannot_take_the_claim(
    client: httpx.Client, trade: Any, admin: Any, receipts_ledger: Any
) -> None:
    """Pakistan Customs, admitted to the trade for the export declaration, records the presentation of
    the certificate (the claim is made in China, at the consignee's customs) to be the office that
    requests its verification and decides its preference: rejected by the ledger, naming the field; the
    real presentation at GACC Tianjin then stands, and Pakistan Customs cannot request verification."""
    loop = _set_up(client, trade, admin, presented=False)
    partner_id, key = admin.add("CUSTOMS")
    trade.keys[partner_id] = key
    pk_customs = {**copy.deepcopy(loop.customs), "party_id": partner_id, "legal_id": partner_id,
                  "name_en": "Pakistan Customs, Sost", "country": "PK"}  # fmt: skip
    admission = loop._event(
        loop.supplier, loop.at - dt.timedelta(days=20), party_id=partner_id, role="CUSTOMS", note="export"
    )
    accepted(client, trade, ("corridor.trade.orders.PartyAdmitted", admission))
    accepted(client, trade, loop.origin_data())
    at_sost = {**loop._event(partner_id, loop.at - dt.timedelta(hours=1)),
               **{k: v for k, v in loop.presented.items() if k not in ("event_id", "occurred_at", "sender")},
               "customs": pk_customs}  # fmt: skip
    _rejected(client, trade, (PRESENTED, at_sost), "customs.country", "importing country CN", "of PK")
    accepted(client, trade, (PRESENTED, loop.presented))
    refused_at_gateway(client, trade, loop.request(pk_customs))
    cert = certificate_in(
        view(receipts_ledger.url, trade, loop.trade_id, loop.customs["party_id"]).json(), loop.number
    )
    assert cert["presented_to"] == loop.customs["party_id"], cert


def test_an_answer_after_the_deadline_is_refused(
    client: httpx.Client, trade: Any, admin: Any, receipts_ledger: Any
) -> None:
    """The issuer (or an exporter who leans on it) answers CONFIRMED after the customs' reply_by, hoping
    for a grant: rejected by the ledger; the verification stands not answered, and the customs may only
    deny the preference."""
    loop = _set_up(client, trade, admin)
    accepted(client, trade, loop.request())  # reply by 30 days after the presentation
    event_type, late = loop.answer()
    late["occurred_at"] = (
        (loop.at + dt.timedelta(days=32)).astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    )
    late["answer"], late["findings"] = "CONFIRMED", []
    _rejected(
        client, trade, (event_type, late), "occurred_at: answered on", "the verification stands not answered"
    )
    granted = loop.decision(dt.timedelta(days=33))
    granted[1]["decision"], granted[1]["reason"] = "GRANTED", None
    _rejected(client, trade, granted, "never answered")
    accepted(client, trade, loop.decision(dt.timedelta(days=33)))
    cert = certificate_in(
        view(receipts_ledger.url, trade, loop.trade_id, loop.customs["party_id"]).json(), loop.number
    )
    assert cert["status"] == "PREFERENCE_DENIED", cert
    assert cert["verification_request"]["answer"] == "NOT_ANSWERED", cert


def test_no_outsider_reads_a_step(client: httpx.Client, trade: Any, admin: Any, receipts_ledger: Any) -> None:
    loop = _set_up(client, trade, admin)
    accepted(client, trade, loop.request())
    accepted(client, trade, loop.answer())
    # the competitor sees no trade; the other authorities see the certificate as presented only
    assert view(receipts_ledger.url, trade, loop.trade_id, loop.competitor).status_code == 404
    for outsider in (loop.other_customs["party_id"], loop.other_issuer["party_id"], loop.inspection_body):
        response = view(receipts_ledger.url, trade, loop.trade_id, outsider)
        assert response.status_code == 200, (outsider, response.text)
        body = response.json()
        assert not {t["type"] for t in body["timeline"]} & LOOP, (outsider, body["timeline"])
        cert = certificate_in(body, loop.number)
        assert cert["status"] == "PRESENTED", (outsider, cert)
        assert not {"verification_request", "origin_data", "origin_findings"} & cert.keys(), (outsider, cert)
    # the verify answer too: the suspension shows to the loop's parties only
    for reader, status in (
        (loop.customs["party_id"], "PREFERENCE_SUSPENDED"),
        (loop.other_customs["party_id"], "PRESENTED"),
        (loop.inspection_body, "PRESENTED"),
    ):
        checked = httpx.get(
            f"{receipts_ledger.url}/v1/certificates/{loop.number}/verify",
            params={"issuer": loop.issuer["party_id"], "trade_id": loop.trade_id},
            headers=trade.auth(reader),
            timeout=30,
        )
        assert checked.status_code == 200 and checked.json()["status"] == status, (reader, checked.text)
