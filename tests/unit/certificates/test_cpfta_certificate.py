"""The CPFTA certificate of origin box by box, the issuing authority's rules (at intake and against the
trade) and certificates known by (issuer, number): docs/adr/0033-cpfta-certificate-and-issuer-keys.md."""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from typing import Any

import pytest

from corridor.core.domain import rules
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import (
    CertificateAmended,
    CertificateIssued,
    CertificatePresented,
    CertificateRevoked,
    PreferenceDecided,
)
from corridor.core.domain.lifecycle import LifecycleViolation, PrerequisiteMissing, TradeState, apply
from corridor.core.domain.lifecycle.state import CertificateStatus
from corridor.core.domain.trust import certificate_key, check
from corridor.core.domain.validation import InvalidEvent, parse_event
from corridor.demo.story import SGS, TDAP, chromite_story

COO = "CPFTA-PK-2026-118734"
ASSAY = "SGS-KHI-MIN-26-03391"


@pytest.fixture(scope="module")
def chromite() -> list[TradeEvent]:
    return chromite_story().events


def _first(events: list[TradeEvent], cls: type[TradeEvent], **match: Any) -> Any:
    return next(e for e in events if isinstance(e, cls) and all(getattr(e, k) == v for k, v in match.items()))


def _coo(chromite: list[TradeEvent]) -> CertificateIssued:
    return _first(chromite, CertificateIssued, certificate_number=COO)  # type: ignore[no-any-return]


def _replay(events: list[TradeEvent]) -> TradeState:
    state: TradeState | None = None
    for event in events:
        state = apply(state, event)
    assert state is not None
    return state


def _before(chromite: list[TradeEvent], event: TradeEvent) -> TradeState:
    return _replay(chromite[: chromite.index(event)])


