"""The shipment's state machine (DOMAIN §4, DCSA Track & Trace).

booked (its Incoterm and mode those of the order; its allocated order lines within the order's quantity
and tolerance) → milestones per (event type, place[, vehicle]): each truck, wagon or vessel of a shipment
(``transport_call.vehicle_reference``) has its own milestones, so a second truck's departure is not a
second departure; a call at a border crossing (facility BOCR) is the crossing; bulk cargo (DRY_BULK,
LIQUID_BULK) reports the bulk milestones (notice of readiness, draft surveys, loading and discharge
commenced/completed), and a container event on it is refused; ACT beats EST beats PLN, so an estimate
never overwrites an actual; a newer plan or estimate (by ``created_at``, the event created time)
replaces an older one, never the other way round; a second actual departure (or arrival) at the same call
is a violation, unless it is a correction (``corrects_event_id``) of the first → customs selected /
released per place → delivered, never before an actual departure; the delivered quantity is compared
with what was shipped (``lifecycle.quantities``).
Places are kept as their one UN/LOCODE (``reference.canonical_locode``), so aliases of a port compare equal.
"""

from __future__ import annotations

import datetime as dt
import uuid

from corridor.core.domain import dangerous_goods
from corridor.core.domain.events import (
    CertificateKind,
    CustomsEventRecorded,
    CustomsEventType,
    EquipmentEventRecorded,
    EventClassifier,
    ShipmentBooked,
    ShipmentDelivered,
    TransportEventRecorded,
)
from corridor.core.domain.lifecycle import licence, quantities
from corridor.core.domain.lifecycle.errors import LifecycleViolation, PrerequisiteMissing
from corridor.core.domain.lifecycle.state import (
    Allocation,
    CarriedDangerousGoods,
    CustomsControl,
    Milestone,
    OrderState,
    OrderStatus,
    ShipmentState,
    ShipmentStatus,
    Slot,
    TradeState,
    equipment_key,
    licence_key,
    transport_key,
)
from corridor.core.domain.reference import canonical_locode
from corridor.core.domain.rules import BULK_MILESTONES
from corridor.core.domain.timing import supersedes

#: Certificates that must be issued before explosives leave (DOMAIN §5, §8).
DEPARTURE_CERTIFICATES = frozenset(
    {CertificateKind.EXPLOSIVES_EXPORT_LICENCE, CertificateKind.EXPLOSIVES_IMPORT_APPROVAL}
)


def derive_status(shipment: ShipmentState) -> ShipmentStatus:
    if shipment.delivered_at is not None:
        return ShipmentStatus.DELIVERED
    if shipment.actual_arrival is not None:
        return ShipmentStatus.ARRIVED
    if shipment.actual_departure is not None:
        return ShipmentStatus.DEPARTED
    return ShipmentStatus.BOOKED


def _with(trade: TradeState, shipment: ShipmentState) -> TradeState:
    status = derive_status(shipment)
    if status != shipment.status:
        shipment = shipment.evolve(**{"status": status})
    return trade.evolve(**{"shipments": {**trade.shipments, shipment.shipment_id: shipment}})


def _require_shipment(trade: TradeState, shipment_id: str, what: str, at: dt.datetime) -> ShipmentState:
    if trade.order is None:
        raise PrerequisiteMissing(f"{what}: trade {trade.trade_id} has no order yet")
    shipment = trade.shipments.get(shipment_id)
    if shipment is None:
        raise PrerequisiteMissing(f"{what}: shipment {shipment_id} is not booked yet")
    closed_at = trade.order.closed_at
    if closed_at is not None and at > closed_at:
        raise LifecycleViolation(
            f"{what} on shipment {shipment_id} at {at.isoformat()}, after order {trade.order.order_id} "
            f"was closed ({closed_at.isoformat()})"
        )
    return shipment


