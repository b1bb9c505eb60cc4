"""Explosives licences as standing authorisations, drawn down by shipments (ADR 0034, ADR 0045).

A licence is a certificate (EXPLOSIVES_EXPORT_LICENCE, EXPLOSIVES_IMPORT_APPROVAL) issued with licence
terms: its holder, valid from a day through its ``valid_until``, and the net explosive mass and/or
quantity it authorises per UN number. Each ShipmentBooked names the licences it draws on; its Class 1
goods draw them down: the net explosive mass from its dangerous goods, the quantity from its allocations
(without allocations, the order's lines, drawn once for all the order's bookings).

A licence is issued once, into one trade, and is then a standing authorisation: a booking of ANY trade
may name it, and every booking draws on the same running total (ADR 0045). The functions here see the
licence in ``TradeState.licences``; the ledger lays the licence's current row (its ``licences`` table,
keyed by :func:`~corridor.core.domain.lifecycle.state.licence_key`) over the trade's state before it
applies an event that names the licence (:func:`keys_of`) and writes the licence back when the event
changed it, in the same transaction as the trade (``corridor.ledger.planner``).

Invariants (each refusal a ``LifecycleViolation`` naming the field of the booking):
- a named licence is issued (in this trade or another) with terms, is not revoked or superseded, and
  the booking falls within its validity;
- its holder is the party of this trade it licenses: the supplier (export licence) or buyer (import
  approval), so nobody draws on another company's licence;
- every Class 1 UN number the shipment carries is authorised by a named licence of each licence kind the
  order requires, and no named licence is left drawing nothing;
- nothing is drawn beyond what remains, in net explosive mass or in quantity (in the licence's unit),
  counting the draws of every trade;
- a licence issued again (into another trade) with other terms is refused: the first issue's terms and
  running total stand.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from corridor.core.domain import dangerous_goods
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import (
    CertificateAmended,
    CertificateIssued,
    CertificateKind,
    CertificateRevoked,
    ShipmentBooked,
)
from corridor.core.domain.lifecycle import certificate, quantities
from corridor.core.domain.lifecycle.errors import LifecycleViolation, PrerequisiteMissing
from corridor.core.domain.lifecycle.state import (
    DEAD_CERTIFICATE_STATUSES,
    CertificateStatus,
    Drawdown,
    LicenceState,
    LicensedAmount,
    OrderState,
    TradeState,
    licence_key,
)

#: The licence kinds, and which party of the order each licenses.
LICENCE_HOLDERS = {
    CertificateKind.EXPLOSIVES_EXPORT_LICENCE: "supplier",
    CertificateKind.EXPLOSIVES_IMPORT_APPROVAL: "buyer",
}


def keys_of(e: TradeEvent) -> tuple[str, ...]:
    """The licences (``licence_key``) an event reads or changes: those a booking draws on, the licence a
    certificate event issues, amends (and supersedes) or revokes. The ledger lays their current rows over
    the trade's state before applying the event (ADR 0045)."""
    if isinstance(e, ShipmentBooked):
        return tuple(licence_key(ref.issuer_party_id, ref.certificate_number) for ref in e.licences)
    if isinstance(e, CertificateIssued):
        return (licence_key(e.issuer.party_id, e.certificate_number),) if e.licence is not None else ()
    if isinstance(e, CertificateAmended):
        issuer = e.issuer.party_id
        return (
            licence_key(issuer, e.supersedes_certificate_number),
            licence_key(issuer, e.certificate_number),
        )
    if isinstance(e, CertificateRevoked):
        return (licence_key(e.issuer.party_id, e.certificate_number),)
    return ()


def issued(trade: TradeState, e: CertificateIssued) -> TradeState:
    """The certificate as ``certificate.issued`` records it, and its licence terms when it has them.

    A licence already known (issued into another trade, its row laid over this state) is the same
    standing authorisation presented again: its running total is kept, and other terms are refused."""
    trade = certificate.issued(trade, e)
    terms = e.licence
    if terms is None:
        return trade
    licence = LicenceState(
        issuer=e.issuer.party_id,
        certificate_number=e.certificate_number,
        kind=e.certificate_kind,
        holder=terms.holder.party_id,
        valid_from=terms.valid_from,
        valid_until=e.valid_until,
        authorised=tuple(
            LicensedAmount(
                un_number=a.un_number,
                net_explosive_mass_kg=a.net_explosive_mass_kg,
                quantity=a.quantity.value if a.quantity else None,
                unit=a.quantity.unit if a.quantity else None,
            )
            for a in terms.authorised
        ),
        issued_in=trade.trade_id,
    )
    key = licence_key(licence.issuer, licence.certificate_number)
    known = trade.licences.get(key)
    if known is not None:
        if not known.same_terms(licence):
            raise LifecycleViolation(
                f"licence: licence {e.certificate_number} of {e.issuer.party_id} is already issued"
                + (f" (into trade {known.issued_in})" if known.issued_in else "")
                + " with other terms; a licence is issued once and amended, not issued again"
            )
        return trade  # the same licence: one running total across the trades it is issued into
    return trade.evolve(**{"licences": {**trade.licences, key: licence}})


