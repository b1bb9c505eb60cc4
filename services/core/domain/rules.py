"""Cross-field rules of single events: what one field means for another (pure, no I/O).

``check(event)`` returns ``[(field path, reason), …]``; ``TradeEvent`` runs it on construction, so an
event that breaks a rule can neither be built nor published. Rules that need other events (lifecycle
order, superseded certificates) belong to the lifecycle state machines, not here.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from corridor.core.domain import dangerous_goods, reference

Violation = tuple[str, str]
_RULES: dict[str, Callable[[Any], Iterable[Violation]]] = {}


def rule(
    *type_names: str,
) -> Callable[[Callable[[Any], Iterable[Violation]]], Callable[[Any], Iterable[Violation]]]:
    def register(fn: Callable[[Any], Iterable[Violation]]) -> Callable[[Any], Iterable[Violation]]:
        for name in type_names:
            _RULES[name] = fn
        return fn

    return register


#: Rules held at intake only (the gateway, ``parse_event``, a partner's SDK): rules that require data a
#: later schema version added (ADRs 0033, 0034), which decoding what Kafka or the ledger holds must not
#: re-run (an event accepted before a rule existed stays readable, as with the code lists of ADR 0032).
#: The ledger applies the certificate ones to every new event through the lifecycle, so no path around
#: the gateway skips them.
_INTAKE_RULES: dict[str, Callable[[Any], Iterable[Violation]]] = {}


def intake_rule(
    *type_names: str,
) -> Callable[[Callable[[Any], Iterable[Violation]]], Callable[[Any], Iterable[Violation]]]:
    def register(fn: Callable[[Any], Iterable[Violation]]) -> Callable[[Any], Iterable[Violation]]:
        for name in type_names:
            _INTAKE_RULES[name] = fn
        return fn

    return register


def check(event: Any, *, intake: bool = False) -> list[Violation]:
    """The event's rule violations; with ``intake``, also those of the rules for events taken in."""
    name = type(event).__name__
    fn = _RULES.get(name)
    later = _INTAKE_RULES.get(name) if intake else None
    return [*(fn(event) if fn else ()), *(later(event) if later else ()), *_created_after_actual(event)]


# -- rules of every event --------------------------------------------------------------------------------


def _created_after_actual(e: Any) -> Iterable[Violation]:
    """An actual (ACT) event reports what happened, so it cannot be created before it happened (ADR 0026;
    the rules against the clock are in ``timing.py``, as they need one)."""
    from corridor.core.domain.timing import CLOCK_SKEW, is_actual

    created = getattr(e, "created_at", None)
    if created is not None and is_actual(e) and created + CLOCK_SKEW < e.occurred_at:
        yield (
            "created_at",
            f"an actual (ACT) event cannot be created ({created.isoformat()}) before it happened "
            f"(occurred_at {e.occurred_at.isoformat()})",
        )


# -- shared checks -------------------------------------------------------------------------------------


def _incoterm_fits_mode(incoterm: str, mode: str, field: str) -> Iterable[Violation]:
    if incoterm in reference.SEA_ONLY_INCOTERMS and mode != "SEA":
        yield (
            field,
            f"{incoterm} is a sea-only Incoterm (FAS, FOB, CFR, CIF) and cannot be used for a {mode} "
            "shipment; use FCA, CPT, CIP, DAP, DPU or DDP",
        )


def _role(party: Any, field: str, *roles: str) -> Iterable[Violation]:
    if party.role not in roles:
        yield f"{field}.role", f"must be {' or '.join(roles)}, got {party.role}"


def _parties(*pairs: tuple[Any, str]) -> Iterable[Violation]:
    from corridor.core.domain.validators import check_legal_id

    for party, field in pairs:
        if party is None:
            continue
        reason = check_legal_id(party.id_scheme, party.legal_id)
        if reason:
            yield f"{field}.legal_id", reason
        expected_country = {"NTN": "PK", "USCC": "CN"}.get(party.id_scheme)
        if expected_country and party.country != expected_country:
            yield (
                f"{field}.country",
                f"a party identified by {party.id_scheme} is registered in {expected_country}",
            )
        yield from _registrations(party, field)


def _registrations(party: Any, field: str) -> Iterable[Violation]:
    """Each registration in its scheme's format, issued by the party's country, and given once."""
    from corridor.core.domain.validators import REGISTRATION_SCHEMES

    seen: set[tuple[str, str]] = set()
    for i, registration in enumerate(getattr(party, "registrations", None) or []):
        at = f"{field}.registrations[{i}]"
        check, country = REGISTRATION_SCHEMES[registration.scheme]
        if reason := check(registration.value):
            yield f"{at}.value", reason
        if party.country != country:
            yield (
                f"{at}.scheme",
                f"{registration.scheme} is issued in {country}; the party is registered in {party.country}",
            )
        if (registration.scheme, registration.value) in seen:
            yield f"{at}.value", f"{registration.scheme} {registration.value} is given twice"
        seen.add((registration.scheme, registration.value))