def booked(trade: TradeState, e: ShipmentBooked) -> TradeState:
    order = trade.order
    if order is None:
        raise PrerequisiteMissing(f"booking {e.shipment_id}: trade {trade.trade_id} has no order yet")
    if e.order_id != order.order_id:
        raise LifecycleViolation(
            f"booking {e.shipment_id} names order {e.order_id}, but trade {trade.trade_id} is order "
            f"{order.order_id}"
        )
    ended = order.ended_at
    if ended is not None and ended <= e.occurred_at:
        raise LifecycleViolation(
            f"shipment {e.shipment_id} booked for order {order.order_id}, which was "
            f"{order.status.value.lower()} at {ended.isoformat()}"
        )
    if order.status == OrderStatus.CLOSED:
        raise LifecycleViolation(f"shipment {e.shipment_id} booked after order {order.order_id} was closed")
    if e.shipment_id in trade.shipments:
        raise LifecycleViolation(f"shipment {e.shipment_id} is already booked")
    _check_booking_fits_order(trade, order, e)
    _check_dangerous_goods(order, e)
    shipment = ShipmentState(
        shipment_id=e.shipment_id,
        order_id=e.order_id,
        carrier=e.carrier.party_id,
        transport_mode=e.transport_mode.value,
        incoterm=e.incoterm.value,
        place_of_loading=canonical_locode(e.place_of_loading.unlocode),
        place_of_discharge=canonical_locode(e.place_of_discharge.unlocode),
        route=tuple(canonical_locode(loc.unlocode) for loc in e.route),
        vessel_name=e.vessel_name,
        voyage_number=e.voyage_number,
        un_numbers=tuple(e.un_numbers),
        cargo_type=e.cargo_type.value if e.cargo_type else None,
        allocations=tuple(
            Allocation(line_number=a.line_number, quantity=a.quantity.value, unit=a.quantity.unit)
            for a in e.allocations
        ),
        dangerous_goods=tuple(
            CarriedDangerousGoods(
                line_number=item.line_number,
                un_number=item.particulars.un_number,
                classification=item.particulars.classification,
                proper_shipping_name=item.particulars.proper_shipping_name,
                net_explosive_mass_kg=item.particulars.net_explosive_mass_kg,
                package_count=item.particulars.packages.count if item.particulars.packages else None,
                package_kind=item.particulars.packages.kind if item.particulars.packages else None,
            )
            for item in e.dangerous_goods
        ),
        dangerous_goods_declaration=e.dangerous_goods_declaration,
        licences=tuple(licence_key(ref.issuer_party_id, ref.certificate_number) for ref in e.licences),
        booked_at=e.occurred_at,
    )
    # the licences are drawn down in the same step as the booking: both or neither (ADR 0034)
    return licence.draw(_with(trade, shipment), e)


def _upper(name: str | None) -> str | None:
    return " ".join(name.upper().split()) if name else None


def _check_dangerous_goods(order: OrderState, e: ShipmentBooked) -> None:
    """The booking's dangerous goods are the order's (rules ``dangerous-goods-line``,
    ``dangerous-goods-particulars``, ``dangerous-goods-declared``): each entry names a line the shipment
    carries, with that line's UN number, classification and proper shipping name; once a booking declares
    dangerous goods or draws on licences, every explosive line it carries is declared."""
    sid = e.shipment_id
    lines = {line.line_number: line for line in order.lines}
    carried = {a.line_number for a in e.allocations} if e.allocations else set(lines)
    for i, item in enumerate(e.dangerous_goods):
        field = f"dangerous_goods[{i}]"
        p = item.particulars
        line = lines.get(item.line_number)
        if line is None or item.line_number not in carried:
            raise LifecycleViolation(
                f"dangerous-goods-line: {field}.line_number: shipment {sid} declares dangerous goods of line "
                f"{item.line_number}, which it does not carry (lines {', '.join(map(str, sorted(carried)))})"
            )
        for name, ours, theirs in (
            ("un_number", p.un_number, line.un_number),
            ("classification", p.classification, line.hazard_classification),
            ("proper_shipping_name", _upper(p.proper_shipping_name), _upper(line.proper_shipping_name)),
        ):
            if theirs and ours != theirs:
                raise LifecycleViolation(
                    f"dangerous-goods-particulars: {field}.particulars.{name}: shipment {sid} declares "
                    f"line {item.line_number} as {ours}, but order {order.order_id} states {theirs}"
                )
    if e.dangerous_goods or e.licences:
        declared = {item.line_number for item in e.dangerous_goods}
        for number in sorted(carried - declared):
            line = lines[number]
            if dangerous_goods.is_explosive(line.hs_code, line.un_number):
                raise LifecycleViolation(
                    f"dangerous-goods-declared: dangerous_goods: shipment {sid} carries line {number} "
                    f"({line.un_number or line.hs_code}), explosives, without declaring its dangerous goods"
                )


