"""Regenerate contracts/examples/ from the demo stories plus a few hand-made events.

    .venv/bin/python contracts/examples/_generate.py

The JSON files are what partners read and what tests/unit/contracts checks; this script only saves
typing. It is deterministic (fixed trade ids, event ids derived from the case name), so re-running it
on unchanged stories rewrites identical files. Every invalid case states the field(s) it is meant to
break; the script refuses to write a case whose errors are not exactly on those fields, and stores the
errors ``parse_event`` gives as ``expected_errors``.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from corridor.core.domain.base import TradeEvent  # noqa: E402
from corridor.core.domain.events import (  # noqa: E402
    CertificateAmended,
    CertificateRevoked,
    EquipmentEventRecorded,
    OrderCancelled,
    OriginDataTransmitted,
    Party,
    PartyWithdrawn,
    TransportDocumentEventRecorded,
    VerificationAnswered,
    VerificationRequested,
)
from corridor.core.domain.validation import InvalidEvent, parse_event  # noqa: E402
from corridor.core.envelope import CloudEvent  # noqa: E402
from corridor.demo import story  # noqa: E402

HERE = Path(__file__).resolve().parent
VALID = HERE / "valid"
INVALID = HERE / "invalid"

_IDS = uuid.UUID("0b6f3c1e-7d2a-4f58-9a41-c2e5d8b7a903")  # namespace of the example event ids
CHROMITE_TRADE = uuid.UUID("5f1d2c9e-8a3b-4c71-9e42-1b7d6a0c3f85")
EXPLOSIVES_TRADE = uuid.UUID("c3a8e6f1-2b4d-4e9a-8f17-6d5b0a9c2e43")
MARBLE_TRADE = uuid.UUID("8e2b7d4a-1c6f-4a93-b5e8-3f0d9c2a7b16")
COPPER_TRADE = uuid.UUID("2a9c5e7b-4d1f-4b86-a3c0-e7f2b1d8c654")

_OFFSETS = {"PK": story.PKT, "CN": story.CST}

XIAMEN_STONE = story.party(
    "xiamen-huashi-stone",
    "BUYER",
    "CN",
    "USCC",
    story._uscc("91350206MA8RXT4K1"),
    "Xiamen Huashi Stone Industry Co., Ltd.",
    "厦门华石石业有限公司",
)
PARTIES: dict[str, Party] = {p.party_id: p for p in (*story.ALL_PARTIES, XIAMEN_STONE)}


# -- building one example ------------------------------------------------------------------------------


def _traceparent(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return f"00-{digest[:32]}-{digest[32:48]}-01"


def _local_time(event: TradeEvent) -> str:
    """The event time as its sender writes it: local time of the sender's country, with the offset."""
    party = PARTIES.get(event.sender)
    tz = _OFFSETS.get(party.country if party else "", dt.UTC)
    local = event.occurred_at.astimezone(tz)
    return local.isoformat(timespec="milliseconds" if local.microsecond else "seconds")


def message(event: TradeEvent, seed: str) -> dict[str, Any]:
    """An example message: the event with a deterministic id, its key, CloudEvents headers and data."""
    event = event.model_copy(update={"event_id": uuid.uuid5(_IDS, seed)})
    headers = dict(
        (name, value.decode())
        for name, value in CloudEvent.for_event(event, traceparent=_traceparent(seed)).to_headers()
    )
    data = event.model_dump(mode="json")
    data["occurred_at"] = _local_time(event)
    return {"type": event.avro_name, "key": str(event.trade_id), "headers": headers, "data": data}


def _stories() -> dict[str, list[TradeEvent]]:
    return {
        "chromite": story.chromite_story(CHROMITE_TRADE).events,
        "explosives": story.explosives_story(EXPLOSIVES_TRADE).events,
    }


def _pick(events: list[TradeEvent], name: str, **where: Any) -> TradeEvent:
    for event in events:
        if type(event).__name__ == name and all(getattr(event, k) == v for k, v in where.items()):
            return event
    raise LookupError(f"no {name} with {where} in the story")