def _lines(lines: list[Any], field: str, *, required: bool = True) -> Iterable[Violation]:
    if required and not lines:
        yield field, "at least one line is required"
    dupes = [n for n, c in Counter(line.line_number for line in lines).items() if c > 1]
    if dupes:
        yield field, f"line numbers must be unique, repeated: {dupes}"
    currencies = {line.unit_price.currency for line in lines}
    if len(currencies) > 1:
        yield field, f"all lines must be priced in one currency, got {sorted(currencies)}"
    for i, line in enumerate(lines):
        q = line.quality
        for j, spec in enumerate(q):
            if (
                spec.min_percent is not None
                and spec.max_percent is not None
                and spec.min_percent > spec.max_percent
            ):
                yield f"{field}[{i}].quality[{j}]", "min_percent is above max_percent"
        yield from _line_dangerous_goods(line, f"{field}[{i}]")
        yield from _line_customs_data(line, f"{field}[{i}]")


def _line_customs_data(line: Any, at: str) -> Iterable[Violation]:
    """The goods as customs reads them (ADR 0039): national tariff lines that subdivide the line's HS
    code, weights in a mass unit with the net not above the gross, packages counted unless in bulk.
    Content rules only: what is required, and the HS lists, are held at intake (_lines_listed)."""
    from corridor.core.domain.validators import check_national_tariff_line

    for country, name in (("PK", "pk_tariff_code"), ("CN", "cn_tariff_code")):
        value = getattr(line, name)
        # edition=None: the prefix's format here; its list membership is the HS code's, checked at intake
        if value is not None and (
            reason := check_national_tariff_line(country, value, line.hs_code, edition=None)
        ):
            yield f"{at}.{name}", reason
    gross, net = line.gross_weight, line.net_weight
    yield from _mass(gross, f"{at}.gross_weight", "gross weight")
    yield from _mass(net, f"{at}.net_weight", "net weight")
    if gross is not None and net is not None and (g := _kilograms(gross)) is not None:
        if (n := _kilograms(net)) is not None and n > g:
            yield (
                f"{at}.net_weight",
                f"{net.value} {net.unit} net is more than the {gross.value} {gross.unit} gross weight",
            )
    yield from _packages(line.number_of_packages, line.package_type, at)


def _line_dangerous_goods(line: Any, field: str) -> Iterable[Violation]:
    """Explosives (HS 3602/3603 or a Class 1 UN number) carry their dangerous-goods particulars, and the
    particulars repeat the line's UN number (ADR 0034)."""
    dg = line.dangerous_goods
    if dg is None:
        return  # required for explosives on intake (_explosive_lines_declared)
    if line.un_number != dg.un_number:
        yield (
            f"{field}.un_number",
            f"must be {dg.un_number}, the UN number of the line's dangerous_goods, not {line.un_number}",
        )
    yield from dangerous_goods.check_particulars(dg, f"{field}.dangerous_goods")


def _is_explosive(line: Any) -> bool:
    return dangerous_goods.is_explosive(line.hs_code, line.un_number)


# -- per event type ------------------------------------------------------------------------------------


@rule("OrderPlaced")
def _order_placed(e: Any) -> Iterable[Violation]:
    yield from _parties((e.buyer, "buyer"), (e.supplier, "supplier"))
    yield from _role(e.buyer, "buyer", "BUYER")
    yield from _role(e.supplier, "supplier", "SUPPLIER")
    yield from _lines(e.lines, "lines")
    yield from _incoterm_fits_mode(e.incoterm, e.transport_mode, "incoterm")
    if e.delivery_latest < e.delivery_earliest:
        yield "delivery_latest", "the delivery window ends before it starts"
    if e.sender not in (e.buyer.party_id,):
        yield "sender", "an order is placed by its buyer"
    if any(_is_explosive(line) for line in e.lines):
        missing = {"EXPLOSIVES_EXPORT_LICENCE", "EXPLOSIVES_IMPORT_APPROVAL"} - set(e.required_certificates)
        if missing:
            yield (
                "required_certificates",
                f"explosives (HS 3602/3603, UN class 1) require {', '.join(sorted(missing))}",
            )
    yield from _letter_of_credit(e)


