"""The certificate's state machine (DOMAIN §5, the CPFTA closed loop), and the issuing authority's rules
against the trade.

issued → (amended: a new certificate supersedes it; the old one is SUPERSEDED) → presented with an import
declaration → verified (matched / not matched) → preference granted | denied; revoked by its issuer at
any time; expired once ``valid_until`` has passed (computed for a date, see ``effective_status``). A
revoked, superseded or expired certificate cannot be presented, verified or decided on.

The verification loop (ADR 0038, docs/domain.md §5): the issuer transmits the certificate's origin data
to the importing customs (``origin_data_transmitted``); the presentation is matched against it and a
mismatch or a missing transmission is a finding on the certificate (``origin_findings``); the customs
that was presented the certificate may request verification from the issuer with a reason and a reply
deadline (``verification_requested``; one request per claim), which suspends the preference
(PREFERENCE_SUSPENDED); the issuer answers CONFIRMED or NOT_CONFIRMED (``verification_answered``); the
customs decides only after the answer or once the deadline passed, grants only on CONFIRMED, and denies
on NOT_CONFIRMED or on no answer.

A certificate is known by its issuer and its number (``trust.certificate_key``): numbers are unique per
issuer only, so two issuers' equal numbers are two certificates. Amendment and revocation come from the
issuer and find its own certificate; presentation, verification and decision name the issuer
(``certificate_issuer``) or a number only one issuer of the trade used.

On issue (ADR 0033): the certificate's own boxes (``rules.certificate_boxes``, also held at intake), its
goods are the order's HS codes, its exporter and consignee are the trade's supplier and buyer, and a
CPFTA certificate issued after its shipment is flagged and within the agreement's window. Only a
preferential certificate of origin is decided on for a preference.
"""

from __future__ import annotations

import datetime as dt

from corridor.core.domain import rules
from corridor.core.domain.events import (
    CertificateAmended,
    CertificateIssued,
    CertificatePresented,
    CertificateRevoked,
    CertificateVerified,
    CertifiedGoods,
    OriginDataTransmitted,
    PreferenceDecided,
    PreferenceDecision,
    Quantity,
    TransmittedGoods,
    VerificationAnswer,
    VerificationAnswered,
    VerificationRequested,
    VerificationResult,
)
from corridor.core.domain.lifecycle.errors import LifecycleViolation, PrerequisiteMissing
from corridor.core.domain.lifecycle.state import (
    DEAD_CERTIFICATE_STATUSES,
    CertificateState,
    CertificateStatus,
    CertifiedItem,
    OrderState,
    OriginData,
    TradeState,
    VerificationRequest,
)
from corridor.core.domain.reference import PREFERENTIAL_ORIGIN_KINDS
from corridor.core.domain.trust import certificate_key, certificates_numbered

#: Days the issuer has to answer a verification request that names no ``reply_by``: the project's
#: default, not a period taken from the agreement (docs/domain.md §5, ADR 0038).
DEFAULT_REPLY_DAYS = 90


def _with(trade: TradeState, *certificates: CertificateState) -> TradeState:
    merged = dict(trade.certificates)
    for cert in certificates:
        merged[certificate_key(cert.issuer, cert.certificate_number)] = cert
    return trade.evolve(**{"certificates": merged})


def _require(trade: TradeState, number: str, what: str, issuer: str | None = None) -> CertificateState:
    """The certificate ``number`` (of ``issuer`` when given; otherwise the number must be one issuer's)."""
    if trade.order is None:
        raise PrerequisiteMissing(f"{what}: trade {trade.trade_id} has no order yet")
    found = certificates_numbered(trade.certificates, number, issuer)
    if not found:
        by = f" by {issuer}" if issuer else ""
        raise PrerequisiteMissing(f"{what}: certificate {number} is not issued yet{by}")
    if len(found) > 1:
        issuers = ", ".join(sorted(c.issuer for c in found))
        raise LifecycleViolation(
            f"{what}: certificate_issuer: certificates of several issuers ({issuers}) are numbered {number} "
            "in this trade; name the one meant"
        )
    return found[0]


def _violations(what: str, found: list[tuple[str, str]]) -> None:
    if found:
        raise LifecycleViolation(f"{what}: " + "; ".join(f"{field}: {reason}" for field, reason in found))


