"""The certificate's state machine (DOMAIN §5, the CPFTA closed loop).

issued → (amended: a new certificate supersedes it; the old one is SUPERSEDED) → presented with an import
declaration → verified (matched / not matched) → preference granted | denied; revoked by its issuer at
any time; expired once ``valid_until`` has passed (computed for a date, see ``effective_status``). A
revoked, superseded or expired certificate cannot be presented, verified or decided on.
"""

from __future__ import annotations

import datetime as dt

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
    TradeState,
)


def _with(trade: TradeState, *certificates: CertificateState) -> TradeState:
    merged = dict(trade.certificates)
    for cert in certificates:
        merged[cert.certificate_number] = cert
    return trade.evolve(**{"certificates": merged})


def _require(trade: TradeState, number: str, what: str) -> CertificateState:
    if trade.order is None:
        raise PrerequisiteMissing(f"{what}: trade {trade.trade_id} has no order yet")
    cert = trade.certificates.get(number)
    if cert is None:
        raise PrerequisiteMissing(f"{what}: certificate {number} is not issued yet")
    return cert


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
    if e.certificate_number in trade.certificates:
        raise LifecycleViolation(f"certificate {e.certificate_number} is already issued")
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
    old = _require(trade, e.supersedes_certificate_number, what)
    if old.status in DEAD_CERTIFICATE_STATUSES:
        _require_usable(old, what, e.occurred_at)
    if e.issuer.party_id != old.issuer:
        raise LifecycleViolation(
            f"{what}: certificate {old.certificate_number} was issued by {old.issuer}, "
            f"not {e.issuer.party_id}"
        )
    if e.certificate_number in trade.certificates:
        raise LifecycleViolation(f"{what}: certificate {e.certificate_number} is already issued")
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


def revoked(trade: TradeState, e: CertificateRevoked) -> TradeState:
    cert = _require(trade, e.certificate_number, "revocation")
    if cert.status in DEAD_CERTIFICATE_STATUSES:
        _require_usable(cert, "revocation", e.occurred_at)
    if e.issuer.party_id != cert.issuer:
        raise LifecycleViolation(
            f"revocation of certificate {cert.certificate_number} by {e.issuer.party_id}; "
            f"it was issued by {cert.issuer}"
        )
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
    cert = _require(trade, e.certificate_number, what)
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
    cert = _require(trade, e.certificate_number, what)
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
    cert = _require(trade, e.certificate_number, what)
    _require_usable(cert, what, e.occurred_at)
    _require_claim(cert, e.declaration_number, what)
    if cert.preference is not None:
        raise LifecycleViolation(
            f"{what}: preference on certificate {cert.certificate_number} was already "
            f"{cert.preference.value.lower()}"
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