def _letter_of_credit(e: Any) -> Iterable[Violation]:
    """The credit's terms against the order (UCP 600; docs/domain.md §3): only an order paid by letter of
    credit carries them; its banks are banks and two; the goods ship before the credit expires; the
    credit is in the order's currency; it calls for documents."""
    lc = e.letter_of_credit
    if lc is None:
        return
    field = "letter_of_credit"
    if e.payment_terms != "LETTER_OF_CREDIT":
        yield field, f"only an order paid by LETTER_OF_CREDIT carries credit terms, not {e.payment_terms}"
    yield from _parties(
        (lc.issuing_bank, f"{field}.issuing_bank"), (lc.advising_bank, f"{field}.advising_bank")
    )
    yield from _role(lc.issuing_bank, f"{field}.issuing_bank", "BANK")
    yield from _role(lc.advising_bank, f"{field}.advising_bank", "BANK")
    if lc.issuing_bank.party_id == lc.advising_bank.party_id:
        yield f"{field}.advising_bank.party_id", "the advising bank is another bank than the issuing bank"
    if lc.latest_shipment_date > lc.expiry_date:
        yield f"{field}.latest_shipment_date", f"must not be after the credit's expiry_date {lc.expiry_date}"
    currencies = {line.unit_price.currency for line in e.lines}
    if len(currencies) == 1 and lc.amount.currency not in currencies:
        yield (
            f"{field}.amount.currency",
            f"must be {next(iter(currencies))}, the currency of the order's lines",
        )
    if not lc.documents_required:
        yield f"{field}.documents_required", "a documentary credit calls for at least one document"
    elif len(set(lc.documents_required)) != len(lc.documents_required):
        yield f"{field}.documents_required", "each document is named once"


@rule("OrderResponded")
def _order_responded(e: Any) -> Iterable[Violation]:
    if e.response == "ACCEPTED_WITH_AMENDMENT":
        yield from _lines(e.counter_lines, "counter_lines")
    elif e.counter_lines:
        yield "counter_lines", f"only an ACCEPTED_WITH_AMENDMENT response carries lines, not {e.response}"
    if e.response == "REJECTED" and not e.reason:
        yield "reason", "a rejection must give its reason"


@rule("OrderAmended")
def _order_amended(e: Any) -> Iterable[Violation]:
    yield from _lines(e.lines, "lines")


@rule("InvoiceIssued")
def _invoice(e: Any) -> Iterable[Violation]:
    if not e.lines:
        yield "lines", "at least one line is required"
    currencies = {line.amount.currency for line in e.lines} | {line.unit_price.currency for line in e.lines}
    if len(currencies) > 1:
        yield "lines", f"all amounts must be in one currency, got {sorted(currencies)}"
    elif currencies and e.total.currency not in currencies:
        yield "total.currency", f"must be {next(iter(currencies))}, the currency of the lines"
    for i, line in enumerate(e.lines):
        expected = (line.quantity.value * line.unit_price.amount).quantize(Decimal("0.0001"))
        if abs(expected - line.amount.amount) > Decimal("0.01"):
            yield f"lines[{i}].amount.amount", f"must be quantity × unit price = {expected}"
    total = sum((line.amount.amount for line in e.lines), Decimal(0))
    if e.lines and total != e.total.amount:
        yield "total.amount", f"must be the sum of the line amounts = {total}"


@rule("LetterOfCreditEventRecorded")
def _credit_event(e: Any) -> Iterable[Violation]:
    """What each credit event must say: a presentation its documents and the amount claimed, a
    discrepancy what it is, a payment its amount; nothing that belongs to another kind."""
    kind = e.credit_event_type
    if kind == "DOCUMENTS_PRESENTED":
        if not e.documents:
            yield "documents", "a presentation lists the documents presented"
        elif len(set(e.documents)) != len(e.documents):
            yield "documents", "each document is named once"
    else:
        for name in ("documents", "invoice_numbers", "transport_document_numbers"):
            if getattr(e, name):
                yield name, f"only DOCUMENTS_PRESENTED lists what was presented, not {kind}"
    if kind == "DISCREPANCY_NOTED":
        if not e.discrepancies:
            yield "discrepancies", "say what does not comply (UCP 600 article 16)"
        if e.amount is not None:
            yield "amount", "a discrepancy moves no money; leave the amount out"
    elif e.discrepancies:
        yield "discrepancies", f"only DISCREPANCY_NOTED lists discrepancies, not {kind}"
    if kind in ("DOCUMENTS_PRESENTED", "PAYMENT_MADE"):
        if e.amount is None:
            what = "claimed by the presentation" if kind == "DOCUMENTS_PRESENTED" else "paid"
            yield "amount", f"required: the amount {what}"
        elif e.amount.amount <= 0:
            yield "amount.amount", "must be more than zero"


@rule("ShipmentBooked")
def _booked(e: Any) -> Iterable[Violation]:
    yield from _parties((e.carrier, "carrier"))
    yield from _role(e.carrier, "carrier", "CARRIER")
    yield from _incoterm_fits_mode(e.incoterm, e.transport_mode, "incoterm")
    loading, discharge = e.place_of_loading.unlocode, e.place_of_discharge.unlocode
    if reference.canonical_locode(loading) == reference.canonical_locode(discharge):
        same = "" if loading == discharge else f" ({loading} and {discharge} are the same place)"
        yield "place_of_discharge", f"must differ from place_of_loading{same}"
    numbers = [a.line_number for a in e.allocations]
    if len(set(numbers)) != len(numbers):
        yield "allocations", "each order line is allocated once per shipment"
    for i, allocation in enumerate(e.allocations):
        if allocation.quantity.value <= 0:
            yield f"allocations[{i}].quantity.value", "an allocated quantity is more than zero"
    if e.cargo_type in ("DRY_BULK", "LIQUID_BULK") and e.equipment_references:
        yield "equipment_references", f"{e.cargo_type} cargo travels loose in the hold, without containers"
    yield from _shipment_dangerous_goods(e)