def _hand_made() -> dict[str, TradeEvent]:
    """Event types the demo stories do not play."""
    cpfta = _pick(_stories()["chromite"], "CertificateIssued", certificate_kind="CPFTA_ORIGIN")
    amended_goods = [
        goods.model_copy(
            update={"description": "Chromite ore lumps in bulk, Cr2O3 40-42 %, marks TJRD-PO-2026-0117"}
        )
        for goods in cpfta.goods  # type: ignore[attr-defined]
    ]
    return {
        # the stories' chromite is dry bulk (no containers) and their trucks are vehicles: the container
        # event comes from a containerised marble trade
        "EquipmentEventRecorded": EquipmentEventRecorded(
            event_id=uuid.uuid4(),
            trade_id=MARBLE_TRADE,
            occurred_at=dt.datetime(2026, 4, 2, 14, 10, tzinfo=story.PKT),
            sender=story.CARRIER.party_id,
            shipment_id="IOL-KHI-XMN-26-0377",
            equipment_event_type="LOAD",
            classifier="ACT",
            location=story.KARACHI,
            equipment_reference="TGHU1234567",
        ),
        "OrderCancelled": OrderCancelled(
            event_id=uuid.uuid4(),
            trade_id=MARBLE_TRADE,
            occurred_at=dt.datetime(2026, 4, 8, 16, 20, tzinfo=story.CST),
            sender=XIAMEN_STONE.party_id,
            order_id="XMHS-PO-2026-0231",
            reason=(
                "Ziarat white marble blocks: the supplier could not confirm loading before 30 April; "
                "cancelled under clause 9 before any shipment (订单取消)"
            ),
        ),
        "CertificateAmended": CertificateAmended(
            event_id=uuid.uuid4(),
            trade_id=CHROMITE_TRADE,
            occurred_at=dt.datetime(2026, 3, 2, 11, 45, tzinfo=story.PKT),
            sender=story.TDAP.party_id,
            certificate_number="CPFTA-PK-2026-119052",
            supersedes_certificate_number=cpfta.certificate_number,  # type: ignore[attr-defined]
            issuer=story.TDAP,
            goods=amended_goods,
            reason="Box 7: shipping marks corrected to the full purchase order number TJRD-PO-2026-0117",
        ),
        "PartyWithdrawn": PartyWithdrawn(
            event_id=uuid.uuid4(),
            trade_id=CHROMITE_TRADE,
            occurred_at=dt.datetime(2026, 2, 20, 9, 0, tzinfo=story.PKT),
            sender=story.SUPPLIER.party_id,
            party_id=story.SGS.party_id,
            role="INSPECTION_BODY",
            reason="load-port assay moved to another inspection body at the buyer's request",
        ),
        "TransportDocumentEventRecorded": TransportDocumentEventRecorded.model_validate(
            {
                "event_id": uuid.uuid4(),
                "trade_id": CHROMITE_TRADE,
                "occurred_at": dt.datetime(2026, 3, 1, 20, 0, tzinfo=story.PKT),
                "created_at": dt.datetime(2026, 3, 1, 20, 5, tzinfo=story.PKT),
                "sender": story.CARRIER.party_id,
                "document_event_type": "ISSU",
                "document_number": "IOLU-KHI-26-004127",
                "document_type": "BILL_OF_LADING",
                "carrier": story.CARRIER,
                "bill_of_lading_type": "TO_ORDER",
                "number_of_originals": 3,
                "place_of_issue": story.loc("PKKHI", "Karachi"),
                "date_of_issue": dt.date(2026, 3, 1),
                "shipper": story.SUPPLIER,
                "notify_party": story.BUYER,
                "shipment_ids": ["IOL-KHI-TXG-26-0412"],
                "equipment": [],  # chromite ore in bulk: no containers
                "vessel_imo_number": "9345673",
            }
        ),
        # the verification loop (ADR 0038) on the chromite trade's certificate of origin: TDAP transmits
        # its origin data to GACC Tianjin ahead of the vessel; GACC doubts the origin and asks TDAP
        "OriginDataTransmitted": OriginDataTransmitted(
            event_id=uuid.uuid4(),
            trade_id=CHROMITE_TRADE,
            occurred_at=cpfta.occurred_at + dt.timedelta(hours=1),
            sender=story.TDAP.party_id,
            certificate_number=cpfta.certificate_number,  # type: ignore[attr-defined]
            issuer=story.TDAP,
            customs=story.GACC_TIANJIN,
            exporter_id=cpfta.exporter.party_id,  # type: ignore[attr-defined]
            consignee_id=cpfta.consignee.party_id,  # type: ignore[attr-defined]
            goods=[
                {
                    "item_number": g.item_number,
                    "hs_code": g.hs_code,
                    "quantity": g.quantity,
                    "gross_weight": g.gross_weight,
                }
                for g in cpfta.goods  # type: ignore[attr-defined]
            ],
        ),
        "VerificationRequested": VerificationRequested(
            event_id=uuid.uuid4(),
            trade_id=CHROMITE_TRADE,
            occurred_at=dt.datetime(2026, 3, 8, 11, 30, tzinfo=story.CST),
            sender=story.GACC_TIANJIN.party_id,
            certificate_number=cpfta.certificate_number,  # type: ignore[attr-defined]
            certificate_issuer=story.TDAP.party_id,
            declaration_number="020220260004417",
            customs=story.GACC_TIANJIN,
            reason="Cr2O3 content of the samples differs from the Muslim Bagh ore the certificate names",
            reply_by=dt.date(2026, 6, 6),
        ),
        "VerificationAnswered": VerificationAnswered(
            event_id=uuid.uuid4(),
            trade_id=CHROMITE_TRADE,
            occurred_at=dt.datetime(2026, 4, 2, 15, 0, tzinfo=story.PKT),
            sender=story.TDAP.party_id,
            certificate_number=cpfta.certificate_number,  # type: ignore[attr-defined]
            issuer=story.TDAP,
            customs=story.GACC_TIANJIN,
            answer="CONFIRMED",
            findings=["Mining lease 117 production records cover the 5,512.4 TNE shipped"],
        ),
        "CertificateRevoked": CertificateRevoked(
            event_id=uuid.uuid4(),
            trade_id=COPPER_TRADE,
            occurred_at=dt.datetime(2026, 5, 19, 14, 0, tzinfo=story.PKT),
            sender=story.TDAP.party_id,
            certificate_number="CPFTA-PK-2026-121460",
            issuer=story.TDAP,
            reason=(
                "Origin criterion 'P' (wholly obtained) not met: the verification visit found the copper "
                "concentrate blended with imported material"
            ),
        ),
    }


