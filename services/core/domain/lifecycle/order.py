"""The order's state machine (DOMAIN §3).

placed (revision 0) → responded (accepted / accepted with amendment / rejected) → amended (revision n,
awaiting a response to revision n) → responded … → invoiced (provisional, final) → closed once the final
invoice is issued and the ordered quantity delivered
(``quantities.delivered_in_full``); or cancelled; or rejected (a rejected *amendment* only
declines the change, the agreed revision stays in force).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from corridor.core.domain.events import (
    InvoiceIssued,
    InvoiceKind,
    OrderAmended,
    OrderCancelled,
    OrderPlaced,
    OrderResponded,
    OrderResponseCode,
)
from corridor.core.domain.lifecycle import quantities
from corridor.core.domain.lifecycle.errors import LifecycleViolation, PrerequisiteMissing
from corridor.core.domain.lifecycle.state import (
    TERMINAL_ORDER_STATUSES,
    Invoice,
    InvoiceStage,
    Line,
    OrderState,
    OrderStatus,
    Revision,
    ShipmentStatus,
    TradeState,
)
from corridor.core.domain.reference import canonical_locode


def lines_of(lines: Iterable[Any]) -> tuple[Line, ...]:
    return tuple(
        Line(
            line_number=line.line_number,
            hs_code=line.hs_code,
            description=line.description_en,
            quantity=line.quantity.value,
            unit=line.quantity.unit,
            unit_price=line.unit_price.amount,
            currency=line.unit_price.currency,
            un_number=line.un_number,
            tolerance_percent=line.tolerance_percent,
        )
        for line in lines
    )


def derive_status(order: OrderState) -> OrderStatus:
    """The status that follows from the order's facts."""
    if order.cancelled_at is not None:
        return OrderStatus.CANCELLED
    if order.rejected_at is not None:
        return OrderStatus.REJECTED
    if order.closed_at is not None:
        return OrderStatus.CLOSED
    latest = order.revisions[-1]
    if latest.response is None:
        return OrderStatus.PLACED if latest.revision == 0 else OrderStatus.AMENDED
    if order.invoice_stage is not None:
        return OrderStatus.INVOICED
    if order.agreed_revision is None:
        return OrderStatus.PLACED
    agreed = order.revisions[order.agreed_revision]
    if agreed.response == OrderResponseCode.ACCEPTED_WITH_AMENDMENT:
        return OrderStatus.ACCEPTED_WITH_AMENDMENT
    return OrderStatus.ACCEPTED


def _require_order(trade: TradeState, order_id: str, what: str) -> OrderState:
    order = trade.order
    if order is None:
        raise PrerequisiteMissing(f"{what}: trade {trade.trade_id} has no order yet")
    if order_id != order.order_id:
        raise LifecycleViolation(
            f"{what} names order {order_id}, but trade {trade.trade_id} is order {order.order_id}"
        )
    return order


def _require_open(order: OrderState, what: str) -> None:
    if order.status in TERMINAL_ORDER_STATUSES:
        raise LifecycleViolation(f"{what} after order {order.order_id} was {order.status.value.lower()}")


def _with(trade: TradeState, order: OrderState) -> TradeState:
    return trade.evolve(**{"order": order})


def placed(trade: TradeState, e: OrderPlaced) -> TradeState:
    if trade.order is not None:
        raise LifecycleViolation(
            f"trade {trade.trade_id} already has order {trade.order.order_id} "
            f"(placed {trade.order.placed_at.isoformat()}); order {e.order_id} cannot be placed on it"
        )
    order = OrderState(
        order_id=e.order_id,
        buyer=e.buyer.party_id,
        supplier=e.supplier.party_id,
        placed_at=e.occurred_at,
        incoterm=e.incoterm.value,
        incoterm_place=canonical_locode(e.incoterm_place.unlocode),
        transport_mode=e.transport_mode.value,
        payment_terms=e.payment_terms.value,
        delivery_earliest=e.delivery_earliest,
        delivery_latest=e.delivery_latest,
        required_certificates=tuple(e.required_certificates),
        revisions=(
            Revision(revision=0, event_id=e.event_id, sent_at=e.occurred_at, lines=lines_of(e.lines)),
        ),
    )
    return _with(trade, order)