def _shipment_dangerous_goods(e: Any) -> Iterable[Violation]:
    """A booking's dangerous goods (ADR 0034): one entry per order line, each UN number of ``un_numbers``
    declared with its particulars, a dangerous goods declaration for them, and Class 1 goods drawing on
    a licence. Whether they match the order and what the licences leave is the lifecycle's (shipment.py)."""
    carried = e.dangerous_goods
    numbers = [item.line_number for item in carried]
    if len(set(numbers)) != len(numbers):
        yield "dangerous_goods", "each order line's dangerous goods are declared once per shipment"
    for i, item in enumerate(carried):
        yield from dangerous_goods.check_particulars(item.particulars, f"dangerous_goods[{i}].particulars")
    declared = {item.particulars.un_number for item in carried}
    for un in sorted(declared - set(e.un_numbers)):
        yield "un_numbers", f"must list {un}, which dangerous_goods declares"
    if carried and e.dangerous_goods_declaration is None:
        yield "dangerous_goods_declaration", "required when the shipment carries dangerous goods"
    if any(dangerous_goods.is_class1(un) for un in declared) and not e.licences:
        yield (
            "licences",
            "a shipment of Class 1 goods (explosives) names the explosives licences it draws on",
        )
    refs = [(ref.issuer_party_id, ref.certificate_number) for ref in e.licences]
    if len(set(refs)) != len(refs):
        yield "licences", "each licence is named once per shipment"


#: Bulk cargo milestones (ADR 0029): a vessel's (or barge's) at a call, after the statement of facts.
BULK_MILESTONES = frozenset(
    {
        "NOR_TENDERED",
        "INITIAL_DRAFT_SURVEY",
        "LOADING_COMMENCED",
        "LOADING_COMPLETED",
        "FINAL_DRAFT_SURVEY",
        "DISCHARGE_COMMENCED",
        "DISCHARGE_COMPLETED",
    }
)


@rule("TransportEventRecorded")
def _transport(e: Any) -> Iterable[Violation]:
    kind, mode = e.transport_event_type, e.transport_call.mode_of_transport
    if kind in BULK_MILESTONES and mode not in ("VESSEL", "BARGE"):
        yield (
            "transport_call.mode_of_transport",
            f"{kind} is a bulk milestone of a vessel or barge, not a {mode}",
        )
    survey = kind in ("INITIAL_DRAFT_SURVEY", "FINAL_DRAFT_SURVEY")
    if e.cargo_quantity is not None and not survey:
        yield "cargo_quantity", f"only a draft survey establishes a cargo quantity, not {kind}"
    if kind == "FINAL_DRAFT_SURVEY" and e.classifier == "ACT" and e.cargo_quantity is None:
        yield "cargo_quantity", "an actual FINAL_DRAFT_SURVEY states the cargo quantity it established"


@rule("TransportDocumentEventRecorded")
def _transport_document(e: Any) -> Iterable[Violation]:
    """What each document event must say (ADR 0026): an issue or an amendment states the document's
    content; a B/L its type and originals; an amendment or voiding its reason."""
    yield from _parties(
        (e.carrier, "carrier"),
        (e.shipper, "shipper"),
        (e.consignee, "consignee"),
        (e.notify_party, "notify_party"),
    )
    yield from _role(e.carrier, "carrier", "CARRIER")
    kind = e.document_event_type
    is_bl = e.document_type == "BILL_OF_LADING"
    if kind in ("ISSU", "AMND"):
        for name in ("place_of_issue", "date_of_issue", "shipper"):
            if getattr(e, name) is None:
                yield name, f"required when a document is issued or amended ({kind})"
        if not e.shipment_ids:
            yield "shipment_ids", "name at least one shipment the document covers"
        if is_bl and e.bill_of_lading_type is None:
            yield "bill_of_lading_type", "a bill of lading is STRAIGHT, TO_ORDER or BEARER"
        if is_bl and e.number_of_originals is None:
            yield "number_of_originals", "say how many originals of the bill of lading were issued"
        if e.consignee is None and e.bill_of_lading_type not in ("TO_ORDER", "BEARER"):
            yield "consignee", "required unless the bill of lading is TO_ORDER or BEARER"
        if e.bill_of_lading_type in ("TO_ORDER", "BEARER") and e.notify_party is None:
            yield "notify_party", f"a {e.bill_of_lading_type} bill of lading names the party to notify"
    if kind in ("AMND", "VOID") and not e.reason:
        yield "reason", f"say why the document is {'amended' if kind == 'AMND' else 'voided'}"
    if not is_bl and e.bill_of_lading_type is not None:
        yield "bill_of_lading_type", f"only a bill of lading has one, not a {e.document_type}"
    if e.vessel_imo_number is not None and e.document_type not in ("BILL_OF_LADING", "SEA_WAYBILL"):
        yield "vessel_imo_number", f"a {e.document_type} covers road transport: no vessel"
    if e.shipment_ids and len(set(e.shipment_ids)) != len(e.shipment_ids):
        yield "shipment_ids", "each shipment is named once"
    containers = [q.container_number for q in e.equipment]
    if len(set(containers)) != len(containers):
        yield "equipment", "each container is named once"


