"""Pydantic models of every Corridor event — GENERATED from schemas/*.avsc, do not edit.

Regenerate with ``corridor schemas codegen``; tests/unit/test_schemas_models.py fails when stale.
"""

# ruff: noqa: E501

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from corridor.core.domain import types as t
from corridor.core.domain.base import AvroModel, TradeEvent


class PartyRole(StrEnum):
    """The role a partner plays in a trade (DOMAIN §2); it decides which event types it may publish."""
    SUPPLIER = 'SUPPLIER'
    BUYER = 'BUYER'
    ISSUING_AUTHORITY = 'ISSUING_AUTHORITY'
    INSPECTION_BODY = 'INSPECTION_BODY'
    CUSTOMS = 'CUSTOMS'
    CARRIER = 'CARRIER'
    OPERATOR = 'OPERATOR'
    BANK = 'BANK'


class PartyIdScheme(StrEnum):
    """Scheme of a party's legal identifier: Pakistan NTN (NNNNNNN-C, NNNNNNNC, or a sole proprietor's 13-digit CNIC), China Unified Social Credit Code (18 chars, mod-31 check), ISO 17442 Legal Entity Identifier (20 chars, MOD 97-10 check: traders registered elsewhere, e.g. Hong Kong, Singapore or UAE intermediaries), GS1 Global Location Number (13 digits, mod-10 check), or an identifier issued by the backbone for authorities and bodies without any of these."""
    NTN = 'NTN'
    USCC = 'USCC'
    CORRIDOR = 'CORRIDOR'
    LEI = 'LEI'
    GLN = 'GLN'


class PartyRegistrationScheme(StrEnum):
    """Scheme of a registration a customs declaration needs besides the party's legal identifier: STRN, Pakistan's sales-tax registration number issued by FBR (13 digits, written NN-NN-NNNN-NNN-NN, as a CNIC NNNNN-NNNNNNN-N, or without hyphens); CN_CUSTOMS_CODE, the 10-character customs registration code (海关注册编码) GACC gives an importer or exporter (4-digit administrative division, economic-zone digit, enterprise-type digit, 4-character serial)."""
    STRN = 'STRN'
    CN_CUSTOMS_CODE = 'CN_CUSTOMS_CODE'


class PartyRegistration(AvroModel):
    """One registration of a party beyond its legal identifier, as a customs declaration quotes it."""

    avro_name: ClassVar[str] = 'corridor.trade.common.PartyRegistration'

    scheme: PartyRegistrationScheme = Field(description='Which registration value is.')
    value: Annotated[str, t.REFERENCE] = Field(description="The registration as its issuer writes it: an STRN '17-00-3736-045-91' or '1700373604591'; a Chinese customs registration code '1201960123'.")


class Party(AvroModel):
    """A legal party to a trade: supplier, buyer, authority, inspection body, customs office or carrier."""

    avro_name: ClassVar[str] = 'corridor.trade.common.Party'

    party_id: Annotated[str, t.PARTY_ID] = Field(description="Corridor partner id of the party (lower-case slug, e.g. 'tianjin-smelter'); the key used for authorisation and partner topics.")
    role: PartyRole = Field(description='Role the party plays in this trade.')
    country: Annotated[str, t.ISO3166] = Field(description="ISO 3166-1 alpha-2 country code of the party's registration (PK, CN, …).")
    id_scheme: PartyIdScheme = Field(description='Scheme of legal_id.')
    legal_id: str = Field(description="Legal identifier under id_scheme: NTN 'NNNNNNN-C' (or unhyphenated, or a 13-digit CNIC), an 18-character USCC whose last character is its mod-31 check character, a 20-character LEI, a 13-digit GLN, or a Corridor id.")
    name_en: Annotated[str, t.TEXT] = Field(description='Registered name in English.')
    name_local: Annotated[str | None, t.TEXT] = Field(None, description="Registered name in the party's own script (Chinese for CN parties, Urdu for PK parties), UTF-8.")
    registrations: list[PartyRegistration] | None = Field(None, description="Registrations a customs declaration needs besides legal_id, each checked for its published format: a Pakistani party's sales-tax registration (STRN), a Chinese party's customs registration code (CN_CUSTOMS_CODE). Null when none is given (null, not an empty list, so that certificates signed before this field verify after it: ADR 0013).")


class Quantity(AvroModel):
    """A measured quantity with its UN/ECE Recommendation 20 unit code."""

    avro_name: ClassVar[str] = 'corridor.trade.common.Quantity'

    value: Annotated[Annotated[Decimal, Field(max_digits=18, decimal_places=3), t.FINITE], t.NON_NEGATIVE] = Field(description='Quantity, exact decimal with 3 fractional digits, not negative.')
    unit: Annotated[str, t.REC20] = Field(description='UN/ECE Rec 20 unit code: TNE tonne, KGM kilogram, DT dry ton, CTM metric carat, MTQ cubic metre, MTK square metre, C62 one, H87 piece.')


class Money(AvroModel):
    """An exact amount of money; never binary floating point."""

    avro_name: ClassVar[str] = 'corridor.trade.common.Money'

    amount: Annotated[Annotated[Decimal, Field(max_digits=18, decimal_places=4), t.FINITE], t.NON_NEGATIVE] = Field(description='Amount, exact decimal with 4 fractional digits, not negative.')
    currency: Annotated[str, t.ISO4217] = Field(description='ISO 4217 alphabetic currency code (USD, CNY, PKR).')


class CertifiedGoods(AvroModel):
    """One item of goods on a certificate (CPFTA certificate boxes 6–9)."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.CertifiedGoods'

    item_number: Annotated[Annotated[int, Field(ge=-(2**31), le=2**31 - 1)], t.POSITIVE] = Field(description='Item number, from 1.')
    description: Annotated[str, t.TEXT] = Field(description='Marks and description of goods.')
    hs_code: Annotated[str, t.HS6] = Field(description='6-digit HS 2022 subheading.')
    origin_criterion: Annotated[str | None, t.REFERENCE] = Field(None, description="Origin criterion (CPFTA box 8): 'P' wholly obtained or produced, 'RVC' regional value content (optionally with its percentage, 'RVC 45%', at least 40), 'PSR' product-specific rule (docs/domain.md); required on a CPFTA certificate of origin.")
    quantity: Quantity = Field(description='Quantity of the goods (CPFTA box 9), in the unit they are traded in.')
    fob_value: Money | None = Field(None, description='FOB value of the item.')
    marks_and_numbers: Annotated[str | None, t.TEXT] = Field(None, description="Marks and numbers on the packages (CPFTA box 7), e.g. 'BNM/CHR/001-250' or 'IN BULK'.")
    number_of_packages: Annotated[Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] | None, t.POSITIVE] = Field(None, description='Number of packages (CPFTA box 7); null for goods shipped in bulk.')
    package_type: Annotated[str | None, t.REC21] = Field(None, description="Kind of packages as a UN/ECE Rec 21 code (CPFTA box 7), e.g. 'BG' bag, 'VR' bulk, solid, granular particles.")
    gross_weight: Quantity | None = Field(None, description='Gross weight of the item, packaging included (CPFTA box 9), in a Rec 20 mass unit.')


class Signature(AvroModel):
    """A digital signature by the issuer over the certificate's canonical encoding (docs/adr/0013-signed-certificates.md), checkable offline with the issuer's registered public key."""

    avro_name: ClassVar[str] = 'corridor.trade.common.Signature'

    algorithm: Annotated[str, t.REFERENCE] = Field(description="Signature algorithm: 'Ed25519' (RFC 8032, pure Ed25519); verifiers refuse any other value.")
    key_id: Annotated[str, t.REFERENCE] = Field(description="Id of the issuer's registered public key that verifies the signature (corridor certificates keys list).")
    value: Annotated[bytes, t.BASE64] = Field(description='The signature: 64 bytes for Ed25519. Written as standard base64 in JSON.')


class CertificateAmended(TradeEvent):
    """The issuer replaced a certificate with a corrected one that supersedes it."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.CertificateAmended'
    topic: ClassVar[str] = 'trade.certificates.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the replacement was issued, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    certificate_number: Annotated[str, t.REFERENCE] = Field(description='Certificate number as printed on it, unique per issuer.')
    supersedes_certificate_number: Annotated[str, t.REFERENCE] = Field(description='Number of the certificate this one replaces.')
    issuer: Party = Field(description='The issuer; must be the issuer of the superseded certificate.')
    goods: list[CertifiedGoods] = Field(description='Goods covered by the certificate; at least one.')
    reason: Annotated[str, t.TEXT] = Field(description='What was corrected and why.')
    signature: Signature | None = Field(None, description="The issuer's Ed25519 signature over the canonical encoding of this event without this field (docs/adr/0013-signed-certificates.md); null on an unsigned certificate.")