def _data(event: TradeEvent, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(event.model_dump_json())
    data["event_id"] = str(uuid.uuid4())
    data.update(changes)
    return data


def _refused(data: dict[str, Any], event_type: str = "CertificateIssued") -> dict[str, str]:
    """The fields intake refuses ``data`` on, with their reasons."""
    with pytest.raises(InvalidEvent) as info:
        parse_event(event_type, data)
    return {e.field: e.reason for e in info.value.errors}


def _goods(data: dict[str, Any], **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(data)
    data["goods"][0].update(changes)
    return data


# -- the certificate by itself (rules.certificate_boxes, at intake: 422 naming the field) ----------------


def test_the_stories_certificate_fills_every_box(chromite: list[TradeEvent]) -> None:
    coo = parse_event("CertificateIssued", _data(_coo(chromite)))
    assert isinstance(coo, CertificateIssued)
    assert coo.producer is not None and coo.transport is not None and coo.transport.transport_mode == "SEA"
    assert coo.invoices and coo.invoices[0].invoice_date is not None
    assert coo.exporter_declaration is not None and coo.certification is not None
    assert coo.importing_country == "CN"
    goods = coo.goods[0]
    assert (goods.package_type, goods.marks_and_numbers) == ("VR", "TJRD-0117 IN BULK")
    assert goods.gross_weight is not None and goods.gross_weight.unit == "TNE"


@pytest.mark.parametrize("criterion", ["P", "PSR", "RVC", "RVC 40%", "RVC 62.5%", "RVC 100%"])
def test_origin_criteria_of_the_agreement(chromite: list[TradeEvent], criterion: str) -> None:
    assert rules.check_origin_criterion(criterion) is None
    parse_event("CertificateIssued", _goods(_data(_coo(chromite)), origin_criterion=criterion))


@pytest.mark.parametrize(
    ("criterion", "reason"),
    [
        (None, "required on a CPFTA certificate of origin (box 8)"),
        ("WO", "'WO' is not a CPFTA origin criterion"),  # ASEAN-China Form E writes WO; CPFTA writes P
        ("CTH", "'CTH' is not a CPFTA origin criterion"),
        ("RVC 35%", "below the agreement's 40 %"),
        ("RVC 140%", "more than the whole value"),
        ("p", "'p' is not a CPFTA origin criterion"),
    ],
)
def test_origin_criterion_required_and_from_the_agreement(
    chromite: list[TradeEvent], criterion: str | None, reason: str
) -> None:
    errors = _refused(_goods(_data(_coo(chromite)), origin_criterion=criterion))
    assert list(errors) == ["goods[0].origin_criterion"] and reason in errors["goods[0].origin_criterion"]


def test_invoice_number_and_date_required(chromite: list[TradeEvent]) -> None:
    data = _data(_coo(chromite))
    assert _refused({**data, "invoices": None}) == {
        "invoices": "a CPFTA certificate of origin names the number and date of each invoice (box 10)"
    }
    assert list(_refused({**data, "invoices": []})) == ["invoices"]
    no_date = {**data, "invoices": [{"invoice_number": "ZVC-INV-2026-0031"}]}
    assert list(_refused(no_date)) == ["invoices[0].invoice_date"]
    other = {**data, "invoice_number": "ZVC-INV-2026-0099"}
    assert "not among the invoices" in _refused(other)["invoice_number"]
    twice = {**data, "invoices": data["invoices"] * 2}
    assert _refused(twice) == {"invoices": "each invoice is named once"}
    # several invoices (box 10) are one certificate
    several = {
        **data,
        "invoices": [
            *data["invoices"],
            {"invoice_number": "ZVC-INV-2026-0032", "invoice_date": "2026-03-02"},
        ],
    }
    assert len(parse_event("CertificateIssued", several).invoices or []) == 2  # type: ignore[attr-defined]


def test_importing_country_is_the_other_party(chromite: list[TradeEvent]) -> None:
    data = _data(_coo(chromite))
    assert "imported into CN, not PK" in _refused({**data, "importing_country": "PK"})["importing_country"]
    assert "imported into CN, not AE" in _refused({**data, "importing_country": "AE"})["importing_country"]
    parse_event("CertificateIssued", {**data, "importing_country": None})  # the box may be left to box 12


def test_third_party_invoicing_names_its_operator(chromite: list[TradeEvent]) -> None:
    data = _data(_coo(chromite))
    operator = {"name": "Harbour Minerals Trading Ltd.", "address": "Central, Hong Kong", "country": "HK"}
    assert list(_refused({**data, "third_party_invoicing": True})) == ["invoicing_operator"]
    assert list(_refused({**data, "invoicing_operator": operator})) == ["invoicing_operator"]
    event = parse_event(
        "CertificateIssued", {**data, "third_party_invoicing": True, "invoicing_operator": operator}
    )
    assert event.invoicing_operator is not None  # type: ignore[attr-defined]
    half = {**operator, "legal_id": "4271931-6"}
    assert list(_refused({**data, "producer": half})) == ["producer.legal_id"]
    bad_ntn = {**operator, "country": "PK", "id_scheme": "NTN", "legal_id": "42719316-12"}
    assert list(_refused({**data, "producer": bad_ntn})) == ["producer.legal_id"]


def test_packages_and_gross_weight(chromite: list[TradeEvent]) -> None:
    data = _data(_coo(chromite))
    counted = _goods(data, package_type="CT", number_of_packages=8000)
    parse_event("CertificateIssued", counted)
    assert list(_refused(_goods(data, package_type=None, number_of_packages=10))) == ["goods[0].package_type"]
    assert list(_refused(_goods(data, package_type="CT", number_of_packages=None))) == [
        "goods[0].number_of_packages"
    ]
    assert "in bulk" in _refused(_goods(data, number_of_packages=3))["goods[0].number_of_packages"]
    assert "Rec 21" in _refused(_goods(data, package_type="XX"))["goods[0].package_type"]
    volume = {"value": "10.000", "unit": "MTQ"}
    assert "is a mass" in _refused(_goods(data, gross_weight=volume))["goods[0].gross_weight.unit"]
    light = {"value": "5512399.000", "unit": "KGM"}  # a kilogram less than the 5,512.4 TNE it contains
    assert "less than" in _refused(_goods(data, gross_weight=light))["goods[0].gross_weight"]
    parse_event("CertificateIssued", _goods(data, gross_weight={"value": "5512400.000", "unit": "KGM"}))


def test_the_exporter_declares_before_the_authority_certifies(chromite: list[TradeEvent]) -> None:
    data = _data(_coo(chromite))
    late = {**data["exporter_declaration"], "date": "2026-03-05"}
    assert list(_refused({**data, "exporter_declaration": late})) == ["exporter_declaration.date"]
    future = {**data["certification"], "date": "2026-04-01"}
    assert list(_refused({**data, "certification": future})) == ["certification.date"]


def _issued_after(data: dict[str, Any], shipped: str, issued: str, flagged: bool | None) -> dict[str, Any]:
    at = dt.datetime.fromisoformat(issued).replace(hour=9, tzinfo=dt.UTC)
    return {
        **data,
        "occurred_at": at.isoformat(),
        "transport": {**data["transport"], "departure_date": shipped},
        "issued_retroactively": flagged,
        "valid_until": None,
        "exporter_declaration": None,
        "certification": None,
    }


def test_retroactive_issue_within_the_window_and_flagged(chromite: list[TradeEvent]) -> None:
    data = _data(_coo(chromite))
    # shipped Friday 6 March 2026: Monday to Wednesday are the three working days after
    assert parse_event("CertificateIssued", _issued_after(data, "2026-03-06", "2026-03-11", None))
    late = _refused(_issued_after(data, "2026-03-06", "2026-03-12", None))
    assert list(late) == ["issued_retroactively"] and "must be flagged" in late["issued_retroactively"]
    assert parse_event("CertificateIssued", _issued_after(data, "2026-03-06", "2026-03-12", True))
    early = _refused(_issued_after(data, "2026-03-06", "2026-03-09", True))
    assert "not retroactive" in early["issued_retroactively"]
    assert parse_event("CertificateIssued", _issued_after(data, "2026-03-06", "2027-03-06", True))  # 365 days
    too_late = _refused(_issued_after(data, "2026-03-06", "2027-03-08", True))
    assert list(too_late) == ["occurred_at"] and "within 365 days" in too_late["occurred_at"]
    undated = {**_issued_after(data, "2026-03-06", "2026-03-12", True), "transport": None}
    assert "date of shipment" in _refused(undated)["issued_retroactively"]


def test_only_a_cpfta_certificate_carries_origin_boxes(chromite: list[TradeEvent]) -> None:
    assay = _first(chromite, CertificateIssued, certificate_number=ASSAY)
    data = _data(assay)
    parse_event("CertificateIssued", data)  # no invoices, no origin criterion: an assay needs neither
    assert list(_refused(_goods(data, origin_criterion="P"))) == ["goods[0].origin_criterion"]
    assert list(_refused({**data, "issued_retroactively": True})) == ["issued_retroactively"]


def test_rules_added_later_are_held_at_intake_only(chromite: list[TradeEvent]) -> None:
    """A certificate accepted before these rules stays readable (decoding does not re-run them); the
    ledger refuses a new one through the lifecycle whichever way it came."""
    data = _goods({**_data(_coo(chromite)), "invoices": None}, origin_criterion=None)
    old = CertificateIssued.model_validate(data)  # as codec.decode_event and stored payloads read it
    assert old.invoices is None
    with pytest.raises(LifecycleViolation) as info:
        apply(_before(chromite, _coo(chromite)), old)
    assert "goods[0].origin_criterion: required" in info.value.reason and "invoices:" in info.value.reason


# -- against the trade (lifecycle.certificate; the ledger's LifecycleViolation names the field) ----------


def _against(chromite: list[TradeEvent], **changes: Any) -> str:
    coo = _coo(chromite)
    with pytest.raises(LifecycleViolation) as info:
        apply(_before(chromite, coo), coo.model_copy(update={"event_id": uuid.uuid4(), **changes}))
    return info.value.reason


def test_hs_codes_are_the_orders(chromite: list[TradeEvent]) -> None:
    goods = _coo(chromite).goods[0].model_copy(update={"hs_code": "260300"})
    reason = _against(chromite, goods=[goods])
    assert "goods[0].hs_code: 260300 is not among the HS codes of order TJRD-PO-2026-0117 (261000)" in reason


def test_exporter_is_the_supplier_and_consignee_the_buyer(chromite: list[TradeEvent]) -> None:
    coo = _coo(chromite)
    swapped = _against(chromite, exporter=coo.consignee, consignee=coo.exporter)
    assert "exporter: exporter and consignee are swapped" in swapped
    assert "exporter: sgs-pakistan is not the trade's supplier" in _against(chromite, exporter=SGS)
    assert "consignee: tdap is not the trade's buyer" in _against(chromite, consignee=TDAP)


def test_retroactive_issue_counts_from_the_covered_shipments_departure(chromite: list[TradeEvent]) -> None:
    coo = _coo(chromite)
    sailed = next(e for e in chromite if getattr(e, "transport_event_type", None) == "ARRI")  # after DEPA ACT
    state = _before(chromite, sailed)
    (first_id, _) = sorted(state.shipments)
    departed = state.shipments[first_id].actual_departure
    assert departed is not None
    later = coo.model_copy(
        update={
            "event_id": uuid.uuid4(),
            "certificate_number": "CPFTA-PK-2026-118999",
            "occurred_at": departed + dt.timedelta(days=20),
            "covered_shipment_id": first_id,
            "transport": None,
        }
    )
    with pytest.raises(LifecycleViolation, match=r"issued_retroactively: issued on .* must be flagged"):
        apply(state, later)
    flagged = later.model_copy(update={"issued_retroactively": True})
    assert apply(state, flagged).certificate("tdap", "CPFTA-PK-2026-118999") is not None
    # the shipment's departure is not known yet: the certificate waits for it
    booked = next(e for e in chromite if getattr(e, "transport_event_type", None) == "NOR_TENDERED")
    with pytest.raises(PrerequisiteMissing, match="actual departure is not recorded yet"):
        apply(_before(chromite, booked), flagged)
    unknown = flagged.model_copy(
        update={"covered_shipment_id": "IOL-KHI-TXG-26-9999", "issued_retroactively": None}
    )
    with pytest.raises(PrerequisiteMissing, match="not booked yet"):
        apply(state, unknown)


def test_a_preference_is_decided_only_on_a_preferential_certificate(chromite: list[TradeEvent]) -> None:
    decided = _first(chromite, PreferenceDecided)
    presented = _first(chromite, CertificatePresented)
    state = _before(chromite, presented)
    state = apply(state, presented.model_copy(update={"event_id": uuid.uuid4(), "certificate_number": ASSAY}))
    on_assay = decided.model_copy(update={"event_id": uuid.uuid4(), "certificate_number": ASSAY})
    with pytest.raises(LifecycleViolation, match="is ASSAY; a preference is decided only on CPFTA_ORIGIN"):
        apply(state, on_assay)


# -- (issuer, number) -------------------------------------------------------------------------------------


def _two_issuers(chromite: list[TradeEvent]) -> tuple[TradeState, CertificateIssued, CertificateIssued]:
    """TDAP's certificate of origin and an SGS assay certificate that bear the same number."""
    coo = _coo(chromite)
    assay = _first(chromite, CertificateIssued, certificate_number=ASSAY)
    same = assay.model_copy(update={"event_id": uuid.uuid4(), "certificate_number": COO})
    state = apply(apply(_before(chromite, coo), same), coo)
    return state, coo, same


def test_two_issuers_equal_numbers_do_not_collide(chromite: list[TradeEvent]) -> None:
    state, coo, _ = _two_issuers(chromite)
    assert set(state.certificates) >= {certificate_key("tdap", COO), certificate_key("sgs-pakistan", COO)}
    tdap, sgs = state.certificate("tdap", COO), state.certificate("sgs-pakistan", COO)
    assert (
        tdap is not None
        and sgs is not None
        and (tdap.kind.value, sgs.kind.value) == ("CPFTA_ORIGIN", "ASSAY")
    )
    with pytest.raises(LifecycleViolation, match="already issued"):
        apply(state, coo.model_copy(update={"event_id": uuid.uuid4()}))


def test_presentation_names_the_issuer_when_the_number_is_ambiguous(chromite: list[TradeEvent]) -> None:
    state, _, _ = _two_issuers(chromite)
    presented = _first(chromite, CertificatePresented)
    with pytest.raises(LifecycleViolation, match=r"certificate_issuer: .*\(sgs-pakistan, tdap\)"):
        apply(state, presented)
    assert [(v.field, v.rule) for v in check(state.trust, presented)] == [
        ("data.certificate_issuer", "certificate-issuer")
    ]
    named = presented.model_copy(update={"event_id": uuid.uuid4(), "certificate_issuer": "tdap"})
    assert check(state.trust, named) == []
    after = apply(state, named)
    assert after.certificates[certificate_key("tdap", COO)].status == CertificateStatus.PRESENTED
    assert after.certificates[certificate_key("sgs-pakistan", COO)].status == CertificateStatus.ISSUED
    wrong = presented.model_copy(update={"event_id": uuid.uuid4(), "certificate_issuer": "cn-miit"})
    with pytest.raises(PrerequisiteMissing, match="not issued yet by cn-miit"):
        apply(state, wrong)


def test_revocation_and_amendment_find_the_issuers_own_certificate(chromite: list[TradeEvent]) -> None:
    state, coo, same = _two_issuers(chromite)
    revoked = CertificateRevoked(
        event_id=uuid.uuid4(),
        trade_id=same.trade_id,
        occurred_at=coo.occurred_at + dt.timedelta(hours=1),
        sender="sgs-pakistan",
        certificate_number=COO,
        issuer=SGS,
        reason="assay sample mislabelled",
    )
    assert check(state.trust, revoked) == []
    after = apply(state, revoked)
    assert after.certificates[certificate_key("sgs-pakistan", COO)].status == CertificateStatus.REVOKED
    assert after.certificates[certificate_key("tdap", COO)].status == CertificateStatus.ISSUED
    amended = CertificateAmended(
        event_id=uuid.uuid4(),
        trade_id=coo.trade_id,
        occurred_at=coo.occurred_at + dt.timedelta(hours=2),
        sender="tdap",
        certificate_number="CPFTA-PK-2026-118990",
        supersedes_certificate_number=COO,
        issuer=TDAP,
        goods=coo.goods,
        reason="Box 7: marks corrected",
    )
    after = apply(after, amended)
    assert after.certificates[certificate_key("tdap", COO)].status == CertificateStatus.SUPERSEDED
    assert after.certificates[certificate_key("sgs-pakistan", COO)].status == CertificateStatus.REVOKED
    new = after.certificate("tdap", "CPFTA-PK-2026-118990")
    assert new is not None and new.supersedes == COO


def test_a_state_stored_with_number_keys_reads_back_with_issuer_keys(chromite: list[TradeEvent]) -> None:
    """Trades the ledger stored before ADR 0033 (certificates keyed by number) keep working."""
    state = _replay(chromite)
    stored = json.loads(state.model_dump_json())
    stored["certificates"] = {c["certificate_number"]: c for c in stored["certificates"].values()}
    stored["trust"]["certificates"] = {
        f["number"]: {k: v for k, v in f.items() if k != "number"}
        for f in stored["trust"]["certificates"].values()
    }
    assert set(stored["certificates"]) == {COO, ASSAY}
    again = TradeState.model_validate_json(json.dumps(stored))
    assert again == state
    assert (
        again.certificate("tdap", COO) is not None and again.trust.certificates[f"tdap/{COO}"].number == COO
    )


def test_the_gateway_reports_the_boxes_along_with_bad_fields(chromite: list[TradeEvent]) -> None:
    """One 422 names every problem: a malformed field and the issuing authority's rules together."""
    from corridor.gateway.validate import validate_event

    data = {**_goods(_data(_coo(chromite)), package_type="XX"), "invoices": None}
    with pytest.raises(InvalidEvent) as info:
        validate_event("CertificateIssued", data)
    fields = {e.field for e in info.value.errors}
    assert fields == {"goods[0].package_type", "invoices"}, info.value.errors