def _date_of_shipment(trade: TradeState, e: CertificateIssued) -> dt.date | None:
    """The date the certificate's goods were shipped: the named shipment's actual departure (a shipment
    named but not known, or not departed, is waited for when the certificate says it was issued after
    it), else the departure date of box 4."""
    if e.covered_shipment_id is not None:
        shipment = trade.shipments.get(e.covered_shipment_id)
        departed = shipment.actual_departure if shipment is not None else None
        if departed is not None:
            return departed.astimezone(dt.UTC).date()
        if e.issued_retroactively:
            raise PrerequisiteMissing(
                f"certificate {e.certificate_number}: issued retroactively after shipment "
                f"{e.covered_shipment_id}, whose actual departure is not recorded yet"
            )
        if shipment is None:
            raise PrerequisiteMissing(
                f"certificate {e.certificate_number}: shipment {e.covered_shipment_id} is not booked yet"
            )
    return e.transport.departure_date if e.transport is not None else None


def _against_trade(trade: TradeState, e: CertificateIssued, order: OrderState) -> list[tuple[str, str]]:
    """The issuing authority's rules against what the trade records (pure)."""
    found = list(rules.certificate_boxes(e, window=False))
    ordered = set(order.hs_codes)
    for i, goods in enumerate(e.goods):
        if goods.hs_code not in ordered:
            found.append(
                (
                    f"goods[{i}].hs_code",
                    f"{goods.hs_code} is not among the HS codes of order {order.order_id} "
                    f"({', '.join(sorted(ordered))})",
                )
            )
    exporter, consignee = e.exporter.party_id, e.consignee.party_id
    if exporter == order.buyer and consignee == order.supplier:
        found.append(
            (
                "exporter",
                f"exporter and consignee are swapped: the exporter is the supplier {order.supplier}, the "
                f"consignee the buyer {order.buyer}",
            )
        )
    else:
        if exporter != order.supplier:
            found.append(("exporter", f"{exporter} is not the trade's supplier {order.supplier}"))
        if consignee != order.buyer:
            found.append(("consignee", f"{consignee} is not the trade's buyer {order.buyer}"))
    if e.certificate_kind.value in PREFERENTIAL_ORIGIN_KINDS:
        found.extend(rules.retroactive_issue(e, _date_of_shipment(trade, e)))
    return found


def _require_usable(cert: CertificateState, what: str, at: dt.datetime) -> None:
    if cert.status == CertificateStatus.REVOKED:
        assert cert.revoked_at is not None
        raise LifecycleViolation(
            f"{what}: certificate {cert.certificate_number} was revoked at {cert.revoked_at.isoformat()}"
            + (f" ({cert.revoke_reason})" if cert.revoke_reason else "")
        )
    if cert.status == CertificateStatus.SUPERSEDED:
        raise LifecycleViolation(
            f"{what}: certificate {cert.certificate_number} was superseded by {cert.superseded_by}"
        )
    if cert.expired(at.date()):
        raise LifecycleViolation(
            f"{what}: certificate {cert.certificate_number} expired after {cert.valid_until}"
        )


def _require_claim(cert: CertificateState, declaration_number: str, what: str) -> None:
    if cert.declaration_number is None:
        raise LifecycleViolation(f"{what}: certificate {cert.certificate_number} was never presented")
    if cert.declaration_number != declaration_number:
        raise LifecycleViolation(
            f"{what} on declaration {declaration_number}: certificate {cert.certificate_number} was "
            f"presented on declaration {cert.declaration_number}"
        )


def issued(trade: TradeState, e: CertificateIssued) -> TradeState:
    order = trade.order
    if order is None:
        raise PrerequisiteMissing(
            f"certificate {e.certificate_number}: trade {trade.trade_id} has no order yet"
        )
    if e.order_id != order.order_id:
        raise LifecycleViolation(
            f"certificate {e.certificate_number} names order {e.order_id}, but trade {trade.trade_id} is "
            f"order {order.order_id}"
        )
    if trade.certificate(e.issuer.party_id, e.certificate_number) is not None:
        raise LifecycleViolation(
            f"certificate {e.certificate_number} of {e.issuer.party_id} is already issued"
        )
    _violations(f"certificate {e.certificate_number}", _against_trade(trade, e, order))
    cert = CertificateState(
        certificate_number=e.certificate_number,
        kind=e.certificate_kind,
        issuer=e.issuer.party_id,
        exporter=e.exporter.party_id,
        consignee=e.consignee.party_id,
        order_id=e.order_id,
        issued_at=e.occurred_at,
        valid_until=e.valid_until,
        hs_codes=tuple(sorted({g.hs_code for g in e.goods})),
        goods=_items(e.goods),
    )
    return _with(trade, cert)