class CertificateKind(StrEnum):
    """Kind of trade certificate: CPFTA preferential certificate of origin, non-preferential certificate of origin, assay / weight / quality certificates (SGS, CCIC), China import conformity assessment (GACC), explosives export licence (PK Form EL-01) and import approval (CN MIIT)."""
    CPFTA_ORIGIN = 'CPFTA_ORIGIN'
    NON_PREFERENTIAL_ORIGIN = 'NON_PREFERENTIAL_ORIGIN'
    ASSAY = 'ASSAY'
    WEIGHT = 'WEIGHT'
    QUALITY = 'QUALITY'
    CONFORMITY = 'CONFORMITY'
    EXPLOSIVES_EXPORT_LICENCE = 'EXPLOSIVES_EXPORT_LICENCE'
    EXPLOSIVES_IMPORT_APPROVAL = 'EXPLOSIVES_IMPORT_APPROVAL'


class FacilityType(StrEnum):
    """DCSA facility type codes: POTE port terminal, INTE inland terminal, BOCR border crossing, DEPO depot, CLOC customer location, OFFD off-dock storage."""
    POTE = 'POTE'
    INTE = 'INTE'
    BOCR = 'BOCR'
    DEPO = 'DEPO'
    CLOC = 'CLOC'
    OFFD = 'OFFD'


class Location(AvroModel):
    """A place named by its UN/LOCODE (or a configured private code for places UN/LOCODE lacks, such as Sost dry port)."""

    avro_name: ClassVar[str] = 'corridor.trade.common.Location'

    unlocode: Annotated[str, t.UNLOCODE] = Field(description='UN/LOCODE: 2-letter country + 3-character location, e.g. PKKHI Karachi, CNTXG Tianjin Xingang, CNKJP Khunjerab.')
    name: Annotated[str | None, t.TEXT] = Field(None, description="Human-readable place name, e.g. 'Karachi', 'Sost dry port'.")
    facility_type: FacilityType | None = Field(None, description='DCSA facility type code of the place, when it is a facility.')


class AnalysisResult(AvroModel):
    """A measured result on an assay, weight or quality certificate."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.AnalysisResult'

    parameter: Annotated[str, t.TEXT] = Field(description='What was measured, e.g. Cr2O3, H2O (moisture), net weight.')
    value: Annotated[Annotated[Decimal, Field(max_digits=18, decimal_places=4), t.FINITE], t.NON_NEGATIVE] = Field(description='Measured value.')
    unit: Annotated[str, t.TEXT] = Field(description="Unit: 'P1' percent or a Rec 20 unit code.")


class CertificateTrader(AvroModel):
    """A trader a certificate names who is not thereby a party of the trade (the producer of box 3, the operator who invoices in third-party invoicing): named, located and identified, but never sent the trade's events."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.CertificateTrader'

    name: Annotated[str, t.TEXT] = Field(description='Legal name as printed on the certificate.')
    address: Annotated[str, t.TEXT] = Field(description='Postal address as printed on the certificate.')
    country: Annotated[str, t.ISO3166] = Field(description='ISO 3166-1 alpha-2 country code.')
    id_scheme: PartyIdScheme | None = Field(None, description='Scheme of legal_id (NTN, USCC, LEI, GLN ...); both or neither.')
    legal_id: Annotated[str | None, t.REFERENCE] = Field(None, description="Registration number under id_scheme, checked like a party's.")


class TransportMode(StrEnum):
    """Main mode of transport of a trade or shipment."""
    SEA = 'SEA'
    ROAD = 'ROAD'
    RAIL = 'RAIL'
    AIR = 'AIR'
    MULTIMODAL = 'MULTIMODAL'


class CertificateTransport(AvroModel):
    """Means of transport and route as far as known (CPFTA box 4)."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.CertificateTransport'

    transport_mode: TransportMode = Field(description='Main mode of transport.')
    departure_date: dt.date | None = Field(None, description='Date of departure (the date of shipment the retroactive-issue window counts from when the trade has no actual departure yet).')
    vessel_or_vehicle: Annotated[str | None, t.TEXT] = Field(None, description='Vessel name, or the truck/train registration.')
    voyage_number: Annotated[str | None, t.REFERENCE] = Field(None, description='Voyage or trip number.')
    place_of_loading: Annotated[str | None, t.UNLOCODE] = Field(None, description='UN/LOCODE of the port or place of loading.')
    place_of_discharge: Annotated[str | None, t.UNLOCODE] = Field(None, description='UN/LOCODE of the port or place of discharge.')
    route: Annotated[str | None, t.TEXT] = Field(None, description="The route as printed, e.g. 'Karachi to Tianjin Xingang by sea'.")


class CertificateInvoice(AvroModel):
    """A commercial invoice the certificate covers (CPFTA box 10)."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.CertificateInvoice'

    invoice_number: Annotated[str, t.REFERENCE] = Field(description='Invoice number.')
    invoice_date: dt.date = Field(description='Invoice date.')