@rule("CustomsEventRecorded")
def _customs(e: Any) -> Iterable[Violation]:
    yield from _parties((e.authority, "authority"))
    yield from _role(e.authority, "authority", "CUSTOMS")


@rule("CertificateIssued")
def _cert_issued(e: Any) -> Iterable[Violation]:
    yield from _parties((e.issuer, "issuer"), (e.exporter, "exporter"), (e.consignee, "consignee"))
    yield from _role(e.issuer, "issuer", "ISSUING_AUTHORITY", "INSPECTION_BODY")
    if not e.goods:
        yield "goods", "at least one item of goods is required"
    if e.valid_until is not None and e.valid_until < e.occurred_at.date():
        yield "valid_until", "a certificate cannot expire before it is issued"
    if e.certificate_kind in ("ASSAY", "WEIGHT", "QUALITY") and not e.results:
        yield "results", f"an {e.certificate_kind} certificate must report its results"
    yield from _licence_terms(e)


#: Certificates that are licences: they may carry licence terms, which shipments draw down (ADR 0034).
LICENCE_KINDS = frozenset({"EXPLOSIVES_EXPORT_LICENCE", "EXPLOSIVES_IMPORT_APPROVAL"})


def _licence_terms(e: Any) -> Iterable[Violation]:
    """A licence's terms: only on a licence, held by the exporter (export licence) or the consignee
    (import approval), valid from a day to its ``valid_until``, authorising a positive net explosive mass
    or quantity of each UN number once."""
    terms = e.licence
    if terms is None:
        return
    kind = str(e.certificate_kind)
    if kind not in LICENCE_KINDS:
        yield "licence", f"only an explosives licence or import approval carries licence terms, not {kind}"
        return
    yield from _parties((terms.holder, "licence.holder"))
    licensee = e.exporter if kind == "EXPLOSIVES_EXPORT_LICENCE" else e.consignee
    if terms.holder.party_id != licensee.party_id:
        yield (
            "licence.holder.party_id",
            f"the holder of an {kind} is its {'exporter' if licensee is e.exporter else 'consignee'} "
            f"{licensee.party_id}, not {terms.holder.party_id}",
        )
    if e.valid_until is None:
        yield "valid_until", "a licence with licence terms states the last day it is valid"
    elif terms.valid_from > e.valid_until:
        yield "licence.valid_from", f"must not be after valid_until {e.valid_until}"
    if not terms.authorised:
        yield "licence.authorised", "a licence authorises at least one UN number"
    seen: set[str] = set()
    for i, goods in enumerate(terms.authorised):
        field = f"licence.authorised[{i}]"
        if goods.un_number in seen:
            yield f"{field}.un_number", f"{goods.un_number} is authorised twice; state it once"
        seen.add(goods.un_number)
        if goods.net_explosive_mass_kg is None and goods.quantity is None:
            yield field, "authorises a net_explosive_mass_kg, a quantity, or both"
        if goods.net_explosive_mass_kg is not None and goods.net_explosive_mass_kg <= 0:
            yield f"{field}.net_explosive_mass_kg", "an authorised net explosive mass is more than zero"
        if goods.quantity is not None and goods.quantity.value <= 0:
            yield f"{field}.quantity.value", "an authorised quantity is more than zero"


@rule("CertificateAmended")
def _cert_amended(e: Any) -> Iterable[Violation]:
    yield from _parties((e.issuer, "issuer"))
    if e.supersedes_certificate_number == e.certificate_number:
        yield "supersedes_certificate_number", "a certificate cannot supersede itself"
    if not e.goods:
        yield "goods", "at least one item of goods is required"


@rule("CertificateRevoked")
def _cert_revoked(e: Any) -> Iterable[Violation]:
    yield from _parties((e.issuer, "issuer"))


@rule("CertificatePresented")
def _cert_presented(e: Any) -> Iterable[Violation]:
    yield from _parties((e.customs, "customs"))
    yield from _role(e.customs, "customs", "CUSTOMS")


@rule("CertificateVerified")
def _cert_verified(e: Any) -> Iterable[Violation]:
    yield from _parties((e.customs, "customs"))
    yield from _role(e.customs, "customs", "CUSTOMS")
    if e.result == "NOT_MATCHED" and not e.mismatches:
        yield "mismatches", "say what did not match"
    if e.result == "MATCHED" and e.mismatches:
        yield "mismatches", "a MATCHED verification has no mismatches"


