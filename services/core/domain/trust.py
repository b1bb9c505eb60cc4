"""The trust model of a trade: who is admitted, who may say what, who receives what (pure, no I/O).

This module is the one place the policy is written down, as data (docs/adr/0016-trade-admission-and-
need-to-know.md). The gateway (before producing), the ledger (before applying), the relay (before
routing) and the ledger's query API (before answering) all apply these same rules to the same state,
so no reader can be more generous than another.

* **Admission.** A trade's buyer opens it with ``OrderPlaced``, naming itself as ``buyer`` and the
  supplier: those two are its *principals*. Every other party is admitted by a principal with
  ``PartyAdmitted`` (partner id and role, one of :data:`ADMISSIBLE_ROLES`) and can be withdrawn with
  ``PartyWithdrawn``. Nobody becomes a party by naming itself or by being named in another event; every
  party a payload names must already be a party of the trade (:data:`NAMED_PARTIES`).
* **Who may say what.** The sender must be an admitted, not withdrawn party whose role in the trade may
  publish the event type (``roles.PUBLISHER_ROLES``); the field naming the actor (:data:`ACTOR_FIELDS`)
  must be the sender; a certificate is amended and revoked only by its issuer, a shipment's events come
  from its carrier, verification and the preference decision from the customs office the certificate
  was presented to, and presentation, verification and decision exist only for kinds that can carry a
  preference (:data:`PREFERENCE_KINDS`). Under a letter of credit, documents are presented by the
  supplier or the credit's advising bank, and discrepancies and payments come only from a bank the
  order's credit names (issuing or advising; :data:`CREDIT_SENDERS`). A signed certificate is amended
  or revoked only by an event signed with its issuer's key. In the verification loop (ADR 0038) origin
  data and answers come only from the certificate's issuing authority, signed like the certificate,
  addressed to a customs office of the trade, and the request only from the customs it was presented to.
* **Need to know.** :data:`RECEIVES` says, per role, which event types a party receives; a party also
  receives the admission and the withdrawal that name it. An addressed event (:data:`ADDRESSED_TYPES`, the
  verification loop) goes besides the principals only to the parties it is between (:func:`addressees`).

:func:`check` answers the rules an event breaks against a :class:`TrustState` (empty: it may be
applied); :func:`admit` folds an accepted event into the state; :func:`recipients` and :func:`receives`
say who gets a copy. :class:`Violation` carries the field, the rule's name and the reason; ``pending``
marks a violation that a later event could cure (the actor is not admitted *yet*, the certificate or
shipment is not known *yet*): the gateway refuses it, the ledger holds it like any missing prerequisite.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import (
    EVENT_TYPES,
    CertificateAmended,
    CertificateIssued,
    CertificateKind,
    CertificatePresented,
    CertificateRevoked,
    CertificateVerified,
    CreditEventType,
    CustomsEventRecorded,
    EquipmentEventRecorded,
    InvoiceIssued,
    LetterOfCreditEventRecorded,
    OrderPlaced,
    OriginDataTransmitted,
    Party,
    PartyAdmitted,
    PartyRole,
    PartyWithdrawn,
    PreferenceDecided,
    ShipmentBooked,
    ShipmentDelivered,
    TransportDocumentEventRecorded,
    TransportEventRecorded,
    VerificationAnswered,
    VerificationRequested,
)
from corridor.core.domain.roles import PUBLISHER_ROLES

__all__ = [
    "ACTOR_FIELDS",
    "ADDRESSED_TYPES",
    "ADMISSIBLE_ROLES",
    "CREDIT_SENDERS",
    "FACT_TYPES",
    "NAMED_PARTIES",
    "PREFERENCE_KINDS",
    "PRINCIPAL_ROLES",
    "RECEIVES",
    "RULES",
    "STATUS_CHANGE_TYPES",
    "CertificateFacts",
    "CreditFacts",
    "Member",
    "TrustState",
    "Violation",
    "addressees",
    "admit",
    "backfills",
    "certificate_key",
    "certificates_numbered",
    "check",
    "named_parties",
    "receives",
    "recipients",
]

_ALL = frozenset(EVENT_TYPES)
_ADMISSIONS = frozenset({PartyAdmitted.avro_name, PartyWithdrawn.avro_name})
_SHIPMENT = frozenset(
    {
        ShipmentBooked.avro_name,
        EquipmentEventRecorded.avro_name,
        TransportEventRecorded.avro_name,
        ShipmentDelivered.avro_name,
        CustomsEventRecorded.avro_name,
        TransportDocumentEventRecorded.avro_name,
    }
)
_CERTIFICATE_CONTENT = frozenset(
    {CertificateIssued.avro_name, CertificateAmended.avro_name, CertificateRevoked.avro_name}
)
_CERTIFICATE_CLAIM = frozenset(
    {CertificatePresented.avro_name, CertificateVerified.avro_name, PreferenceDecided.avro_name}
)
_CREDIT = LetterOfCreditEventRecorded.avro_name
#: The verification loop between a certificate's issuer and the importing customs (ADR 0038).
_VERIFICATION_LOOP = frozenset(
    {OriginDataTransmitted.avro_name, VerificationRequested.avro_name, VerificationAnswered.avro_name}
)
_ISSUER_STEPS = frozenset({OriginDataTransmitted.avro_name, VerificationAnswered.avro_name})

#: The two parties that own a trade: named by its OrderPlaced, never admitted or withdrawn.
PRINCIPAL_ROLES: frozenset[str] = frozenset({PartyRole.BUYER, PartyRole.SUPPLIER})

#: Roles a principal may admit to its trade (a buyer or supplier is never admitted: there is one each).
ADMISSIBLE_ROLES: frozenset[str] = frozenset(
    {
        PartyRole.CARRIER,
        PartyRole.INSPECTION_BODY,
        PartyRole.ISSUING_AUTHORITY,
        PartyRole.CUSTOMS,
        PartyRole.BANK,
    }
)

#: Need to know: role in the trade → the event types a party in that role receives (partner topic,
#: back-fill, webhooks, the ledger's trade view and search, verify). Why each (ADR 0016):
#: the principals own the trade and see all of it; a carrier moves the goods and learns of customs
#: holds and releases, never prices or certificates; a customs office needs the shipment, the
#: commercial invoice (customs value) and the certificates, never the order negotiation; an issuing
#: authority or inspection body needs the booking (what is shipped, where, on which conveyance) and the
#: certificates, including the importing customs' verification of its own certificates (the CPFTA loop);
#: a bank examines documents, so it receives what is presented to it (the commercial invoices and the
#: transport documents) and the credit's own events, never the order negotiation (ADR 0030).
RECEIVES: dict[str, frozenset[str]] = {
    PartyRole.BUYER: _ALL,
    PartyRole.SUPPLIER: _ALL,
    PartyRole.CARRIER: _SHIPMENT,
    PartyRole.CUSTOMS: _SHIPMENT
    | {InvoiceIssued.avro_name}
    | _CERTIFICATE_CONTENT
    | _CERTIFICATE_CLAIM
    | _VERIFICATION_LOOP,
    PartyRole.ISSUING_AUTHORITY: frozenset({ShipmentBooked.avro_name})
    | _CERTIFICATE_CONTENT
    | _CERTIFICATE_CLAIM
    | _VERIFICATION_LOOP,
    PartyRole.INSPECTION_BODY: frozenset({ShipmentBooked.avro_name})
    | _CERTIFICATE_CONTENT
    | _CERTIFICATE_CLAIM,
    PartyRole.BANK: frozenset({_CREDIT, InvoiceIssued.avro_name, TransportDocumentEventRecorded.avro_name}),
}

#: Event types addressed between two parties (ADR 0038): besides the trade's buyer and supplier, only the
#: parties :func:`addressees` names receive them (the certificate's issuer and the importing customs),
#: never another customs office or issuer of the trade, even though its role receives the type.
ADDRESSED_TYPES: frozenset[str] = _VERIFICATION_LOOP

#: Credit event type → who of a trade's letter of credit may send it: the beneficiary (the supplier)
#: or the advising bank presents the documents; only a bank the credit names — its issuing or its
#: advising (nominated) bank — notes discrepancies and pays (UCP 600 articles 7, 12, 14-16).
CREDIT_SENDERS: dict[str, frozenset[str]] = {
    CreditEventType.DOCUMENTS_PRESENTED: frozenset({"supplier", "advising_bank"}),
    CreditEventType.DISCREPANCY_NOTED: frozenset({"issuing_bank", "advising_bank"}),
    CreditEventType.PAYMENT_MADE: frozenset({"issuing_bank", "advising_bank"}),
}

#: Event type → the field that names who acts; it must be the sender.
ACTOR_FIELDS: dict[str, str] = {
    OrderPlaced.avro_name: "buyer",
    ShipmentBooked.avro_name: "carrier",
    TransportDocumentEventRecorded.avro_name: "carrier",
    CustomsEventRecorded.avro_name: "authority",
    CertificateIssued.avro_name: "issuer",
    CertificateAmended.avro_name: "issuer",
    CertificateRevoked.avro_name: "issuer",
    CertificatePresented.avro_name: "customs",
    CertificateVerified.avro_name: "customs",
    PreferenceDecided.avro_name: "customs",
    OriginDataTransmitted.avro_name: "issuer",
    VerificationRequested.avro_name: "customs",
    VerificationAnswered.avro_name: "issuer",
}

#: Event type → the other Party fields it names; each must be a party of the trade already.
NAMED_PARTIES: dict[str, tuple[str, ...]] = {
    CertificateIssued.avro_name: ("exporter", "consignee"),
    TransportDocumentEventRecorded.avro_name: ("shipper", "consignee", "notify_party"),
    OriginDataTransmitted.avro_name: ("customs",),
    VerificationAnswered.avro_name: ("customs",),
}

#: Certificate kinds a customs office can grant a tariff preference on (presentation, verification,
#: decision): the CPFTA preferential certificate of origin. A non-preferential origin certificate, an
#: assay or an explosives licence supports no preference claim.
PREFERENCE_KINDS: frozenset[str] = frozenset({CertificateKind.CPFTA_ORIGIN})

#: Event types that change a trade's trust facts (:func:`admit`); a reader that keeps only these events
#: of a trade can fold its :class:`TrustState` again.
FACT_TYPES: frozenset[str] = frozenset(
    {
        OrderPlaced.avro_name,
        PartyAdmitted.avro_name,
        PartyWithdrawn.avro_name,
        ShipmentBooked.avro_name,
        CertificateIssued.avro_name,
        CertificateAmended.avro_name,
        CertificatePresented.avro_name,
        TransportDocumentEventRecorded.avro_name,
    }
)

#: Changes to a certificate that must be signed with its issuer's key when the certificate was signed.
#: The issuer's steps of the verification loop are held to the same rule (ADR 0038).
STATUS_CHANGE_TYPES: frozenset[str] = (
    frozenset({CertificateAmended.avro_name, CertificateRevoked.avro_name}) | _ISSUER_STEPS
)

#: Rule name → what it says; problem+json answers and dead letters name the rule.
RULES: dict[str, str] = {
    "trade-opened-by-buyer": "a trade is opened by its buyer's OrderPlaced; its buyer and supplier are fixed",
    "admitted-party": "only a party admitted to the trade (and not withdrawn) may publish about it",
    "role-in-trade": "a party publishes only the event types of the role it was admitted in",
    "actor-is-sender": "the field naming who acts must be the sender's own partner id",
    "named-party-admitted": "every party a payload names must be a party of the trade",
    "admission-by-principal": "only the trade's buyer or supplier admits or withdraws parties",
    "admissible-role": "a party is admitted as carrier, inspection body, issuing authority, customs or bank",
    "certificate-issuer": "a certificate is amended and revoked only by its issuer",
    "shipment-carrier": "a shipment's events come from the carrier that booked it",
    "document-issuer": "a transport document is amended, surrendered and voided only by the carrier that "
    "issued it, and covers only shipments that carrier booked",
    "presented-customs": "verification and the preference decision come from the customs office the "
    "certificate was presented to",
    "preference-kind": "only a certificate that can carry a preference is presented, verified or decided",
    "credit-bank": "documents are presented under a letter of credit by the supplier or the credit's "
    "advising bank; discrepancies and payments come only from a bank the order's credit names",
    "signed-status-change": "a signed certificate is amended or revoked only by an event signed with "
    "its issuer's registered key",
    "verification-parties": "a certificate's origin data and verification answers come only from its "
    "issuer, addressed to a customs office of the trade; verification is requested only by the customs "
    "office it was presented to",
}


@dataclass(frozen=True)
class Violation:
    """A rule an event breaks: the field at fault (dotted, as in a 422), the rule's name and why."""

    field: str
    rule: str
    reason: str
    pending: bool = False  # a later event could cure it (not admitted yet, unknown certificate …)

    def __str__(self) -> str:
        return f"{self.field}: {self.reason} (rule {self.rule})"


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def evolve(self, **changes: Any) -> Self:
        return self.model_copy(update=changes)