def _amount(q: Quantity | None) -> str | None:
    return None if q is None else f"{q.value.normalize():f} {q.unit}"


def _items(goods: list[CertifiedGoods] | list[TransmittedGoods]) -> tuple[CertifiedItem, ...]:
    return tuple(
        sorted(
            (
                CertifiedItem(
                    item_number=g.item_number,
                    hs_code=g.hs_code,
                    quantity=_amount(g.quantity) or "",
                    gross_weight=_amount(g.gross_weight),
                )
                for g in goods
            ),
            key=lambda i: i.item_number,
        )
    )


def amended(trade: TradeState, e: CertificateAmended) -> TradeState:
    what = f"amendment {e.certificate_number}"
    old = _require_own(trade, e.supersedes_certificate_number, e.issuer.party_id, what)
    if old.status in DEAD_CERTIFICATE_STATUSES:
        _require_usable(old, what, e.occurred_at)
    if trade.certificate(e.issuer.party_id, e.certificate_number) is not None:
        raise LifecycleViolation(f"{what}: certificate {e.certificate_number} is already issued")
    boxes = list(rules.amendment_boxes(e))
    ordered = set(trade.order.hs_codes) if trade.order else set()
    for i, goods in enumerate(e.goods):
        if goods.hs_code not in ordered:
            boxes.append((f"goods[{i}].hs_code", f"{goods.hs_code} is not among the order's HS codes"))
        if old.kind.value in PREFERENTIAL_ORIGIN_KINDS:
            reason = (
                "required on a CPFTA certificate of origin (box 8)"
                if goods.origin_criterion is None
                else rules.check_origin_criterion(goods.origin_criterion)
            )
            if reason:
                boxes.append((f"goods[{i}].origin_criterion", reason))
    _violations(what, boxes)
    new = old.evolve(
        **{
            "certificate_number": e.certificate_number,
            "issued_at": e.occurred_at,
            "hs_codes": tuple(sorted({g.hs_code for g in e.goods})),
            "goods": _items(e.goods),
            "supersedes": old.certificate_number,
            "superseded_by": None,
            "superseded_at": None,
            "amendment_reason": e.reason,
            # the new certificate is transmitted and verified on its own (ADR 0038)
            "origin_data": None,
            "origin_findings": (),
            "verification_request": None,
            "status": CertificateStatus.ISSUED,
        }
    )
    old = old.evolve(
        **{
            "superseded_by": e.certificate_number,
            "superseded_at": e.occurred_at,
            "status": CertificateStatus.SUPERSEDED,
        }
    )
    return _with(trade, old, new)


def _require_own(trade: TradeState, number: str, issuer: str, what: str) -> CertificateState:
    """The certificate ``number`` of ``issuer``, who amends or revokes it; another issuer's certificate of
    that number is not its to change."""
    if trade.order is None:
        raise PrerequisiteMissing(f"{what}: trade {trade.trade_id} has no order yet")
    cert = trade.certificate(issuer, number)
    if cert is not None:
        return cert
    others = certificates_numbered(trade.certificates, number, None)
    if others:
        raise LifecycleViolation(
            f"{what}: certificate {number} was issued by {others[0].issuer}, not {issuer}"
        )
    raise PrerequisiteMissing(f"{what}: certificate {number} is not issued yet by {issuer}")


def revoked(trade: TradeState, e: CertificateRevoked) -> TradeState:
    cert = _require_own(trade, e.certificate_number, e.issuer.party_id, "revocation")
    if cert.status in DEAD_CERTIFICATE_STATUSES:
        _require_usable(cert, "revocation", e.occurred_at)
    return _with(
        trade,
        cert.evolve(
            **{
                "revoked_at": e.occurred_at,
                "revoke_reason": e.reason,
                "status": CertificateStatus.REVOKED,
            }
        ),
    )