class OriginDeclaration(AvroModel):
    """A signed statement on the certificate: the exporter's declaration (box 12) or the issuing authority's certification (box 13)."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.OriginDeclaration'

    signatory: Annotated[str, t.TEXT] = Field(description='Name (and title) of the person who signed.')
    place: Annotated[str, t.TEXT] = Field(description='Place of signature, as printed.')
    date: dt.date = Field(description='Date of signature.')


class LicensedGoods(AvroModel):
    """How much of one UN number the licence authorises: a net explosive mass, a quantity, or both (each is drawn down)."""

    avro_name: ClassVar[str] = 'corridor.trade.common.LicensedGoods'

    un_number: Annotated[str, t.UN_NUMBER] = Field(description='The UN number authorised, e.g. UN0241.')
    net_explosive_mass_kg: Annotated[Annotated[Decimal, Field(max_digits=18, decimal_places=3), t.FINITE] | None, t.NON_NEGATIVE] = Field(None, description='Net explosive mass authorised, in kilograms; null when the licence limits the quantity only.')
    quantity: Quantity | None = Field(None, description='Quantity of goods authorised, in the unit of the order lines it covers (e.g. TNE); null when the licence limits the net explosive mass only.')


class LicenceTerms(AvroModel):
    """What an explosives licence or import approval authorises: its holder, from when (the certificate's valid_until says until when) and how much, by UN number. Each shipment that names the licence draws its quantities down; a shipment beyond what remains, outside the validity or for goods the holder does not trade is refused (docs/adr/0034-dangerous-goods-and-licence-drawdown.md)."""

    avro_name: ClassVar[str] = 'corridor.trade.common.LicenceTerms'

    holder: Party = Field(description='The licensee: the exporter for an export licence, the importer (consignee) for an import approval.')
    valid_from: dt.date = Field(description="First day the licence may be drawn on; the certificate's valid_until is the last.")
    authorised: list[LicensedGoods] = Field(description='The goods authorised, one entry per UN number; at least one.')


class CertificateIssued(TradeEvent):
    """An issuing authority or inspection body issued a certificate (origin, assay, weight, quality, conformity, explosives licence or approval)."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.CertificateIssued'
    topic: ClassVar[str] = 'trade.certificates.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the certificate was issued, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    certificate_number: Annotated[str, t.REFERENCE] = Field(description='Certificate number as printed on it; unique per issuer (a certificate is known by issuer and number).')
    certificate_kind: CertificateKind = Field(description='What the certificate attests.')
    issuer: Party = Field(description='The issuing authority (TDAP, chamber, CCPIT, GACC, Department of Explosives, MIIT) or inspection body (SGS, CCIC).')
    exporter: Party = Field(description='Exporter (CPFTA box 1).')
    consignee: Party = Field(description='Consignee (CPFTA box 2).')
    order_id: Annotated[str, t.REFERENCE] = Field(description='Purchase order the certificate relates to.')
    goods: list[CertifiedGoods] = Field(description='Goods covered by the certificate; at least one.')
    place_of_issue: Location = Field(description='Where the certificate was issued.')
    valid_until: dt.date | None = Field(None, description='Last day the certificate is valid, when it expires.')
    invoice_number: Annotated[str | None, t.REFERENCE] = Field(None, description='Invoice number (CPFTA box 10), as before invoices existed; new certificates give invoices (number and date).')
    results: list[AnalysisResult] = Field(default_factory=list, description='Analysis results (assay, weight, quality certificates); empty for origin certificates.')
    remarks: Annotated[str | None, t.TEXT] = Field(None, description='Remarks (CPFTA box 11).')
    producer: CertificateTrader | None = Field(None, description='Producer of the goods, when known and not the exporter (CPFTA box 3).')
    transport: CertificateTransport | None = Field(None, description='Means of transport and route (CPFTA box 4).')
    covered_shipment_id: Annotated[str | None, t.REFERENCE] = Field(None, description='The shipment of this trade the certificate covers (not a shipment event: the issuer is not its carrier); its actual departure is the date of shipment for retroactive issue.')
    importing_country: Annotated[str | None, t.ISO3166] = Field(None, description='ISO 3166-1 alpha-2 code of the importing country (named in box 12).')
    invoices: list[CertificateInvoice] | None = Field(None, description='Invoice numbers and dates (CPFTA box 10); a CPFTA certificate of origin names at least one. Null, not empty, when there are none (ADR 0013: new fields default to null).')
    exporter_declaration: OriginDeclaration | None = Field(None, description="The exporter's declaration, signed (CPFTA box 12).")
    certification: OriginDeclaration | None = Field(None, description="The issuing authority's certification: certifying signatory, place and date (CPFTA box 13).")
    issued_retroactively: bool | None = Field(None, description="Printed 'ISSUED RETROACTIVELY': issued after the goods were shipped, within the agreement's window (docs/domain.md). Null means no (a non-null default would change the signed bytes of certificates signed before the field existed, ADR 0013).")
    certified_true_copy: bool | None = Field(None, description="Printed 'CERTIFIED TRUE COPY': a copy the issuer certified to replace a lost or damaged original. Null means no (a non-null default would change the signed bytes of certificates signed before the field existed, ADR 0013).")
    third_party_invoicing: bool | None = Field(None, description='Invoiced by an operator in a third country (box 10 ticked); invoicing_operator names it. Null means no (a non-null default would change the signed bytes of certificates signed before the field existed, ADR 0013).')
    invoicing_operator: CertificateTrader | None = Field(None, description='The operator who issued the invoice in third-party invoicing.')
    signature: Signature | None = Field(None, description="The issuer's Ed25519 signature over the canonical encoding of this event without this field (docs/adr/0013-signed-certificates.md); null on an unsigned certificate.")
    licence: LicenceTerms | None = Field(None, description='Licence terms of an EXPLOSIVES_EXPORT_LICENCE or EXPLOSIVES_IMPORT_APPROVAL (holder, valid from, quantities authorised), drawn down by the shipments that name the licence; null for other certificates, and for a licence issued before licences carried terms (such a licence cannot be drawn on).')


class CertificatePresented(TradeEvent):
    """The importer presented the certificate to customs with the import declaration."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.CertificatePresented'
    topic: ClassVar[str] = 'trade.certificates.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the certificate was presented, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    certificate_number: Annotated[str, t.REFERENCE] = Field(description='Certificate number as printed on it, unique per issuer.')
    declaration_number: Annotated[str, t.REFERENCE] = Field(description='Import goods declaration number on which the certificate is claimed.')
    customs: Party = Field(description='The importing customs office.')
    location: Location = Field(description='Customs office location (port of import).')
    certificate_issuer: Annotated[str | None, t.PARTY_ID] = Field(None, description="Partner id of the certificate's issuer: a certificate is known by issuer and number. Null: the number alone names it, which the ledger refuses when two issuers' certificates of this trade share the number.")


class CertificateRevoked(TradeEvent):
    """The issuer revoked a certificate; it can no longer support a claim."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.CertificateRevoked'
    topic: ClassVar[str] = 'trade.certificates.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the certificate was revoked, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    certificate_number: Annotated[str, t.REFERENCE] = Field(description='Certificate number as printed on it, unique per issuer.')
    issuer: Party = Field(description='The issuer revoking it.')
    reason: Annotated[str, t.TEXT] = Field(description='Why it was revoked.')
    signature: Signature | None = Field(None, description="The issuer's Ed25519 signature over the canonical encoding of this event without this field (docs/adr/0013-signed-certificates.md); a revocation of a signed certificate must carry it.")


class VerificationResult(StrEnum):
    """MATCHED or NOT_MATCHED."""
    MATCHED = 'MATCHED'
    NOT_MATCHED = 'NOT_MATCHED'


class CertificateVerified(TradeEvent):
    """Importing customs matched the certificate against the electronic data from the exporting side (number, date, goods)."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.CertificateVerified'
    topic: ClassVar[str] = 'trade.certificates.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the verification finished, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    certificate_number: Annotated[str, t.REFERENCE] = Field(description='Certificate number as printed on it, unique per issuer.')
    declaration_number: Annotated[str, t.REFERENCE] = Field(description='Import goods declaration number on which the certificate is claimed.')
    customs: Party = Field(description='The importing customs office.')
    result: VerificationResult = Field(description='Outcome of the match.')
    mismatches: list[str] = Field(default_factory=list, description='What did not match; empty when MATCHED.')
    certificate_issuer: Annotated[str | None, t.PARTY_ID] = Field(None, description="Partner id of the certificate's issuer: a certificate is known by issuer and number. Null: the number alone names it, which the ledger refuses when two issuers' certificates of this trade share the number.")


class TransmittedGoods(AvroModel):
    """One item of the certificate's goods as transmitted: what the importing customs matches."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.TransmittedGoods'

    item_number: Annotated[Annotated[int, Field(ge=-(2**31), le=2**31 - 1)], t.POSITIVE] = Field(description='Item number on the certificate, from 1.')
    hs_code: Annotated[str, t.HS6] = Field(description='6-digit HS subheading (box 6).')
    quantity: Quantity = Field(description='Quantity of the item (box 9).')
    gross_weight: Quantity | None = Field(None, description='Gross weight of the item (box 9), when the certificate gives it.')


class OriginDataTransmitted(TradeEvent):
    """The issuing authority transmitted a certificate's origin data to the importing customs ahead of the goods (the China–Pakistan electronic origin data exchange); the certificate presented with the declaration is matched against it (docs/adr/0038-certificate-verification-loop.md)."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.OriginDataTransmitted'
    topic: ClassVar[str] = 'trade.certificates.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the origin data was transmitted, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    certificate_number: Annotated[str, t.REFERENCE] = Field(description='Certificate number as printed on it, unique per issuer.')
    issuer: Party = Field(description="The certificate's issuing authority, which transmits its own certificate's data.")
    customs: Party = Field(description="The importing customs office the data is addressed to; only it, the issuer and the trade's buyer and supplier receive this event.")
    exporter_id: Annotated[str, t.PARTY_ID] = Field(description="Partner id of the certificate's exporter (box 1).")
    consignee_id: Annotated[str, t.PARTY_ID] = Field(description="Partner id of the certificate's consignee (box 2).")
    goods: list[TransmittedGoods] = Field(description="The certificate's goods, item by item; at least one.")
    signature: Signature | None = Field(None, description="The issuer's Ed25519 signature over the canonical encoding of this event without this field (docs/adr/0013-signed-certificates.md); the transmission of a signed certificate must carry it (docs/adr/0038-certificate-verification-loop.md).")


class PreferenceDecision(StrEnum):
    """GRANTED (preference given) or DENIED (preference not given)."""
    GRANTED = 'GRANTED'
    DENIED = 'DENIED'


class PreferenceDecided(TradeEvent):
    """Importing customs decided on preferential tariff treatment claimed with the certificate (CPFTA box 5), and sent the decision back to the issuing side."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.PreferenceDecided'
    topic: ClassVar[str] = 'trade.certificates.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the decision was taken, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    certificate_number: Annotated[str, t.REFERENCE] = Field(description='Certificate number as printed on it, unique per issuer.')
    declaration_number: Annotated[str, t.REFERENCE] = Field(description='Import goods declaration number on which the certificate is claimed.')
    customs: Party = Field(description='The importing customs office.')
    decision: PreferenceDecision = Field(description='The decision.')
    reason: Annotated[str | None, t.TEXT] = Field(None, description='Reason, required when DENIED (box 5).')
    certificate_issuer: Annotated[str | None, t.PARTY_ID] = Field(None, description="Partner id of the certificate's issuer: a certificate is known by issuer and number. Null: the number alone names it, which the ledger refuses when two issuers' certificates of this trade share the number.")


class VerificationAnswer(StrEnum):
    """CONFIRMED (the certificate is authentic and the goods originate as stated) or NOT_CONFIRMED."""
    CONFIRMED = 'CONFIRMED'
    NOT_CONFIRMED = 'NOT_CONFIRMED'


class VerificationAnswered(TradeEvent):
    """The certificate's issuer answered the importing customs' verification request (docs/adr/0038-certificate-verification-loop.md)."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.VerificationAnswered'
    topic: ClassVar[str] = 'trade.certificates.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the issuer answered, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    certificate_number: Annotated[str, t.REFERENCE] = Field(description='Certificate number as printed on it, unique per issuer.')
    issuer: Party = Field(description="The certificate's issuing authority, answering for its own certificate.")
    customs: Party = Field(description='The importing customs office that asked.')
    answer: VerificationAnswer = Field(description="The issuer's answer.")
    findings: list[str] = Field(default_factory=list, description='What the issuer found; at least one when NOT_CONFIRMED.')
    signature: Signature | None = Field(None, description="The issuer's Ed25519 signature over the canonical encoding of this event without this field (docs/adr/0013-signed-certificates.md); the answer of a signed certificate must carry it (docs/adr/0038-certificate-verification-loop.md).")


class VerificationRequested(TradeEvent):
    """The importing customs asked the certificate's issuer to verify it, with a reason and a reply deadline; the preference claimed with it is suspended (security taken) until the customs decides (docs/adr/0038-certificate-verification-loop.md)."""

    avro_name: ClassVar[str] = 'corridor.trade.certificates.VerificationRequested'
    topic: ClassVar[str] = 'trade.certificates.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the verification was requested, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    certificate_number: Annotated[str, t.REFERENCE] = Field(description='Certificate number as printed on it, unique per issuer.')
    certificate_issuer: Annotated[str, t.PARTY_ID] = Field(description="Partner id of the certificate's issuer, to whom the request is addressed.")
    declaration_number: Annotated[str, t.REFERENCE] = Field(description='Import goods declaration number on which the certificate is claimed.')
    customs: Party = Field(description='The importing customs office asking (the one the certificate was presented to).')
    reason: Annotated[str, t.TEXT] = Field(description='Why verification is asked (reasonable doubt about authenticity, origin or accuracy).')
    reply_by: dt.date | None = Field(None, description="Last day for the issuer's answer; null: the default period of docs/domain.md §5 from the day of the request. After it the customs may decide without an answer.")


class InvoiceKind(StrEnum):
    """PROVISIONAL (380, on loaded weight and load-port assay), FINAL (380, on discharge weight and assay), CREDIT_NOTE (381)."""
    PROVISIONAL = 'PROVISIONAL'
    FINAL = 'FINAL'
    CREDIT_NOTE = 'CREDIT_NOTE'


class InvoiceLine(AvroModel):
    """One invoiced line."""

    avro_name: ClassVar[str] = 'corridor.trade.orders.InvoiceLine'

    line_number: Annotated[Annotated[int, Field(ge=-(2**31), le=2**31 - 1)], t.POSITIVE] = Field(description='Order line number invoiced.')
    hs_code: Annotated[str, t.HS6] = Field(description='6-digit HS 2022 subheading of the goods.')
    quantity: Quantity = Field(description='Invoiced quantity (loaded or discharged weight).')
    unit_price: Money = Field(description='Price per unit, after assay adjustments.')
    amount: Money = Field(description='Line amount: quantity × unit price, rounded to 4 decimals.')
    assay_certificate_number: Annotated[str | None, t.REFERENCE] = Field(None, description='Assay certificate the quality adjustment is based on.')


class InvoiceIssued(TradeEvent):
    """The supplier invoiced the order (UN/CEFACT 380 invoice, 381 credit note). Commodity contracts settle a PROVISIONAL invoice at loading and a FINAL one after discharge weight and assay."""

    avro_name: ClassVar[str] = 'corridor.trade.orders.InvoiceIssued'
    topic: ClassVar[str] = 'trade.orders.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the invoice was issued, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    order_id: Annotated[str, t.REFERENCE] = Field(description="Buyer's purchase order number, unique per buyer (e.g. 'TJS-PO-2026-0117').")
    invoice_number: Annotated[str, t.REFERENCE] = Field(description="Supplier's invoice number.")
    invoice_kind: InvoiceKind = Field(description='Kind of invoice.')
    lines: list[InvoiceLine] = Field(description='Invoiced lines; at least one.')
    total: Money = Field(description="Invoice total: sum of line amounts, in the lines' currency.")
    due_date: dt.date | None = Field(None, description='When payment is due.')


class CreditEventType(StrEnum):
    """DOCUMENTS_PRESENTED (by the supplier or the advising bank), DISCREPANCY_NOTED (a bank of the credit found the presentation not complying, UCP 600 article 16), PAYMENT_MADE (a bank of the credit honoured the presentation)."""
    DOCUMENTS_PRESENTED = 'DOCUMENTS_PRESENTED'
    DISCREPANCY_NOTED = 'DISCREPANCY_NOTED'
    PAYMENT_MADE = 'PAYMENT_MADE'


class CreditDocument(StrEnum):
    """A document a letter of credit calls for (UCP 600 articles 18-28): COMMERCIAL_INVOICE, BILL_OF_LADING, SEA_WAYBILL, ROAD_CONSIGNMENT_NOTE (CMR), INSURANCE_DOCUMENT, CERTIFICATE_OF_ORIGIN, INSPECTION_CERTIFICATE (assay, quality), WEIGHT_CERTIFICATE, PACKING_LIST; OTHER for anything else the credit names."""
    COMMERCIAL_INVOICE = 'COMMERCIAL_INVOICE'
    BILL_OF_LADING = 'BILL_OF_LADING'
    SEA_WAYBILL = 'SEA_WAYBILL'
    ROAD_CONSIGNMENT_NOTE = 'ROAD_CONSIGNMENT_NOTE'
    INSURANCE_DOCUMENT = 'INSURANCE_DOCUMENT'
    CERTIFICATE_OF_ORIGIN = 'CERTIFICATE_OF_ORIGIN'
    INSPECTION_CERTIFICATE = 'INSPECTION_CERTIFICATE'
    WEIGHT_CERTIFICATE = 'WEIGHT_CERTIFICATE'
    PACKING_LIST = 'PACKING_LIST'
    OTHER = 'OTHER'


class LetterOfCreditEventRecorded(TradeEvent):
    """What happened under the order's letter of credit (UCP 600): the supplier or the advising bank presented documents, a bank of the credit noted discrepancies in a presentation, or paid it."""

    avro_name: ClassVar[str] = 'corridor.trade.orders.LetterOfCreditEventRecorded'
    topic: ClassVar[str] = 'trade.orders.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the documents were presented, the discrepancy noted or the payment made, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    order_id: Annotated[str, t.REFERENCE] = Field(description="Buyer's purchase order number, unique per buyer (e.g. 'TJS-PO-2026-0117').")
    lc_number: Annotated[str, t.REFERENCE] = Field(description="Number of the credit: the order's letter_of_credit.lc_number.")
    credit_event_type: CreditEventType = Field(description='What happened.')
    presentation_number: Annotated[str, t.REFERENCE] = Field(description="Reference of the presentation (the presenter's covering schedule number); a discrepancy or payment names the presentation it concerns.")
    documents: list[CreditDocument] = Field(default_factory=list, description='Documents presented; at least one for DOCUMENTS_PRESENTED, empty otherwise.')
    invoice_numbers: Annotated[list[str], t.REFERENCE] = Field(default_factory=list, description='Commercial invoices presented (issued on the order).')
    transport_document_numbers: Annotated[list[str], t.REFERENCE] = Field(default_factory=list, description='Transport documents presented (issued in the trade).')
    discrepancies: Annotated[list[str], t.TEXT] = Field(default_factory=list, description='Each discrepancy found, in words; at least one for DISCREPANCY_NOTED, empty otherwise.')
    amount: Money | None = Field(None, description='Amount claimed by the presentation (DOCUMENTS_PRESENTED) or paid (PAYMENT_MADE); required for both, left out for DISCREPANCY_NOTED.')


class QualitySpec(AvroModel):
    """A quality parameter of a commodity line, such as Cr2O3 % for chromite or Cu % for copper concentrate."""

    avro_name: ClassVar[str] = 'corridor.trade.common.QualitySpec'

    parameter: Annotated[str, t.TEXT] = Field(description="Parameter measured, e.g. 'Cr2O3', 'Cu', 'H2O', 'Fe'.")
    min_percent: Annotated[Annotated[Decimal, Field(max_digits=7, decimal_places=4), t.FINITE] | None, t.PERCENT] = Field(None, description='Lowest acceptable mass fraction in percent.')
    max_percent: Annotated[Annotated[Decimal, Field(max_digits=7, decimal_places=4), t.FINITE] | None, t.PERCENT] = Field(None, description='Highest acceptable mass fraction in percent.')


class PackageCount(AvroModel):
    """Number and kind of packages (UN/ECE Recommendation 21), e.g. 8000 × 4G fibreboard boxes as CT cartons."""

    avro_name: ClassVar[str] = 'corridor.trade.common.PackageCount'

    count: Annotated[Annotated[int, Field(ge=-(2**31), le=2**31 - 1)], t.POSITIVE] = Field(description='Number of packages, at least 1.')
    kind: Annotated[str, t.REC21] = Field(description='UN/ECE Rec 21 package type code, e.g. CT carton, BX box, BG bag, CS case.')


class DangerousGoods(AvroModel):
    """Dangerous goods particulars of one item as the transport document and the dangerous goods declaration state them (UN Model Regulations 5.4.1.4): UN number, proper shipping name, class or division with the Class 1 compatibility group, net explosive mass and packages (docs/domain.md, dangerous goods)."""

    avro_name: ClassVar[str] = 'corridor.trade.common.DangerousGoods'

    un_number: Annotated[str, t.UN_NUMBER] = Field(description='UN number of the entry in the Dangerous Goods List, e.g. UN0241.')
    classification: Annotated[str, t.HAZARD_CLASSIFICATION] = Field(description='Class or division; for Class 1 the division and compatibility group, e.g. 1.1D, 1.5D, 1.4B, 1.4S; for other classes the class or division alone, e.g. 5.1. A Class 1 UN number in the shipped table must carry its listed classification.')
    proper_shipping_name: Annotated[str, t.TEXT] = Field(description='Proper shipping name of the entry, e.g. EXPLOSIVE, BLASTING, TYPE E; for a Class 1 UN number in the shipped table, the listed name (case does not matter).')
    net_explosive_mass_kg: Annotated[Annotated[Decimal, Field(max_digits=18, decimal_places=3), t.FINITE] | None, t.NON_NEGATIVE] = Field(None, description='Net explosive mass in kilograms (the mass of the explosive substances without packaging and casings); required for Class 1.')
    packages: PackageCount | None = Field(None, description='Number and kind of packages; required for Class 1.')


class HsEdition(StrEnum):
    """Edition of the Harmonized System a code is written in: HS2022 (in force 1 January 2022), HS2027 (in force 1 January 2027)."""
    HS2022 = 'HS2022'
    HS2027 = 'HS2027'


class OrderLine(AvroModel):
    """One line of a purchase order: goods, HS code and national tariff lines, origin, weights and packages, quantity with tolerance, quality and unit price."""

    avro_name: ClassVar[str] = 'corridor.trade.common.OrderLine'

    line_number: Annotated[Annotated[int, Field(ge=-(2**31), le=2**31 - 1)], t.POSITIVE] = Field(description='Line number within the order, from 1.')
    description_en: Annotated[str, t.TEXT] = Field(description='Goods description in English.')
    description_local: Annotated[str | None, t.TEXT] = Field(None, description='Goods description in Chinese or Urdu.')
    hs_code: Annotated[str, t.HS6_FORMAT] = Field(description="6-digit HS subheading without dots in the line's hs_edition, e.g. 261000 chromium ores, 260300 copper ores, 360200 prepared explosives; held to the shipped list of that edition when the event is taken in (HS 2027 by format only until its list is shipped).")
    quantity: Quantity = Field(description='Ordered quantity.')
    tolerance_percent: Annotated[Annotated[Decimal, Field(max_digits=5, decimal_places=2), t.FINITE], t.PERCENT] = Field(description='Allowed deviation of the delivered quantity, ± percent (e.g. 10.00).')
    unit_price: Money = Field(description='Price per unit of quantity.unit.')
    quality: list[QualitySpec] = Field(default_factory=list, description='Quality specification of the goods; empty when none applies.')
    un_number: Annotated[str | None, t.UN_NUMBER] = Field(None, description='UN number of dangerous goods, e.g. UN0241 emulsion explosive (1.1D); null for non-dangerous goods.')
    dangerous_goods: DangerousGoods | None = Field(None, description='Dangerous goods particulars of the line (its un_number repeated); required for explosives (HS 3602/3603 or a Class 1 UN number), null for goods that are not dangerous.')
    hs_edition: HsEdition | None = Field(None, description="HS edition of hs_code and the national tariff lines; null means the edition in force on the event's date (HS2022 until 31 December 2026, HS2027 from 1 January 2027). HS2022 is refused on events taken in from 1 January 2027; HS2027 may be written earlier, for goods that clear customs in 2027.")
    pk_tariff_code: Annotated[str | None, t.PK_TARIFF_LINE] = Field(None, description='Pakistan Customs Tariff (PCT) code of the goods: 8 digits without dots whose first six are hs_code, e.g. 26100000 for PCT 2610.0000.')
    cn_tariff_code: Annotated[str | None, t.CN_TARIFF_LINE] = Field(None, description='China customs tariff code of the goods: 10 digits without dots whose first six are hs_code, e.g. 2610000000.')
    country_of_origin: Annotated[str | None, t.ISO3166] = Field(None, description='ISO 3166-1 alpha-2 country where the goods originate (were mined, grown or last substantially transformed), e.g. PK; required on intake when the order requires a CPFTA certificate of origin.')
    gross_weight: Quantity | None = Field(None, description="Gross weight of the line's goods with their packaging, in a Rec 20 mass unit (TNE, KGM, GRM).")
    net_weight: Quantity | None = Field(None, description="Net weight of the line's goods without packaging, in a Rec 20 mass unit; not more than gross_weight (compared in kilograms).")
    number_of_packages: Annotated[Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] | None, t.POSITIVE] = Field(None, description='Number of packages of kind package_type; null for goods in bulk (VR, VY, VQ, VL, VO, VS, VG, NE), which are not counted.')
    package_type: Annotated[str | None, t.REC21] = Field(None, description='Kind of packages as a UN/ECE Rec 21 code, e.g. CT carton, BG bag, JB jumbo bag, VR bulk, solid, granular particles.')