class Member(Frozen):
    """A party of a trade: the role it was opened or admitted in, and whether it was withdrawn."""

    role: str
    admitted_by: str | None = None  # None for the principals named by OrderPlaced
    admitted_at: dt.datetime | None = None
    withdrawn_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


_V = TypeVar("_V")


def certificate_key(issuer: str, number: str) -> str:
    """The key of a certificate in a trade's state: its issuer and its number (numbers are unique per
    issuer only, docs/adr/0033-cpfta-certificate-and-issuer-keys.md). A partner id has no ``/``, so the
    key splits back at its first ``/`` whatever the number contains."""
    return f"{issuer}/{number}"


def certificates_numbered(certificates: Mapping[str, _V], number: str, issuer: str | None) -> list[_V]:
    """The certificates of ``certificates`` (keyed by :func:`certificate_key`) with this number: the one
    of ``issuer`` when it is given, otherwise every issuer's."""
    if issuer is not None:
        found = certificates.get(certificate_key(issuer, number))
        return [] if found is None else [found]
    return [v for k, v in certificates.items() if k.split("/", 1)[1] == number]


class CertificateFacts(Frozen):
    """What the rules need to know of a certificate."""

    issuer: str
    kind: str
    number: str = ""  # empty only while a state stored before (issuer, number) keys is read back
    signed: bool = False
    presented_to: str | None = None