def _require_undecided(cert: CertificateState, what: str) -> None:
    if cert.preference is not None:
        raise LifecycleViolation(
            f"{what}: preference on certificate {cert.certificate_number} was already "
            f"{cert.preference.value.lower()}"
        )


def _require_importing_customs(
    trade: TradeState, cert: CertificateState, e: CertificatePresented, what: str
) -> None:
    """A preference is claimed at the customs of the importing country, the consignee's: a customs office
    of the exporting country (admitted to the trade for the export declaration) cannot take the claim
    over, and with it the verification request and the decision. The office's country is the one the
    trade knows it by when it appeared before, else the one its event states."""
    office = e.customs.party_id
    known = trade.parties.get(office)
    country = known.country if known is not None and known.country else e.customs.country
    if e.customs.country != country:
        raise LifecycleViolation(
            f"{what}: customs.country: {office} is known in this trade as a customs office of {country}, "
            f"not {e.customs.country}"
        )
    consignee = trade.parties.get(cert.consignee) if cert.consignee else None
    importing = consignee.country if consignee is not None else None
    if importing is not None and country != importing:
        raise LifecycleViolation(
            f"{what}: customs.country: certificate {cert.certificate_number} is claimed in the importing "
            f"country {importing} (its consignee's); {office} is a customs office of {country}"
        )


def presented(trade: TradeState, e: CertificatePresented) -> TradeState:
    what = f"presentation on declaration {e.declaration_number}"
    cert = _require(trade, e.certificate_number, what, e.certificate_issuer)
    _require_usable(cert, what, e.occurred_at)
    if cert.declaration_number is not None and cert.declaration_number != e.declaration_number:
        raise LifecycleViolation(
            f"{what}: certificate {cert.certificate_number} is already claimed on declaration "
            f"{cert.declaration_number}"
        )
    _require_undecided(cert, what)
    _require_importing_customs(trade, cert, e, what)
    if cert.verification_request is not None:
        # presenting again would lift the suspension and could move the claim to another office
        raise LifecycleViolation(
            f"{what}: certificate {cert.certificate_number} is under verification requested by "
            f"{cert.verification_request.customs}; the preference stays suspended until decided"
        )
    return _with(
        trade,
        cert.evolve(
            **{
                "declaration_number": e.declaration_number,
                "presented_at": e.occurred_at,
                "presented_to": e.customs.party_id,
                "origin_findings": origin_findings(cert, cert.origin_data, e.customs.party_id),
                "status": CertificateStatus.PRESENTED,
            }
        ),
    )


def verified(trade: TradeState, e: CertificateVerified) -> TradeState:
    what = f"verification on declaration {e.declaration_number}"
    cert = _require(trade, e.certificate_number, what, e.certificate_issuer)
    _require_usable(cert, what, e.occurred_at)
    _require_claim(cert, e.declaration_number, what)
    if cert.preference is not None:
        raise LifecycleViolation(
            f"{what}: preference on certificate {cert.certificate_number} was already decided"
        )
    status = (
        CertificateStatus.PREFERENCE_SUSPENDED
        if cert.verification_request is not None
        else CertificateStatus.VERIFIED
    )
    return _with(
        trade,
        cert.evolve(
            **{
                "verification": e.result,
                "verified_at": e.occurred_at,
                "mismatches": tuple(e.mismatches),
                "status": status,
            }
        ),
    )