@rule("PreferenceDecided")
def _preference(e: Any) -> Iterable[Violation]:
    yield from _parties((e.customs, "customs"))
    yield from _role(e.customs, "customs", "CUSTOMS")
    if e.decision == "DENIED" and not e.reason:
        yield "reason", "a denial must give its reason (certificate box 5)"


@rule("OriginDataTransmitted")
def _origin_data(e: Any) -> Iterable[Violation]:
    yield from _parties((e.issuer, "issuer"), (e.customs, "customs"))
    yield from _role(e.customs, "customs", "CUSTOMS")
    if not e.goods:
        yield "goods", "at least one item of goods is required"
    seen: set[int] = set()
    for i, goods in enumerate(e.goods):
        if goods.item_number in seen:
            yield f"goods[{i}].item_number", f"item {goods.item_number} is given twice"
        seen.add(goods.item_number)


@rule("VerificationRequested")
def _verification_requested(e: Any) -> Iterable[Violation]:
    yield from _parties((e.customs, "customs"))
    yield from _role(e.customs, "customs", "CUSTOMS")
    if e.reply_by is not None and e.reply_by <= e.occurred_at.astimezone(dt.UTC).date():
        yield "reply_by", "the deadline for the answer is after the day of the request"


@rule("VerificationAnswered")
def _verification_answered(e: Any) -> Iterable[Violation]:
    yield from _parties((e.issuer, "issuer"), (e.customs, "customs"))
    yield from _role(e.customs, "customs", "CUSTOMS")
    if e.answer == "NOT_CONFIRMED" and not e.findings:
        yield "findings", "say what the issuer found when it does not confirm the certificate"


# -- rules of events taken in (ADR 0034) -----------------------------------------------------------------


def _explosive_lines_declared(lines: list[Any], field: str) -> Iterable[Violation]:
    for i, line in enumerate(lines):
        if line.dangerous_goods is None and _is_explosive(line):
            yield (
                f"{field}[{i}].dangerous_goods",
                "required for explosives (HS 3602/3603 or a Class 1 UN number): UN number, classification, "
                "proper shipping name, net explosive mass and packages",
            )


def _lines_listed(e: Any, lines: list[Any], field: str) -> Iterable[Violation]:
    """Each line's HS code in its edition's list (ADR 0039): the line's ``hs_edition``, or the one in force
    on the event's date; HS 2022 is no longer written once HS 2027 is in force."""
    from corridor.core.domain.validators import check_hs6_in

    in_force = reference.hs_edition_on(e.occurred_at.astimezone(dt.UTC).date())
    since = reference.HS_EDITIONS_IN_FORCE[in_force]
    for i, line in enumerate(lines):
        edition = str(line.hs_edition or in_force)
        if reference.HS_EDITIONS_IN_FORCE[edition] < since:
            yield (
                f"{field}[{i}].hs_edition",
                f"{edition} was replaced by {in_force} on {since}: a line sent on or after that day is "
                f"written in {in_force} (or leave hs_edition out)",
            )
        if reason := check_hs6_in(line.hs_code, edition):
            yield f"{field}[{i}].hs_code", reason


@intake_rule("OrderPlaced", "OrderAmended")
def _order_lines_declared(e: Any) -> Iterable[Violation]:
    yield from _explosive_lines_declared(e.lines, "lines")
    yield from _lines_listed(e, e.lines, "lines")
    if "CPFTA_ORIGIN" in getattr(e, "required_certificates", ()):
        for i, line in enumerate(e.lines):
            if line.country_of_origin is None:
                yield (
                    f"lines[{i}].country_of_origin",
                    "required when the order requires a CPFTA certificate of origin: the preference is "
                    "claimed for goods originating in Pakistan or China",
                )


@intake_rule("OrderResponded")
def _counter_lines_declared(e: Any) -> Iterable[Violation]:
    yield from _explosive_lines_declared(e.counter_lines, "counter_lines")
    yield from _lines_listed(e, e.counter_lines, "counter_lines")


@intake_rule("ShipmentBooked")
def _booking_declared(e: Any) -> Iterable[Violation]:
    declared = {item.particulars.un_number for item in e.dangerous_goods}
    for i, un in enumerate(e.un_numbers):
        if un not in declared:
            yield (
                f"un_numbers[{i}]",
                f"{un} is carried but not declared in dangerous_goods (classification, proper shipping name"
                + (", net explosive mass, packages)" if dangerous_goods.is_class1(un) else ")"),
            )
    class1 = any(dangerous_goods.is_class1(un) for un in e.un_numbers)
    if class1 and not e.licences and not any(dangerous_goods.is_class1(un) for un in declared):
        yield (
            "licences",
            "a shipment of Class 1 goods (explosives) names the explosives licences it draws on",
        )