class CreditFacts(Frozen):
    """The banks of the order's letter of credit (its OrderPlaced)."""

    issuing_bank: str
    advising_bank: str


class TrustState(Frozen):
    """The trust facts of one trade, folded from its accepted events by :func:`admit`."""

    members: dict[str, Member] = {}
    credits: dict[str, CreditFacts] = {}  # letter of credit number → its banks
    certificates: dict[str, CertificateFacts] = {}  # certificate_key(issuer, number) → its facts
    carriers: dict[str, str] = {}  # shipment id → the carrier that booked it
    documents: dict[str, str] = {}  # transport document number → the carrier that issued it
    facts: dict[uuid.UUID, str] = {}  # id → sender of every event folded in (a replay is not news)

    @model_validator(mode="before")
    @classmethod
    def _issuer_keys(cls, data: Any) -> Any:
        """A state stored before certificates were keyed by (issuer, number) keyed them by number: read
        back, each is keyed anew and remembers its number (ADR 0033)."""
        if not isinstance(data, dict) or not data.get("certificates"):
            return data
        rekeyed = {}
        for key, facts in data["certificates"].items():
            if isinstance(facts, dict) and not facts.get("number"):
                facts = {**facts, "number": key}
                key = certificate_key(facts["issuer"], key)
            rekeyed[key] = facts
        return {**data, "certificates": rekeyed}

    @property
    def opened(self) -> bool:
        return bool(self.members)

    def active(self, party_id: str) -> Member | None:
        member = self.members.get(party_id)
        return member if member is not None and member.active else None

    def role_of(self, party_id: str) -> str | None:
        member = self.active(party_id)
        return member.role if member else None

    @property
    def parties(self) -> tuple[str, ...]:
        """The active parties' ids, sorted: who may read the trade."""
        return tuple(sorted(p for p, m in self.members.items() if m.active))


