"""Which party roles may publish which event type (docs/domain.md §2): the one place this is written down.

``contracts/asyncapi.yaml`` declares the same mapping to partners (``x-corridor-publisher-roles`` on
each message and on the send operations) and a unit test holds the two together; the gateway's
authorisation will check a publishing partner's role against it.
"""

from __future__ import annotations

from corridor.core.domain.events import PartyRole

_ORDERS = "corridor.trade.orders."
_SHIPMENTS = "corridor.trade.shipments."
_CERTIFICATES = "corridor.trade.certificates."

_BUYER = frozenset({PartyRole.BUYER})
_SUPPLIER = frozenset({PartyRole.SUPPLIER})
_CARRIER = frozenset({PartyRole.CARRIER})
_CUSTOMS = frozenset({PartyRole.CUSTOMS})
_ISSUING_AUTHORITY = frozenset({PartyRole.ISSUING_AUTHORITY})
_ISSUERS = frozenset({PartyRole.ISSUING_AUTHORITY, PartyRole.INSPECTION_BODY})
_BANK = frozenset({PartyRole.BANK})

#: Event full name (= CloudEvents type) → the party roles allowed to publish it.
PUBLISHER_ROLES: dict[str, frozenset[str]] = {
    # the buyer orders, changes and withdraws
    _ORDERS + "OrderPlaced": _BUYER,
    _ORDERS + "OrderAmended": _BUYER,
    _ORDERS + "OrderCancelled": _BUYER,
    # the supplier answers and invoices
    _ORDERS + "OrderResponded": _SUPPLIER,
    _ORDERS + "InvoiceIssued": _SUPPLIER,
    # under a letter of credit the supplier (or its advising bank) presents, the banks examine and pay;
    # which bank may send which credit event is trust.CREDIT_SENDERS (ADR 0030)
    _ORDERS + "LetterOfCreditEventRecorded": _SUPPLIER | _BANK,
    # the trade's principals admit and withdraw every other party (docs/adr/0016)
    _ORDERS + "PartyAdmitted": _BUYER | _SUPPLIER,
    _ORDERS + "PartyWithdrawn": _BUYER | _SUPPLIER,
    # the carrier or forwarder reports the movement of the goods
    _SHIPMENTS + "ShipmentBooked": _CARRIER,
    _SHIPMENTS + "EquipmentEventRecorded": _CARRIER,
    _SHIPMENTS + "TransportEventRecorded": _CARRIER,
    _SHIPMENTS + "ShipmentDelivered": _CARRIER,
    # the carrier issues, amends, takes back and voids its transport documents (a B/L is never a buyer's)
    _SHIPMENTS + "TransportDocumentEventRecorded": _CARRIER,
    # customs: controls and release, and the certificate-of-origin closed loop
    _SHIPMENTS + "CustomsEventRecorded": _CUSTOMS,
    _CERTIFICATES + "CertificatePresented": _CUSTOMS,
    _CERTIFICATES + "CertificateVerified": _CUSTOMS,
    _CERTIFICATES + "PreferenceDecided": _CUSTOMS,
    _CERTIFICATES + "VerificationRequested": _CUSTOMS,
    # issuing authorities (TDAP, CCPIT, MIIT …) and inspection bodies (SGS, CCIC)
    _CERTIFICATES + "CertificateIssued": _ISSUERS,
    _CERTIFICATES + "CertificateAmended": _ISSUERS,
    _CERTIFICATES + "CertificateRevoked": _ISSUERS,
    # the issuing authority of a preferential certificate: origin data ahead of the goods and its answer
    # to the importing customs' verification request (docs/adr/0038)
    _CERTIFICATES + "OriginDataTransmitted": _ISSUING_AUTHORITY,
    _CERTIFICATES + "VerificationAnswered": _ISSUING_AUTHORITY,
}


def may_publish(role: str, event_type: str) -> bool:
    """Whether a party acting in ``role`` may publish events of ``event_type`` (full name)."""
    return role in PUBLISHER_ROLES.get(event_type, frozenset())