class OrderAmended(TradeEvent):
    """The buyer changed an order (UN/CEFACT message function 4 change); the supplier must respond to the new revision."""

    avro_name: ClassVar[str] = 'corridor.trade.orders.OrderAmended'
    topic: ClassVar[str] = 'trade.orders.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the amendment was sent, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    order_id: Annotated[str, t.REFERENCE] = Field(description="Buyer's purchase order number, unique per buyer (e.g. 'TJS-PO-2026-0117').")
    revision: Annotated[Annotated[int, Field(ge=-(2**31), le=2**31 - 1)], t.POSITIVE] = Field(description='Revision number of this amendment: 1 for the first, incrementing by one.')
    lines: list[OrderLine] = Field(description='The complete order lines after the amendment.')
    delivery_latest: dt.date | None = Field(None, description='New last day of the delivery window, when it changes.')
    reason: Annotated[str, t.TEXT] = Field(description='Why the order changed.')
    accepts_counter_offer: bool = Field(False, description="True when this revision accepts the supplier's counter-offer (ACCEPTED_WITH_AMENDMENT) to the previous revision: its lines are the counter lines, and it binds at once without a further response. A counter-offer does not bind until the buyer accepts it.")


class OrderCancelled(TradeEvent):
    """The buyer cancelled an order (UN/CEFACT message function 1 cancellation)."""

    avro_name: ClassVar[str] = 'corridor.trade.orders.OrderCancelled'
    topic: ClassVar[str] = 'trade.orders.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the cancellation was sent, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    order_id: Annotated[str, t.REFERENCE] = Field(description="Buyer's purchase order number, unique per buyer (e.g. 'TJS-PO-2026-0117').")
    reason: Annotated[str, t.TEXT] = Field(description='Why the order was cancelled.')