def _short(event_type: str) -> str:
    return event_type.rsplit(".", 1)[-1]


def _v(field: str, rule: str, reason: str, *, pending: bool = False) -> Violation:
    return Violation(field, rule, reason, pending)


def named_parties(event: TradeEvent) -> dict[str, str]:
    """Field path → partner id, for every party an event names other than its sender field."""
    found: dict[str, str] = {}
    for name, value in event:
        if isinstance(value, Party):
            found[f"data.{name}.party_id"] = value.party_id
    if isinstance(event, PartyAdmitted | PartyWithdrawn):
        found["data.party_id"] = event.party_id
    return found


def _actor(event: TradeEvent) -> Violation | None:
    name = ACTOR_FIELDS.get(event.avro_name)
    if name is None:
        return None
    party: Party = getattr(event, name)
    if party.party_id != event.sender:
        return _v(
            f"data.{name}.party_id",
            "actor-is-sender",
            f"{_short(event.avro_name)} names {party.party_id!r} as {name}; a partner speaks only in its "
            f"own name ({event.sender!r})",
        )
    return None


def _check_open(state: TrustState, event: TradeEvent) -> list[Violation]:
    assert isinstance(event, OrderPlaced)
    if state.opened:
        principals = {m.role: p for p, m in state.members.items() if m.role in PRINCIPAL_ROLES}
        if (event.buyer.party_id, event.supplier.party_id) == (
            principals.get(PartyRole.BUYER),
            principals.get(PartyRole.SUPPLIER),
        ):
            return []  # the trade's own buyer ordering again: nothing changes who is a party (ledger judges)
        return [
            _v(
                "data.trade_id",
                "trade-opened-by-buyer",
                f"trade {event.trade_id} was opened by another order; its buyer and supplier are fixed",
            )
        ]
    out = []
    if event.buyer.role != PartyRole.BUYER:
        out.append(_v("data.buyer.role", "trade-opened-by-buyer", "the buyer of an order has role BUYER"))
    if event.supplier.role != PartyRole.SUPPLIER:
        out.append(_v("data.supplier.role", "trade-opened-by-buyer", "the supplier has role SUPPLIER"))
    if event.supplier.party_id == event.buyer.party_id:
        out.append(_v("data.supplier.party_id", "trade-opened-by-buyer", "buyer and supplier differ"))
    return out