def amended(trade: TradeState, e: CertificateAmended) -> TradeState:
    """An amended licence keeps its terms and what was drawn on it, under its new number."""
    trade = certificate.amended(trade, e)
    old = trade.licences.get(licence_key(e.issuer.party_id, e.supersedes_certificate_number))
    if old is None:
        return trade
    if trade.licences.get(licence_key(e.issuer.party_id, e.certificate_number)) is not None:
        raise LifecycleViolation(
            f"certificate_number: licence {e.certificate_number} of {e.issuer.party_id} is already issued"
        )
    new = old.evolve(**{"certificate_number": e.certificate_number, "issued_in": trade.trade_id})
    # the old number stays known, superseded: a booking of any trade that names it is refused
    old = old.evolve(**{"status": CertificateStatus.SUPERSEDED, "superseded_by": e.certificate_number})
    return trade.evolve(
        **{
            "licences": {
                **trade.licences,
                licence_key(old.issuer, old.certificate_number): old,
                licence_key(new.issuer, new.certificate_number): new,
            }
        }
    )


def revoked(trade: TradeState, e: CertificateRevoked) -> TradeState:
    """The revocation as ``certificate.revoked`` records it; a revoked licence is dead in every trade."""
    trade = certificate.revoked(trade, e)
    key = licence_key(e.issuer.party_id, e.certificate_number)
    known = trade.licences.get(key)
    if known is None:
        return trade
    revoked_licence = known.evolve(**{"status": CertificateStatus.REVOKED})
    return trade.evolve(**{"licences": {**trade.licences, key: revoked_licence}})


def _demand(order: OrderState, e: ShipmentBooked) -> dict[str, tuple[Decimal, dict[str, Decimal]]]:
    """Per Class 1 UN number of the shipment: (net explosive mass in kg, {unit: quantity})."""
    lines = {line.line_number: line for line in order.lines}
    mass: dict[str, Decimal] = defaultdict(Decimal)
    for item in e.dangerous_goods:
        p = item.particulars
        if dangerous_goods.is_class1(p.un_number):
            mass[p.un_number] += p.net_explosive_mass_kg or Decimal(0)
    amounts: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    carried = (
        [(a.line_number, a.quantity.value) for a in e.allocations]
        if e.allocations
        else [(line.line_number, line.quantity) for line in order.lines]
    )
    for number, value in carried:
        line = lines.get(number)
        if line is not None and dangerous_goods.is_class1(line.un_number):
            assert line.un_number is not None
            amounts[line.un_number][line.unit] += value
    return {un: (mass.get(un, Decimal(0)), dict(amounts.get(un, {}))) for un in sorted({*mass, *amounts})}


def _require_licence(trade: TradeState, order: OrderState, e: ShipmentBooked, i: int) -> LicenceState:
    ref = e.licences[i]
    field = f"licences[{i}]"
    sid = e.shipment_id
    key = licence_key(ref.issuer_party_id, ref.certificate_number)
    licence = trade.licences.get(key)
    cert = next(
        (
            c
            for c in trade.certificates.values()
            if c.certificate_number == ref.certificate_number and c.issuer == ref.issuer_party_id
        ),
        None,
    )
    if licence is None:
        if cert is None:
            # the licence travels on the certificates topic and may arrive after the booking: held
            raise PrerequisiteMissing(
                f"{field}: shipment {sid} draws on licence {ref.certificate_number} of "
                f"{ref.issuer_party_id}, which is not issued yet"
            )
        raise LifecycleViolation(
            f"{field}: certificate {ref.certificate_number} of {ref.issuer_party_id} carries no licence "
            f"terms (holder, validity, quantities authorised), so shipment {sid} cannot draw on it"
        )
    # the licence's own status counts where it was issued into another trade (ADR 0045)
    dead = next((x for x in (cert, licence) if x is not None and x.status in DEAD_CERTIFICATE_STATUSES), None)
    if dead is not None:
        raise LifecycleViolation(
            f"{field}: licence {licence.certificate_number} of {licence.issuer} is "
            f"{dead.status.value.lower()}"
            + (f" (by {dead.superseded_by})" if dead.superseded_by else "")
            + f"; shipment {sid} cannot draw on it"
        )
    day = e.occurred_at.date()
    if day < licence.valid_from or (licence.valid_until is not None and day > licence.valid_until):
        raise LifecycleViolation(
            f"{field}: licence {licence.certificate_number} is valid from {licence.valid_from} through "
            f"{licence.valid_until}; shipment {sid} is booked on {day}"
        )
    role = LICENCE_HOLDERS.get(licence.kind)
    licensee = getattr(order, role) if role else None
    if licence.holder != licensee:
        raise LifecycleViolation(
            f"{field}: licence {licence.certificate_number} is held by {licence.holder}, not by this order's "
            f"{role} {licensee}; shipment {sid} cannot draw on it"
        )
    return licence