def valid_examples() -> dict[str, dict[str, Any]]:
    chromite, explosives = _stories().values()
    chosen: dict[str, TradeEvent] = {
        "OrderPlaced": _pick(chromite, "OrderPlaced"),
        "OrderResponded": _pick(chromite, "OrderResponded", responds_to_revision=1),
        "OrderAmended": _pick(chromite, "OrderAmended"),
        "InvoiceIssued": _pick(chromite, "InvoiceIssued", invoice_kind="FINAL"),
        "LetterOfCreditEventRecorded": _pick(
            chromite, "LetterOfCreditEventRecorded", credit_event_type="DOCUMENTS_PRESENTED"
        ),
        "ShipmentBooked": _pick(explosives, "ShipmentBooked"),
        "TransportEventRecorded": _pick(
            chromite, "TransportEventRecorded", transport_event_type="DEPA", classifier="ACT"
        ),
        "CustomsEventRecorded": _pick(chromite, "CustomsEventRecorded", customs_event_type="CUSI"),
        "ShipmentDelivered": _pick(chromite, "ShipmentDelivered"),
        "PartyAdmitted": _pick(chromite, "PartyAdmitted", party_id=story.GACC_TIANJIN.party_id),
        "CertificateIssued": _pick(chromite, "CertificateIssued", certificate_kind="CPFTA_ORIGIN"),
        "CertificatePresented": _pick(chromite, "CertificatePresented"),
        "CertificateVerified": _pick(chromite, "CertificateVerified"),
        "PreferenceDecided": _pick(chromite, "PreferenceDecided"),
        **_hand_made(),
    }
    return {name: message(event, f"valid/{name}") for name, event in sorted(chosen.items())}


# -- invalid cases -------------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """Set a dotted path (list indexes as [i]) in the data; ``...`` deletes the key."""

    def mutate(data: dict[str, Any]) -> None:
        parts = path.replace("[", ".[").split(".")
        target: Any = data
        for part in parts[:-1]:
            target = target[int(part[1:-1])] if part.startswith("[") else target[part]
        if value is ...:
            del target[parts[-1]]
        else:
            target[parts[-1]] = value

    return mutate