def _check_admission(
    state: TrustState, event: PartyAdmitted | PartyWithdrawn, sender_role: str
) -> list[Violation]:
    if sender_role not in PRINCIPAL_ROLES:
        return [
            _v(
                "data.sender",
                "admission-by-principal",
                f"only the buyer or the supplier of trade {event.trade_id} admits or withdraws parties; "
                f"{event.sender!r} is its {sender_role}",
            )
        ]
    if event.role not in ADMISSIBLE_ROLES:
        return [
            _v(
                "data.role",
                "admissible-role",
                f"a party is admitted as one of {', '.join(sorted(ADMISSIBLE_ROLES))}, not {event.role}",
            )
        ]
    member = state.members.get(event.party_id)
    if isinstance(event, PartyAdmitted):
        if member is not None and member.role in PRINCIPAL_ROLES:
            return [
                _v("data.party_id", "admissible-role", f"{event.party_id!r} is the trade's {member.role}")
            ]
        if member is not None and member.active:
            return [
                _v(
                    "data.party_id",
                    "admissible-role",
                    f"{event.party_id!r} is already admitted as {member.role}",
                )
            ]
        return []
    if member is None or not member.active or member.role in PRINCIPAL_ROLES:
        return [
            _v("data.party_id", "admitted-party", f"{event.party_id!r} is not an admitted party of the trade")
        ]
    if member.role != event.role:
        return [_v("data.role", "admitted-party", f"{event.party_id!r} was admitted as {member.role}")]
    return []


def _check_certificate(state: TrustState, event: TradeEvent, verdict: str | None) -> list[Violation]:
    if isinstance(event, CertificateIssued):
        return []
    if event.avro_name in _ISSUER_STEPS:
        return _check_issuer_step(state, event, verdict)
    if isinstance(event, CertificateAmended):
        number = event.supersedes_certificate_number
        field = "data.supersedes_certificate_number"
    else:
        number = event.certificate_number  # type: ignore[attr-defined]
        field = "data.certificate_number"
    if isinstance(event, CertificateAmended | CertificateRevoked):
        # the issuer changes only its own certificate: look it up under the sender's name (another
        # issuer's certificate of the same number is not this one, ADR 0033)
        own = certificates_numbered(state.certificates, number, event.sender)
        found = own or certificates_numbered(state.certificates, number, None)[:1]
    else:
        found = certificates_numbered(state.certificates, number, event.certificate_issuer)  # type: ignore[attr-defined]
    if not found:
        return [
            _v(field, "certificate-issuer", f"certificate {number} is not issued in this trade", pending=True)
        ]
    if len(found) > 1:
        issuers = ", ".join(sorted(repr(f.issuer) for f in found))
        return [
            _v(
                "data.certificate_issuer",
                "certificate-issuer",
                f"certificates of several issuers ({issuers}) are numbered {number} in this trade: name "
                "the one meant in certificate_issuer",
            )
        ]
    facts = found[0]
    if isinstance(event, CertificateAmended | CertificateRevoked):
        if facts.issuer != event.sender:
            return [
                _v(
                    "data.issuer.party_id",
                    "certificate-issuer",
                    f"certificate {number} was issued by {facts.issuer!r}; only its issuer amends or "
                    "revokes it",
                )
            ]
        if facts.signed and verdict is not None and verdict != "valid":
            return [
                _v(
                    "data.signature",
                    "signed-status-change",
                    f"certificate {number} is signed; its {_short(event.avro_name)} must be signed with "
                    f"a registered key of its issuer {facts.issuer!r} (signature: {verdict})",
                )
            ]
        return []
    if facts.kind not in PREFERENCE_KINDS:
        return [
            _v(
                field,
                "preference-kind",
                f"certificate {number} is {facts.kind}; only {', '.join(sorted(PREFERENCE_KINDS))} "
                "certificates are presented for a preference",
            )
        ]
    if isinstance(event, CertificateVerified | PreferenceDecided | VerificationRequested):
        if facts.presented_to is None:
            return [_v(field, "presented-customs", f"certificate {number} was not presented", pending=True)]
        if facts.presented_to != event.sender:
            return [
                _v(
                    "data.customs.party_id",
                    "presented-customs",
                    f"certificate {number} was presented to {facts.presented_to!r}, not to {event.sender!r}",
                )
            ]
    return []