# -- the CPFTA certificate of origin, box by box (ADR 0033; docs/domain.md §5) ---------------------------

#: Rec 21 codes of goods carried loose or in bulk: they have a kind of packing but no count.
BULK_PACKAGE_TYPES = frozenset({"NE", "VG", "VL", "VO", "VQ", "VR", "VS", "VY"})
_RVC = re.compile(r"RVC (?P<percent>\d{1,3}(?:\.\d{1,2})?)%")
_TO_KILOGRAMS = {"TNE": Decimal(1000), "KGM": Decimal(1), "GRM": Decimal("0.001")}


def _kilograms(q: Any) -> Decimal | None:
    """A Rec 20 mass in kilograms, ``None`` when its unit is not a mass."""
    return q.value * _TO_KILOGRAMS[q.unit] if q.unit in _TO_KILOGRAMS else None


def _mass(q: Any, field: str, what: str) -> Iterable[Violation]:
    if q is not None and q.unit not in reference.MASS_UNITS:
        yield f"{field}.unit", f"a {what} is a mass ({', '.join(sorted(reference.MASS_UNITS))}), not {q.unit}"


def _packages(number: int | None, kind: str | None, at: str, box: str = "") -> Iterable[Violation]:
    """Number and kind of packages (Rec 21), on a certificate's goods and an order line alike: a count
    says what it counts, packed goods are counted, goods in bulk are not."""
    bulk = kind in BULK_PACKAGE_TYPES
    if number is not None and kind is None:
        yield f"{at}.package_type", "say what kind of packages (Rec 21) the number of packages counts"
    if kind is not None and not bulk and number is None:
        yield f"{at}.number_of_packages", f"count the packages of kind {kind}{box}"
    if bulk and number is not None:
        yield f"{at}.number_of_packages", f"goods in bulk ({kind}) are not counted in packages"


def check_origin_criterion(value: str) -> str | None:
    """``None`` when ``value`` is an origin criterion of the agreement (box 8), else why not."""
    if value in reference.CPFTA_ORIGIN_CRITERIA:
        return None
    if m := _RVC.fullmatch(value):
        percent = Decimal(m["percent"])
        if reference.CPFTA_MIN_RVC_PERCENT <= percent <= 100:
            return None
        if percent > 100:
            return f"a regional value content of {percent} % is more than the whole value"
        least = reference.CPFTA_MIN_RVC_PERCENT
        return f"a regional value content of {percent} % is below the agreement's {least} %"
    known = ", ".join(f"{code} ({meaning})" for code, meaning in reference.CPFTA_ORIGIN_CRITERIA.items())
    return f"{value!r} is not a CPFTA origin criterion: {known}; RVC may carry its percentage, 'RVC 45%'"


def _trader(trader: Any, field: str) -> Iterable[Violation]:
    from corridor.core.domain.validators import check_legal_id

    if trader is None:
        return
    if (trader.id_scheme is None) != (trader.legal_id is None):
        yield f"{field}.legal_id", "give the identifier and its scheme (id_scheme) together, or neither"
    elif trader.id_scheme is not None and (reason := check_legal_id(trader.id_scheme, trader.legal_id)):
        yield f"{field}.legal_id", reason


def _goods_boxes(goods: list[Any], *, cpfta: bool | None) -> Iterable[Violation]:
    """Boxes 6-9 of each item. ``cpfta``: whether the certificate is a CPFTA certificate of origin
    (``None``: not known here, an amendment's kind is its original's)."""
    for i, g in enumerate(goods):
        at = f"goods[{i}]"
        yield from _packages(g.number_of_packages, g.package_type, at, " (box 7)")
        gross = g.gross_weight
        yield from _mass(gross, f"{at}.gross_weight", "gross weight")
        if gross is not None and (kg := _kilograms(gross)) is not None:
            contents = _kilograms(g.quantity)
            if contents is not None and kg < contents:
                yield (
                    f"{at}.gross_weight",
                    (
                        f"{gross.value} {gross.unit} gross is less than the {g.quantity.value} "
                        f"{g.quantity.unit} of goods it includes"
                    ),
                )
        if cpfta is True:
            if g.origin_criterion is None:
                yield f"{at}.origin_criterion", "required on a CPFTA certificate of origin (box 8)"
            elif reason := check_origin_criterion(g.origin_criterion):
                yield f"{at}.origin_criterion", reason
        elif cpfta is False and g.origin_criterion is not None:
            yield (
                f"{at}.origin_criterion",
                "only a CPFTA certificate of origin states an origin criterion",
            )


def _working_days_after(start: dt.date, end: dt.date) -> int:
    """Working days (Monday to Friday) after ``start`` up to and including ``end``."""
    days = 0
    day = start
    while day < end:
        day += dt.timedelta(days=1)
        days += day.weekday() < 5
    return days