def _all(*mutations: Mutation) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        for m in mutations:
            m(data)

    return mutate


#: name → (base example, fields that must be reported, what the case shows, mutation)
CASES: dict[str, tuple[str, list[str], str, Mutation]] = {
    "sea-only-incoterm-on-road-shipment": (
        "ShipmentBooked",
        ["incoterm"],
        "A road shipment over the Khunjerab Pass booked FOB: FOB, FAS, CFR and CIF are sea-only Incoterms.",
        _set("incoterm", "FOB"),
    ),
    "uscc-wrong-check-character": (
        "OrderPlaced",
        ["buyer.legal_id"],
        "The buyer's Unified Social Credit Code ends in a character that is not its mod-31 check.",
        _set("buyer.legal_id", "91120116MA05K7QX3A"),
    ),
    "ntn-format": (
        "OrderPlaced",
        ["supplier.legal_id"],
        "A Pakistan NTN with six digits before the check digit (427193-1): an NTN has seven, or is a "
        "sole proprietor's 13-digit CNIC.",
        _set("supplier.legal_id", "427193-1"),
    ),
    "strn-format": (
        "OrderPlaced",
        ["supplier.registrations[0].value"],
        "The supplier's sales-tax registration (STRN) written as its NTN: an STRN has 13 digits "
        "(17-00-3736-045-91).",
        _set("supplier.registrations[0].value", "4271931-6"),
    ),
    "cn-customs-code-format": (
        "OrderPlaced",
        ["buyer.registrations[0].value"],
        "The buyer's Chinese customs registration code given as its 18-character USCC: the customs code "
        "has 10 characters.",
        _set("buyer.registrations[0].value", "91120116MA05K7QX33"),
    ),
    "unlocode-not-in-list": (
        "ShipmentBooked",
        ["place_of_loading.unlocode"],
        "PKXYZ has the shape of a Pakistani UN/LOCODE but is not in the UN/LOCODE edition shipped with "
        "Corridor (nor a configured private code).",
        _set("place_of_loading.unlocode", "PKXYZ"),
    ),
    "hs-code-not-in-hs2022": (
        "OrderPlaced",
        ["lines[0].hs_code"],
        "261099 is six digits in a real chapter but no HS 2022 subheading (heading 26.10 has only 2610.00); "
        "the tariff lines follow it, so only the HS code is reported.",
        _all(
            _set("lines[0].hs_code", "261099"),
            _set("lines[0].pk_tariff_code", "26109900"),
            _set("lines[0].cn_tariff_code", "2610990000"),
        ),
    ),
    "cn-tariff-line-of-another-subheading": (
        "OrderPlaced",
        ["lines[0].cn_tariff_code"],
        "A Chinese tariff line for copper ores (2603000000) on a line of chromium ores (HS 261000): a "
        "national tariff line subdivides the line's own HS subheading.",
        _set("lines[0].cn_tariff_code", "2603000000"),
    ),
    "pct-code-with-dots": (
        "OrderPlaced",
        ["lines[0].pk_tariff_code"],
        "The PCT code as the tariff prints it (2610.0000) instead of the 8 digits 26100000.",
        _set("lines[0].pk_tariff_code", "2610.0000"),
    ),
    "hs2022-line-after-hs2027-in-force": (
        "OrderPlaced",
        ["lines[0].hs_edition"],
        "An order placed on 5 January 2027 whose line says its codes are HS 2022: HS 2027 replaced it on "
        "1 January 2027 (leave hs_edition out to take the edition in force).",
        _all(
            _set("occurred_at", "2027-01-05T09:30:00+08:00"),
            _set("created_at", "2027-01-05T09:30:00+08:00"),
            _set("lines[0].hs_edition", "HS2022"),
        ),
    ),
    "origin-not-iso3166": (
        "OrderPlaced",
        ["lines[0].country_of_origin"],
        "The country of origin written PAK (ISO 3166 alpha-3) instead of the alpha-2 code PK.",
        _set("lines[0].country_of_origin", "PAK"),
    ),
    "origin-missing-on-cpfta-order": (
        "OrderPlaced",
        ["lines[0].country_of_origin"],
        "An order that requires a CPFTA certificate of origin with a line that does not say where its "
        "goods originate: the preference is claimed for goods of Pakistani or Chinese origin.",
        _set("lines[0].country_of_origin", None),
    ),
    "net-weight-above-gross": (
        "OrderPlaced",
        ["lines[0].net_weight"],
        "5000.5 tonnes net against 5,000,000 kg gross: the net weight is compared with the gross after "
        "converting both to kilograms.",
        _all(
            _set("lines[0].gross_weight", {"value": "5000000.000", "unit": "KGM"}),
            _set("lines[0].net_weight", {"value": "5000.500", "unit": "TNE"}),
        ),
    ),
    "gross-weight-not-a-mass": (
        "OrderPlaced",
        ["lines[0].gross_weight.unit"],
        "A gross weight in cubic metres (MTQ): weights are masses (TNE, KGM, GRM).",
        _set("lines[0].gross_weight", {"value": "1800.000", "unit": "MTQ"}),
    ),
    "bulk-ore-counted-in-packages": (
        "OrderPlaced",
        ["lines[0].number_of_packages"],
        "Ore loose in the hold (Rec 21 VR) given a number of packages: goods in bulk are not counted.",
        _set("lines[0].number_of_packages", 250),
    ),
    "cartons-not-counted": (
        "OrderPlaced/explosives",
        ["lines[0].number_of_packages"],
        "Explosives in cartons (Rec 21 CT) without the number of cartons.",
        _set("lines[0].number_of_packages", None),
    ),
    "unlocode-bad-format": (
        "EquipmentEventRecorded",
        ["location.unlocode"],
        "A UN/LOCODE written with a space (PK KHI) instead of the 5-character code PKKHI.",
        _set("location.unlocode", "PK KHI"),
    ),
    "unlocode-unknown-country": (
        "TransportEventRecorded",
        ["transport_call.location.unlocode"],
        "A carrier's in-house placeholder XXSST for Sost dry port: XX is no ISO 3166-1 country (the "
        "configured private code is PKZSD).",
        _set("transport_call.location.unlocode", "XXSST"),
    ),
    "hs-code-with-dots": (
        "OrderPlaced",
        ["lines[0].hs_code"],
        "The HS code as printed in the tariff (2610.00) instead of the 6 digits 261000.",
        _set("lines[0].hs_code", "2610.00"),
    ),
    "unit-not-rec20": (
        "OrderPlaced",
        ["lines[0].quantity.unit"],
        "'MT' for metric tons: not a UN/ECE Rec 20 code (a tonne is TNE).",
        _set("lines[0].quantity.unit", "MT"),
    ),
    "currency-not-iso4217": (
        "OrderPlaced",
        ["lines[0].unit_price.currency"],
        "'RMB' is what invoices often print; the ISO 4217 code of the renminbi is CNY.",
        _set("lines[0].unit_price.currency", "RMB"),
    ),
    "currency-not-accepted": (
        "OrderAmended",
        ["lines[0].unit_price.currency"],
        "EUR is an ISO 4217 currency but not one accepted for corridor trade (USD, CNY, PKR).",
        _set("lines[0].unit_price.currency", "EUR"),
    ),
    "negative-amount": (
        "InvoiceIssued",
        ["lines[0].unit_price.amount", "lines[0].amount.amount", "total.amount"],
        "A credit note for a quality deduction written with negative amounts: amounts are never "
        "negative, the invoice kind CREDIT_NOTE says that it credits.",
        _all(
            _set("invoice_kind", "CREDIT_NOTE"),
            _set("invoice_number", "ZVC-CN-2026-0004"),
            _set("lines[0].unit_price.amount", "-1.60"),
            _set("lines[0].amount.amount", "-8797.9200"),
            _set("total.amount", "-8797.9200"),
        ),
    ),
    "too-many-decimal-places": (
        "OrderPlaced",
        ["lines[0].unit_price.amount"],
        "A price that went through binary floating point (285.49999): money has at most 4 decimals.",
        _set("lines[0].unit_price.amount", "285.49999"),
    ),
    "naive-timestamp": (
        "OrderPlaced",
        ["occurred_at"],
        "A local time without a UTC offset: in Tianjin or Karachi it would be 8 or 5 hours off.",
        _set("occurred_at", "2026-02-10T09:30:00"),
    ),
    "unknown-incoterm": (
        "OrderPlaced",
        ["incoterm"],
        "DAT was an Incoterms 2010 rule; Incoterms 2020 replaced it with DPU.",
        _set("incoterm", "DAT"),
    ),
    "missing-required-field": (
        "OrderPlaced",
        ["payment_terms"],
        "An order without its payment terms.",
        _set("payment_terms", ...),
    ),
    "unknown-extra-field": (
        "TransportEventRecorded",
        ["transport_call.vessel_imo"],
        "A field the schema does not have (vessel_imo) is refused, not silently dropped.",
        _set("transport_call.vessel_imo", "9786542"),
    ),
    "explosives-without-licences": (
        "OrderPlaced/explosives",
        ["required_certificates"],
        "Emulsion explosives (HS 360200, UN0241) ordered without the PK export licence and the CN "
        "import approval among the required certificates.",
        _set("required_certificates", ["NON_PREFERENTIAL_ORIGIN"]),
    ),
    "explosives-without-dangerous-goods": (
        "OrderPlaced/explosives",
        ["lines[0].dangerous_goods"],
        "Emulsion explosives (UN0241) ordered without their dangerous-goods particulars (classification, "
        "proper shipping name, net explosive mass, packages; ADR 0034).",
        _set("lines[0].dangerous_goods", None),
    ),
    "explosive-with-another-entrys-classification": (
        "OrderPlaced/explosives",
        ["lines[0].dangerous_goods.classification"],
        "UN0241 (EXPLOSIVE, BLASTING, TYPE E) is 1.1D in the Dangerous Goods List, not 1.5D "
        "(that is UN0332).",
        _set("lines[0].dangerous_goods.classification", "1.5D"),
    ),
    "compatibility-group-not-of-its-division": (
        "OrderPlaced/explosives",
        ["lines[0].dangerous_goods.classification"],
        "Division 1.5 admits compatibility group D only: 1.5B is no classification.",
        _set("lines[0].dangerous_goods.classification", "1.5B"),
    ),
    "explosive-without-net-explosive-mass": (
        "OrderPlaced/explosives",
        ["lines[0].dangerous_goods.net_explosive_mass_kg"],
        "Class 1 goods state their net explosive mass.",
        _set("lines[0].dangerous_goods.net_explosive_mass_kg", None),
    ),
    "explosives-booked-without-licences": (
        "ShipmentBooked",
        ["licences"],
        "A road shipment of UN0241 that names no explosives licence to draw on.",
        _set("licences", []),
    ),
    "explosives-booked-without-dangerous-goods": (
        "ShipmentBooked",
        ["un_numbers[0]"],
        "A booking lists UN0241 among the goods carried but declares no dangerous goods for it.",
        _all(_set("dangerous_goods", []), _set("dangerous_goods_declaration", None)),
    ),
    "dangerous-goods-without-declaration": (
        "ShipmentBooked",
        ["dangerous_goods_declaration"],
        "Dangerous goods booked without the reference of the shipper's dangerous goods declaration.",
        _set("dangerous_goods_declaration", None),
    ),
    "rejection-without-reason": (
        "OrderResponded",
        ["reason"],
        "The supplier rejects the amendment without saying why.",
        _all(_set("response", "REJECTED"), _set("reason", None)),
    ),
    "preference-denied-without-reason": (
        "PreferenceDecided",
        ["reason"],
        "Customs denies CPFTA preference without the reason box 5 of the certificate asks for.",
        _all(_set("decision", "DENIED"), _set("reason", None)),
    ),
    "cpfta-certificate-without-origin-criterion": (
        "CertificateIssued",
        ["goods[0].origin_criterion"],
        "A CPFTA certificate of origin whose item states no origin criterion (box 8: P, RVC or PSR).",
        _set("goods[0].origin_criterion", None),
    ),
    "cpfta-certificate-foreign-origin-criterion": (
        "CertificateIssued",
        ["goods[0].origin_criterion"],
        "WO is the ASEAN-China Form E code for wholly obtained; the CPFTA certificate writes P.",
        _set("goods[0].origin_criterion", "WO"),
    ),
    "cpfta-certificate-invoice-without-date": (
        "CertificateIssued",
        ["invoices[0].invoice_date"],
        "Box 10 gives the number and the date of each invoice.",
        _set("invoices", [{"invoice_number": "ZVC-INV-2026-0031"}]),
    ),
    "cpfta-certificate-late-and-not-flagged": (
        "CertificateIssued",
        ["issued_retroactively"],
        "Issued two weeks after the departure date of box 4 without the ISSUED RETROACTIVELY mark.",
        _set("transport.departure_date", "2026-02-15"),
    ),
    "cpfta-certificate-third-party-invoicing-unnamed": (
        "CertificateIssued",
        ["invoicing_operator"],
        "Third-party invoicing ticked without naming the operator who invoices.",
        _set("third_party_invoicing", True),
    ),
    "verification-not-confirmed-without-findings": (
        "VerificationAnswered",
        ["findings"],
        "The issuer does not confirm the certificate but says nothing of what it found.",
        _all(_set("answer", "NOT_CONFIRMED"), _set("findings", [])),
    ),
    "origin-data-without-goods": (
        "OriginDataTransmitted",
        ["goods"],
        "Origin data transmitted with no item of goods to match the presented certificate against.",
        _set("goods", []),
    ),
    "verification-reply-by-before-request": (
        "VerificationRequested",
        ["reply_by"],
        "A verification request whose deadline for the answer is before the request itself.",
        _set("reply_by", "2026-03-01"),
    ),
    "not-matched-without-mismatches": (
        "CertificateVerified",
        ["mismatches"],
        "A certificate reported NOT_MATCHED without saying what did not match.",
        _set("result", "NOT_MATCHED"),
    ),
    "delivery-window-reversed": (
        "OrderPlaced",
        ["delivery_latest"],
        "The delivery window ends before it starts.",
        _all(_set("delivery_earliest", "2026-03-31"), _set("delivery_latest", "2026-03-01")),
    ),
    "invoice-total-not-sum-of-lines": (
        "InvoiceIssued",
        ["total.amount"],
        "The invoice total differs from the sum of its line amounts.",
        _set("total.amount", "1578676.7800"),
    ),
    "supplier-with-buyer-role": (
        "OrderPlaced",
        ["supplier.role"],
        "The party in the supplier slot is declared with the BUYER role.",
        _set("supplier.role", "BUYER"),
    ),
    "container-number-check-digit": (
        "TransportDocumentEventRecorded",
        ["equipment[0].container_number"],
        "A container number whose ISO 6346 check digit is wrong (IOLU4127054; the right one ends in 7).",
        _set("equipment", [{"container_number": "IOLU4127054", "seal_numbers": ["PK-CUS-0048812"]}]),
    ),
    "vessel-imo-number-check-digit": (
        "TransportDocumentEventRecorded",
        ["vessel_imo_number"],
        "An IMO ship number whose last digit is not its check digit.",
        _set("vessel_imo_number", "9345674"),
    ),
    "to-order-bill-of-lading-without-notify-party": (
        "TransportDocumentEventRecorded",
        ["notify_party"],
        "A to-order bill of lading names no consignee, so it must name the party to notify on arrival.",
        _set("notify_party", None),
    ),
    "voided-document-without-reason": (
        "TransportDocumentEventRecorded",
        ["reason"],
        "A bill of lading voided without saying why.",
        _set("document_event_type", "VOID"),
    ),
    "actual-created-before-it-happened": (
        "TransportEventRecorded",
        ["created_at"],
        "An actual (ACT) departure whose event was created a day before the departure it reports: an actual "
        "has happened when it is reported (estimates and plans are created before their time).",
        _set("created_at", "2026-02-28T22:00:00+05:00"),
    ),
    "credit-terms-on-a-telegraphic-transfer-order": (
        "OrderPlaced",
        ["letter_of_credit"],
        "Letter-of-credit terms on an order paid by telegraphic transfer: only an order paid by letter "
        "of credit carries them.",
        _set("payment_terms", "TELEGRAPHIC_TRANSFER"),
    ),
    "credit-latest-shipment-after-expiry": (
        "OrderPlaced",
        ["letter_of_credit.latest_shipment_date"],
        "A letter of credit whose latest shipment date falls after the credit expires: documents could "
        "never be presented in time.",
        _set("letter_of_credit.latest_shipment_date", "2026-05-15"),
    ),
    "credit-issued-by-a-non-bank": (
        "OrderPlaced",
        ["letter_of_credit.issuing_bank.role"],
        "The buyer named as the issuing bank of its own letter of credit.",
        _set("letter_of_credit.issuing_bank.role", "BUYER"),
    ),
    "presentation-without-documents": (
        "LetterOfCreditEventRecorded",
        ["documents"],
        "Documents presented under a letter of credit without listing them.",
        _set("documents", []),
    ),
    "discrepancy-without-saying-what": (
        "LetterOfCreditEventRecorded",
        ["discrepancies"],
        "A bank notes a discrepancy without saying what does not comply.",
        _all(
            _set("credit_event_type", "DISCREPANCY_NOTED"),
            _set("documents", []),
            _set("invoice_numbers", []),
            _set("amount", None),
        ),
    ),
    "payment-without-amount": (
        "LetterOfCreditEventRecorded",
        ["amount"],
        "A payment under a letter of credit that does not say how much was paid.",
        _all(
            _set("credit_event_type", "PAYMENT_MADE"),
            _set("documents", []),
            _set("invoice_numbers", []),
            _set("amount", None),
        ),
    ),
    "bulk-booking-with-containers": (
        "ShipmentBooked",
        ["equipment_references"],
        "A booking of dry bulk that lists trucks or containers: bulk cargo travels loose in the hold.",
        _set("cargo_type", "DRY_BULK"),
    ),
    "order-line-allocated-twice": (
        "ShipmentBooked",
        ["allocations"],
        "A booking that allocates order line 1 twice: each line is allocated once per shipment, with its "
        "whole quantity on that shipment.",
        lambda data: data["allocations"].append(copy.deepcopy(data["allocations"][0])),
    ),
    "bulk-milestone-on-a-truck": (
        "TransportEventRecorded",
        ["transport_call.mode_of_transport"],
        "Loading completed reported for a truck: the bulk milestones (notice of readiness, draft surveys, "
        "loading and discharge commenced/completed) are a vessel's or a barge's at a call.",
        _all(
            _set("transport_event_type", "LOADING_COMPLETED"),
            _set("transport_call.mode_of_transport", "TRUCK"),
        ),
    ),
    "cargo-quantity-on-a-departure": (
        "TransportEventRecorded",
        ["cargo_quantity"],
        "A departure that states a cargo quantity: only a draft survey establishes one.",
        _set("cargo_quantity", {"value": "2751.300", "unit": "TNE"}),
    ),
    "loading-and-discharge-one-port-under-two-codes": (
        "ShipmentBooked",
        ["place_of_discharge"],
        "A booking from CNSHA to CNSHG: both codes are Shanghai, and places are compared as one UN/LOCODE.",
        _all(
            _set("place_of_loading.unlocode", "CNSHA"),
            _set("place_of_discharge.unlocode", "CNSHG"),
        ),
    ),
}