def responded(trade: TradeState, e: OrderResponded) -> TradeState:
    order = _require_order(trade, e.order_id, "order response")
    _require_open(order, "a response")
    n, latest = e.responds_to_revision, order.revision
    if n > latest:
        raise LifecycleViolation(
            f"response to revision {n} of order {order.order_id}, which does not exist "
            f"(latest revision is {latest})"
        )
    if n < latest:
        raise LifecycleViolation(
            f"response to revision {n} of order {order.order_id}, which revision {latest} superseded"
        )
    revision = order.revisions[n]
    if revision.response is not None:
        raise LifecycleViolation(
            f"revision {n} of order {order.order_id} was already answered {revision.response.value}"
        )
    answered = revision.evolve(
        **{
            "response": e.response,
            "responded_at": e.occurred_at,
            "response_reason": e.reason,
            "counter_lines": lines_of(e.counter_lines),
        }
    )
    update: dict[str, Any] = {"revisions": (*order.revisions[:n], answered)}
    if e.response == OrderResponseCode.ACCEPTED:
        update.update(agreed_revision=n, agreed_lines=revision.lines)
    elif e.response == OrderResponseCode.ACCEPTED_WITH_AMENDMENT:
        update.update(agreed_revision=n, agreed_lines=answered.counter_lines)
    if revision.delivery_latest is not None and e.response != OrderResponseCode.REJECTED:
        update["delivery_latest"] = revision.delivery_latest
    return _with(trade, order.evolve(**update))


def amended(trade: TradeState, e: OrderAmended) -> TradeState:
    order = _require_order(trade, e.order_id, "order amendment")
    _require_open(order, "an amendment")
    if order.invoice_stage == InvoiceStage.FINAL:
        raise LifecycleViolation(f"amendment of order {order.order_id} after its final invoice")
    expected = order.revision + 1
    if e.revision != expected:
        raise LifecycleViolation(
            f"amendment revision {e.revision} of order {order.order_id} is out of sequence "
            f"(expected revision {expected})"
        )
    revision = Revision(
        revision=e.revision,
        event_id=e.event_id,
        sent_at=e.occurred_at,
        lines=lines_of(e.lines),
        reason=e.reason,
        delivery_latest=e.delivery_latest,
    )
    return _with(trade, order.evolve(**{"revisions": (*order.revisions, revision)}))


def cancelled(trade: TradeState, e: OrderCancelled) -> TradeState:
    order = _require_order(trade, e.order_id, "order cancellation")
    _require_open(order, "a cancellation")
    delivered = [s.shipment_id for s in trade.shipments.values() if s.status == ShipmentStatus.DELIVERED]
    if delivered:
        raise LifecycleViolation(
            f"cancellation of order {order.order_id} after its goods were delivered "
            f"(shipment {', '.join(delivered)})"
        )
    return _with(trade, order.evolve(**{"cancelled_at": e.occurred_at, "cancel_reason": e.reason}))


def invoiced(trade: TradeState, e: InvoiceIssued) -> TradeState:
    order = _require_order(trade, e.order_id, "invoice")
    kind = e.invoice_kind
    if any(i.invoice_number == e.invoice_number for i in order.invoices):
        raise LifecycleViolation(f"invoice {e.invoice_number} was already issued on order {order.order_id}")
    if kind != InvoiceKind.CREDIT_NOTE:
        _require_open(order, f"a {kind.value.lower()} invoice")
        if order.agreed_revision is None:
            raise LifecycleViolation(
                f"{kind.value.lower()} invoice {e.invoice_number} for order {order.order_id}, "
                "which the supplier never accepted"
            )
        if order.invoice_stage == InvoiceStage.FINAL:
            raise LifecycleViolation(
                f"{kind.value.lower()} invoice {e.invoice_number} after the final invoice of order "
                f"{order.order_id} (correct it with a credit note)"
            )
    invoice = Invoice(
        invoice_number=e.invoice_number,
        kind=kind,
        total=e.total.amount,
        currency=e.total.currency,
        issued_at=e.occurred_at,
        due_date=e.due_date,
    )
    stage = order.invoice_stage
    if kind == InvoiceKind.FINAL:
        stage = InvoiceStage.FINAL
    elif kind == InvoiceKind.PROVISIONAL and stage is None:
        stage = InvoiceStage.PROVISIONAL
    return _with(trade, order.evolve(**{"invoices": (*order.invoices, invoice), "invoice_stage": stage}))


def settle(trade: TradeState) -> TradeState:
    """Close the order once it is final-invoiced and every shipment delivered; refresh its status."""
    order = trade.order
    if order is None:
        return trade
    closed_at = order.closed_at
    if (
        closed_at is None
        and order.invoice_stage == InvoiceStage.FINAL
        and order.cancelled_at is None
        and quantities.delivered_in_full(trade)  # every shipment delivered, quantity within tolerance
    ):
        final_at = max(i.issued_at for i in order.invoices if i.kind == InvoiceKind.FINAL)
        delivered_at = max(s.delivered_at for s in trade.shipments.values() if s.delivered_at is not None)
        closed_at = max(final_at, delivered_at)
        order = order.evolve(**{"closed_at": closed_at})
    status = derive_status(order)
    if status != order.status:
        order = order.evolve(**{"status": status})
    return trade if order is trade.order else _with(trade, order)