def _check_booking_fits_order(trade: TradeState, order: OrderState, e: ShipmentBooked) -> None:
    """A booking carries the order's goods on the order's terms (rules ``booking-incoterm``,
    ``booking-mode``, ``allocation-line``, ``allocation-unit``, ``allocation-within-order``,
    ``allocation-all-or-none``)."""
    sid = e.shipment_id
    if e.incoterm.value != order.incoterm:
        raise LifecycleViolation(
            f"booking-incoterm: shipment {sid} is booked {e.incoterm.value}, but order {order.order_id} "
            f"is {order.incoterm} {order.incoterm_place}"
        )
    if e.transport_mode.value != order.transport_mode:
        raise LifecycleViolation(
            f"booking-mode: shipment {sid} is booked by {e.transport_mode.value}, but order "
            f"{order.order_id} ships by {order.transport_mode}"
        )
    others = list(trade.shipments.values())
    if others and bool(e.allocations) != any(s.allocations for s in others):
        raise LifecycleViolation(
            f"allocation-all-or-none: shipment {sid} "
            + (
                "allocates order lines, but the order's earlier bookings carry the whole order"
                if e.allocations
                else "allocates no order lines, but the order's earlier bookings do"
            )
        )
    lines = {line.line_number: line for line in order.lines}
    for a in e.allocations:
        line = lines.get(a.line_number)
        if line is None:
            raise LifecycleViolation(
                f"allocation-line: shipment {sid} allocates line {a.line_number}, which order "
                f"{order.order_id} does not have (lines {', '.join(str(n) for n in sorted(lines))})"
            )
        if a.quantity.unit != line.unit:
            raise LifecycleViolation(
                f"allocation-unit: shipment {sid} allocates line {a.line_number} in {a.quantity.unit}, "
                f"but the line is ordered in {line.unit}"
            )
        booked = sum(
            (b.quantity for s in others for b in s.allocations if b.line_number == a.line_number),
            a.quantity.value,
        )
        most = line.quantity * (1 + line.tolerance_percent / 100)
        if booked > most:
            raise LifecycleViolation(
                f"allocation-within-order: shipment {sid} would bring line {a.line_number} of order "
                f"{order.order_id} to {quantities.fmt(booked)} {line.unit} booked, more than the "
                f"{quantities.fmt(line.quantity)} {line.unit} ordered "
                f"+{quantities.fmt(line.tolerance_percent)} % ({quantities.fmt(most)} {line.unit})"
            )


def _without_event(shipment: ShipmentState, event_id: uuid.UUID, what: str) -> ShipmentState:
    """The shipment with the milestone slot holding ``event_id`` emptied (a DCSA correction)."""
    for key, m in shipment.milestones.items():
        for name in ("planned", "estimated", "actual"):
            slot: Slot | None = getattr(m, name)
            if slot is not None and slot.event_id == event_id:
                cleared = m.evolve(**{name: None})
                milestones = dict(shipment.milestones)
                if cleared.classifier is None:
                    del milestones[key]
                else:
                    milestones[key] = cleared
                return shipment.evolve(**{"milestones": milestones})
    raise LifecycleViolation(
        f"{what} corrects event {event_id}, which is not a milestone of shipment {shipment.shipment_id}"
    )


