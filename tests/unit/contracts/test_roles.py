"""roles.PUBLISHER_ROLES is the one role → event type mapping, and the demo stories respect it."""

from __future__ import annotations

from corridor.core.domain.events import EVENT_TYPES, PartyRole
from corridor.core.domain.roles import PUBLISHER_ROLES, may_publish
from corridor.demo.story import ALL_PARTIES, STORIES


def test_every_event_type_has_publishers_and_operators_publish_nothing() -> None:
    assert set(PUBLISHER_ROLES) == set(EVENT_TYPES)
    assert all(PUBLISHER_ROLES.values())
    assert not any(PartyRole.OPERATOR in roles for roles in PUBLISHER_ROLES.values())


def test_domain_brief_mapping() -> None:
    by_role: dict[str, set[str]] = {}
    for full_name, roles in PUBLISHER_ROLES.items():
        for role in roles:
            by_role.setdefault(role, set()).add(full_name.rsplit(".", 1)[-1])
    assert by_role == {
        "BUYER": {"OrderPlaced", "OrderAmended", "OrderCancelled", "PartyAdmitted", "PartyWithdrawn"},
        "SUPPLIER": {
            "OrderResponded",
            "InvoiceIssued",
            "PartyAdmitted",
            "PartyWithdrawn",
            "LetterOfCreditEventRecorded",
        },
        "CARRIER": {
            "ShipmentBooked",
            "EquipmentEventRecorded",
            "TransportEventRecorded",
            "ShipmentDelivered",
            "TransportDocumentEventRecorded",
        },
        "CUSTOMS": {
            "CustomsEventRecorded",
            "CertificatePresented",
            "CertificateVerified",
            "PreferenceDecided",
            "VerificationRequested",
        },
        "ISSUING_AUTHORITY": {
            "CertificateIssued",
            "CertificateAmended",
            "CertificateRevoked",
            "OriginDataTransmitted",
            "VerificationAnswered",
        },
        "INSPECTION_BODY": {"CertificateIssued", "CertificateAmended", "CertificateRevoked"},
        "BANK": {"LetterOfCreditEventRecorded"},
    }


def test_may_publish() -> None:
    assert may_publish("BUYER", "corridor.trade.orders.OrderPlaced")
    assert may_publish(PartyRole.INSPECTION_BODY, "corridor.trade.certificates.CertificateIssued")
    assert not may_publish("SUPPLIER", "corridor.trade.orders.OrderPlaced")
    assert not may_publish("BUYER", "corridor.trade.orders.OrderTeleported")


def test_demo_stories_are_published_by_allowed_roles() -> None:
    roles = {party.party_id: party.role for party in ALL_PARTIES}
    for name, story in STORIES.items():
        for event in story().events:
            assert may_publish(roles[event.sender], event.avro_name), (
                f"{name}: {event.sender} ({roles[event.sender]}) publishes {event.avro_name}"
            )
