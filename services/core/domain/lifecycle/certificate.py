"""The certificate's state machine (DOMAIN §5, the CPFTA closed loop), and the issuing authority's rules
against the trade.

issued → (amended: a new certificate supersedes it; the old one is SUPERSEDED) → presented with an import
declaration → verified (matched / not matched) → preference granted | denied; revoked by its issuer at
any time; expired once ``valid_until`` has passed (computed for a date, see ``effective_status``). A
revoked, superseded or expired certificate cannot be presented, verified or decided on.

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
    PreferenceDecided,
    PreferenceDecision,
    VerificationResult,
)
from corridor.core.domain.lifecycle.errors import LifecycleViolation, PrerequisiteMissing
from corridor.core.domain.lifecycle.state import (
    DEAD_CERTIFICATE_STATUSES,
    CertificateState,
    CertificateStatus,
    OrderState,
    TradeState,
)
from corridor.core.domain.reference import PREFERENTIAL_ORIGIN_KINDS
from corridor.core.domain.trust import certificate_key, certificates_numbered


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
    )
    return _with(trade, cert)


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
            "supersedes": old.certificate_number,
            "superseded_by": None,
            "superseded_at": None,
            "amendment_reason": e.reason,
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


def presented(trade: TradeState, e: CertificatePresented) -> TradeState:
    what = f"presentation on declaration {e.declaration_number}"
    cert = _require(trade, e.certificate_number, what, e.certificate_issuer)
    _require_usable(cert, what, e.occurred_at)
    if cert.declaration_number is not None and cert.declaration_number != e.declaration_number:
        raise LifecycleViolation(
            f"{what}: certificate {cert.certificate_number} is already claimed on declaration "
            f"{cert.declaration_number}"
        )
    if cert.preference is not None:
        raise LifecycleViolation(
            f"{what}: preference on certificate {cert.certificate_number} was already "
            f"{cert.preference.value.lower()}"
        )
    return _with(
        trade,
        cert.evolve(
            **{
                "declaration_number": e.declaration_number,
                "presented_at": e.occurred_at,
                "presented_to": e.customs.party_id,
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
    return _with(
        trade,
        cert.evolve(
            **{
                "verification": e.result,
                "verified_at": e.occurred_at,
                "mismatches": tuple(e.mismatches),
                "status": CertificateStatus.VERIFIED,
            }
        ),
    )


def preference_decided(trade: TradeState, e: PreferenceDecided) -> TradeState:
    what = f"preference decision on declaration {e.declaration_number}"
    cert = _require(trade, e.certificate_number, what, e.certificate_issuer)
    _require_usable(cert, what, e.occurred_at)
    _require_claim(cert, e.declaration_number, what)
    if cert.preference is not None:
        raise LifecycleViolation(
            f"{what}: preference on certificate {cert.certificate_number} was already "
            f"{cert.preference.value.lower()}"
        )
    if cert.kind.value not in PREFERENTIAL_ORIGIN_KINDS:
        raise LifecycleViolation(
            f"{what}: certificate_number: certificate {cert.certificate_number} is {cert.kind.value}; a "
            f"preference is decided only on {', '.join(sorted(PREFERENTIAL_ORIGIN_KINDS))} certificates"
        )
    if e.decision == PreferenceDecision.GRANTED and cert.verification != VerificationResult.MATCHED:
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
                "status": status,
            }
        ),
    )