def _check_issuer_step(state: TrustState, event: TradeEvent, verdict: str | None) -> list[Violation]:
    """OriginDataTransmitted / VerificationAnswered: the certificate's own issuer, signed as it signs its
    certificate, addressed to a customs office of the trade (to the one it was presented to, once it was)."""
    assert isinstance(event, OriginDataTransmitted | VerificationAnswered)
    number = event.certificate_number
    what = _short(event.avro_name)
    own = certificates_numbered(state.certificates, number, event.sender)
    found = own or certificates_numbered(state.certificates, number, None)[:1]
    if not found:
        return [
            _v(
                "data.certificate_number",
                "certificate-issuer",
                f"certificate {number} is not issued in this trade",
                pending=True,
            )
        ]
    facts = found[0]
    if facts.issuer != event.sender:
        return [
            _v(
                "data.issuer.party_id",
                "verification-parties",
                f"certificate {number} was issued by {facts.issuer!r}; only its issuer sends its {what}",
            )
        ]
    if facts.kind not in PREFERENCE_KINDS:
        return [
            _v(
                "data.certificate_number",
                "preference-kind",
                f"certificate {number} is {facts.kind}; origin data and verification concern only "
                f"{', '.join(sorted(PREFERENCE_KINDS))} certificates",
            )
        ]
    if facts.signed and verdict is not None and verdict != "valid":
        return [
            _v(
                "data.signature",
                "signed-status-change",
                f"certificate {number} is signed; its {what} must be signed with a registered key of its "
                f"issuer {facts.issuer!r} (signature: {verdict})",
            )
        ]
    customs = event.customs.party_id
    if state.role_of(customs) != PartyRole.CUSTOMS:
        return [
            _v(
                "data.customs.party_id",
                "verification-parties",
                f"{customs!r} is not a customs office of trade {event.trade_id}",
            )
        ]
    if isinstance(event, VerificationAnswered):
        if facts.presented_to is None:
            return [
                _v(
                    "data.certificate_number",
                    "verification-parties",
                    f"certificate {number} was not presented",
                    pending=True,
                )
            ]
        if facts.presented_to != customs:
            return [
                _v(
                    "data.customs.party_id",
                    "verification-parties",
                    f"certificate {number} was presented to {facts.presented_to!r}, not to {customs!r}",
                )
            ]
    return []


def check(state: TrustState | None, event: TradeEvent, *, verdict: str | None = None) -> list[Violation]:
    """The rules ``event`` breaks in the trade whose trust facts are ``state`` (empty: none).

    ``verdict`` is the event's signature verdict (``signatures.verify_event``) for an amendment or a
    revocation, when the caller checked it; ``None`` leaves the signed-status-change rule to a reader
    that holds the keys.
    """
    state = state or TrustState()
    if state.facts.get(event.event_id) == event.sender:
        # the same sender sending an accepted event again (a client's retry): the gateway's idempotency
        # store answers it (the stored result, or 409 for another body), readers skip it by its id
        return []
    event_type = event.avro_name
    actor = _actor(event)
    if isinstance(event, OrderPlaced):
        return [v for v in (actor, *_check_open(state, event)) if v is not None]
    if not state.opened:
        return [
            _v(
                "data.trade_id",
                "trade-opened-by-buyer",
                f"trade {event.trade_id} is not opened: it starts with its buyer's OrderPlaced",
                pending=True,
            )
        ]
    member = state.members.get(event.sender)
    if member is None or not member.active:
        why = "was withdrawn from" if member is not None else "is not admitted to"
        return [
            _v(
                "data.sender",
                "admitted-party",
                f"partner {event.sender!r} {why} trade {event.trade_id}",
                pending=member is None,
            )
        ]
    if isinstance(event, PartyAdmitted | PartyWithdrawn):
        return _check_admission(state, event, member.role)
    if member.role not in PUBLISHER_ROLES.get(event_type, ()):
        return [
            _v(
                "type",
                "role-in-trade",
                f"{event.sender!r} is the trade's {member.role}; {_short(event_type)} is published by "
                + " or ".join(sorted(PUBLISHER_ROLES.get(event_type, ()))),
            )
        ]
    out = [actor] if actor is not None else []
    for name in NAMED_PARTIES.get(event_type, ()):
        named = getattr(event, name)
        if named is None:  # an optional party left out
            continue
        party_id = named.party_id
        if state.active(party_id) is None:
            out.append(
                _v(
                    f"data.{name}.party_id",
                    "named-party-admitted",
                    f"{party_id!r} is not a party of trade {event.trade_id}; naming a partner does not "
                    "admit it",
                )
            )
    if out:
        return out
    shipment_id = getattr(event, "shipment_id", None)
    if shipment_id is not None and not isinstance(event, ShipmentBooked | CustomsEventRecorded):
        carrier = state.carriers.get(shipment_id)
        if carrier is None:
            return [
                _v(
                    "data.shipment_id",
                    "shipment-carrier",
                    f"shipment {shipment_id} is not booked",
                    pending=True,
                )
            ]
        if carrier != event.sender:
            return [
                _v(
                    "data.shipment_id",
                    "shipment-carrier",
                    f"shipment {shipment_id} is carried by {carrier!r}",
                )
            ]
    if isinstance(event, TransportDocumentEventRecorded):
        return _check_document(state, event)
    if isinstance(event, LetterOfCreditEventRecorded):
        return _check_credit(state, event, member.role)
    if event_type in _CERTIFICATE_CONTENT | _CERTIFICATE_CLAIM | _VERIFICATION_LOOP:
        return _check_certificate(state, event, verdict)
    return []


