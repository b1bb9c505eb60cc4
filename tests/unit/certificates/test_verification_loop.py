"""The certificate verification loop, every transition valid and invalid (pure lifecycle and trust
rules, no I/O): docs/adr/0038-certificate-verification-loop.md.

The chromite story's CPFTA certificate of origin (TDAP's) is taken up to its presentation at GACC
Tianjin; the loop's events are built here on top of it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from corridor.core.domain import trust
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import (
    CertificateAmended,
    CertificateIssued,
    CertificatePresented,
    CertificateRevoked,
    CertificateVerified,
    OriginDataTransmitted,
    Party,
    PartyAdmitted,
    PreferenceDecided,
    VerificationAnswered,
    VerificationRequested,
)
from corridor.core.domain.lifecycle import LifecycleViolation, PrerequisiteMissing, TradeState, apply
from corridor.core.domain.lifecycle.certificate import DEFAULT_REPLY_DAYS
from corridor.core.domain.lifecycle.state import CertificateState, CertificateStatus
from corridor.core.domain.trust import certificate_key
from corridor.demo.story import BUYER, CARRIER, GACC_TIANJIN, SGS, SUPPLIER, TDAP, chromite_story, party
from corridor.ledger.views import trade_view

COO = "CPFTA-PK-2026-118734"
ASSAY = "SGS-KHI-MIN-26-03391"
DECLARATION = "020220260004417"
CST = dt.timezone(dt.timedelta(hours=8))
#: Another customs office and another issuing authority admitted to the same trade: "another authority".
KARACHI_CUSTOMS = party(
    "pk-customs-karachi", "CUSTOMS", "PK", "CORRIDOR", "pk-customs-karachi", "Pakistan Customs, Karachi", "-"
)
CHAMBER = party(
    "karachi-chamber", "ISSUING_AUTHORITY", "PK", "CORRIDOR", "karachi-chamber", "Karachi Chamber", "-"
)


@pytest.fixture(scope="module")
def story() -> list[TradeEvent]:
    return chromite_story().events


def _first(events: list[TradeEvent], cls: type[TradeEvent], **match: Any) -> Any:
    return next(e for e in events if isinstance(e, cls) and all(getattr(e, k) == v for k, v in match.items()))


def _replay(events: list[TradeEvent], state: TradeState | None = None) -> TradeState:
    for event in events:
        state = apply(state, event)
    assert state is not None
    return state


def _stamp(
    cls: type[TradeEvent], story: list[TradeEvent], at: dt.datetime, sender: Party, **fields: Any
) -> Any:
    return cls(
        event_id=uuid.uuid4(),
        trade_id=story[0].trade_id,
        occurred_at=at,
        sender=sender.party_id,
        **fields,
    )


@pytest.fixture(scope="module")
def presented_at(story: list[TradeEvent]) -> dt.datetime:
    return _first(story, CertificatePresented).occurred_at  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def before_presentation(story: list[TradeEvent]) -> TradeState:
    """The trade up to the certificate's presentation, with a second customs office and a second issuing
    authority admitted (they must not take part in, nor see, TDAP's loop with GACC Tianjin)."""
    cut = story.index(_first(story, CertificatePresented))
    admitted = _first(story, PartyAdmitted, party_id=GACC_TIANJIN.party_id).occurred_at
    others = [
        _stamp(PartyAdmitted, story, admitted, SUPPLIER, party_id=p.party_id, role=p.role, note="other")
        for p in (KARACHI_CUSTOMS, CHAMBER)
    ]
    return _replay(story[:cut] + others)


def origin_data(story: list[TradeEvent], at: dt.datetime, **changes: Any) -> OriginDataTransmitted:
    coo: CertificateIssued = _first(story, CertificateIssued, certificate_number=COO)
    fields: dict[str, Any] = {
        "certificate_number": COO,
        "issuer": TDAP,
        "customs": GACC_TIANJIN,
        "exporter_id": coo.exporter.party_id,
        "consignee_id": coo.consignee.party_id,
        "goods": [
            {
                "item_number": g.item_number,
                "hs_code": g.hs_code,
                "quantity": g.quantity,
                "gross_weight": g.gross_weight,
            }
            for g in coo.goods
        ],
    }
    fields.update(changes)
    sender = fields["issuer"]
    return _stamp(OriginDataTransmitted, story, at, sender, **fields)  # type: ignore[no-any-return]


def request(story: list[TradeEvent], at: dt.datetime, *, by: Party = GACC_TIANJIN, **changes: Any) -> Any:
    fields = {
        "certificate_number": COO,
        "certificate_issuer": TDAP.party_id,
        "declaration_number": DECLARATION,
        "customs": by,
        "reason": "Cr2O3 content differs from the ore of the mine named in box 3",
        "reply_by": (at + dt.timedelta(days=30)).date(),
        **changes,
    }
    return _stamp(VerificationRequested, story, at, by, **fields)


def answer(
    story: list[TradeEvent], at: dt.datetime, result: str = "CONFIRMED", *, by: Party = TDAP, **changes: Any
) -> Any:
    fields = {
        "certificate_number": COO,
        "issuer": by,
        "customs": GACC_TIANJIN,
        "answer": result,
        "findings": [] if result == "CONFIRMED" else ["the ore was blended with ore from outside Pakistan"],
        **changes,
    }
    return _stamp(VerificationAnswered, story, at, by, **fields)


def decision(story: list[TradeEvent], at: dt.datetime, result: str) -> Any:
    return _stamp(
        PreferenceDecided,
        story,
        at,
        GACC_TIANJIN,
        certificate_number=COO,
        declaration_number=DECLARATION,
        customs=GACC_TIANJIN,
        decision=result,
        reason=None if result == "GRANTED" else "origin not confirmed by the issuing authority",
    )


def coo(state: TradeState) -> CertificateState:
    found = state.certificate(TDAP.party_id, COO)
    assert found is not None
    return found


@pytest.fixture(scope="module")
def presented(
    story: list[TradeEvent], before_presentation: TradeState, presented_at: dt.datetime
) -> TradeState:
    """Origin data transmitted the day the certificate was issued, then the presentation at Tianjin."""
    sent = origin_data(story, presented_at - dt.timedelta(days=14))
    return _replay([sent, _first(story, CertificatePresented)], before_presentation)


def _later(at: dt.datetime, days: float) -> dt.datetime:
    return at + dt.timedelta(days=days)


# -- origin data ahead of the goods, and the presentation matched against it -----------------------------


def test_presentation_matches_the_transmitted_origin_data(presented: TradeState) -> None:
    cert = coo(presented)
    assert cert.origin_data is not None and cert.origin_data.customs == GACC_TIANJIN.party_id
    assert cert.status == CertificateStatus.PRESENTED
    assert cert.origin_findings == ()


def test_a_missing_transmission_is_a_finding(
    story: list[TradeEvent], before_presentation: TradeState
) -> None:
    cert = coo(apply(before_presentation, _first(story, CertificatePresented)))
    assert cert.status == CertificateStatus.PRESENTED  # a finding is for the customs to act on
    assert cert.origin_findings == ("origin data: tdap transmitted no origin data of certificate " + COO,)


def test_each_difference_from_the_certificate_is_a_finding(
    story: list[TradeEvent], before_presentation: TradeState, presented_at: dt.datetime
) -> None:
    sent = origin_data(
        story,
        _later(presented_at, -3),
        consignee_id=SUPPLIER.party_id,
        goods=[
            {"item_number": 1, "hs_code": "261000", "quantity": {"value": Decimal("5512.4"), "unit": "TNE"}},
            {"item_number": 2, "hs_code": "260300", "quantity": {"value": Decimal("12"), "unit": "TNE"}},
        ],
    )
    cert = coo(_replay([sent, _first(story, CertificatePresented)], before_presentation))
    assert cert.origin_findings == (
        f"consignee: certificate {BUYER.party_id}, transmitted {SUPPLIER.party_id}",
        "goods[1].gross_weight: certificate 5512.4 TNE, transmitted None",
        "goods[2]: transmitted, not on the certificate",
    )


def test_data_addressed_to_another_customs_is_a_finding(
    story: list[TradeEvent], before_presentation: TradeState, presented_at: dt.datetime
) -> None:
    sent = origin_data(story, _later(presented_at, -3), customs=KARACHI_CUSTOMS)
    cert = coo(_replay([sent, _first(story, CertificatePresented)], before_presentation))
    assert cert.origin_findings == ("origin data: transmitted to pk-customs-karachi, not to gacc-tianjin",)


def test_data_transmitted_after_the_presentation_is_matched_then_and_flagged_late(
    story: list[TradeEvent], before_presentation: TradeState, presented_at: dt.datetime
) -> None:
    state = apply(before_presentation, _first(story, CertificatePresented))
    cert = coo(apply(state, origin_data(story, _later(presented_at, 1))))
    assert len(cert.origin_findings) == 1 and "after the presentation" in cert.origin_findings[0]


def test_origin_data_only_once_only_by_its_issuer_only_of_a_preferential_certificate(
    story: list[TradeEvent], presented: TradeState, before_presentation: TradeState, presented_at: dt.datetime
) -> None:
    with pytest.raises(LifecycleViolation, match="already transmitted"):
        apply(presented, origin_data(story, presented_at))
    with pytest.raises(LifecycleViolation, match="issued by tdap, not karachi-chamber"):
        apply(before_presentation, origin_data(story, presented_at, issuer=CHAMBER))
    with pytest.raises(LifecycleViolation, match="only CPFTA_ORIGIN certificates"):
        apply(before_presentation, origin_data(story, presented_at, issuer=SGS, certificate_number=ASSAY))
    with pytest.raises(PrerequisiteMissing, match="not issued yet"):
        apply(
            before_presentation, origin_data(story, presented_at, certificate_number="CPFTA-PK-2026-999999")
        )


# -- request, answer, suspension and decision --------------------------------------------------------------


def test_confirmed_verification_then_preference_granted(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    asked = apply(presented, request(story, _later(presented_at, 1)))
    cert = coo(asked)
    assert cert.status == CertificateStatus.PREFERENCE_SUSPENDED
    assert cert.verification_request is not None
    assert cert.verification_request.outcome(_later(presented_at, 2).date()) == "OPEN"
    answered = apply(asked, answer(story, _later(presented_at, 10)))
    assert coo(answered).status == CertificateStatus.PREFERENCE_SUSPENDED  # until the customs decides
    granted = coo(apply(answered, decision(story, _later(presented_at, 11), "GRANTED")))
    assert granted.status == CertificateStatus.PREFERENCE_GRANTED
    assert granted.verification_request is not None and granted.verification_request.answer == "CONFIRMED"


def test_negative_verification_then_preference_denied_after_suspension(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    asked = apply(presented, request(story, _later(presented_at, 1)))
    refused = apply(asked, answer(story, _later(presented_at, 10), "NOT_CONFIRMED"))
    with pytest.raises(LifecycleViolation, match="not confirmed by its issuer"):
        apply(refused, decision(story, _later(presented_at, 11), "GRANTED"))
    denied = coo(apply(refused, decision(story, _later(presented_at, 11), "DENIED")))
    assert denied.status == CertificateStatus.PREFERENCE_DENIED
    assert denied.verification_request is not None
    assert denied.verification_request.findings == ("the ore was blended with ore from outside Pakistan",)


def test_decision_waits_for_the_answer_or_the_deadline(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    asked = apply(presented, request(story, _later(presented_at, 1)))  # reply by day 31
    for early in ("GRANTED", "DENIED"):
        with pytest.raises(LifecycleViolation, match=r"unanswered.*stays suspended"):
            apply(asked, decision(story, _later(presented_at, 30), early))
    late = _later(presented_at, 33)
    with pytest.raises(LifecycleViolation, match="never answered"):
        apply(asked, decision(story, late, "GRANTED"))
    denied = coo(apply(asked, decision(story, late, "DENIED")))
    assert denied.status == CertificateStatus.PREFERENCE_DENIED
    assert denied.verification_request is not None and denied.verification_request.answer == "NOT_ANSWERED"


def test_an_answer_needs_a_request_of_this_certificate(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    with pytest.raises(LifecycleViolation, match="no verification of it was requested"):
        apply(presented, answer(story, _later(presented_at, 2)))


def test_an_answer_by_another_authority_is_refused(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    asked = apply(presented, request(story, _later(presented_at, 1)))
    with pytest.raises(LifecycleViolation, match="issued by tdap, not karachi-chamber"):
        apply(asked, answer(story, _later(presented_at, 2), by=CHAMBER))


def test_an_answer_goes_to_the_customs_that_asked_once(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    asked = apply(presented, request(story, _later(presented_at, 1)))
    with pytest.raises(LifecycleViolation, match="requested by gacc-tianjin"):
        apply(asked, answer(story, _later(presented_at, 2), customs=KARACHI_CUSTOMS))
    answered = apply(asked, answer(story, _later(presented_at, 2)))
    with pytest.raises(LifecycleViolation, match="already answered CONFIRMED"):
        apply(answered, answer(story, _later(presented_at, 3), "NOT_CONFIRMED"))
    decided = apply(answered, decision(story, _later(presented_at, 3), "GRANTED"))
    with pytest.raises(LifecycleViolation, match=r"already answered|already granted"):
        apply(decided, answer(story, _later(presented_at, 4)))


def test_not_confirmed_without_findings_is_refused(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    asked = apply(presented, request(story, _later(presented_at, 1)))
    with pytest.raises(ValidationError, match="findings"):  # held at intake (422) …
        answer(story, _later(presented_at, 2), "NOT_CONFIRMED", findings=[])
    unchecked = answer(story, _later(presented_at, 2), "NOT_CONFIRMED").model_copy(update={"findings": []})
    with pytest.raises(LifecycleViolation, match="findings: required"):  # … and by the ledger
        apply(asked, unchecked)


def test_one_request_per_claim(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    asked = apply(presented, request(story, _later(presented_at, 1)))
    with pytest.raises(LifecycleViolation, match="already requested"):
        apply(asked, request(story, _later(presented_at, 2)))
    answered = apply(asked, answer(story, _later(presented_at, 3)))
    with pytest.raises(LifecycleViolation, match="already requested"):
        apply(answered, request(story, _later(presented_at, 4)))


def test_no_request_after_the_decision_or_before_the_presentation(
    story: list[TradeEvent], presented: TradeState, before_presentation: TradeState, presented_at: dt.datetime
) -> None:
    verified = apply(presented, _first(story, CertificateVerified))
    granted = apply(verified, _first(story, PreferenceDecided))
    with pytest.raises(LifecycleViolation, match="already granted"):
        apply(granted, request(story, _later(presented_at, 1)))
    with pytest.raises(LifecycleViolation, match="never presented"):
        apply(before_presentation, request(story, _later(presented_at, 1)))


def test_no_verification_of_a_revoked_certificate(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    revocation = _stamp(
        CertificateRevoked,
        story,
        _later(presented_at, 1),
        TDAP,
        certificate_number=COO,
        issuer=TDAP,
        reason="issued in error",
    )
    revoked = apply(presented, revocation)
    with pytest.raises(LifecycleViolation, match="was revoked"):
        apply(revoked, request(story, _later(presented_at, 2)))


def test_only_the_customs_presented_to_requests(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    with pytest.raises(LifecycleViolation, match="presented to gacc-tianjin"):
        apply(presented, request(story, _later(presented_at, 1), by=KARACHI_CUSTOMS))


def test_reply_by_defaults_to_the_documented_period_and_follows_the_request(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    at = _later(presented_at, 1)
    cert = coo(apply(presented, request(story, at, reply_by=None)))
    assert cert.verification_request is not None
    expected = at.astimezone(dt.UTC).date() + dt.timedelta(days=DEFAULT_REPLY_DAYS)
    assert cert.verification_request.reply_by == expected
    same_day = at.astimezone(dt.UTC).date()
    with pytest.raises(ValidationError, match="reply_by"):
        request(story, at, reply_by=same_day)
    unchecked = request(story, at).model_copy(update={"reply_by": same_day})
    with pytest.raises(LifecycleViolation, match="reply_by"):
        apply(presented, unchecked)


def test_a_verified_match_during_suspension_keeps_the_preference_suspended(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    asked = apply(presented, request(story, _later(presented_at, 1)))
    matched = _first(story, CertificateVerified).model_copy(update={"occurred_at": _later(presented_at, 2)})
    cert = coo(apply(asked, matched))
    assert cert.status == CertificateStatus.PREFERENCE_SUSPENDED
    with pytest.raises(LifecycleViolation, match="unanswered"):
        apply(apply(asked, matched), decision(story, _later(presented_at, 3), "GRANTED"))


# -- trust: who may send each step, who receives it ---------------------------------------------------------


def _rules(state: TradeState, event: TradeEvent, verdict: str | None = None) -> set[str]:
    return {v.rule for v in trust.check(state.trust, event, verdict=verdict)}


def test_only_the_actors_send_the_steps(
    story: list[TradeEvent], presented: TradeState, before_presentation: TradeState, presented_at: dt.datetime
) -> None:
    at = _later(presented_at, 1)
    asked = apply(presented, request(story, at))
    # the actors themselves pass
    assert _rules(before_presentation, origin_data(story, at)) == set()
    assert _rules(presented, request(story, at)) == set()
    assert _rules(asked, answer(story, at)) == set()
    # another customs office asks, another authority transmits or answers: refused
    assert _rules(presented, request(story, at, by=KARACHI_CUSTOMS)) == {"presented-customs"}
    assert _rules(presented, origin_data(story, at, issuer=CHAMBER)) == {"verification-parties"}
    assert _rules(asked, answer(story, at, by=CHAMBER)) == {"verification-parties"}
    # an inspection body, a carrier or a principal is not in the loop's roles at all
    assert _rules(asked, answer(story, at, by=SGS)) == {"role-in-trade"}
    assert _rules(presented, origin_data(story, at, issuer=CARRIER)) == {"role-in-trade"}
    by_buyer = request(story, at).model_copy(update={"sender": BUYER.party_id})
    assert _rules(presented, by_buyer) == {"role-in-trade"}
    # nobody speaks in another's name
    forged = answer(story, at).model_copy(update={"sender": CHAMBER.party_id})
    assert "actor-is-sender" in _rules(asked, forged)
    # the data goes to a customs office of the trade, the answer to the one presented to
    sgs_as_customs = SGS.model_copy(update={"role": "CUSTOMS"})  # the payload claims it; the trade knows
    assert _rules(before_presentation, origin_data(story, at, customs=sgs_as_customs)) == {
        "verification-parties"
    }
    assert _rules(asked, answer(story, at, customs=KARACHI_CUSTOMS)) == {"verification-parties"}


def test_a_signed_certificates_issuer_steps_must_be_signed(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    key = certificate_key(TDAP.party_id, COO)
    facts = presented.trust.certificates[key].evolve(signed=True)
    signed = presented.evolve(
        trust=presented.trust.evolve(certificates={**presented.trust.certificates, key: facts})
    )
    at = _later(presented_at, 1)
    assert _rules(signed, origin_data(story, at), "unsigned") == {"signed-status-change"}
    assert _rules(signed, origin_data(story, at), "valid") == set()
    asked = apply(signed, request(story, at))
    assert _rules(asked, answer(story, at), "tampered") == {"signed-status-change"}


def test_each_step_reaches_the_issuer_the_customs_and_the_principals_only(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    at = _later(presented_at, 1)
    concerned = sorted({BUYER.party_id, SUPPLIER.party_id, TDAP.party_id, GACC_TIANJIN.party_id})
    state = presented
    for step in (origin_data(story, at), request(story, at), answer(story, at)):
        assert trust.recipients(state.trust, step) == concerned, step.avro_name
        for outsider in (KARACHI_CUSTOMS, CHAMBER, SGS, CARRIER):
            assert not trust.receives(state.trust, outsider.party_id, step)
        if not isinstance(step, OriginDataTransmitted):
            state = apply(state, step)
    # a party admitted later is not sent earlier loop events addressed to others
    assert not trust.backfills("CUSTOMS", VerificationRequested.avro_name)
    assert not trust.backfills("ISSUING_AUTHORITY", VerificationAnswered.avro_name)
    assert trust.backfills("BUYER", VerificationAnswered.avro_name)
    assert trust.backfills("CUSTOMS", CertificatePresented.avro_name)


def test_the_ledger_view_shows_the_loop_to_its_parties_only(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    at = _later(presented_at, 1)
    state = _replay([request(story, at), answer(story, at, "NOT_CONFIRMED")], presented)
    today = at.date()
    loop_types = {"OriginDataTransmitted", "VerificationRequested", "VerificationAnswered"}

    def seen(reader: str) -> tuple[set[str], dict[str, Any]]:
        view = trade_view(state, None, today, reader=reader)
        cert = next(c for c in view["certificates"] if c["certificate_number"] == COO)
        return {t["type"] for t in view["timeline"]} & loop_types, cert

    for insider in (GACC_TIANJIN, TDAP, BUYER, SUPPLIER):
        types, cert = seen(insider.party_id)
        assert types == loop_types, insider.party_id
        assert cert["status"] == "PREFERENCE_SUSPENDED"
        assert cert["verification_request"]["answer"] == "NOT_CONFIRMED"
        assert cert["origin_data"]["customs"] == GACC_TIANJIN.party_id
    for outsider in (KARACHI_CUSTOMS, CHAMBER, SGS):
        types, cert = seen(outsider.party_id)
        assert types == set(), outsider.party_id
        assert "verification_request" not in cert and "origin_data" not in cert
        assert "origin_findings" not in cert
        assert cert["status"] == "PRESENTED"


def test_an_amended_certificate_is_transmitted_and_verified_on_its_own(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    asked = apply(presented, request(story, _later(presented_at, 1)))
    coo_issued: CertificateIssued = _first(story, CertificateIssued, certificate_number=COO)
    amendment = _stamp(
        CertificateAmended,
        story,
        _later(presented_at, 2),
        TDAP,
        certificate_number=COO + "-A1",
        supersedes_certificate_number=COO,
        issuer=TDAP,
        reason="box 7 marks corrected",
        goods=[g.model_dump() for g in coo_issued.goods],
    )
    amended = apply(asked, amendment)
    old, new = coo(amended), amended.certificate(TDAP.party_id, COO + "-A1")
    assert old.status == CertificateStatus.SUPERSEDED and old.verification_request is not None
    assert new is not None and new.status == CertificateStatus.ISSUED
    assert (new.origin_data, new.origin_findings, new.verification_request) == (None, (), None)
    # its issuer transmits the new certificate's own origin data
    assert apply(amended, origin_data(story, _later(presented_at, 3), certificate_number=COO + "-A1"))


def test_the_issuers_steps_are_signed_and_verified_like_its_certificates(
    story: list[TradeEvent], presented_at: dt.datetime
) -> None:
    from corridor.core import signatures as sig

    private = sig.generate_private_key()
    ring = sig.keyring_of([sig.AuthorityKey(TDAP.party_id, "tdap-2026", sig.public_key_bytes(private))])
    at = _later(presented_at, 1)
    for step in (origin_data(story, at), answer(story, at)):
        signed = sig.sign_event(step, private, "tdap-2026")
        assert sig.verify_event(signed, ring).status.value == "valid", step.avro_name
        forged = signed.model_copy(update={"customs": KARACHI_CUSTOMS})
        assert sig.verify_event(forged, ring).status.value == "tampered", step.avro_name
    # the customs' request is not an issuer's signed event
    assert sig.verify_event(request(story, at), ring).status.value == "unsigned"


def test_the_verification_story_goes_round_the_loop_to_a_denial() -> None:
    from corridor.demo.story import STORIES

    story = STORIES["verification"]()
    state: TradeState | None = None
    for event in story.events:
        assert trust.check(state.trust if state else None, event) == [], event.avro_name
        state = apply(state, event)
    assert state is not None
    cert = coo(state)
    assert cert.status == CertificateStatus.PREFERENCE_DENIED
    assert cert.origin_findings == ("goods[1].quantity: certificate 5512.4 TNE, transmitted 5500 TNE",)
    assert cert.verification_request is not None and cert.verification_request.answer == "NOT_CONFIRMED"
    assert len(story.events) == 12  # a short story: the demo prints every event


def test_presenting_again_does_not_lift_the_suspension(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    asked = apply(presented, request(story, _later(presented_at, 1)))
    again = _first(story, CertificatePresented).model_copy(
        update={"event_id": uuid.uuid4(), "occurred_at": _later(presented_at, 2)}
    )
    with pytest.raises(LifecycleViolation, match="under verification"):
        apply(asked, again)


def test_an_answer_after_the_deadline_is_refused(
    story: list[TradeEvent], presented: TradeState, presented_at: dt.datetime
) -> None:
    """Past ``reply_by`` the verification stands not answered: a late CONFIRMED cannot reopen the
    preference (the customs may deny it, and only deny it)."""
    asked = apply(presented, request(story, _later(presented_at, 1)))  # reply by day 31
    on_the_day = answer(story, dt.datetime.combine(coo(asked).verification_request.reply_by,  # type: ignore[union-attr]
                                                   dt.time(23, 0), dt.UTC))  # fmt: skip
    assert coo(apply(asked, on_the_day)).verification_request.answer == "CONFIRMED"  # type: ignore[union-attr]
    with pytest.raises(LifecycleViolation, match=r"occurred_at: answered on .* after .* not answered"):
        apply(asked, answer(story, _later(presented_at, 32)))
    with pytest.raises(LifecycleViolation, match="never answered"):
        apply(asked, decision(story, _later(presented_at, 33), "GRANTED"))


def test_only_a_customs_office_of_the_importing_country_takes_the_claim(
    story: list[TradeEvent], before_presentation: TradeState
) -> None:
    """Pakistan Customs (admitted for the export declaration) cannot record the presentation of a
    certificate whose consignee imports into China, and so cannot request its verification nor decide
    its preference; nor can it pass itself off as a Chinese office once the trade knows it."""
    shown: CertificatePresented = _first(story, CertificatePresented)
    at_karachi = shown.model_copy(update={"event_id": uuid.uuid4(), "sender": KARACHI_CUSTOMS.party_id,
                                          "customs": KARACHI_CUSTOMS})  # fmt: skip
    with pytest.raises(LifecycleViolation, match=r"customs\.country: .* importing country CN .* of PK"):
        apply(before_presentation, at_karachi)
    known = before_presentation.evolve(
        parties={**before_presentation.parties, KARACHI_CUSTOMS.party_id: before_presentation.parties[
            GACC_TIANJIN.party_id].evolve(party_id=KARACHI_CUSTOMS.party_id, country="PK")}
    )  # fmt: skip
    posing = at_karachi.model_copy(update={"customs": KARACHI_CUSTOMS.model_copy(update={"country": "CN"})})
    with pytest.raises(LifecycleViolation, match=r"known in this trade as a customs office of PK, not CN"):
        apply(known, posing)