def retroactive_issue(e: Any, shipped: dt.date | None) -> Iterable[Violation]:
    """The agreement's window for a CPFTA certificate issued after the goods were shipped on ``shipped``
    (``None``: not known): within three working days it is issued normally; later, only flagged
    ``issued_retroactively`` and never more than a year after (docs/domain.md §5)."""
    flagged = bool(e.issued_retroactively)
    issued_on = e.occurred_at.astimezone(dt.UTC).date()
    if shipped is None:
        if flagged and e.covered_shipment_id is None:
            yield (
                "issued_retroactively",
                (
                    "a certificate issued retroactively names the shipment it covers (covered_shipment_id) "
                    "or its departure date (transport.departure_date): the window counts from the date of "
                    "shipment"
                ),
            )
        return
    grace, window = reference.CPFTA_ISSUE_WORKING_DAYS, reference.CPFTA_RETROACTIVE_DAYS
    late = _working_days_after(shipped, issued_on) > grace
    if late and not flagged:
        yield (
            "issued_retroactively",
            (
                f"issued on {issued_on}, more than {grace} working days after the shipment of {shipped}: "
                "the certificate must be flagged issued retroactively"
            ),
        )
    if flagged and not late:
        yield (
            "issued_retroactively",
            (
                f"issued on {issued_on}, within {grace} working days of the "
                f"shipment of {shipped}: not retroactive"
            ),
        )
    if late and (issued_on - shipped).days > window:
        yield (
            "occurred_at",
            (
                f"issued on {issued_on}, {(issued_on - shipped).days} days after the shipment of {shipped}: "
                f"a certificate is issued retroactively within {window} days of shipment at most"
            ),
        )


def certificate_boxes(e: Any, *, window: bool = True) -> Iterable[Violation]:
    """What the issuing authority checks on a certificate by itself (pure): the CPFTA certificate's boxes
    when it is one. The rules against the trade (its HS codes, supplier and buyer, the date of shipment)
    are in ``lifecycle.certificate``, which also runs these for every event the ledger applies.
    ``window=False`` leaves out the retroactive-issue window, which the lifecycle checks against the
    shipment's actual departure."""
    cpfta = e.certificate_kind in reference.PREFERENTIAL_ORIGIN_KINDS
    yield from _goods_boxes(e.goods, cpfta=cpfta)
    yield from _trader(e.producer, "producer")
    yield from _trader(e.invoicing_operator, "invoicing_operator")
    if bool(e.third_party_invoicing) != (e.invoicing_operator is not None):
        yield (
            "invoicing_operator",
            "name the third-party operator who invoices exactly when third_party_invoicing is set",
        )
    declared, certified = e.exporter_declaration, e.certification
    if declared is not None and certified is not None and declared.date > certified.date:
        yield (
            "exporter_declaration.date",
            f"the exporter declares (box 12, {declared.date}) before the authority certifies (box 13, "
            f"{certified.date})",
        )
    if certified is not None and certified.date > e.occurred_at.astimezone(dt.UTC).date() + dt.timedelta(
        days=1
    ):
        yield "certification.date", f"{certified.date} is after the certificate was issued"
    if not cpfta:
        for flag in ("issued_retroactively", "third_party_invoicing"):
            if getattr(e, flag):
                yield flag, "only a CPFTA certificate of origin carries this mark"
        return
    invoices = e.invoices or []
    if not invoices:
        yield "invoices", "a CPFTA certificate of origin names the number and date of each invoice (box 10)"
    numbers = [inv.invoice_number for inv in invoices]
    if len(set(numbers)) != len(numbers):
        yield "invoices", "each invoice is named once"
    if e.invoice_number is not None and invoices and e.invoice_number not in numbers:
        yield "invoice_number", f"{e.invoice_number} is not among the invoices ({', '.join(numbers)})"
    if e.exporter.country not in reference.CPFTA_PARTIES:
        yield (
            "exporter.country",
            f"a CPFTA certificate's exporter is in Pakistan or China, not {e.exporter.country}",
        )
    elif e.importing_country is not None:
        (other,) = reference.CPFTA_PARTIES - {e.exporter.country}
        if e.importing_country != other:
            yield (
                "importing_country",
                (
                    f"goods exported from {e.exporter.country} under the CPFTA are imported into {other}, "
                    f"not {e.importing_country}"
                ),
            )
    # the date of shipment: the named shipment's actual departure is known to the ledger only
    # (lifecycle.certificate); by itself, the certificate has its box 4 departure date
    if window and e.covered_shipment_id is None:
        yield from retroactive_issue(e, e.transport.departure_date if e.transport else None)


def amendment_boxes(e: Any) -> Iterable[Violation]:
    """Boxes of an amendment that do not depend on its original's kind (the lifecycle checks the rest)."""
    yield from _goods_boxes(e.goods, cpfta=None)


_INTAKE_RULES["CertificateIssued"] = certificate_boxes
_INTAKE_RULES["CertificateAmended"] = amendment_boxes