class Incoterm(StrEnum):
    """Incoterms 2020 rule. Any mode: EXW FCA CPT CIP DAP DPU DDP. Sea and inland waterway only: FAS FOB CFR CIF."""
    EXW = 'EXW'
    FCA = 'FCA'
    CPT = 'CPT'
    CIP = 'CIP'
    DAP = 'DAP'
    DPU = 'DPU'
    DDP = 'DDP'
    FAS = 'FAS'
    FOB = 'FOB'
    CFR = 'CFR'
    CIF = 'CIF'


class PaymentTerms(StrEnum):
    """LETTER_OF_CREDIT (documentary credit under UCP 600), TELEGRAPHIC_TRANSFER, DOCUMENTARY_COLLECTION (URC 522)."""
    LETTER_OF_CREDIT = 'LETTER_OF_CREDIT'
    TELEGRAPHIC_TRANSFER = 'TELEGRAPHIC_TRANSFER'
    DOCUMENTARY_COLLECTION = 'DOCUMENTARY_COLLECTION'


class LetterOfCredit(AvroModel):
    """Terms of the documentary credit the buyer's bank opened for the order (UCP 600): the bank's undertaking to pay the supplier against the documents it calls for, presented in time."""

    avro_name: ClassVar[str] = 'corridor.trade.common.LetterOfCredit'

    lc_number: Annotated[str, t.REFERENCE] = Field(description='Number of the credit as the issuing bank gave it.')
    issuing_bank: Party = Field(description="Bank that issued the credit at the buyer's (applicant's) request; role BANK.")
    advising_bank: Party = Field(description='Bank that advised the credit to the supplier (beneficiary) and takes its presentation; role BANK.')
    amount: Money = Field(description="Amount of the credit, in the currency of the order's lines.")
    expiry_date: dt.date = Field(description='Last day documents may be presented (UCP 600 article 6).')
    latest_shipment_date: dt.date = Field(description='Last day the goods may be shipped, not after expiry_date.')
    partial_shipments_allowed: bool = Field(True, description='Whether the goods may be shipped in several lots (UCP 600 article 31: allowed unless the credit prohibits them).')
    transhipment_allowed: bool = Field(True, description='Whether the goods may be moved from one vessel or vehicle to another on the way (UCP 600 articles 19-20).')
    documents_required: list[CreditDocument] = Field(description='Documents to present; at least one, each once.')


