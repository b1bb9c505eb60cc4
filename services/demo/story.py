"""The corridor's stories (docs/domain.md §8) as event sequences: demo data and test fixtures.

``chromite_story`` — a Tianjin smelter buys 5,000 t of Balochistan chromite FOB Karachi, amends to
5,500 t, and the goods sail Karachi → Tianjin Xingang as dry bulk in two vessels (2,750 t allocated to
each; bulk milestones, no containers) with SGS assay and a CPFTA certificate of origin, preference
granted at import, both short landed within the order's tolerance, final invoice on discharge assay.

``explosives_story`` — Wah Nobel sends 200 t of packaged emulsion explosives (UN0241) to a Chinese
mining contractor by road over the Khunjerab Pass in three trucks, each under its own CMR, each
crossing the border as its own milestone, with both explosives licences issued before departure.

``verification_story`` — the chromite trade cut to its order, parties and certificate of origin, then
the certificate verification loop: origin data ahead of the goods, presentation, verification requested
(preference suspended), not confirmed by TDAP, preference denied (ADR 0038).

``signed(story, keys)`` has the issuers sign the story's certificates; the demo keeps its authorities'
keys in the state dir (``demo_authority_keys``) and registers them (``register_authority_keys``).

Parties are fictional but carry valid identifiers (NTN format, USCC check characters).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from corridor.core import signatures
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import (
    CertificateIssued,
    CertificateKind,
    CertificatePresented,
    CertificateVerified,
    CustomsEventRecorded,
    InvoiceIssued,
    LetterOfCreditEventRecorded,
    OrderAmended,
    OrderPlaced,
    OrderResponded,
    OriginDataTransmitted,
    Party,
    PartyAdmitted,
    PartyRegistration,
    PreferenceDecided,
    ShipmentBooked,
    ShipmentDelivered,
    TransportDocumentEventRecorded,
    TransportEventRecorded,
    VerificationAnswered,
    VerificationRequested,
)
from corridor.core.domain.validators import uscc_check_char

PKT = dt.timezone(dt.timedelta(hours=5), "PKT")
CST = dt.timezone(dt.timedelta(hours=8), "CST")


def _uscc(first17: str) -> str:
    return first17 + uscc_check_char(first17)


def party(
    party_id: str,
    role: str,
    country: str,
    scheme: str,
    legal_id: str,
    name_en: str,
    name_local: str,
    **registrations: str,
) -> Party:
    """A party of the stories; ``registrations`` by scheme (``STRN="…"``), as its declarations quote them."""
    return Party(
        party_id=party_id,
        role=role,
        country=country,
        id_scheme=scheme,
        legal_id=legal_id,
        name_en=name_en,
        name_local=name_local,
        # None, not []: a party without registrations signs as before the field existed (ADR 0013)
        registrations=[PartyRegistration(scheme=k, value=v) for k, v in registrations.items()] or None,
    )


BUYER = party(
    "tianjin-rongda-smelting",
    "BUYER",
    "CN",
    "USCC",
    _uscc("91120116MA05K7QX3"),
    "Tianjin Rongda Ferroalloy Smelting Co., Ltd.",
    "天津荣达铁合金冶炼有限公司",
    CN_CUSTOMS_CODE="1201961234",  # Tianjin (1201), no special zone (9), private enterprise (6)
)
SUPPLIER = party(
    "zhob-valley-chromite",
    "SUPPLIER",
    "PK",
    "NTN",
    "4271931-6",
    "Zhob Valley Chromite (Pvt) Ltd.",
    "ژوب ویلی کرومائٹ (پرائیویٹ) لمیٹڈ",
    STRN="24-00-4271-931-56",
)
SGS = party(
    "sgs-pakistan",
    "INSPECTION_BODY",
    "PK",
    "NTN",
    "0711542-8",
    "SGS Pakistan (Pvt) Ltd.",
    "ایس جی ایس پاکستان",
)
TDAP = party(
    "tdap",
    "ISSUING_AUTHORITY",
    "PK",
    "CORRIDOR",
    "tdap",
    "Trade Development Authority of Pakistan",
    "ٹریڈ ڈویلپمنٹ اتھارٹی آف پاکستان",
)
CARRIER = party(
    "indus-ocean-lines",
    "CARRIER",
    "PK",
    "NTN",
    "3582164-2",
    "Indus Ocean Lines (Pvt) Ltd.",
    "انڈس اوشن لائنز",
)
GACC_TIANJIN = party(
    "gacc-tianjin",
    "CUSTOMS",
    "CN",
    "CORRIDOR",
    "gacc-tianjin",
    "Tianjin Customs District (GACC)",
    "中华人民共和国天津海关",
)
WAH_NOBEL = party(
    "wah-nobel",
    "SUPPLIER",
    "PK",
    "NTN",
    "0658126-3",
    "Wah Nobel (Pvt) Ltd.",
    "واہ نوبل (پرائیویٹ) لمیٹڈ",
    STRN="07-01-2700-041-19",
)
MINING_CONTRACTOR = party(
    "mcc-kashgar-mining",
    "BUYER",
    "CN",
    "USCC",
    _uscc("91653101MA77R2LP0"),
    "MCC Kashgar Mining Engineering Co., Ltd.",
    "中冶喀什矿业工程有限公司",
    CN_CUSTOMS_CODE="6531960017",  # Kashgar prefecture (6531), no special zone (9), private (6)
)
PK_EXPLOSIVES_DEPT = party(
    "pk-department-of-explosives",
    "ISSUING_AUTHORITY",
    "PK",
    "CORRIDOR",
    "pk-department-of-explosives",
    "Department of Explosives, Government of Pakistan",
    "محکمہ دھماکہ خیز مواد",
)
MIIT = party(
    "cn-miit",
    "ISSUING_AUTHORITY",
    "CN",
    "CORRIDOR",
    "cn-miit",
    "Ministry of Industry and Information Technology",
    "工业和信息化部",
)
NLC = party(
    "nlc-sost",
    "CARRIER",
    "PK",
    "NTN",
    "1203958-7",
    "National Logistics Corporation (Sost dry port)",
    "نیشنل لاجسٹکس کارپوریشن",
)
# the banks of the chromite letter of credit (fictional): the buyer's bank issues it, the supplier's
# bank in Karachi advises it and takes the supplier's documents
ISSUING_BANK = party(
    "haihe-commercial-bank",
    "BANK",
    "CN",
    "USCC",
    _uscc("91120000MA07H2B5X"),
    "Haihe Commercial Bank Co., Ltd., Tianjin Branch",
    "海河商业银行股份有限公司天津分行",
)
ADVISING_BANK = party(
    "indus-commercial-bank",
    "BANK",
    "PK",
    "NTN",
    "0801467-4",
    "Indus Commercial Bank Limited, Karachi",
    "انڈس کمرشل بینک لمیٹڈ",
)

ALL_PARTIES = (
    BUYER,
    SUPPLIER,
    SGS,
    TDAP,
    CARRIER,
    GACC_TIANJIN,
    WAH_NOBEL,
    MINING_CONTRACTOR,
    PK_EXPLOSIVES_DEPT,
    MIIT,
    NLC,
    ISSUING_BANK,
    ADVISING_BANK,
)


def loc(code: str, name: str, facility: str | None = None) -> dict[str, Any]:
    return {"unlocode": code, "name": name, "facility_type": facility}


KARACHI = loc("PKKHI", "Karachi", "POTE")
TIANJIN = loc("CNTXG", "Tianjin Xingang", "POTE")


@dataclass(frozen=True)
class Story:
    """A trade as the ordered events its parties publish."""

    name: str
    trade_id: uuid.UUID
    events: list[TradeEvent]


class _Builder:
    """Stamps the common fields so each step of a story states only its facts."""

    def __init__(self, trade_id: uuid.UUID) -> None:
        self.trade_id = trade_id
        self.events: list[TradeEvent] = []

    def add(self, cls: Callable[..., TradeEvent], at: dt.datetime, sender: Party, **fields: Any) -> None:
        self.events.append(
            cls(
                event_id=uuid.uuid4(),
                trade_id=self.trade_id,
                occurred_at=at,
                sender=sender.party_id,
                **fields,
            )
        )

    def admit(self, at: dt.datetime, by: Party, admitted: Party, note: str) -> None:
        """The buyer or the supplier (``by``) admits a party in the role it is registered in."""
        self.add(PartyAdmitted, at, by, party_id=admitted.party_id, role=admitted.role, note=note)


def _chromite_line(tonnes: str) -> dict[str, Any]:
    return {
        "line_number": 1,
        "description_en": "Chromite ore lumps, Muslim Bagh, 40-42% Cr2O3",
        "description_local": "کرومائٹ خام",
        "hs_code": "261000",
        "quantity": {"value": Decimal(tonnes), "unit": "TNE"},
        "tolerance_percent": Decimal("10.00"),
        "unit_price": {"amount": Decimal("285.50"), "currency": "USD"},
        "quality": [
            {"parameter": "Cr2O3", "min_percent": Decimal("40"), "max_percent": Decimal("42")},
            {"parameter": "H2O", "min_percent": None, "max_percent": Decimal("3")},
        ],
        # the goods as the two customs offices read them (ADR 0039): PCT 2610.0000 on the Pakistani export
        # declaration, 2610.0000.00 on the Chinese import declaration; ore mined in Balochistan; loose in
        # the hold, so a kind of packing (Rec 21 VR, bulk solid granular) and no count; net is the ore
        # ordered, gross the same (bulk ore carries no packaging)
        "pk_tariff_code": "26100000",
        "cn_tariff_code": "2610000000",
        "country_of_origin": "PK",
        "gross_weight": {"value": Decimal(tonnes), "unit": "TNE"},
        "net_weight": {"value": Decimal(tonnes), "unit": "TNE"},
        "package_type": "VR",
    }


def run_suffix(trade_id: uuid.UUID) -> str:
    """A suffix that makes a demo run's certificate numbers its own: a certificate number is unique per
    issuer, and a second run reusing them would make ``certificates verify NUMBER`` ambiguous."""
    return trade_id.hex[:6].upper()


def with_own_numbers(story: Callable[..., Story], trade_id: uuid.UUID | None = None) -> Story:
    """``story`` for a new trade whose certificate and licence numbers are its own (``run_suffix``):
    what anything needs that runs a story many times on one ledger. A licence is one running total
    across trades (ADR 0045), so a second explosives trade reusing the story's licence numbers would be
    refused for the quantity the first one drew."""
    trade_id = trade_id or uuid.uuid4()
    return story(trade_id, numbers_suffix=run_suffix(trade_id))


def _numbered(number: str, suffix: str | None) -> str:
    return f"{number}-{suffix}" if suffix else number


#: The chromite order's letter of credit: at sight, for the amended 5,500 TNE plus the 10 % tolerance.
CHROMITE_CREDIT: dict[str, Any] = {
    "lc_number": "HCB-TJ-LC-26-00417",
    "issuing_bank": ISSUING_BANK,
    "advising_bank": ADVISING_BANK,
    "amount": {"amount": Decimal("1727275.0000"), "currency": "USD"},
    "expiry_date": dt.date(2026, 4, 30),
    "latest_shipment_date": dt.date(2026, 3, 31),
    "partial_shipments_allowed": True,
    "transhipment_allowed": False,
    "documents_required": [
        "COMMERCIAL_INVOICE",
        "BILL_OF_LADING",
        "CERTIFICATE_OF_ORIGIN",
        "INSPECTION_CERTIFICATE",
    ],
}


def _chromite_credit(b: _Builder, at: Callable[..., dt.datetime], order_id: str, invoice_number: str) -> None:
    """The banks join the trade; the advising bank presents the supplier's documents against the
    provisional invoice and the issuing bank pays at sight (docs/adr/0030)."""
    lc_number = CHROMITE_CREDIT["lc_number"]
    b.admit(at(20, 9, CST), BUYER, ISSUING_BANK, f"issuing bank of L/C {lc_number}")
    b.admit(at(20, 10), SUPPLIER, ADVISING_BANK, f"advising bank of L/C {lc_number}")
    presentation = {
        "order_id": order_id,
        "lc_number": lc_number,
        "presentation_number": "ICB-KHI-EXP-26-1187",
        "amount": {"amount": Decimal("1573790.2000"), "currency": "USD"},
    }
    b.add(
        LetterOfCreditEventRecorded,
        at(21, 11),
        ADVISING_BANK,
        credit_event_type="DOCUMENTS_PRESENTED",
        documents=CHROMITE_CREDIT["documents_required"],
        invoice_numbers=[invoice_number],
        **presentation,
    )
    b.add(
        LetterOfCreditEventRecorded,
        at(24, 15),
        ISSUING_BANK,
        credit_event_type="PAYMENT_MADE",
        **presentation,
    )


def chromite_story(
    trade_id: uuid.UUID | None = None, start: dt.datetime | None = None, *, numbers_suffix: str | None = None
) -> Story:
    """The chromite trade; ``numbers_suffix`` is appended to its certificate numbers (``corridor demo``
    passes ``run_suffix(trade_id)``, tests keep the printed numbers)."""
    trade_id = trade_id or uuid.uuid4()
    t0 = start or dt.datetime(2026, 2, 10, 9, 30, tzinfo=CST)

    def day(days: float, hour: int = 10, tz: dt.tzinfo = PKT) -> dt.datetime:
        base = (t0 + dt.timedelta(days=days)).astimezone(tz)
        return base.replace(hour=hour, minute=0, second=0, microsecond=0)

    b = _Builder(trade_id)
    order_id = "TJRD-PO-2026-0117"
    shipment_id = "IOL-KHI-TXG-26-0412"
    second_id = "IOL-KHI-TXG-26-0438"
    coo_number = _numbered("CPFTA-PK-2026-118734", numbers_suffix)
    assay_number = _numbered("SGS-KHI-MIN-26-03391", numbers_suffix)

    b.add(
        OrderPlaced,
        t0,
        BUYER,
        order_id=order_id,
        buyer=BUYER,
        supplier=SUPPLIER,
        lines=[_chromite_line("5000.000")],
        incoterm="FOB",
        incoterm_place=KARACHI,
        transport_mode="SEA",
        payment_terms="LETTER_OF_CREDIT",
        delivery_earliest=dt.date(2026, 3, 1),
        delivery_latest=dt.date(2026, 3, 31),
        required_certificates=["CPFTA_ORIGIN", "ASSAY"],
        notes="L/C at sight under UCP 600; load-port assay by SGS, discharge assay by CCIC",
        letter_of_credit=CHROMITE_CREDIT,
    )
    b.add(
        OrderResponded, day(1, 11), SUPPLIER, order_id=order_id, response="ACCEPTED", responds_to_revision=0
    )
    b.add(
        OrderAmended,
        day(3, 9, CST),
        BUYER,
        order_id=order_id,
        revision=1,
        lines=[_chromite_line("5500.000")],
        reason="Furnace 3 restart brought forward; quantity raised to 5,500 TNE",
    )
    b.add(
        OrderResponded, day(4, 12), SUPPLIER, order_id=order_id, response="ACCEPTED", responds_to_revision=1
    )
    # every other party is admitted explicitly, by the principal that deals with it
    b.admit(day(4, 13), BUYER, CARRIER, "FOB Karachi: the buyer nominates the vessel")
    b.admit(day(4, 13), SUPPLIER, SGS, "load-port assay of the chromite")
    b.admit(day(4, 13), SUPPLIER, TDAP, "CPFTA certificate of origin for the exporter")
    b.admit(day(4, 13), BUYER, GACC_TIANJIN, "import declaration at Tianjin Xingang")
    # Two vessels carry the order, 2,750 TNE each, as dry bulk: no containers, so the milestones are the
    # bulk ones (notice of readiness, loading, the final draft survey that fixes the quantity shipped).
    # The letter of credit's terms are on the order (CHROMITE_CREDIT); the banks are admitted, present
    # and pay after the first vessel sails (_chromite_credit).
    vessels = {
        shipment_id: ("Indus Pearl", "0412E"),
        second_id: ("Indus Crest", "0438E"),
    }

    def call(sid: str, place: dict[str, Any]) -> dict[str, Any]:
        name, voyage = vessels[sid]
        return {
            "location": place,
            "mode_of_transport": "VESSEL",
            "vessel_name": name,
            "voyage_number": voyage,
        }

    def milestone(
        at: dt.datetime, sid: str, kind: str, place: dict[str, Any], classifier: str = "ACT", **more: Any
    ) -> None:
        b.add(
            TransportEventRecorded,
            at,
            CARRIER,
            shipment_id=sid,
            transport_event_type=kind,
            classifier=classifier,
            transport_call=call(sid, place),
            **more,
        )

    for booked_on, sid in ((day(8, 15), shipment_id), (day(9, 11), second_id)):
        b.add(
            ShipmentBooked,
            booked_on,
            CARRIER,
            shipment_id=sid,
            order_id=order_id,
            carrier=CARRIER,
            transport_mode="SEA",
            incoterm="FOB",
            place_of_loading=KARACHI,
            place_of_discharge=TIANJIN,
            vessel_name=vessels[sid][0],
            voyage_number=vessels[sid][1],
            equipment_references=[],
            cargo_type="DRY_BULK",
            allocations=[{"line_number": 1, "quantity": {"value": Decimal("2750.000"), "unit": "TNE"}}],
        )
    milestone(day(15, 16), shipment_id, "NOR_TENDERED", KARACHI)
    milestone(day(16, 9), shipment_id, "DEPA", KARACHI, "PLN")
    b.add(
        CertificateIssued,
        day(17, 16),
        SGS,
        certificate_number=assay_number,
        certificate_kind="ASSAY",
        issuer=SGS,
        exporter=SUPPLIER,
        consignee=BUYER,
        order_id=order_id,
        goods=[
            {
                "item_number": 1,
                "description": "Chromite ore lumps in bulk",
                "hs_code": "261000",
                "quantity": {"value": Decimal("5512.400"), "unit": "TNE"},
            }
        ],
        place_of_issue=KARACHI,
        results=[
            {"parameter": "Cr2O3", "value": Decimal("41.2600"), "unit": "P1"},
            {"parameter": "H2O", "value": Decimal("2.1000"), "unit": "P1"},
            {"parameter": "net weight (wet)", "value": Decimal("5512.4000"), "unit": "TNE"},
        ],
    )
    milestone(day(17, 7), shipment_id, "LOADING_COMMENCED", KARACHI)
    milestone(day(18, 14), shipment_id, "LOADING_COMPLETED", KARACHI)
    milestone(
        day(18, 16),
        shipment_id,
        "FINAL_DRAFT_SURVEY",
        KARACHI,
        cargo_quantity={"value": Decimal("2751.300"), "unit": "TNE"},
    )
    milestone(day(18, 18), shipment_id, "DEPA", KARACHI, "EST")
    b.add(
        InvoiceIssued,
        day(19, 10),
        SUPPLIER,
        order_id=order_id,
        invoice_number="ZVC-INV-2026-0031",
        invoice_kind="PROVISIONAL",
        lines=[
            {
                "line_number": 1,
                "hs_code": "261000",
                "quantity": {"value": Decimal("5512.400"), "unit": "TNE"},
                "unit_price": {"amount": Decimal("285.50"), "currency": "USD"},
                "amount": {"amount": Decimal("1573790.2000"), "currency": "USD"},
                "assay_certificate_number": assay_number,
            }
        ],
        total={"amount": Decimal("1573790.2000"), "currency": "USD"},
        due_date=dt.date(2026, 3, 15),
    )
    b.add(
        CertificateIssued,
        day(19, 15),
        TDAP,
        certificate_number=coo_number,
        certificate_kind="CPFTA_ORIGIN",
        issuer=TDAP,
        exporter=SUPPLIER,
        consignee=BUYER,
        order_id=order_id,
        goods=[
            {
                "item_number": 1,
                "description": "Chromite ore lumps in bulk, marks TJRD-0117",
                "hs_code": "261000",
                "origin_criterion": "P",
                "quantity": {"value": Decimal("5512.400"), "unit": "TNE"},
                "fob_value": {"amount": Decimal("1573790.2000"), "currency": "USD"},
                "marks_and_numbers": "TJRD-0117 IN BULK",
                "package_type": "VR",  # Rec 21: bulk, solid, granular particles
                "gross_weight": {"value": Decimal("5512.400"), "unit": "TNE"},
            }
        ],
        place_of_issue=loc("PKKHI", "Karachi"),
        invoice_number="ZVC-INV-2026-0031",
        valid_until=dt.date(2027, 3, 1),
        # every box of the CPFTA certificate (ADR 0033): the mine that produced the ore (box 3), the
        # two vessels to Tianjin (box 4), the invoice with its date (box 10), the exporter's declaration
        # and TDAP's certification (boxes 12-13), issued before the first vessel sailed
        producer={
            "name": "Muslim Bagh Chromite Mining Lease No. 117 (Zhob Valley Chromite (Pvt) Ltd.)",
            "address": "Muslim Bagh, Killa Saifullah District, Balochistan",
            "country": "PK",
        },
        transport={
            "transport_mode": "SEA",
            "departure_date": day(19).date(),
            "vessel_or_vehicle": "Indus Pearl (voyage 0412E), Indus Crest (voyage 0438E)",
            "place_of_loading": "PKKHI",
            "place_of_discharge": "CNTXG",
            "route": "Karachi to Tianjin Xingang by sea",
        },
        importing_country="CN",
        invoices=[{"invoice_number": "ZVC-INV-2026-0031", "invoice_date": day(19).date()}],
        exporter_declaration={
            "signatory": "Imran Kakar, Director Exports, Zhob Valley Chromite (Pvt) Ltd.",
            "place": "Quetta",
            "date": day(19).date(),
        },
        certification={
            "signatory": "Ayesha Siddiqui, Deputy Director (Certificates of Origin), TDAP",
            "place": "Karachi",
            "date": day(19).date(),
        },
    )
    milestone(day(19, 22), shipment_id, "DEPA", KARACHI)
    _chromite_credit(b, day, order_id, "ZVC-INV-2026-0031")
    # the second vessel loads after the first sails
    milestone(day(21, 7), second_id, "NOR_TENDERED", KARACHI)
    milestone(
        day(23, 15),
        second_id,
        "FINAL_DRAFT_SURVEY",
        KARACHI,
        cargo_quantity={"value": Decimal("2761.100"), "unit": "TNE"},
    )
    milestone(day(23, 21), second_id, "DEPA", KARACHI)
    milestone(day(33, 6, CST), shipment_id, "ARRI", TIANJIN)
    milestone(day(33, 14, CST), shipment_id, "DISCHARGE_COMMENCED", TIANJIN)
    milestone(day(34, 17, CST), shipment_id, "DISCHARGE_COMPLETED", TIANJIN)
    b.add(
        CustomsEventRecorded,
        day(35, 9, CST),
        GACC_TIANJIN,
        shipment_id=shipment_id,
        customs_event_type="CUSI",
        authority=GACC_TIANJIN,
        location=TIANJIN,
        declaration_number="020220260004417",
        checks=["RADIATION", "SAMPLING"],
        remarks="Release first, inspect later (chrome ore)",
    )
    b.add(
        CertificatePresented,
        day(35, 10, CST),
        GACC_TIANJIN,
        certificate_number=coo_number,
        declaration_number="020220260004417",
        customs=GACC_TIANJIN,
        location=TIANJIN,
    )
    b.add(
        CertificateVerified,
        day(35, 11, CST),
        GACC_TIANJIN,
        certificate_number=coo_number,
        declaration_number="020220260004417",
        customs=GACC_TIANJIN,
        result="MATCHED",
    )
    b.add(
        PreferenceDecided,
        day(35, 14, CST),
        GACC_TIANJIN,
        certificate_number=coo_number,
        declaration_number="020220260004417",
        customs=GACC_TIANJIN,
        decision="GRANTED",
    )
    for released, sid in ((day(35, 16, CST), shipment_id), (day(39, 15, CST), second_id)):
        if sid == second_id:
            milestone(day(38, 7, CST), second_id, "ARRI", TIANJIN)
        b.add(
            CustomsEventRecorded,
            released,
            GACC_TIANJIN,
            shipment_id=sid,
            customs_event_type="CUSR",
            authority=GACC_TIANJIN,
            location=TIANJIN,
            declaration_number="020220260004417" if sid == shipment_id else "020220260004533",
        )
    for delivered_on, sid, received in (
        (day(37, 11, CST), shipment_id, "2748.600"),  # short landed 2.7 TNE of 2,751.3 shipped
        (day(41, 10, CST), second_id, "2750.100"),  # short landed 11 TNE of 2,761.1 shipped
    ):
        b.add(
            ShipmentDelivered,
            delivered_on,
            CARRIER,
            shipment_id=sid,
            location=loc("CNTXG", "Tianjin Rongda smelter yard", "CLOC"),
            received_quantity={"value": Decimal(received), "unit": "TNE"},
            received_by="王建国 (Wang Jianguo)",
        )
    # 5,498.7 TNE delivered of 5,500 ordered (±10 %): within tolerance, so the final invoice closes the order
    b.add(
        InvoiceIssued,
        day(44, 10),
        SUPPLIER,
        order_id=order_id,
        invoice_number="ZVC-INV-2026-0038",
        invoice_kind="FINAL",
        lines=[
            {
                "line_number": 1,
                "hs_code": "261000",
                "quantity": {"value": Decimal("5498.700"), "unit": "TNE"},
                "unit_price": {"amount": Decimal("287.10"), "currency": "USD"},
                "amount": {"amount": Decimal("1578676.7700"), "currency": "USD"},
            }
        ],
        total={"amount": Decimal("1578676.7700"), "currency": "USD"},
        due_date=dt.date(2026, 4, 15),
    )
    return Story("chromite FOB Karachi → Tianjin", trade_id, b.events)


def _explosives_origin(
    b: _Builder,
    t0: dt.datetime,
    order_id: str,
    shipment_id: str,
    trucks: tuple[str, ...],
    sost: dict[str, Any],
    kashgar: dict[str, Any],
    numbers_suffix: str | None,
) -> None:
    """TDAP's CPFTA certificate of origin for the explosives, every box filled (ADR 0033): 8,000 cartons
    of 25 kg (Rec 21 CT), 212 TNE gross, the three trucks over Khunjerab, issued two days before they
    leave Sost."""
    issued = t0 + dt.timedelta(days=14, hours=2)
    declared = (t0 + dt.timedelta(days=13)).date()
    b.add(
        CertificateIssued,
        issued,
        TDAP,
        certificate_number=_numbered("CPFTA-PK-2026-131052", numbers_suffix),
        certificate_kind="CPFTA_ORIGIN",
        issuer=TDAP,
        exporter=WAH_NOBEL,
        consignee=MINING_CONTRACTOR,
        order_id=order_id,
        goods=[
            {
                "item_number": 1,
                "description": "Packaged emulsion explosive 1.1D (UN0241), 32 mm cartridges",
                "hs_code": "360200",
                "origin_criterion": "P",
                "quantity": {"value": Decimal("200.000"), "unit": "TNE"},
                "fob_value": {"amount": Decimal("276000.0000"), "currency": "CNY"},
                "marks_and_numbers": "MCCK-0042 WN/EM/0001-8000",
                "number_of_packages": 8000,
                "package_type": "CT",  # Rec 21: carton
                "gross_weight": {"value": Decimal("212.000"), "unit": "TNE"},
            }
        ],
        place_of_issue=loc("PKISB", "Islamabad"),
        covered_shipment_id=shipment_id,
        transport={
            "transport_mode": "ROAD",
            "departure_date": (t0 + dt.timedelta(days=16)).date(),
            "vessel_or_vehicle": ", ".join(trucks),
            "place_of_loading": sost["unlocode"],
            "place_of_discharge": kashgar["unlocode"],
            "route": "Sost dry port, Khunjerab Pass, Tashkurgan, Kashgar by road",
        },
        importing_country="CN",
        invoices=[{"invoice_number": "WN-EXP-2026-0107", "invoice_date": declared}],
        exporter_declaration={
            "signatory": "Col. (r) Tariq Mehmood, General Manager Sales, Wah Nobel (Pvt) Ltd.",
            "place": "Wah Cantt",
            "date": declared,
        },
        certification={
            "signatory": "Bilal Ahmed, Assistant Director (Certificates of Origin), TDAP",
            "place": "Islamabad",
            "date": issued.date(),
        },
        valid_until=(t0 + dt.timedelta(days=14 + 365)).date(),
    )


def explosives_story(
    trade_id: uuid.UUID | None = None, start: dt.datetime | None = None, *, numbers_suffix: str | None = None
) -> Story:
    """The explosives trade over the Khunjerab Pass; ``numbers_suffix`` as for ``chromite_story``."""
    trade_id = trade_id or uuid.uuid4()
    t0 = start or dt.datetime(2026, 5, 4, 10, 0, tzinfo=CST)
    b = _Builder(trade_id)
    order_id = "MCCK-PO-2026-0042"
    shipment_id = "NLC-SST-KHG-26-0107"
    line = {
        "line_number": 1,
        "description_en": "Packaged emulsion explosive, 32 mm cartridges",
        "description_local": "乳化炸药",
        "hs_code": "360200",
        "quantity": {"value": Decimal("200.000"), "unit": "TNE"},
        "tolerance_percent": Decimal("0.00"),
        "unit_price": {"amount": Decimal("1380.00"), "currency": "CNY"},
        "un_number": "UN0241",
        "dangerous_goods": {
            "un_number": "UN0241",
            "classification": "1.1D",
            "proper_shipping_name": "EXPLOSIVE, BLASTING, TYPE E",
            "net_explosive_mass_kg": Decimal("200000.000"),  # the cartridges' explosive, without cartons
            "packages": {"count": 8000, "kind": "CT"},  # 25 kg fibreboard cartons
        },
        # the tariff lines subdivide HS 3602.00 (the national schedules themselves are not shipped: format
        # and HS prefix are what is checked, ADR 0039); made at Wah; 8000 cartons of 25 kg net explosive,
        # 26.5 kg each with the carton and liner
        "pk_tariff_code": "36020000",
        "cn_tariff_code": "3602000000",
        "country_of_origin": "PK",
        "gross_weight": {"value": Decimal("212000.000"), "unit": "KGM"},
        "net_weight": {"value": Decimal("200.000"), "unit": "TNE"},
        "number_of_packages": 8000,
        "package_type": "CT",
    }
    licences = []
    sost = loc("PKZSD", "Sost dry port", "INTE")
    kashgar = loc("CNKSS", "Kashgar", "INTE")
    khunjerab = loc("CNKJP", "Khunjerab", "BOCR")
    b.add(
        OrderPlaced,
        t0,
        MINING_CONTRACTOR,
        order_id=order_id,
        buyer=MINING_CONTRACTOR,
        supplier=WAH_NOBEL,
        lines=[line],
        incoterm="CPT",
        incoterm_place=kashgar,
        transport_mode="ROAD",
        payment_terms="TELEGRAPHIC_TRANSFER",
        delivery_earliest=dt.date(2026, 6, 1),
        delivery_latest=dt.date(2026, 6, 30),
        required_certificates=[
            "EXPLOSIVES_EXPORT_LICENCE",
            "EXPLOSIVES_IMPORT_APPROVAL",
            "CPFTA_ORIGIN",
        ],
    )
    b.add(
        OrderResponded,
        t0 + dt.timedelta(days=1),
        WAH_NOBEL,
        order_id=order_id,
        response="ACCEPTED",
        responds_to_revision=0,
    )
    admitted = t0 + dt.timedelta(days=1, hours=2)
    b.admit(admitted, WAH_NOBEL, PK_EXPLOSIVES_DEPT, "export licence, PK Form EL-01")
    b.admit(admitted, MINING_CONTRACTOR, MIIT, "import approval for civil explosives")
    b.admit(admitted, WAH_NOBEL, NLC, "CPT Kashgar: the seller contracts the road carriage")
    b.admit(admitted, WAH_NOBEL, TDAP, "CPFTA certificate of origin for the exporter")
    for kind, issuer, number, holder in (
        ("EXPLOSIVES_EXPORT_LICENCE", PK_EXPLOSIVES_DEPT, "EL-01-2026-0311", WAH_NOBEL),
        ("EXPLOSIVES_IMPORT_APPROVAL", MIIT, "MIIT-BP-2026-08817", MINING_CONTRACTOR),
    ):
        issued_at = t0 + dt.timedelta(days=12)
        licences.append(
            {"issuer_party_id": issuer.party_id, "certificate_number": _numbered(number, numbers_suffix)}
        )
        b.add(
            CertificateIssued,
            issued_at,
            issuer,
            certificate_number=_numbered(number, numbers_suffix),
            certificate_kind=kind,
            issuer=issuer,
            exporter=WAH_NOBEL,
            consignee=MINING_CONTRACTOR,
            order_id=order_id,
            goods=[
                {
                    "item_number": 1,
                    "description": "Emulsion explosive 1.1D, UN0241",
                    "hs_code": "360200",
                    "quantity": {"value": Decimal("200.000"), "unit": "TNE"},
                }
            ],
            place_of_issue=loc("PKISB", "Islamabad")
            if issuer is PK_EXPLOSIVES_DEPT
            else loc("CNBJS", "Beijing"),
            valid_until=issued_at.date() + dt.timedelta(days=365),  # a year's licence
            # a standing authorisation: 200 t (200,000 kg net explosive mass) of UN0241, drawn down by each
            # shipment that names it (docs/adr/0034-dangerous-goods-and-licence-drawdown.md)
            licence={
                "holder": holder,
                "valid_from": issued_at.date(),
                "authorised": [
                    {
                        "un_number": "UN0241",
                        "net_explosive_mass_kg": Decimal("200000.000"),
                        "quantity": {"value": Decimal("200.000"), "unit": "TNE"},
                    }
                ],
            },
        )
    trucks = ("LEB-4471", "LEB-4472", "LEB-4473")
    b.add(
        ShipmentBooked,
        t0 + dt.timedelta(days=14),
        NLC,
        shipment_id=shipment_id,
        order_id=order_id,
        carrier=NLC,
        transport_mode="ROAD",
        incoterm="CPT",
        place_of_loading=sost,
        place_of_discharge=kashgar,
        route=[khunjerab, loc("CNZTK", "Tashkurgan", "INTE")],
        equipment_references=list(trucks),
        un_numbers=["UN0241"],
        tir_carnet_number="XP71884512",
        cargo_type="BREAK_BULK",
        allocations=[{"line_number": 1, "quantity": {"value": Decimal("200.000"), "unit": "TNE"}}],
        dangerous_goods=[{"line_number": 1, "particulars": line["dangerous_goods"]}],
        dangerous_goods_declaration="WN-DGD-2026-0107",
        licences=licences,
    )
    _explosives_origin(b, t0, order_id, shipment_id, trucks, sost, kashgar, numbers_suffix)
    # three trucks, each with its own CMR consignment note, each its own milestones over the pass
    for n, truck in enumerate(trucks):
        leaves = t0 + dt.timedelta(days=16, hours=2 * n)
        b.add(
            TransportDocumentEventRecorded,
            leaves - dt.timedelta(hours=3),
            NLC,
            document_event_type="ISSU",
            document_number=f"CMR-SST-26-{107 + n:05d}",
            document_type="CMR",
            carrier=NLC,
            place_of_issue=sost,
            date_of_issue=(leaves - dt.timedelta(hours=3)).date(),
            shipper=WAH_NOBEL,
            consignee=MINING_CONTRACTOR,
            shipment_ids=[shipment_id],
        )
        for kind, place, at in (
            ("DEPA", sost, leaves),
            ("ARRI", khunjerab, leaves + dt.timedelta(hours=5)),  # the border crossing (BOCR)
            ("ARRI", kashgar, leaves + dt.timedelta(days=2, hours=4)),
        ):
            b.add(
                TransportEventRecorded,
                at,
                NLC,
                shipment_id=shipment_id,
                transport_event_type=kind,
                classifier="ACT",
                transport_call={"location": place, "mode_of_transport": "TRUCK", "vehicle_reference": truck},
            )
    b.add(
        ShipmentDelivered,
        t0 + dt.timedelta(days=19),
        NLC,
        shipment_id=shipment_id,
        location=kashgar,
        received_quantity={"value": Decimal("200.000"), "unit": "TNE"},
        received_by="Li Wei, MCC Kashgar magazine",
    )
    return Story("emulsion explosives by road over Khunjerab", trade_id, b.events)


def verification_story(
    trade_id: uuid.UUID | None = None, start: dt.datetime | None = None, *, numbers_suffix: str | None = None
) -> Story:
    """The chromite trade cut to its order, its parties and TDAP's certificate of origin, then the
    certificate verification loop ending in a preference denied (docs/adr/0038): TDAP transmits the
    certificate's origin data to GACC Tianjin ahead of the goods, keyed before the final draft survey so
    its quantity is not the certified one (a finding at presentation); GACC asks TDAP to verify, which
    suspends the preference (security taken); TDAP does not confirm; GACC denies the preference."""
    chromite = chromite_story(trade_id, start, numbers_suffix=numbers_suffix)
    kept = (OrderPlaced, OrderResponded, OrderAmended)
    loop_parties = {TDAP.party_id, GACC_TIANJIN.party_id}  # admitted: the two authorities of the loop
    coo = next(
        e
        for e in chromite.events
        if isinstance(e, CertificateIssued) and e.certificate_kind == CertificateKind.CPFTA_ORIGIN
    )
    presented = next(e for e in chromite.events if isinstance(e, CertificatePresented))
    b = _Builder(chromite.trade_id)
    b.events = [
        e
        for e in chromite.events
        if isinstance(e, kept) or e is coo or (isinstance(e, PartyAdmitted) and e.party_id in loop_parties)
    ]
    number, declaration = coo.certificate_number, presented.declaration_number
    b.add(
        OriginDataTransmitted,
        coo.occurred_at + dt.timedelta(hours=2),
        TDAP,
        certificate_number=number,
        issuer=TDAP,
        customs=GACC_TIANJIN,
        exporter_id=coo.exporter.party_id,
        consignee_id=coo.consignee.party_id,
        goods=[
            {
                "item_number": g.item_number,
                "hs_code": g.hs_code,
                "quantity": {"value": Decimal("5500.000"), "unit": "TNE"},  # the order's, not as surveyed
                "gross_weight": g.gross_weight,
            }
            for g in coo.goods
        ],
    )
    b.events.append(presented)
    asked = presented.occurred_at + dt.timedelta(hours=2)
    b.add(
        VerificationRequested,
        asked,
        GACC_TIANJIN,
        certificate_number=number,
        certificate_issuer=TDAP.party_id,
        declaration_number=declaration,
        customs=GACC_TIANJIN,
        reason="the quantity transmitted ahead of the goods is not the quantity certified in box 9",
        reply_by=(asked + dt.timedelta(days=60)).date(),
    )
    b.add(
        VerificationAnswered,
        (asked + dt.timedelta(days=18)).astimezone(PKT),
        TDAP,
        certificate_number=number,
        issuer=TDAP,
        customs=GACC_TIANJIN,
        answer="NOT_CONFIRMED",
        findings=["the exporter's mining records cover 5,100 TNE of the 5,512.4 TNE certified"],
    )
    b.add(
        PreferenceDecided,
        asked + dt.timedelta(days=19),
        GACC_TIANJIN,
        certificate_number=number,
        declaration_number=declaration,
        customs=GACC_TIANJIN,
        decision="DENIED",
        reason="origin not confirmed by the issuing authority on verification (CPFTA); duty at the MFN rate",
    )
    return Story(
        "chromite certificate of origin verified and the preference denied", chromite.trade_id, b.events
    )


STORIES: dict[str, Callable[..., Story]] = {
    "chromite": chromite_story,
    "explosives": explosives_story,
    "verification": verification_story,
}


# -- signed certificates (docs/adr/0013-signed-certificates.md) --------------------------------------------

#: The parties that issue the stories' certificates.
ISSUERS: tuple[Party, ...] = (SGS, TDAP, PK_EXPLOSIVES_DEPT, MIIT)
#: Where the demo keeps its authorities' private keys, in the state dir (the API keys are in demo-keys.json).
AUTHORITY_KEYS_FILE = "demo-authority-keys.json"

SigningKeys = dict[str, tuple[str, Ed25519PrivateKey]]  # issuer party id → (key id, private key)


def signed(story: Story, keys: SigningKeys) -> Story:
    """The story with every certificate whose issuer has a key in ``keys`` signed by that issuer."""
    events = []
    for event in story.events:
        issuer = getattr(event, "issuer", None)
        if event.avro_name in signatures.SIGNED_TYPES and issuer is not None and issuer.party_id in keys:
            key_id, key = keys[issuer.party_id]
            event = signatures.sign_event(event, key, key_id)
        events.append(event)
    return Story(story.name, story.trade_id, events)


def demo_authority_keys(state_dir: Path) -> SigningKeys:
    """An Ed25519 key per issuer of the stories, made on first use and kept (mode 0600) in
    ``<state dir>/demo-authority-keys.json`` so reruns sign with the keys already registered."""
    path = state_dir / AUTHORITY_KEYS_FILE
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = {}
    keys: SigningKeys = {}
    for issuer in ISSUERS:
        entry = stored.get(issuer.party_id) if isinstance(stored, dict) else None
        try:
            key = signatures.load_private_key(entry["private_key"].encode())
            key_id = str(entry["key_id"])
        except (TypeError, KeyError, AttributeError, ValueError):
            key = signatures.generate_private_key()
            key_id = signatures.default_key_id(issuer.party_id, signatures.public_key_bytes(key))
        keys[issuer.party_id] = (key_id, key)
    document = {
        pid: {"key_id": key_id, "private_key": signatures.private_key_pem(key).decode()}
        for pid, (key_id, key) in keys.items()
    }
    if document != stored:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)
    return keys


async def register_authority_keys(database_url: str, keys: SigningKeys, *, schema: str | None = None) -> int:
    """Register the public halves of ``keys`` with their partners; returns how many keys there are."""
    import asyncpg

    schema = schema or os.environ.get("CORRIDOR_PARTNERS_DB_SCHEMA", signatures.DEFAULT_SCHEMA)
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    try:
        await signatures.ensure_schema(pool, schema=schema)
        for pid, (key_id, key) in keys.items():
            await signatures.add_key(
                pool, pid, signatures.public_key_bytes(key), key_id=key_id, schema=schema
            )
    finally:
        await pool.close()
    return len(keys)