def preference_decided(trade: TradeState, e: PreferenceDecided) -> TradeState:
    what = f"preference decision on declaration {e.declaration_number}"
    cert = _require(trade, e.certificate_number, what, e.certificate_issuer)
    _require_usable(cert, what, e.occurred_at)
    _require_claim(cert, e.declaration_number, what)
    _require_undecided(cert, what)
    if cert.kind.value not in PREFERENTIAL_ORIGIN_KINDS:
        raise LifecycleViolation(
            f"{what}: certificate_number: certificate {cert.certificate_number} is {cert.kind.value}; a "
            f"preference is decided only on {', '.join(sorted(PREFERENTIAL_ORIGIN_KINDS))} certificates"
        )
    request = cert.verification_request
    if request is not None:
        request = _decide_after_request(cert, request, e, what)
    elif e.decision == PreferenceDecision.GRANTED and cert.verification != VerificationResult.MATCHED:
        raise LifecycleViolation(
            f"{what}: preference granted on certificate {cert.certificate_number}, which "
            + ("did not match" if cert.verification else "was never verified")
        )
    status = (
        CertificateStatus.PREFERENCE_GRANTED
        if e.decision == PreferenceDecision.GRANTED
        else CertificateStatus.PREFERENCE_DENIED
    )
    return _with(
        trade,
        cert.evolve(
            **{
                "preference": e.decision,
                "decided_at": e.occurred_at,
                "decision_reason": e.reason,
                "verification_request": request,
                "status": status,
            }
        ),
    )


# -- the verification loop (ADR 0038) -------------------------------------------------------------------


def origin_findings(cert: CertificateState, data: OriginData | None, customs: str) -> tuple[str, ...]:
    """What the certificate presented to ``customs`` shows against the origin data its issuer transmitted
    (pure): a missing transmission, another addressee, or each box that differs. Empty: it matches."""
    number = cert.certificate_number
    if data is None:
        return (f"origin data: {cert.issuer} transmitted no origin data of certificate {number}",)
    found = []
    if data.customs != customs:
        found.append(f"origin data: transmitted to {data.customs}, not to {customs}")
    if cert.exporter is not None and data.exporter != cert.exporter:
        found.append(f"exporter: certificate {cert.exporter}, transmitted {data.exporter}")
    if cert.consignee is not None and data.consignee != cert.consignee:
        found.append(f"consignee: certificate {cert.consignee}, transmitted {data.consignee}")
    sent = {i.item_number: i for i in data.goods}
    held = {i.item_number: i for i in cert.goods}
    for n in sorted(held.keys() | sent.keys()):
        ours, theirs = held.get(n), sent.get(n)
        if ours is None:
            found.append(f"goods[{n}]: transmitted, not on the certificate")
            continue
        if theirs is None:
            found.append(f"goods[{n}]: on the certificate, not transmitted")
            continue
        for box in ("hs_code", "quantity", "gross_weight"):
            a, b = getattr(ours, box), getattr(theirs, box)
            if a != b:
                found.append(f"goods[{n}].{box}: certificate {a}, transmitted {b}")
    return tuple(found)


def _require_preferential(cert: CertificateState, what: str) -> None:
    if cert.kind.value not in PREFERENTIAL_ORIGIN_KINDS:
        raise LifecycleViolation(
            f"{what}: certificate_number: certificate {cert.certificate_number} is {cert.kind.value}; "
            f"origin data and verification concern only {', '.join(sorted(PREFERENTIAL_ORIGIN_KINDS))} "
            "certificates"
        )


def origin_data_transmitted(trade: TradeState, e: OriginDataTransmitted) -> TradeState:
    what = f"origin data of certificate {e.certificate_number}"
    cert = _require_own(trade, e.certificate_number, e.issuer.party_id, what)
    _require_usable(cert, what, e.occurred_at)
    _require_preferential(cert, what)
    if cert.origin_data is not None:
        raise LifecycleViolation(
            f"{what}: already transmitted at {cert.origin_data.transmitted_at.isoformat()}; a correction "
            "is an amended certificate with its own transmission"
        )
    if cert.preference is not None:
        raise LifecycleViolation(f"{what}: preference was already {cert.preference.value.lower()}")
    data = OriginData(
        transmitted_at=e.occurred_at,
        customs=e.customs.party_id,
        exporter=e.exporter_id,
        consignee=e.consignee_id,
        goods=_items(e.goods),
    )
    changes: dict[str, object] = {"origin_data": data}
    if cert.presented_to is not None:
        # transmitted after the presentation: matched now, and the lateness is itself a finding
        at = cert.presented_at.isoformat() if cert.presented_at else "the certificate"
        late = f"origin data: transmitted after the presentation at {at}"
        changes["origin_findings"] = (late, *origin_findings(cert, data, cert.presented_to))
    return _with(trade, cert.evolve(**changes))