class OrderPlaced(TradeEvent):
    """A buyer placed a purchase order (UN/CEFACT document 220, message function 9 original)."""

    avro_name: ClassVar[str] = 'corridor.trade.orders.OrderPlaced'
    topic: ClassVar[str] = 'trade.orders.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the order was placed, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    order_id: Annotated[str, t.REFERENCE] = Field(description="Buyer's purchase order number, unique per buyer (e.g. 'TJS-PO-2026-0117').")
    buyer: Party = Field(description='The buyer (usually a Chinese enterprise identified by its USCC).')
    supplier: Party = Field(description='The supplier (usually a Pakistani exporter identified by its NTN).')
    lines: list[OrderLine] = Field(description='Order lines; at least one.')
    incoterm: Incoterm = Field(description='Incoterms 2020 rule of the order.')
    incoterm_place: Location = Field(description='Named place of the Incoterm (port of shipment for FOB, e.g. PKKHI).')
    transport_mode: TransportMode = Field(description='Main transport mode; a sea-only Incoterm (FAS, FOB, CFR, CIF) requires SEA.')
    payment_terms: PaymentTerms = Field(description='How the buyer pays.')
    delivery_earliest: dt.date = Field(description='First day of the delivery window (calendar date).')
    delivery_latest: dt.date = Field(description='Last day of the delivery window (calendar date), not before delivery_earliest.')
    required_certificates: list[CertificateKind] = Field(default_factory=list, description='Certificates the goods must carry (e.g. CPFTA_ORIGIN, ASSAY; EXPLOSIVES_IMPORT_APPROVAL for UN class 1 goods).')
    notes: Annotated[str | None, t.TEXT] = Field(None, description='Free-text remarks.')
    letter_of_credit: LetterOfCredit | None = Field(None, description='Terms of the letter of credit when payment_terms is LETTER_OF_CREDIT; left out for other terms (and by orders placed before the terms were carried).')


class OrderResponseCode(StrEnum):
    """ACCEPTED (AP), ACCEPTED_WITH_AMENDMENT (CA: see counter_lines), REJECTED (RE)."""
    ACCEPTED = 'ACCEPTED'
    ACCEPTED_WITH_AMENDMENT = 'ACCEPTED_WITH_AMENDMENT'
    REJECTED = 'REJECTED'


class OrderResponded(TradeEvent):
    """The supplier answered an order or an amendment (UN/CEFACT order response 231; 4343 codes AP accepted, CA accepted with amendment, RE rejected)."""

    avro_name: ClassVar[str] = 'corridor.trade.orders.OrderResponded'
    topic: ClassVar[str] = 'trade.orders.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the response was sent, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    order_id: Annotated[str, t.REFERENCE] = Field(description="Buyer's purchase order number, unique per buyer (e.g. 'TJS-PO-2026-0117').")
    response: OrderResponseCode = Field(description="The supplier's answer.")
    responds_to_revision: Annotated[Annotated[int, Field(ge=-(2**31), le=2**31 - 1)], t.NON_NEGATIVE] = Field(description='Order revision answered: 0 for the original order, n for amendment n.')
    counter_lines: list[OrderLine] = Field(default_factory=list, description='Lines as the supplier accepts them; required when response is ACCEPTED_WITH_AMENDMENT, empty otherwise.')
    reason: Annotated[str | None, t.TEXT] = Field(None, description='Why the order was rejected or changed; required when REJECTED.')


class PartyAdmitted(TradeEvent):
    """The buyer or the supplier admitted a registered partner to the trade in one role."""

    avro_name: ClassVar[str] = 'corridor.trade.orders.PartyAdmitted'
    topic: ClassVar[str] = 'trade.orders.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the party was admitted, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description="Partner id of the party that published this event: the trade's buyer or supplier.")
    party_id: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the admitted party; must be a registered, active partner whose registered role is role.')
    role: PartyRole = Field(description='The role it is admitted in: CARRIER, INSPECTION_BODY, ISSUING_AUTHORITY or CUSTOMS.')
    note: Annotated[str | None, t.TEXT] = Field(None, description="Why it was admitted, for the audit trail (e.g. 'booked on the 12 March sailing').")


class PartyWithdrawn(TradeEvent):
    """The buyer or the supplier withdrew a party it had admitted."""

    avro_name: ClassVar[str] = 'corridor.trade.orders.PartyWithdrawn'
    topic: ClassVar[str] = 'trade.orders.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the party was withdrawn, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description="Partner id of the party that published this event: the trade's buyer or supplier.")
    party_id: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the withdrawn party; must be a party admitted to the trade and not withdrawn yet.')
    role: PartyRole = Field(description='The role it had been admitted in.')
    reason: Annotated[str | None, t.TEXT] = Field(None, description='Why it was withdrawn, for the audit trail.')


class CustomsEventType(StrEnum):
    """CUSS selected for scan, CUSI selected for inspection (e.g. GACC radiation check, sampling), CUSR released."""
    CUSS = 'CUSS'
    CUSI = 'CUSI'
    CUSR = 'CUSR'


class CustomsEventRecorded(TradeEvent):
    """A customs authority selected the goods for scan or inspection, or released them (DCSA v3 customs codes)."""

    avro_name: ClassVar[str] = 'corridor.trade.shipments.CustomsEventRecorded'
    topic: ClassVar[str] = 'trade.shipments.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the customs decision was taken, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    shipment_id: Annotated[str, t.REFERENCE] = Field(description='Carrier booking reference of the shipment (DCSA carrierBookingReference).')
    customs_event_type: CustomsEventType = Field(description='The customs event.')
    authority: Party = Field(description='The customs office (Pakistan Customs / WeBOC, GACC).')
    location: Location = Field(description='Where the goods are under customs control.')
    declaration_number: Annotated[str | None, t.REFERENCE] = Field(None, description='Goods declaration number.')
    checks: list[str] = Field(default_factory=list, description='Checks performed or ordered, e.g. RADIATION, SAMPLING, WEIGHING.')
    remarks: Annotated[str | None, t.TEXT] = Field(None, description='Remarks of the officer.')


class EquipmentEventType(StrEnum):
    """DCSA equipment event codes: LOAD, DISC discharged, GTIN gated in, GTOT gated out, STUF stuffed, STRP stripped, PICK picked up, DROP dropped off, INSP inspected."""
    LOAD = 'LOAD'
    DISC = 'DISC'
    GTIN = 'GTIN'
    GTOT = 'GTOT'
    STUF = 'STUF'
    STRP = 'STRP'
    PICK = 'PICK'
    DROP = 'DROP'
    INSP = 'INSP'


class EventClassifier(StrEnum):
    """DCSA event classifier: PLN planned, EST estimated, ACT actual. An estimate never overwrites an actual."""
    PLN = 'PLN'
    EST = 'EST'
    ACT = 'ACT'


