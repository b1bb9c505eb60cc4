"""The trust policy (services/core/domain/trust.py): admission, who may say what, need to know. Pure."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from corridor.core.domain import trust
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import (
    CertificateIssued,
    CertificatePresented,
    CertificateRevoked,
    Party,
    PartyAdmitted,
    PartyWithdrawn,
    PreferenceDecided,
    ShipmentBooked,
    TransportEventRecorded,
)
from corridor.core.domain.trust import TrustState, admit, check, recipients
from corridor.demo import story
from corridor.demo.story import chromite_story


def _state(events: list[TradeEvent]) -> TrustState:
    state: TrustState | None = None
    for event in events:
        assert check(state, event) == [], event
        state = admit(state, event)
    assert state is not None
    return state


def _until(name: str, **where: Any) -> tuple[TrustState, TradeEvent]:
    """The chromite trade's trust facts just before its first ``name`` event matching ``where``."""
    events = chromite_story().events
    for i, event in enumerate(events):
        if type(event).__name__ == name and all(getattr(event, k) == v for k, v in where.items()):
            return _state(events[:i]), event
    raise LookupError(name)


def _named(like: Party, party_id: str, role: str) -> Party:
    return like.model_copy(update={"party_id": party_id, "role": role})


def _rules(state: TrustState, event: TradeEvent, verdict: str | None = None) -> list[str]:
    return [v.rule for v in check(state, event, verdict=verdict)]


def _as(event: TradeEvent, **changes: Any) -> TradeEvent:
    return event.model_copy(update={"event_id": uuid.uuid4(), **changes})


def test_both_stories_pass_every_rule() -> None:
    for make in story.STORIES.values():
        _state(make().events)


def test_naming_yourself_as_issuer_does_not_join_a_trade() -> None:
    state, issued = _until("CertificateIssued", certificate_kind="CPFTA_ORIGIN")
    intruder = _named(story.SGS, "ccic-rival", "INSPECTION_BODY")
    forged = _as(issued, sender=intruder.party_id, issuer=intruder)
    broken = check(state, forged)
    assert [v.rule for v in broken] == ["admitted-party"] and broken[0].field == "data.sender"
    assert intruder.party_id not in admit(state, issued).parties


def test_a_party_named_in_a_payload_must_be_a_party_of_the_trade() -> None:
    state, issued = _until("CertificateIssued", certificate_kind="CPFTA_ORIGIN")
    rival = _named(story.BUYER, "rival-buyer", "BUYER")
    broken = check(state, _as(issued, exporter=rival))
    assert [(v.field, v.rule) for v in broken] == [("data.exporter.party_id", "named-party-admitted")]


def test_a_certificate_is_revoked_only_by_its_issuer_in_its_own_name() -> None:
    state, decided = _until("PreferenceDecided")
    revoked = CertificateRevoked(
        event_id=uuid.uuid4(),
        trade_id=decided.trade_id,
        occurred_at=decided.occurred_at,
        sender=story.SGS.party_id,
        certificate_number="CPFTA-PK-2026-118734",
        issuer=story.TDAP,
        reason="forged",
    )
    assert _rules(state, revoked) == ["actor-is-sender"]  # SGS speaking as TDAP
    own_name = _as(revoked, issuer=story.SGS)
    assert _rules(state, own_name) == ["certificate-issuer"]  # SGS in its own name: not its certificate
    by_tdap = _as(revoked, sender=story.TDAP.party_id)
    assert _rules(state, by_tdap) == []  # an unsigned certificate needs no signed revocation
    signed = state.evolve(
        certificates={
            n: f.evolve(signed=True) if f.number == revoked.certificate_number else f
            for n, f in state.certificates.items()
        }
    )
    assert _rules(signed, by_tdap, "unsigned") == ["signed-status-change"]
    assert _rules(signed, by_tdap, "unknown_signer") == ["signed-status-change"]
    assert _rules(signed, by_tdap, "valid") == []


def test_the_preference_decision_comes_from_the_customs_it_was_presented_to() -> None:
    state, decided = _until("PreferenceDecided")
    assert isinstance(decided, PreferenceDecided)
    assert _rules(state, decided) == []
    other = _named(story.GACC_TIANJIN, "pk-customs-karachi", "CUSTOMS")
    admitted = PartyAdmitted(
        event_id=uuid.uuid4(),
        trade_id=decided.trade_id,
        occurred_at=decided.occurred_at,
        sender=story.SUPPLIER.party_id,
        party_id=other.party_id,
        role="CUSTOMS",
    )
    state = admit(state, admitted)
    elsewhere = _as(decided, sender=other.party_id, customs=other)
    assert [(v.field, v.rule) for v in check(state, elsewhere)] == [
        ("data.customs.party_id", "presented-customs")
    ]
    forged = _as(decided, sender=story.SGS.party_id)  # an inspection body "deciding" the preference
    assert _rules(state, forged) == ["role-in-trade"]


def test_only_a_preferential_certificate_is_presented() -> None:
    state, presented = _until("CertificatePresented")
    assert isinstance(presented, CertificatePresented)
    assay = next(f.number for f in state.certificates.values() if f.kind == "ASSAY")
    assert _rules(state, _as(presented, certificate_number=assay)) == ["preference-kind"]