def verification_requested(trade: TradeState, e: VerificationRequested) -> TradeState:
    what = f"verification request on declaration {e.declaration_number}"
    cert = _require(trade, e.certificate_number, what, e.certificate_issuer)
    _require_usable(cert, what, e.occurred_at)
    _require_preferential(cert, what)
    _require_claim(cert, e.declaration_number, what)
    if cert.presented_to != e.customs.party_id:
        raise LifecycleViolation(
            f"{what}: customs: certificate {cert.certificate_number} was presented to {cert.presented_to}"
        )
    _require_undecided(cert, what)
    if cert.verification_request is not None:
        raise LifecycleViolation(
            f"{what}: verification of certificate {cert.certificate_number} was already requested at "
            f"{cert.verification_request.requested_at.isoformat()}; one request per claim"
        )
    requested_on = e.occurred_at.astimezone(dt.UTC).date()
    reply_by = e.reply_by or requested_on + dt.timedelta(days=DEFAULT_REPLY_DAYS)
    if reply_by <= requested_on:
        raise LifecycleViolation(f"{what}: reply_by: {reply_by} is not after the request ({requested_on})")
    request = VerificationRequest(
        customs=e.customs.party_id, requested_at=e.occurred_at, reason=e.reason, reply_by=reply_by
    )
    return _with(
        trade,
        cert.evolve(**{"verification_request": request, "status": CertificateStatus.PREFERENCE_SUSPENDED}),
    )


def verification_answered(trade: TradeState, e: VerificationAnswered) -> TradeState:
    what = f"verification answer on certificate {e.certificate_number}"
    cert = _require_own(trade, e.certificate_number, e.issuer.party_id, what)
    request = cert.verification_request
    if request is None:
        raise LifecycleViolation(f"{what}: no verification of it was requested")
    if request.customs != e.customs.party_id:
        raise LifecycleViolation(f"{what}: customs: verification was requested by {request.customs}")
    if request.answer is not None:
        raise LifecycleViolation(
            f"{what}: already answered {request.answer}"
            + (f" at {request.answered_at.isoformat()}" if request.answered_at else "")
        )
    if cert.preference is not None:
        raise LifecycleViolation(
            f"{what}: preference was already {cert.preference.value.lower()} without the answer"
        )
    answered_on = e.occurred_at.astimezone(dt.UTC).date()
    if answered_on > request.reply_by:
        # the deadline is the customs': past it the verification stands NOT_ANSWERED (ADR 0038), and a
        # late CONFIRMED must not reopen a preference the customs may already deny
        raise LifecycleViolation(
            f"{what}: occurred_at: answered on {answered_on}, after {request.reply_by}, the deadline "
            f"{request.customs} set; the verification stands not answered"
        )
    if e.answer == VerificationAnswer.NOT_CONFIRMED and not e.findings:
        raise LifecycleViolation(f"{what}: findings: required when the answer is NOT_CONFIRMED")
    answered = request.evolve(answer=e.answer.value, answered_at=e.occurred_at, findings=tuple(e.findings))
    return _with(trade, cert.evolve(**{"verification_request": answered}))


def _decide_after_request(
    cert: CertificateState, request: VerificationRequest, e: PreferenceDecided, what: str
) -> VerificationRequest:
    """The decision after a verification request: only once answered or past ``reply_by``; granted only
    on CONFIRMED. Returns the request as decided (NOT_ANSWERED recorded when there was no answer)."""
    outcome = request.outcome(e.occurred_at.astimezone(dt.UTC).date())
    number = cert.certificate_number
    if outcome == "OPEN":
        raise LifecycleViolation(
            f"{what}: verification of certificate {number} requested at {request.requested_at.isoformat()} "
            f"is unanswered and the issuer has until {request.reply_by}; the preference stays suspended"
        )
    if e.decision == PreferenceDecision.GRANTED and outcome != VerificationAnswer.CONFIRMED.value:
        raise LifecycleViolation(
            f"{what}: decision: preference granted on certificate {number}, whose verification was "
            + ("not confirmed by its issuer" if outcome == "NOT_CONFIRMED" else "never answered")
        )
    return request if request.answer is not None else request.evolve(answer="NOT_ANSWERED")