def _record(
    shipment: ShipmentState,
    key: str,
    fresh: Milestone,
    classifier: EventClassifier,
    slot: Slot,
    what: str,
    *,
    unique_actual: bool,
) -> ShipmentState:
    current = shipment.milestones.get(key, fresh)
    existing = current.slot(classifier)
    if classifier == EventClassifier.ACT and existing is not None:
        if unique_actual:
            raise LifecycleViolation(
                f"second actual {what} of shipment {shipment.shipment_id} "
                f"(the first, event {existing.event_id}, was at {existing.at.isoformat()}); "
                "send a correction (corrects_event_id) instead"
            )
        return shipment  # a repeated actual equipment move (e.g. bulk loaded in parts): keep the first
    if (
        existing is not None
        and classifier != EventClassifier.ACT
        and not supersedes(slot.created_at, existing.created_at)
    ):
        return shipment  # an older plan or estimate arriving late: the newer one stands (ADR 0026)
    name = {EventClassifier.PLN: "planned", EventClassifier.EST: "estimated", EventClassifier.ACT: "actual"}[
        classifier
    ]
    updated = current.evolve(**{name: slot})
    return shipment.evolve(**{"milestones": {**shipment.milestones, key: updated}})


def _check_departure_certificates(trade: TradeState, shipment: ShipmentState, at: dt.datetime) -> None:
    order = trade.order
    assert order is not None
    for kind in sorted(DEPARTURE_CERTIFICATES & set(order.required_certificates)):
        certs = [c for c in trade.certificates.values() if c.kind == kind]
        if not certs:
            raise PrerequisiteMissing(
                f"actual departure of shipment {shipment.shipment_id}: the required {kind.value} "
                "is not issued yet"
            )
        valid = [c for c in certs if c.issued_at <= at and (c.revoked_at is None or c.revoked_at > at)]
        if not valid:
            raise LifecycleViolation(
                f"shipment {shipment.shipment_id} departed at {at.isoformat()} without a valid {kind.value} "
                f"({', '.join(sorted(c.certificate_number for c in certs))} issued later or revoked)"
            )


def transport_event(trade: TradeState, e: TransportEventRecorded) -> TradeState:
    what = f"{e.transport_event_type.value} at {e.transport_call.location.unlocode}"
    shipment = _require_shipment(trade, e.shipment_id, what, e.occurred_at)
    if e.corrects_event_id is not None:
        shipment = _without_event(shipment, e.corrects_event_id, what)
    event_type = e.transport_event_type.value
    if event_type in BULK_MILESTONES and shipment.cargo_type in ("CONTAINERISED", "BREAK_BULK"):
        raise LifecycleViolation(
            f"bulk-milestone: {what} on shipment {shipment.shipment_id}, which is booked as "
            f"{shipment.cargo_type} cargo: bulk milestones are for DRY_BULK or LIQUID_BULK shipments"
        )
    if event_type == "DEPA" and e.classifier == EventClassifier.ACT:
        _check_departure_certificates(trade, shipment, e.occurred_at)
    call = e.transport_call
    location = canonical_locode(call.location.unlocode)
    survey = e.cargo_quantity
    fresh = Milestone(
        kind="TRANSPORT",
        event_type=event_type,
        location=location,
        mode_of_transport=call.mode_of_transport.value,
        vehicle_reference=call.vehicle_reference,
        facility_type=call.location.facility_type.value if call.location.facility_type else None,
    )
    if survey is not None:
        fresh = fresh.evolve(**{"quantity": survey.value, "quantity_unit": survey.unit})
    if call.vehicle_reference:
        what += f" by {call.vehicle_reference}"
    shipment = _record(
        shipment,
        transport_key(event_type, location, call.vehicle_reference),
        fresh,
        e.classifier,
        Slot(at=e.occurred_at, event_id=e.event_id, created_at=e.created_at),
        what,
        unique_actual=True,
    )
    return _with(trade, shipment)


