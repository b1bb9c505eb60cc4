"""The order's state machine (DOMAIN §3, docs/adr/0030-commercial-rules-and-letters-of-credit.md).

placed (revision 0) → responded (accepted / accepted with amendment / rejected) → amended (revision n,
awaiting a response to revision n) → responded … → invoiced (provisional, final) → closed once the final
invoice is issued and the ordered quantity delivered
(``quantities.delivered_in_full``); or cancelled; or rejected (a rejected *amendment* only
declines the change, the agreed revision stays in force).

Invariants: a counter-offer (ACCEPTED_WITH_AMENDMENT) binds nothing until the buyer's next amendment
accepts it (``accepts_counter_offer``, with the counter lines); until then the agreed revision is the one
before. An order is not cancelled once any of its goods departed. Invoices are held to the agreed lines:
each invoiced line is an order line, with its HS code and unit, and what the provisional (or the final)
invoices bill of a line stays within the line's quantity plus its tolerance. A final invoice nets the
provisional invoices no earlier final invoice settled and records the balance.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
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
    CreditTerms,
    Invoice,
    InvoicedLine,
    InvoiceStage,
    Line,
    OrderState,
    OrderStatus,
    Revision,
    ShipmentStatus,
    TradeState,
)
from corridor.core.domain.reference import canonical_locode


def _dangerous(line: Any) -> dict[str, Any]:
    dg = line.dangerous_goods
    if dg is None:
        return {}
    return {
        "hazard_classification": dg.classification,
        "proper_shipping_name": dg.proper_shipping_name,
        "net_explosive_mass_kg": dg.net_explosive_mass_kg,
    }


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
            **_dangerous(line),
            hs_edition=str(line.hs_edition) if line.hs_edition else None,
            pk_tariff_code=line.pk_tariff_code,
            cn_tariff_code=line.cn_tariff_code,
            country_of_origin=line.country_of_origin,
        )
        for line in lines
    )


def _same_terms(a: Line, b: Line) -> bool:
    keys = ("line_number", "hs_code", "quantity", "unit", "unit_price", "currency", "tolerance_percent")
    return all(getattr(a, k) == getattr(b, k) for k in keys)


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
    if order.counter_offer is not None:
        return OrderStatus.ACCEPTED_WITH_AMENDMENT  # a counter-offer awaits the buyer
    if order.agreed_revision is None:
        return OrderStatus.PLACED
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
        letter_of_credit=_credit_terms(e),
        revisions=(
            Revision(revision=0, event_id=e.event_id, sent_at=e.occurred_at, lines=lines_of(e.lines)),
        ),
    )
    return _with(trade, order)


def _credit_terms(e: OrderPlaced) -> CreditTerms | None:
    lc = e.letter_of_credit
    if lc is None:
        return None
    return CreditTerms(
        lc_number=lc.lc_number,
        issuing_bank=lc.issuing_bank.party_id,
        advising_bank=lc.advising_bank.party_id,
        amount=lc.amount.amount,
        currency=lc.amount.currency,
        expiry_date=lc.expiry_date,
        latest_shipment_date=lc.latest_shipment_date,
        partial_shipments_allowed=lc.partial_shipments_allowed,
        transhipment_allowed=lc.transhipment_allowed,
        documents_required=tuple(d.value for d in lc.documents_required),
    )


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
    # a counter-offer (ACCEPTED_WITH_AMENDMENT) binds nothing yet: the buyer accepts it with its next
    # amendment (``amended``), and until then the revision agreed before stays in force
    if revision.delivery_latest is not None and e.response == OrderResponseCode.ACCEPTED:
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
    if not e.accepts_counter_offer:
        return _with(trade, order.evolve(**{"revisions": (*order.revisions, revision)}))
    counter = _accepted_counter_offer(order, revision)
    agreed = revision.evolve(
        **{
            "response": OrderResponseCode.ACCEPTED,
            "responded_at": e.occurred_at,
            "response_reason": f"the buyer accepts the counter-offer to revision {counter.revision}",
        }
    )
    update: dict[str, Any] = {
        "revisions": (*order.revisions, agreed),
        "agreed_revision": e.revision,
        "agreed_lines": agreed.lines,
    }
    if e.delivery_latest is not None:
        update["delivery_latest"] = e.delivery_latest
    return _with(trade, order.evolve(**update))


def _accepted_counter_offer(order: OrderState, revision: Revision) -> Revision:
    """The counter-offer ``revision`` accepts; raises unless its lines are the counter lines exactly."""
    counter = order.counter_offer
    latest = order.revisions[-1]
    if counter is None:
        answer = "is not answered yet" if latest.response is None else f"was answered {latest.response.value}"
        raise LifecycleViolation(
            f"amendment revision {revision.revision} of order {order.order_id} accepts a counter-offer, "
            f"but revision {latest.revision} {answer}: there is no counter-offer to accept"
        )
    offered = {line.line_number: line for line in counter.counter_lines}
    taken = {line.line_number: line for line in revision.lines}
    if offered.keys() != taken.keys():
        raise LifecycleViolation(
            f"amendment revision {revision.revision} of order {order.order_id} accepts the counter-offer to "
            f"revision {counter.revision} with lines {sorted(taken)}, but it offered lines {sorted(offered)}"
        )
    for number, line in sorted(taken.items()):
        if not _same_terms(line, offered[number]):
            raise LifecycleViolation(
                f"amendment revision {revision.revision} of order {order.order_id} accepts the counter-offer "
                f"to revision {counter.revision}, but its line {number} differs from the counter-offer's "
                "(HS code, quantity, unit, price and tolerance must be the supplier's)"
            )
    return counter


def cancelled(trade: TradeState, e: OrderCancelled) -> TradeState:
    order = _require_order(trade, e.order_id, "order cancellation")
    _require_open(order, "a cancellation")
    # once goods left, the contract is being performed: a cancellation by the buyer alone cannot call
    # them back, nor end a letter of credit (ADR 0030); the parties settle it by amendment and credit note
    departed = sorted(
        s.shipment_id
        for s in trade.shipments.values()
        if s.actual_departure is not None or s.status != ShipmentStatus.BOOKED
    )
    if departed:
        raise LifecycleViolation(
            f"cancellation of order {order.order_id} after its goods left "
            f"(shipment{'s' if len(departed) > 1 else ''} {', '.join(departed)}): "
            "an order is not cancelled once goods departed; amend it to what was shipped and settle the "
            "rest with a credit note"
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
            counter = order.counter_offer
            raise LifecycleViolation(
                f"{kind.value.lower()} invoice {e.invoice_number} for order {order.order_id}, "
                + (
                    "whose terms are not agreed: the supplier's counter-offer to revision "
                    f"{counter.revision} awaits the buyer's acceptance"
                    if counter is not None
                    else "which the supplier never accepted"
                )
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
        lines=tuple(
            InvoicedLine(
                line_number=line.line_number,
                hs_code=line.hs_code,
                quantity=line.quantity.value,
                unit=line.quantity.unit,
            )
            for line in e.lines
        ),
    )
    check_invoice(order, invoice)
    if kind == InvoiceKind.FINAL:
        invoice = net(order, invoice)
    stage = order.invoice_stage
    if kind == InvoiceKind.FINAL:
        stage = InvoiceStage.FINAL
    elif kind == InvoiceKind.PROVISIONAL and stage is None:
        stage = InvoiceStage.PROVISIONAL
    return _with(trade, order.evolve(**{"invoices": (*order.invoices, invoice), "invoice_stage": stage}))


def check_invoice(order: OrderState, invoice: Invoice) -> None:
    """Hold an invoice to the agreed lines: raises ``LifecycleViolation`` naming the line and why.

    Each invoiced line is a line of the order, with its HS code and unit; the invoice is in the order's
    currency; what the invoices of one kind (provisional, or final) bill of a line together stays within
    the ordered quantity plus its tolerance (several shipments invoice a line in parts). A credit note is
    held to the lines and HS codes only: it credits, so it cannot overbill."""
    what = f"{invoice.kind.value.lower()} invoice {invoice.invoice_number}"
    agreed = {line.line_number: line for line in order.lines}
    currencies = {line.currency for line in agreed.values()}
    if currencies and invoice.currency not in currencies:
        raise LifecycleViolation(
            f"{what} is in {invoice.currency}, but order {order.order_id} is priced in "
            + ", ".join(sorted(currencies))
        )
    for line in invoice.lines:
        ordered = agreed.get(line.line_number)
        if ordered is None:
            raise LifecycleViolation(
                f"{what} bills line {line.line_number}, which order {order.order_id} does not have "
                f"(its lines: {', '.join(str(n) for n in sorted(agreed))})"
            )
        if line.hs_code != ordered.hs_code:
            raise LifecycleViolation(
                f"{what} line {line.line_number} has HS code {line.hs_code}, but order {order.order_id} "
                f"line {line.line_number} is HS {ordered.hs_code}"
            )
        if line.unit != ordered.unit:
            raise LifecycleViolation(
                f"{what} line {line.line_number} is in {line.unit}, but order {order.order_id} line "
                f"{line.line_number} is ordered in {ordered.unit}"
            )
        if invoice.kind == InvoiceKind.CREDIT_NOTE:
            continue
        before = sum(
            (
                earlier.quantity
                for i in order.invoices
                if i.kind == invoice.kind
                for earlier in i.lines
                if earlier.line_number == line.line_number
            ),
            Decimal(0),
        )
        billed = before + line.quantity
        if billed > ordered.most:
            most = ordered.most.quantize(Decimal("0.001"))
            earlier_part = (
                f" ({before} {line.unit} on earlier {invoice.kind.value.lower()} invoices)" if before else ""
            )
            raise LifecycleViolation(
                f"{what} line {line.line_number} bills {billed} {line.unit} in all{earlier_part}, more than "
                f"order {order.order_id} allows: {ordered.quantity} {ordered.unit} + "
                f"{ordered.tolerance_percent}% tolerance = {most} {ordered.unit}"
            )


def net(order: OrderState, final: Invoice) -> Invoice:
    """The final invoice with the provisional invoices it settles and the balance left to pay.

    It settles every provisional invoice no earlier final invoice settled (with several shipments each
    final invoice settles the provisionals issued since the last one). The balance is the final total
    less theirs: negative when the provisional payments exceeded the final value (owed to the buyer)."""
    settled = {number for i in order.invoices for number in i.nets}
    open_provisionals = [
        i for i in order.invoices if i.kind == InvoiceKind.PROVISIONAL and i.invoice_number not in settled
    ]
    for p in open_provisionals:
        if p.currency != final.currency:
            raise LifecycleViolation(
                f"final invoice {final.invoice_number} is in {final.currency}, but provisional invoice "
                f"{p.invoice_number} it must net is in {p.currency}"
            )
    billed = sum((p.total for p in open_provisionals), Decimal(0))
    return final.evolve(
        **{"nets": tuple(p.invoice_number for p in open_provisionals), "balance": final.total - billed}
    )


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