def _check_credit(state: TrustState, event: LetterOfCreditEventRecorded, role: str) -> list[Violation]:
    credit = state.credits.get(event.lc_number)
    if credit is None:
        return [
            _v(
                "data.lc_number",
                "credit-bank",
                f"letter of credit {event.lc_number} is not the credit of trade {event.trade_id}",
            )
        ]
    acting = {"supplier"} if role == PartyRole.SUPPLIER else set()
    if event.sender == credit.issuing_bank:
        acting.add("issuing_bank")
    if event.sender == credit.advising_bank:
        acting.add("advising_bank")
    allowed = CREDIT_SENDERS[event.credit_event_type]
    if acting & allowed:
        return []
    who = " or ".join(sorted(a.replace("_", " ") for a in allowed))
    return [
        _v(
            "data.credit_event_type",
            "credit-bank",
            f"{event.credit_event_type.value} under letter of credit {event.lc_number} comes from its {who}; "
            f"{event.sender!r} is none of them",
        )
    ]


def _check_document(state: TrustState, event: TransportDocumentEventRecorded) -> list[Violation]:
    for i, shipment_id in enumerate(event.shipment_ids):
        carrier = state.carriers.get(shipment_id)
        if carrier is None:
            return [
                _v(
                    f"data.shipment_ids[{i}]",
                    "document-issuer",
                    f"shipment {shipment_id} is not booked",
                    pending=True,
                )
            ]
        if carrier != event.sender:
            return [
                _v(
                    f"data.shipment_ids[{i}]",
                    "document-issuer",
                    f"shipment {shipment_id} is carried by {carrier!r}; a carrier documents only its own "
                    "shipments",
                )
            ]
    issuer = state.documents.get(event.document_number)
    if event.document_event_type.value == "ISSU":
        if issuer is not None and issuer != event.sender:
            return [
                _v(
                    "data.document_number",
                    "document-issuer",
                    f"document {event.document_number} was issued by {issuer!r}",
                )
            ]
        return []
    if issuer is None:
        return [
            _v(
                "data.document_number",
                "document-issuer",
                f"document {event.document_number} is not issued in this trade",
                pending=True,
            )
        ]
    if issuer != event.sender:
        return [
            _v(
                "data.document_number",
                "document-issuer",
                f"document {event.document_number} was issued by {issuer!r}; only its issuer amends, "
                "surrenders or voids it",
            )
        ]
    return []