def invalid_examples(valid: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    bases = dict(valid)
    bases["OrderPlaced/explosives"] = message(
        _pick(_stories()["explosives"], "OrderPlaced"), "invalid/OrderPlaced/explosives"
    )
    out: dict[str, dict[str, Any]] = {}
    for name, (base, fields, description, mutate) in CASES.items():
        example = copy.deepcopy(bases[base])
        mutate(example["data"])
        try:
            parse_event(example["type"], example["data"])
        except InvalidEvent as exc:
            errors = [{"field": e.field, "reason": e.reason} for e in exc.errors]
        else:
            raise SystemExit(f"invalid/{name}: the event is accepted")
        if [e["field"] for e in errors] != fields:
            raise SystemExit(f"invalid/{name}: expected errors on {fields}, got {errors}")
        out[name] = {"description": description, **example, "expected_errors": errors}
    return out


def _write(folder: Path, examples: dict[str, dict[str, Any]]) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, example in examples.items():
        path = folder / f"{name}.json"
        text = json.dumps(example, ensure_ascii=False, indent=2) + "\n"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(str(path.relative_to(ROOT)))
    stale = sorted(p for p in folder.glob("*.json") if p.stem not in examples)
    for path in stale:
        path.unlink()
        changed.append(f"removed {path.relative_to(ROOT)}")
    return changed


def main() -> None:
    valid = valid_examples()
    for example in valid.values():  # never publish an example that does not validate
        parse_event(example["type"], example["data"])
    changed = _write(VALID, valid) + _write(INVALID, invalid_examples(valid))
    print("\n".join(changed) if changed else "examples up to date")


if __name__ == "__main__":
    main()