def test_only_the_principals_admit_and_withdraw() -> None:
    state, admission = _until("PartyAdmitted", party_id="gacc-tianjin")
    assert _rules(state, admission) == []
    by_carrier = _as(admission, sender=story.CARRIER.party_id)
    assert _rules(state, by_carrier) == ["admission-by-principal"]
    as_buyer = _as(admission, role="BUYER")
    assert _rules(state, as_buyer) == ["admissible-role"]


def test_a_withdrawn_party_may_publish_nothing_and_receives_nothing_after_its_withdrawal() -> None:
    state, transport = _until("TransportEventRecorded")
    assert isinstance(transport, TransportEventRecorded)
    withdrawn = PartyWithdrawn(
        event_id=uuid.uuid4(),
        trade_id=transport.trade_id,
        occurred_at=transport.occurred_at,
        sender=story.BUYER.party_id,
        party_id=story.CARRIER.party_id,
        role="CARRIER",
    )
    assert _rules(state, withdrawn) == []
    after = admit(state, withdrawn)
    assert story.CARRIER.party_id in recipients(after, withdrawn)  # it learns why copies stop
    broken = check(after, transport)
    assert [(v.rule, v.pending) for v in broken] == [("admitted-party", False)]
    assert story.CARRIER.party_id not in recipients(after, transport)
    assert story.CARRIER.party_id not in after.parties


def test_shipment_events_come_from_the_carrier_that_booked_it() -> None:
    state, transport = _until("TransportEventRecorded")
    other = story.NLC
    state = admit(
        state,
        PartyAdmitted(
            event_id=uuid.uuid4(),
            trade_id=transport.trade_id,
            occurred_at=transport.occurred_at,
            sender=story.BUYER.party_id,
            party_id=other.party_id,
            role="CARRIER",
        ),
    )
    assert _rules(state, _as(transport, sender=other.party_id)) == ["shipment-carrier"]


def test_a_trade_is_opened_once_by_its_buyer() -> None:
    placed = chromite_story().events[0]
    state = _state([placed])
    assert _rules(state, _as(placed)) == []  # its own buyer ordering again: parties unchanged
    rival = _named(story.SUPPLIER, "rival-supplier", "SUPPLIER")
    assert _rules(state, _as(placed, supplier=rival)) == ["trade-opened-by-buyer"]
    assert admit(state, _as(placed, supplier=rival)).parties == state.parties
    assert _rules(TrustState(), _as(placed, sender=story.SUPPLIER.party_id)) == ["actor-is-sender"]
    booked = next(e for e in chromite_story().events if isinstance(e, ShipmentBooked))
    broken = check(None, booked)
    assert [(v.rule, v.pending) for v in broken] == [("trade-opened-by-buyer", True)]


@pytest.mark.parametrize(
    ("role", "sees", "hidden"),
    [
        ("CARRIER", "ShipmentBooked", "InvoiceIssued"),
        ("CARRIER", "CustomsEventRecorded", "CertificateIssued"),
        ("CUSTOMS", "CertificatePresented", "OrderPlaced"),
        ("CUSTOMS", "InvoiceIssued", "OrderResponded"),
        ("ISSUING_AUTHORITY", "CertificateVerified", "OrderAmended"),
        ("INSPECTION_BODY", "CertificateIssued", "InvoiceIssued"),
    ],
)
def test_need_to_know(role: str, sees: str, hidden: str) -> None:
    assert trust.receives_type(role, sees) and not trust.receives_type(role, hidden)


def test_the_policy_covers_every_role_and_names_real_event_types() -> None:
    from corridor.core.domain.events import EVENT_TYPES, PartyRole

    assert set(trust.RECEIVES) == set(PartyRole) - {PartyRole.OPERATOR}
    for types in trust.RECEIVES.values():
        assert types <= set(EVENT_TYPES)
    assert set(trust.ACTOR_FIELDS) <= set(EVENT_TYPES)
    assert {v for v in trust.RULES} >= {"admitted-party", "actor-is-sender", "signed-status-change"}


def test_an_issued_certificate_records_its_issuer_kind_and_signature() -> None:
    state, issued = _until("CertificateIssued", certificate_kind="ASSAY")
    assert isinstance(issued, CertificateIssued)
    facts = admit(state, issued).certificates[
        trust.certificate_key(issued.issuer.party_id, issued.certificate_number)
    ]
    assert (facts.issuer, facts.kind, facts.signed) == ("sgs-pakistan", "ASSAY", False)


def test_a_replay_by_its_sender_is_left_to_idempotency_and_an_id_reused_by_another_is_not() -> None:
    events = chromite_story().events
    state = _state(events[:8])
    placed, admission = events[0], events[4]
    assert check(state, placed) == [] and check(state, admission) == []  # the same events again
    assert admit(state, admission) is state
    reused = placed.model_copy(update={"sender": story.SUPPLIER.party_id, "buyer": story.SUPPLIER})
    assert _rules(state, reused) == ["trade-opened-by-buyer"]
