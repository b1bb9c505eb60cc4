"""Quantities of an order across its shipments (issue 18 item 3, ADR 0029): allocated, shipped, delivered.

An order's lines are allocated to shipments on their bookings (``ShipmentBooked.allocations``). For each
shipment, in each unit (UN/ECE Rec 20), three quantities:

- **allocated**: what the booking allocated (nothing, for a booking without allocations);
- **shipped**: what the final draft survey at the place of loading established (bulk cargo), else the
  allocated quantity;
- **delivered**: what was weighed at delivery (``received_quantity``), else the shipped quantity.

Findings are named as traders name them: *short shipped* (shipped less than allocated), *short landed*
(delivered less than shipped), *over-landed*; for the order, *short delivered*, *over-delivered within
tolerance* or *beyond tolerance* against the ordered quantity ± the lines' tolerance.

The order is delivered in full (one of the two conditions for closing it; the other is its final invoice)
when every booked shipment is delivered and, for orders whose bookings allocate lines, the delivered
quantity lies within the ordered quantity ± tolerance in every unit. Trades booked without allocations keep
the rule they were recorded under: every shipment delivered. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from corridor.core.domain.lifecycle.state import OrderState, ShipmentState, TradeState

Quantities = dict[str, Decimal]  # unit → quantity

_HUNDRED = Decimal(100)


def fmt(value: Decimal) -> str:
    """A quantity as traders write it: thousands separated, no trailing zeros (2,751.3)."""
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def ordered(order: OrderState) -> Quantities:
    out: Quantities = defaultdict(Decimal)
    for line in order.lines:
        out[line.unit] += line.quantity
    return dict(out)


def bounds(order: OrderState) -> dict[str, tuple[Decimal, Decimal]]:
    """Per unit, the least and the most quantity that fulfil the order (each line ± its tolerance)."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for line in order.lines:
        margin = line.quantity * line.tolerance_percent / _HUNDRED
        lo, hi = out.get(line.unit, (Decimal(0), Decimal(0)))
        out[line.unit] = (lo + line.quantity - margin, hi + line.quantity + margin)
    return out


def allocated(shipment: ShipmentState) -> Quantities:
    out: Quantities = defaultdict(Decimal)
    for a in shipment.allocations:
        out[a.unit] += a.quantity
    return dict(out)


def shipped(shipment: ShipmentState) -> Quantities:
    """The final draft surveys at the place of loading (one per vessel), else the allocated quantity."""
    out: Quantities = defaultdict(Decimal)
    for m in shipment.milestones.values():
        if (
            m.event_type == "FINAL_DRAFT_SURVEY"
            and m.location == shipment.place_of_loading
            and m.actual is not None
            and m.quantity is not None
            and m.quantity_unit is not None
        ):
            out[m.quantity_unit] += m.quantity
    return dict(out) or allocated(shipment)


def delivered(shipment: ShipmentState) -> Quantities:
    if shipment.delivered_at is None:
        return {}
    if shipment.received_quantity is not None and shipment.received_unit is not None:
        return {shipment.received_unit: shipment.received_quantity}
    return shipped(shipment)


def shipment_finding(shipment: ShipmentState) -> str | None:
    """What the shipment's delivery showed against what it shipped (and shipped against allocated).

    Only the shipment's own facts count (not the order's lines), so the finding does not depend on when
    an order amendment was applied relative to the delivery."""
    if shipment.delivered_at is None:
        return None
    notes: list[str] = []
    alloc, ship, got = allocated(shipment), shipped(shipment), delivered(shipment)
    for unit, quantity in sorted(ship.items()):
        booked = alloc.get(unit)
        if booked is not None and quantity < booked:
            notes.append(f"short shipped {fmt(booked - quantity)} {unit} of {fmt(booked)} {unit} allocated")
        received = got.get(unit)
        if received is None:
            continue
        gap = fmt(abs(quantity - received))
        if received < quantity:
            notes.append(f"short landed {gap} {unit} of {fmt(quantity)} {unit} shipped")
        elif received > quantity:
            notes.append(f"over-landed {gap} {unit} over {fmt(quantity)} {unit} shipped")
        else:
            notes.append(f"landed as shipped, {fmt(quantity)} {unit}")
    for unit in sorted(set(got) - set(ship)) if ship else ():
        notes.append(f"received {fmt(got[unit])} {unit}, a unit the shipment was not booked in")
    return "; ".join(notes) or None


def allocates(trade: TradeState) -> bool:
    """Whether the order's bookings allocate lines to shipments (all of them do, or none)."""
    return any(s.allocations for s in trade.shipments.values())


@dataclass(frozen=True)
class OrderQuantity:
    """The order's delivered quantity against what it ordered, per unit."""

    within_tolerance: bool  # every unit between the least and the most the order allows
    finding: str


def order_quantity(trade: TradeState) -> OrderQuantity | None:
    """The delivered quantities of all delivered shipments against the order (None without an order)."""
    order = trade.order
    if order is None:
        return None
    got: Quantities = defaultdict(Decimal)
    for s in trade.shipments.values():
        for unit, q in delivered(s).items():
            got[unit] += q
    want, limits = ordered(order), bounds(order)
    ok, notes = True, []
    for unit in sorted(set(want) | set(got)):
        have, asked = got.get(unit, Decimal(0)), want.get(unit, Decimal(0))
        lo, hi = limits.get(unit, (Decimal(0), Decimal(0)))
        of = f"{fmt(have)} of {fmt(asked)} {unit} ordered"
        if have < lo:
            ok = False
            notes.append(f"short delivered: {of} (at least {fmt(lo)} within tolerance)")
        elif have > hi:
            ok = False
            notes.append(f"over-delivered beyond tolerance: {of} (at most {fmt(hi)} within tolerance)")
        elif have > asked:
            notes.append(f"over-delivered within tolerance: {of} (at most {fmt(hi)} within tolerance)")
        else:
            notes.append(f"delivered within tolerance: {of}")
    return OrderQuantity(ok, "; ".join(notes))


def order_progress(trade: TradeState) -> str:
    """The order's quantity finding, or how much is delivered so far while shipments are on their way."""
    waiting = sum(1 for s in trade.shipments.values() if s.delivered_at is None)
    found = order_quantity(trade)
    if found is None:
        return "no order"
    if not waiting or not found.finding.startswith("short delivered"):
        return found.finding
    got: Quantities = defaultdict(Decimal)
    for s in trade.shipments.values():
        for unit, q in delivered(s).items():
            got[unit] += q
    assert trade.order is not None
    want = ordered(trade.order)
    so_far = ", ".join(f"{fmt(got.get(u, Decimal(0)))} of {fmt(q)} {u}" for u, q in sorted(want.items()))
    plural = "s" if waiting > 1 else ""
    return f"{so_far} ordered delivered so far, {waiting} shipment{plural} still to deliver"


def delivered_in_full(trade: TradeState) -> bool:
    """Every booked shipment delivered and, when bookings allocate lines, the order's quantity delivered
    within its tolerance (one of the two conditions that close the order; the final invoice is the other)."""
    if not trade.shipments or any(s.delivered_at is None for s in trade.shipments.values()):
        return False
    if not allocates(trade):
        return True
    found = order_quantity(trade)
    return found is not None and found.within_tolerance