class EquipmentEventRecorded(TradeEvent):
    """Something happened to a container or truck (DCSA equipment event)."""

    avro_name: ClassVar[str] = 'corridor.trade.shipments.EquipmentEventRecorded'
    topic: ClassVar[str] = 'trade.shipments.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the equipment event happened (or is planned or estimated to happen), as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    shipment_id: Annotated[str, t.REFERENCE] = Field(description='Carrier booking reference of the shipment (DCSA carrierBookingReference).')
    equipment_event_type: EquipmentEventType = Field(description='What happened to the equipment.')
    classifier: EventClassifier = Field(description='Whether the event is planned, estimated or actual.')
    location: Location = Field(description='Where it happened.')
    equipment_reference: Annotated[str | None, t.REFERENCE] = Field(None, description='Container or truck number.')
    corrects_event_id: uuid.UUID | None = Field(None, description='When this event corrects an earlier one, the event id it replaces (DCSA v3 retraction).')


class CargoType(StrEnum):
    """How the goods travel: CONTAINERISED in containers, BREAK_BULK as separate packages or units, DRY_BULK loose in the hold (ore, coal), LIQUID_BULK in tanks. Bulk cargo has no container, so its milestones are the bulk ones (notice of readiness, draft surveys, loading and discharge commenced/completed), not container events."""
    CONTAINERISED = 'CONTAINERISED'
    BREAK_BULK = 'BREAK_BULK'
    DRY_BULK = 'DRY_BULK'
    LIQUID_BULK = 'LIQUID_BULK'


class LineAllocation(AvroModel):
    """The quantity of one order line that this shipment carries."""

    avro_name: ClassVar[str] = 'corridor.trade.shipments.LineAllocation'

    line_number: Annotated[Annotated[int, Field(ge=-(2**31), le=2**31 - 1)], t.POSITIVE] = Field(description='The order line (OrderLine.line_number) allocated.')
    quantity: Quantity = Field(description="Quantity of that line on this shipment, in the line's unit.")


class DangerousGoodsCarried(AvroModel):
    """The dangerous goods of one order line that this shipment carries."""

    avro_name: ClassVar[str] = 'corridor.trade.shipments.DangerousGoodsCarried'

    line_number: Annotated[Annotated[int, Field(ge=-(2**31), le=2**31 - 1)], t.POSITIVE] = Field(description='The order line (OrderLine.line_number) these goods belong to.')
    particulars: DangerousGoods = Field(description="UN number, classification and proper shipping name as the order line states them; net explosive mass and packages of this shipment's part.")


class LicenceReference(AvroModel):
    """A licence (a certificate with licence terms) this shipment draws on."""

    avro_name: ClassVar[str] = 'corridor.trade.shipments.LicenceReference'

    issuer_party_id: Annotated[str, t.PARTY_ID] = Field(description="Partner id of the licence's issuer, e.g. the Department of Explosives.")
    certificate_number: Annotated[str, t.REFERENCE] = Field(description="The licence's certificate number.")


class ShipmentBooked(TradeEvent):
    """A carrier or forwarder confirmed a booking for an order's goods (DCSA booking confirmed)."""

    avro_name: ClassVar[str] = 'corridor.trade.shipments.ShipmentBooked'
    topic: ClassVar[str] = 'trade.shipments.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the booking was confirmed, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    shipment_id: Annotated[str, t.REFERENCE] = Field(description='Carrier booking reference of the shipment (DCSA carrierBookingReference).')
    order_id: Annotated[str, t.REFERENCE] = Field(description='Purchase order the shipment fulfils.')
    carrier: Party = Field(description='The carrier or forwarder (shipping line, NLC, trucking company).')
    transport_mode: TransportMode = Field(description='Main mode of the shipment: SEA for Karachi–Tianjin, ROAD over Khunjerab.')
    incoterm: Incoterm = Field(description='Incoterm of the order as booked; a sea-only term on a ROAD or RAIL shipment is refused.')
    place_of_loading: Location = Field(description='Where the goods are loaded (e.g. PKKHI, or the mine / Sost for road).')
    place_of_discharge: Location = Field(description='Where the goods are discharged (e.g. CNTXG, CNKSS).')
    route: list[Location] = Field(default_factory=list, description='Intermediate points in order (transhipment ports; Sost dry port and Khunjerab for road).')
    vessel_name: Annotated[str | None, t.TEXT] = Field(None, description='Vessel name for SEA shipments.')
    voyage_number: Annotated[str | None, t.REFERENCE] = Field(None, description="Carrier's voyage number.")
    equipment_references: list[str] = Field(default_factory=list, description='Container or truck numbers booked.')
    un_numbers: Annotated[list[str], t.UN_NUMBER] = Field(default_factory=list, description='UN numbers of dangerous goods carried (e.g. UN0241); empty when none.')
    tir_carnet_number: Annotated[str | None, t.REFERENCE] = Field(None, description='TIR carnet number for road transit.')
    cargo_type: CargoType | None = Field(None, description='How the goods are carried; null when the carrier did not say (container events are then accepted as before).')
    allocations: list[LineAllocation] = Field(default_factory=list, description="The order lines this shipment carries, with quantities: an order may ship in several shipments, each carrying part of its lines. Empty when the booking does not say; an order's bookings allocate all or none, and an order booked without allocations closes, as before they existed, once every shipment is delivered and it is finally invoiced, whatever the quantities.")
    dangerous_goods: list[DangerousGoodsCarried] = Field(default_factory=list, description='Dangerous goods on this shipment, one entry per order line; required for every UN number of un_numbers, and for Class 1 goods with their net explosive mass and packages. Empty when none.')
    dangerous_goods_declaration: Annotated[str | None, t.REFERENCE] = Field(None, description="Reference of the shipper's dangerous goods declaration (UN Model Regulations 5.4.1, the multimodal dangerous goods form); required when dangerous_goods is not empty.")
    licences: list[LicenceReference] = Field(default_factory=list, description="The explosives licences and import approvals this shipment draws on; each is drawn down by the shipment's Class 1 goods (net explosive mass from dangerous_goods, quantity from allocations or, without them, the whole order). Required when the shipment carries Class 1 goods; empty otherwise.")


class ShipmentDelivered(TradeEvent):
    """The goods were delivered to the consignee (proof of delivery)."""

    avro_name: ClassVar[str] = 'corridor.trade.shipments.ShipmentDelivered'
    topic: ClassVar[str] = 'trade.shipments.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when delivery took place, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    shipment_id: Annotated[str, t.REFERENCE] = Field(description='Carrier booking reference of the shipment (DCSA carrierBookingReference).')
    location: Location = Field(description='Place of delivery.')
    received_quantity: Quantity | None = Field(None, description='Quantity received, when weighed at delivery.')
    received_by: Annotated[str | None, t.TEXT] = Field(None, description='Name of the person who signed for the goods.')


class TransportDocumentEventType(StrEnum):
    """What happened to the transport document, after DCSA's document event codes: ISSU issued, AMND amended (re-issued under the same number with corrected content; DCSA has no code of its own for it), SURR surrendered (the original bills of lading handed back to the carrier against delivery or for a switch), VOID voided (cancelled; never valid again)."""
    ISSU = 'ISSU'
    AMND = 'AMND'
    SURR = 'SURR'
    VOID = 'VOID'


class TransportDocumentType(StrEnum):
    """Kind of transport document: BILL_OF_LADING (ocean bill of lading, a document of title), SEA_WAYBILL (non-negotiable sea waybill), CMR (road consignment note under the CMR Convention), TIR_CARNET (TIR carnet for road transit under customs seal)."""
    BILL_OF_LADING = 'BILL_OF_LADING'
    SEA_WAYBILL = 'SEA_WAYBILL'
    CMR = 'CMR'
    TIR_CARNET = 'TIR_CARNET'


class BillOfLadingType(StrEnum):
    """How a bill of lading transfers title: STRAIGHT (to a named consignee, not negotiable), TO_ORDER (to the order of the shipper, a bank or the consignee; transferred by endorsement), BEARER (to whoever holds an original)."""
    STRAIGHT = 'STRAIGHT'
    TO_ORDER = 'TO_ORDER'
    BEARER = 'BEARER'


class DocumentEquipment(AvroModel):
    """A container the document covers, with its seals."""

    avro_name: ClassVar[str] = 'corridor.trade.shipments.DocumentEquipment'

    container_number: Annotated[str, t.ISO6346] = Field(description='ISO 6346 container number: owner code, category U/J/Z, 6-digit serial, check digit (e.g. IOLU4127057); the check digit is verified.')
    seal_numbers: Annotated[list[str], t.REFERENCE] = Field(default_factory=list, description='Seal numbers on the container (ISO 17712 seals carry no check digit: checked as references).')