def equipment_event(trade: TradeState, e: EquipmentEventRecorded) -> TradeState:
    what = f"{e.equipment_event_type.value} at {e.location.unlocode}"
    shipment = _require_shipment(trade, e.shipment_id, what, e.occurred_at)
    if shipment.is_bulk:
        raise LifecycleViolation(
            f"bulk-no-equipment: {what} on shipment {shipment.shipment_id}, which is {shipment.cargo_type} "
            "cargo with no container; report its bulk milestones (NOR_TENDERED, INITIAL_DRAFT_SURVEY, "
            "LOADING_COMMENCED, LOADING_COMPLETED, FINAL_DRAFT_SURVEY, DISCHARGE_COMMENCED, "
            "DISCHARGE_COMPLETED) as transport events instead"
        )
    if e.corrects_event_id is not None:
        shipment = _without_event(shipment, e.corrects_event_id, what)
    fresh = Milestone(
        kind="EQUIPMENT",
        event_type=e.equipment_event_type.value,
        location=canonical_locode(e.location.unlocode),
        equipment_reference=e.equipment_reference,
    )
    shipment = _record(
        shipment,
        equipment_key(e.equipment_event_type.value, e.location.unlocode, e.equipment_reference),
        fresh,
        e.classifier,
        Slot(at=e.occurred_at, event_id=e.event_id, created_at=e.created_at),
        what,
        unique_actual=False,
    )
    return _with(trade, shipment)


def customs_event(trade: TradeState, e: CustomsEventRecorded) -> TradeState:
    location = canonical_locode(e.location.unlocode)
    shipment = _require_shipment(trade, e.shipment_id, f"customs {e.customs_event_type.value}", e.occurred_at)
    control = shipment.customs.get(location) or CustomsControl(
        location=location, authority=e.authority.party_id
    )
    update: dict[str, object] = {"authority": e.authority.party_id}
    if e.declaration_number:
        update["declaration_number"] = e.declaration_number
    if e.customs_event_type == CustomsEventType.CUSR:
        if control.released_at is None or e.occurred_at > control.released_at:
            update["released_at"] = e.occurred_at
    elif control.selected_at is None or e.occurred_at >= control.selected_at:
        update.update(
            selection=e.customs_event_type,
            selected_at=e.occurred_at,
            checks=tuple(dict.fromkeys((*control.checks, *e.checks))),
        )
    control = control.evolve(**update)
    shipment = shipment.evolve(**{"customs": {**shipment.customs, location: control}})
    return _with(trade, shipment)


def delivered(trade: TradeState, e: ShipmentDelivered) -> TradeState:
    shipment = _require_shipment(trade, e.shipment_id, "delivery", e.occurred_at)
    if shipment.delivered_at is not None:
        raise LifecycleViolation(
            f"shipment {shipment.shipment_id} delivered twice (first at {shipment.delivered_at.isoformat()})"
        )
    departed = shipment.actual_departure
    if departed is None:
        # held, not refused at once: the departure may be held itself (waiting for a licence on another
        # topic); a delivery whose departure never comes is dead-lettered after the last retry (ADR 0029)
        raise PrerequisiteMissing(
            f"delivery-after-departure: shipment {shipment.shipment_id} is reported delivered, but it has "
            "not departed (no actual DEPA is recorded)"
        )
    if e.occurred_at < departed:
        raise LifecycleViolation(
            f"delivery-after-departure: shipment {shipment.shipment_id} is reported delivered at "
            f"{e.occurred_at.isoformat()}, before it departed ({departed.isoformat()})"
        )
    shipment = shipment.evolve(
        **{
            "delivered_at": e.occurred_at,
            "delivered_to": canonical_locode(e.location.unlocode),
            "received_quantity": e.received_quantity.value if e.received_quantity else None,
            "received_unit": e.received_quantity.unit if e.received_quantity else None,
        }
    )
    shipment = shipment.evolve(**{"quantity_finding": quantities.shipment_finding(shipment)})
    return _with(trade, shipment)