def _draw(
    licence: LicenceState, un: str, mass: Decimal, amounts: dict[str, Decimal], field: str, e: ShipmentBooked
) -> LicenceState:
    sid, number = e.shipment_id, licence.certificate_number
    amount = licence.amount(un)
    assert amount is not None
    drawn = Drawdown(
        shipment_id=sid, trade_id=e.trade_id, at=e.occurred_at, un_number=un, net_explosive_mass_kg=mass
    )
    left_mass = amount.remaining_net_explosive_mass_kg
    if left_mass is not None:
        if mass > left_mass:
            raise LifecycleViolation(
                f"{field}: shipment {sid} would draw {quantities.fmt(mass)} kg net explosive mass of {un} on "
                f"licence {number}, which has {quantities.fmt(left_mass)} kg left of the "
                f"{quantities.fmt(amount.net_explosive_mass_kg or Decimal(0))} kg authorised"
            )
        amount = amount.evolve(**{"drawn_net_explosive_mass_kg": amount.drawn_net_explosive_mass_kg + mass})
    left = amount.remaining_quantity
    if left is not None:
        other = sorted(set(amounts) - {amount.unit})
        if other:
            raise LifecycleViolation(
                f"{field}: licence {number} authorises {un} in {amount.unit}, but shipment {sid} carries it "
                f"in {', '.join(other)}"
            )
        value = amounts.get(amount.unit or "", Decimal(0))
        if not e.allocations:
            # a booking without allocations carries an unknown part of the whole order (ADR 0029): the
            # order's quantity is drawn once, by the first such booking, not once per booking
            # (this trade's order: the draws of the licence's other trades do not count here)
            ours = sum(
                (
                    d.quantity
                    for d in licence.drawdowns
                    if d.un_number == un and d.trade_id in (None, e.trade_id)
                ),
                Decimal(0),
            )
            value = max(Decimal(0), value - ours)
        if value > left:
            raise LifecycleViolation(
                f"{field}: shipment {sid} would draw {quantities.fmt(value)} {amount.unit} of {un} on "
                f"licence {number}, which has {quantities.fmt(left)} {amount.unit} left of the "
                f"{quantities.fmt(amount.quantity or Decimal(0))} {amount.unit} authorised"
            )
        amount = amount.evolve(**{"drawn_quantity": amount.drawn_quantity + value})
        drawn = drawn.evolve(**{"quantity": value, "unit": amount.unit})
    authorised = tuple(amount if a.un_number == un else a for a in licence.authorised)
    return licence.evolve(**{"authorised": authorised, "drawdowns": (*licence.drawdowns, drawn)})


def draw(trade: TradeState, e: ShipmentBooked) -> TradeState:
    """The trade with the booking's Class 1 goods drawn from the licences it names (module docstring).

    A booking that names no licence draws nothing: it is refused on intake when it carries Class 1 goods
    (rules ``licences``), and records accepted before licences had terms still apply.
    """
    if not e.licences:
        return trade
    order = trade.order
    assert order is not None
    sid = e.shipment_id
    licences = [_require_licence(trade, order, e, i) for i in range(len(e.licences))]
    demand = _demand(order, e)
    used = [False] * len(licences)
    updated = list(licences)
    for un, (mass, amounts) in demand.items():
        kinds = (set(LICENCE_HOLDERS) & set(order.required_certificates)) | {lic.kind for lic in updated}
        for kind in sorted(kinds):
            i = next(
                (i for i, lic in enumerate(updated) if lic.kind == kind and lic.amount(un) is not None), None
            )
            if i is None:
                raise LifecycleViolation(
                    f"licences: shipment {sid} carries {un}, but none of the licences it names is an "
                    f"{kind.value} authorising {un}"
                )
            updated[i] = _draw(updated[i], un, mass, amounts, f"licences[{i}]", e)
            used[i] = True
    for i, lic in enumerate(updated):
        if not used[i]:
            raise LifecycleViolation(
                f"licences[{i}]: shipment {sid} names licence {lic.certificate_number}, but draws nothing "
                f"on it (it authorises {', '.join(a.un_number for a in lic.authorised)}; the shipment "
                f"carries {', '.join(demand) or 'no Class 1 goods'})"
            )
    merged = dict(trade.licences)
    for lic in updated:
        merged[licence_key(lic.issuer, lic.certificate_number)] = lic
    return trade.evolve(**{"licences": merged})


def remaining(licence: LicenceState) -> list[dict[str, str | None]]:
    """What is left of a licence per UN number, as strings for the API (None where not limited)."""
    return [
        {
            "un_number": a.un_number,
            "remaining_net_explosive_mass_kg": _s(a.remaining_net_explosive_mass_kg),
            "remaining_quantity": _s(a.remaining_quantity),
            "unit": a.unit,
        }
        for a in licence.authorised
    ]


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