class TransportDocumentEventRecorded(TradeEvent):
    """A transport document (bill of lading, sea waybill, CMR consignment note, TIR carnet) was issued, amended, surrendered or voided (DCSA document event)."""

    avro_name: ClassVar[str] = 'corridor.trade.shipments.TransportDocumentEventRecorded'
    topic: ClassVar[str] = 'trade.shipments.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the document was issued, amended, surrendered or voided, as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    document_event_type: TransportDocumentEventType = Field(description='Issued, amended, surrendered or voided.')
    document_number: Annotated[str, t.REFERENCE] = Field(description="The document's number as printed on it (B/L number, sea waybill number, CMR number, TIR carnet number); unique per carrier.")
    document_type: TransportDocumentType = Field(description='Kind of document; it never changes after issue.')
    carrier: Party = Field(description='The carrier that issued the document (for a TIR carnet, the road haulier holding it); must be the sender and the carrier of every shipment covered.')
    bill_of_lading_type: BillOfLadingType | None = Field(None, description='Type of a bill of lading; required when issuing or amending one, absent on other documents.')
    number_of_originals: Annotated[Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] | None, t.POSITIVE] = Field(None, description='Number of originals issued (a set of usually 3 for a bill of lading); required when issuing or amending a bill of lading.')
    place_of_issue: Location | None = Field(None, description='Where the document was issued; required when issuing or amending.')
    date_of_issue: dt.date | None = Field(None, description='Date of issue printed on the document (calendar date); required when issuing or amending.')
    shipper: Party | None = Field(None, description="The shipper (consignor): the trade's supplier; required when issuing or amending.")
    consignee: Party | None = Field(None, description="The consignee: the trade's buyer; required unless the bill of lading is TO_ORDER or BEARER.")
    notify_party: Party | None = Field(None, description='Party to notify on arrival; required on a TO_ORDER or BEARER bill of lading, where no consignee is named.')
    shipment_ids: Annotated[list[str], t.REFERENCE] = Field(default_factory=list, description='Carrier booking references of the shipments the document covers; at least one when issuing or amending, each booked by this carrier.')
    equipment: list[DocumentEquipment] = Field(default_factory=list, description='Containers covered, with their seals; empty for bulk cargo and for documents without containers.')
    vessel_imo_number: Annotated[str | None, t.IMO] = Field(None, description="IMO ship identification number of the vessel: 7 digits, the last a check digit, without the 'IMO' prefix (e.g. 9345673); only on a bill of lading or sea waybill.")
    reason: Annotated[str | None, t.TEXT] = Field(None, description='Why the document was amended or voided; required for AMND and VOID.')


class TransportEventType(StrEnum):
    """DCSA transport event codes: DEPA departed, ARRI arrived (at a BOCR border crossing: crossed the border). Bulk cargo milestones of a vessel at a call, after the statement of facts (BIMCO): NOR_TENDERED notice of readiness tendered, INITIAL_DRAFT_SURVEY and FINAL_DRAFT_SURVEY the draft surveys before and after cargo work, LOADING_COMMENCED, LOADING_COMPLETED, DISCHARGE_COMMENCED, DISCHARGE_COMPLETED."""
    DEPA = 'DEPA'
    ARRI = 'ARRI'
    NOR_TENDERED = 'NOR_TENDERED'
    INITIAL_DRAFT_SURVEY = 'INITIAL_DRAFT_SURVEY'
    LOADING_COMMENCED = 'LOADING_COMMENCED'
    LOADING_COMPLETED = 'LOADING_COMPLETED'
    FINAL_DRAFT_SURVEY = 'FINAL_DRAFT_SURVEY'
    DISCHARGE_COMMENCED = 'DISCHARGE_COMMENCED'
    DISCHARGE_COMPLETED = 'DISCHARGE_COMPLETED'


class ModeOfTransport(StrEnum):
    """DCSA mode of transport of the call: VESSEL, RAIL, TRUCK, BARGE."""
    VESSEL = 'VESSEL'
    RAIL = 'RAIL'
    TRUCK = 'TRUCK'
    BARGE = 'BARGE'


class TransportCall(AvroModel):
    """A stop of the means of transport (DCSA transport call)."""

    avro_name: ClassVar[str] = 'corridor.trade.shipments.TransportCall'

    location: Location = Field(description='Where the call is.')
    mode_of_transport: ModeOfTransport = Field(description='How the goods travel on this leg.')
    vessel_name: Annotated[str | None, t.TEXT] = Field(None, description='Vessel name on VESSEL legs.')
    voyage_number: Annotated[str | None, t.REFERENCE] = Field(None, description='Voyage number.')
    vehicle_reference: Annotated[str | None, t.REFERENCE] = Field(None, description="The truck (registration), wagon or vessel (IMO number) making this call, when a shipment travels on several: each vehicle has its own milestones, so a second truck's departure is not a second departure of the first.")


class TransportEventRecorded(TradeEvent):
    """A vessel, train or truck departed from or arrived at a transport call (DCSA transport event)."""

    avro_name: ClassVar[str] = 'corridor.trade.shipments.TransportEventRecorded'
    topic: ClassVar[str] = 'trade.shipments.v1'

    event_id: uuid.UUID = Field(description='Unique id of this event (also the CloudEvents id); redelivery of the same id is harmless.')
    trade_id: uuid.UUID = Field(description="Id of the trade this event belongs to; the Kafka record key, so one trade's events stay in order on one partition.")
    occurred_at: Annotated[dt.datetime, t.UTC_MILLIS] = Field(description='Event time: when the departure or arrival happened (or is planned or estimated to happen), as a UTC instant (milliseconds).')
    created_at: Annotated[dt.datetime, t.UTC_MILLIS] | None = Field(None, description="When the sender's system created this event (DCSA eventCreatedDateTime), as a UTC instant (milliseconds); never in the future beyond a small clock skew. Successive planned or estimated times of one milestone are ordered by it, not by the time they estimate. Left out, the gateway sets it to when it received the event.")
    sender: Annotated[str, t.PARTY_ID] = Field(description='Partner id of the party that published this event.')
    shipment_id: Annotated[str, t.REFERENCE] = Field(description='Carrier booking reference of the shipment (DCSA carrierBookingReference).')
    transport_event_type: TransportEventType = Field(description='Departure, arrival, or a bulk cargo milestone.')
    classifier: EventClassifier = Field(description='Whether the event is planned, estimated or actual.')
    transport_call: TransportCall = Field(description='The transport call departed from or arrived at.')
    corrects_event_id: uuid.UUID | None = Field(None, description='When this event corrects an earlier one, the event id it replaces (DCSA v3 retraction).')
    cargo_quantity: Quantity | None = Field(None, description='The cargo quantity a draft survey established (only on INITIAL_DRAFT_SURVEY and FINAL_DRAFT_SURVEY). The final draft survey at the place of loading is the quantity shipped, against which the delivered quantity is compared.')


#: Every trade event type by its full Avro name (= CloudEvents type).
EVENT_TYPES: dict[str, type[TradeEvent]] = {
    'corridor.trade.certificates.CertificateAmended': CertificateAmended,
    'corridor.trade.certificates.CertificateIssued': CertificateIssued,
    'corridor.trade.certificates.CertificatePresented': CertificatePresented,
    'corridor.trade.certificates.CertificateRevoked': CertificateRevoked,
    'corridor.trade.certificates.CertificateVerified': CertificateVerified,
    'corridor.trade.certificates.OriginDataTransmitted': OriginDataTransmitted,
    'corridor.trade.certificates.PreferenceDecided': PreferenceDecided,
    'corridor.trade.certificates.VerificationAnswered': VerificationAnswered,
    'corridor.trade.certificates.VerificationRequested': VerificationRequested,
    'corridor.trade.orders.InvoiceIssued': InvoiceIssued,
    'corridor.trade.orders.LetterOfCreditEventRecorded': LetterOfCreditEventRecorded,
    'corridor.trade.orders.OrderAmended': OrderAmended,
    'corridor.trade.orders.OrderCancelled': OrderCancelled,
    'corridor.trade.orders.OrderPlaced': OrderPlaced,
    'corridor.trade.orders.OrderResponded': OrderResponded,
    'corridor.trade.orders.PartyAdmitted': PartyAdmitted,
    'corridor.trade.orders.PartyWithdrawn': PartyWithdrawn,
    'corridor.trade.shipments.CustomsEventRecorded': CustomsEventRecorded,
    'corridor.trade.shipments.EquipmentEventRecorded': EquipmentEventRecorded,
    'corridor.trade.shipments.ShipmentBooked': ShipmentBooked,
    'corridor.trade.shipments.ShipmentDelivered': ShipmentDelivered,
    'corridor.trade.shipments.TransportDocumentEventRecorded': TransportDocumentEventRecorded,
    'corridor.trade.shipments.TransportEventRecorded': TransportEventRecorded,
}
