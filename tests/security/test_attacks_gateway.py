"""Attacks on the trust model through the gateway, as a partner who read the code would try them
(issue 13, docs/adr/0016-trade-admission-and-need-to-know.md). Real gateway, Kafka and PostgreSQL.

Each attack is refused with a problem+json that names the field (and, for a trust rule, the rule), and
afterwards the trade's recorded trust facts (who is admitted, who issued what) and the trade topic show
no trace of it.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.unit.gateway.gateway_samples import cloudevent

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

CE_JSON = {"Content-Type": "application/cloudevents+json"}

_T = "corridor.trade."


def _post(http: Any, event_type: str, data: dict[str, Any], key: str) -> Any:
    doc = cloudevent(event_type, data)
    return http.post(
        "/v1/events", content=json.dumps(doc), headers={**CE_JSON, "Authorization": f"Bearer {key}"}
    )


def _refused(response: Any, status: int, field: str, rule: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    errors = body["errors"]
    assert any(e["field"] == field for e in errors), errors
    if rule is not None:
        assert any(e.get("rule") == rule for e in errors if e["field"] == field), errors
    return body


def _fresh(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**json.loads(json.dumps(data)), "event_id": str(uuid.uuid4()), **changes}


@pytest.fixture
def played(http: Any, trade: Any) -> Any:
    """The chromite story played through the gateway by its six registered partners (admissions
    included), every event accepted."""
    for event_type, data in trade.cast.events:
        sender = data["sender"]
        response = _post(http, event_type, data, trade.keys[sender])
        assert response.status_code == 201, (event_type, response.text)
    return trade


def _members(admin: Any, trade_id: str) -> set[str]:
    rows = admin.fetch(
        "SELECT payload FROM {gw}.trade_facts WHERE trade_id = $1 AND event_type = $2",
        uuid.UUID(trade_id),
        _T + "orders.PartyAdmitted",
    )
    return {json.loads(r["payload"])["party_id"] for r in rows}


def test_a_stranger_naming_itself_issuer_does_not_join_and_cannot_name_a_competitor(
    http: Any, admin: Any, played: Any
) -> None:
    cast = played.cast
    stranger, key = admin.add("INSPECTION_BODY")
    issued = cast.first("CertificateIssued")
    issuer = {**issued["issuer"], "party_id": stranger}
    attack = _fresh(issued, sender=stranger, issuer=issuer, certificate_number="CCIC-X-1")
    _refused(
        _post(http, _T + "certificates.CertificateIssued", attack, key), 403, "data.sender", "admitted-party"
    )
    # a competing buyer named as exporter: not a SUPPLIER (422), and as a BUYER not a party (403)
    rival, _ = admin.add("BUYER")
    sgs = cast.partner("sgs-pakistan")
    named = _fresh(issued, certificate_number="SGS-X-2", exporter={**issued["exporter"], "party_id": rival})
    _refused(
        _post(http, _T + "certificates.CertificateIssued", named, played.keys[sgs]), 422, "data.exporter.role"
    )
    named["exporter"]["role"] = "BUYER"
    _refused(
        _post(http, _T + "certificates.CertificateIssued", named, played.keys[sgs]),
        403,
        "data.exporter.party_id",
        "named-party-admitted",
    )
    assert stranger not in _members(admin, cast.trade_id) and rival not in _members(admin, cast.trade_id)


def test_an_inspection_body_cannot_revoke_the_authoritys_certificate(
    http: Any, admin: Any, played: Any
) -> None:
    cast = played.cast
    sgs, tdap = cast.partner("sgs-pakistan"), cast.partner("tdap")
    cpfta = next(
        d
        for t, d in cast.events
        if t.endswith("CertificateIssued") and d["certificate_kind"] == "CPFTA_ORIGIN"
    )
    revocation = {
        "event_id": str(uuid.uuid4()),
        "trade_id": cast.trade_id,
        "occurred_at": cpfta["occurred_at"],
        "sender": sgs,
        "certificate_number": cpfta["certificate_number"],
        "issuer": cpfta["issuer"],
        "reason": "forged by a competitor",
    }
    _refused(
        _post(http, _T + "certificates.CertificateRevoked", revocation, played.keys[sgs]),
        403,
        "data.issuer.party_id",
        "actor-is-sender",
    )
    sgs_party = next(d for t, d in cast.events if t.endswith("CertificateIssued"))["issuer"]
    own = _fresh(revocation, issuer=sgs_party)
    _refused(
        _post(http, _T + "certificates.CertificateRevoked", own, played.keys[sgs]),
        403,
        "data.issuer.party_id",
        "certificate-issuer",
    )
    assert tdap in _members(admin, cast.trade_id)


def test_unregistered_and_invented_party_ids_are_refused(http: Any, admin: Any, trade: Any) -> None:
    cast = trade.cast
    placed = _fresh(cast.first("OrderPlaced"), trade_id=str(uuid.uuid4()))
    placed["supplier"]["party_id"] = "no-such-partner"
    body = _refused(
        _post(http, _T + "orders.OrderPlaced", placed, trade.keys[cast.buyer]), 422, "data.supplier.party_id"
    )
    assert "not a registered partner" in json.dumps(body)
    # a flood of invented party ids in one batch: every one named, nothing produced, no topic
    opened = _fresh(cast.first("OrderPlaced"))
    assert _post(http, _T + "orders.OrderPlaced", opened, trade.keys[cast.buyer]).status_code == 201
    invented = [f"invented-{uuid.uuid4().hex[:10]}" for _ in range(50)]
    batch = [
        cloudevent(
            _T + "orders.PartyAdmitted",
            {
                "event_id": str(uuid.uuid4()),
                "trade_id": opened["trade_id"],
                "occurred_at": opened["occurred_at"],
                "sender": cast.buyer,
                "party_id": party_id,
                "role": "CARRIER",
            },
        )
        for party_id in invented
    ]
    response = http.post(
        "/v1/events/batch",
        content=json.dumps(batch),
        headers={
            "Content-Type": "application/cloudevents-batch+json",
            "Authorization": f"Bearer {trade.keys[cast.buyer]}",
        },
    )
    assert response.status_code == 422, response.text
    assert len({e["index"] for e in response.json()["errors"]}) == 50
    assert _members(admin, opened["trade_id"]) == set()


def test_forged_and_misplaced_preference_decisions_are_refused(http: Any, admin: Any, played: Any) -> None:
    cast = played.cast
    decided = cast.first("PreferenceDecided")
    sgs = cast.partner("sgs-pakistan")
    # an inspection body "deciding" the preference: its role may not publish it at all
    forged = _fresh(decided, sender=sgs, customs={**decided["customs"], "party_id": sgs})
    _refused(_post(http, _T + "certificates.PreferenceDecided", forged, played.keys[sgs]), 403, "type")
    # a customs office that is not admitted
    other, other_key = admin.add("CUSTOMS")
    elsewhere = _fresh(decided, sender=other, customs={**decided["customs"], "party_id": other})
    _refused(
        _post(http, _T + "certificates.PreferenceDecided", elsewhere, other_key),
        403,
        "data.sender",
        "admitted-party",
    )
    # admitted, but the certificate was presented to another office
    admission = _fresh(cast.first("PartyAdmitted"), party_id=other, role="CUSTOMS", sender=cast.buyer)
    assert _post(http, _T + "orders.PartyAdmitted", admission, played.keys[cast.buyer]).status_code == 201
    _refused(
        _post(http, _T + "certificates.PreferenceDecided", _fresh(elsewhere), other_key),
        403,
        "data.customs.party_id",
        "presented-customs",
    )


def test_admissions_come_from_the_principals_only_and_a_withdrawn_party_is_silenced(
    http: Any, admin: Any, played: Any
) -> None:
    cast = played.cast
    carrier, sgs = cast.carrier, cast.partner("sgs-pakistan")
    stranger, _ = admin.add("INSPECTION_BODY")
    admission = _fresh(cast.first("PartyAdmitted"), sender=carrier, party_id=stranger, role="INSPECTION_BODY")
    _refused(_post(http, _T + "orders.PartyAdmitted", admission, played.keys[carrier]), 403, "type")
    assert stranger not in _members(admin, cast.trade_id)
    withdrawal = {
        "event_id": str(uuid.uuid4()),
        "trade_id": cast.trade_id,
        "occurred_at": admission["occurred_at"],
        "sender": cast.supplier,
        "party_id": sgs,
        "role": "INSPECTION_BODY",
        "reason": "assay moved to another inspection body",
    }
    assert (
        _post(http, _T + "orders.PartyWithdrawn", withdrawal, played.keys[cast.supplier]).status_code == 201
    )
    issued = _fresh(cast.first("CertificateIssued"), certificate_number="SGS-AFTER-WITHDRAWAL")
    body = _refused(
        _post(http, _T + "certificates.CertificateIssued", issued, played.keys[sgs]),
        403,
        "data.sender",
        "admitted-party",
    )
    assert "withdrawn" in json.dumps(body)


def test_letter_of_credit_events_come_only_from_the_credits_parties(
    http: Any, admin: Any, played: Any
) -> None:
    """ADR 0030: the supplier or the advising bank presents; only a bank the order's credit names notes
    discrepancies and pays; a bank must be admitted, and its credit must be the order's."""
    cast = played.cast
    credit = _T + "orders.LetterOfCreditEventRecorded"
    paid = next(d for t, d in cast.events if t == credit and d["credit_event_type"] == "PAYMENT_MADE")
    # a carrier (not a role that publishes credit events) paying itself
    carrier = cast.carrier
    _refused(_post(http, credit, _fresh(paid, sender=carrier), played.keys[carrier]), 403, "type")
    # the supplier may present, but not declare its own documents paid
    supplier = cast.supplier
    _refused(
        _post(http, credit, _fresh(paid, sender=supplier), played.keys[supplier]),
        403,
        "data.credit_event_type",
        "credit-bank",
    )
    # a registered bank that nobody admitted
    stranger, stranger_key = admin.add("BANK")
    _refused(
        _post(http, credit, _fresh(paid, sender=stranger), stranger_key), 403, "data.sender", "admitted-party"
    )
    # admitted by the buyer, but not a bank of this credit
    admission = _fresh(cast.first("PartyAdmitted"), party_id=stranger, role="BANK", sender=cast.buyer)
    assert _post(http, _T + "orders.PartyAdmitted", admission, played.keys[cast.buyer]).status_code == 201
    _refused(
        _post(http, credit, _fresh(paid, sender=stranger), stranger_key),
        403,
        "data.credit_event_type",
        "credit-bank",
    )
    # the credit's own issuing bank, naming another credit
    issuing = paid["sender"]
    _refused(
        _post(http, credit, _fresh(paid, lc_number="HCB-TJ-LC-26-99999"), played.keys[issuing]),
        403,
        "data.lc_number",
        "credit-bank",
    )