def admit(state: TrustState | None, event: TradeEvent) -> TrustState:
    """The trust facts after an accepted event (one that :func:`check` found nothing against)."""
    state = state or TrustState()
    if event.event_id in state.facts:
        return state
    if event.avro_name in FACT_TYPES:
        state = state.evolve(facts={**state.facts, event.event_id: event.sender})
    if isinstance(event, OrderPlaced):
        if state.opened:
            return state
        lc = event.letter_of_credit
        return state.evolve(
            members={
                event.buyer.party_id: Member(role=PartyRole.BUYER.value, admitted_at=event.occurred_at),
                event.supplier.party_id: Member(role=PartyRole.SUPPLIER.value, admitted_at=event.occurred_at),
            },
            credits=(
                {}
                if lc is None
                else {
                    lc.lc_number: CreditFacts(
                        issuing_bank=lc.issuing_bank.party_id, advising_bank=lc.advising_bank.party_id
                    )
                }
            ),
        )
    if isinstance(event, PartyAdmitted):
        member = Member(role=event.role.value, admitted_by=event.sender, admitted_at=event.occurred_at)
        return state.evolve(members={**state.members, event.party_id: member})
    if isinstance(event, PartyWithdrawn):
        old = state.members.get(event.party_id)
        if old is None:
            return state
        return state.evolve(
            members={**state.members, event.party_id: old.evolve(withdrawn_at=event.occurred_at)}
        )
    if isinstance(event, ShipmentBooked):
        return state.evolve(carriers={**state.carriers, event.shipment_id: event.carrier.party_id})
    if isinstance(event, TransportDocumentEventRecorded):
        if event.document_number in state.documents:
            return state
        return state.evolve(documents={**state.documents, event.document_number: event.sender})
    if isinstance(event, CertificateIssued):
        facts = CertificateFacts(
            issuer=event.issuer.party_id,
            kind=event.certificate_kind.value,
            number=event.certificate_number,
            signed=event.signature is not None,
        )
        key = certificate_key(facts.issuer, facts.number)
        return state.evolve(certificates={**state.certificates, key: facts})
    if isinstance(event, CertificateAmended):
        old_facts = state.certificates.get(
            certificate_key(event.issuer.party_id, event.supersedes_certificate_number)
        )
        if old_facts is None:
            return state
        new = CertificateFacts(
            issuer=old_facts.issuer,
            kind=old_facts.kind,
            number=event.certificate_number,
            signed=event.signature is not None,
        )
        key = certificate_key(new.issuer, new.number)
        return state.evolve(certificates={**state.certificates, key: new})
    if isinstance(event, CertificatePresented):
        shown = certificates_numbered(state.certificates, event.certificate_number, event.certificate_issuer)
        if len(shown) != 1:
            return state
        presented = shown[0].evolve(presented_to=event.customs.party_id)
        key = certificate_key(presented.issuer, presented.number)
        return state.evolve(certificates={**state.certificates, key: presented})
    return state


def addressees(event: TradeEvent) -> frozenset[str]:
    """The parties an event of :data:`ADDRESSED_TYPES` is between: the certificate's issuer and the
    importing customs office (empty for any other event)."""
    if isinstance(event, OriginDataTransmitted | VerificationAnswered):
        return frozenset({event.issuer.party_id, event.customs.party_id})
    if isinstance(event, VerificationRequested):
        return frozenset({event.certificate_issuer, event.customs.party_id})
    return frozenset()


def receives(state: TrustState, party_id: str, event: TradeEvent) -> bool:
    """Whether ``party_id`` gets a copy of ``event`` under ``state`` (the trust facts after it)."""
    member = state.active(party_id)
    if member is None:
        return False
    if isinstance(event, PartyAdmitted | PartyWithdrawn) and event.party_id == party_id:
        return True
    if (
        event.avro_name in ADDRESSED_TYPES
        and member.role not in PRINCIPAL_ROLES
        and party_id not in addressees(event)
    ):
        return False
    return event.avro_name in RECEIVES.get(member.role, frozenset())


def backfills(role: str, event_type: str) -> bool:
    """Whether a party joining in ``role`` is sent an earlier event of ``event_type``: what its role
    receives, but no addressed event (ADR 0038: it was addressed to others; the joiner reads its own
    certificates' loop in the ledger)."""
    if event_type in ADDRESSED_TYPES and role not in PRINCIPAL_ROLES:
        return False
    return receives_type(role, event_type)


def receives_type(role: str, event_type: str) -> bool:
    """Whether a party in ``role`` receives events of ``event_type`` (full or short name)."""
    allowed = RECEIVES.get(role, frozenset())
    return event_type in allowed or any(_short(t) == event_type for t in allowed)


def recipients(state: TrustState, event: TradeEvent) -> list[str]:
    """Who gets a copy of ``event`` (``state``: the trust facts after it): the active parties that
    receive it, sorted. A party withdrawn by the event itself still gets that withdrawal, so it learns
    why copies stop."""
    out = {p for p in state.members if receives(state, p, event)}
    if isinstance(event, PartyWithdrawn) and event.party_id in state.members:
        out.add(event.party_id)
    return sorted(out)
