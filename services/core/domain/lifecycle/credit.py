"""The letter of credit of an order: presentations of documents and what the banks made of them.

The credit's terms come with the order (``OrderPlaced.letter_of_credit``, ``order.placed``); this module
applies ``LetterOfCreditEventRecorded`` (docs/adr/0030-commercial-rules-and-letters-of-credit.md).

Invariants: every credit event names the order's credit; a presentation number is presented once; a
discrepancy or a payment concerns a presentation already recorded (else it waits for it); nothing is
noted against a presentation once it is paid in full; a payment is in the credit's currency and never
takes a presentation beyond its claim nor the credit beyond its amount. The ledger does not examine the
documents — the banks do (UCP 600 article 14) — but records for them which required documents a
presentation lacks and whether it came after the credit expired. Who may send which event is
``trust.py``'s (rule ``credit-bank``).
"""

from __future__ import annotations

from corridor.core.domain.events import CreditEventType, LetterOfCreditEventRecorded
from corridor.core.domain.lifecycle.errors import LifecycleViolation, PrerequisiteMissing
from corridor.core.domain.lifecycle.state import OrderState, Presentation, TradeState


def recorded(trade: TradeState, e: LetterOfCreditEventRecorded) -> TradeState:
    order = trade.order
    if order is None:
        raise PrerequisiteMissing(f"credit event: trade {trade.trade_id} has no order yet")
    if e.order_id != order.order_id:
        raise LifecycleViolation(
            f"credit event names order {e.order_id}, but trade {trade.trade_id} is order {order.order_id}"
        )
    terms = order.letter_of_credit
    if terms is None:
        raise LifecycleViolation(
            f"order {order.order_id} is not paid by a letter of credit stated with the order"
        )
    if e.lc_number != terms.lc_number:
        raise LifecycleViolation(
            f"letter of credit {e.lc_number} is not the credit of order {order.order_id} ({terms.lc_number})"
        )
    if e.amount is not None and e.amount.currency != terms.currency:
        raise LifecycleViolation(
            f"amount in {e.amount.currency}, but letter of credit {terms.lc_number} is in {terms.currency}"
        )
    kind = e.credit_event_type
    if kind == CreditEventType.DOCUMENTS_PRESENTED:
        return _presented(trade, order, e)
    index, presentation = _presentation(order, e)
    if kind == CreditEventType.DISCREPANCY_NOTED:
        if presentation.paid >= presentation.amount:
            raise LifecycleViolation(
                f"discrepancy noted on presentation {presentation.presentation_number} after it was paid"
            )
        presentation = presentation.evolve(
            **{
                "discrepancies": (*presentation.discrepancies, *e.discrepancies),
                "discrepancy_noted_at": e.occurred_at,
            }
        )
    else:
        assert e.amount is not None  # rules.py: a payment states its amount
        paid = e.amount.amount
        if presentation.paid + paid > presentation.amount:
            raise LifecycleViolation(
                f"payment of {paid} {terms.currency} on presentation {presentation.presentation_number} "
                f"exceeds what it claims: {presentation.amount} {terms.currency}, {presentation.paid} paid "
                "already"
            )
        if order.credit_paid + paid > terms.amount:
            raise LifecycleViolation(
                f"payment of {paid} {terms.currency} takes letter of credit {terms.lc_number} beyond its "
                f"amount: {terms.amount} {terms.currency}, {order.credit_paid} paid already"
            )
        presentation = presentation.evolve(**{"paid": presentation.paid + paid, "paid_at": e.occurred_at})
    presentations = (*order.presentations[:index], presentation, *order.presentations[index + 1 :])
    return trade.evolve(**{"order": order.evolve(**{"presentations": presentations})})


def _presentation(order: OrderState, e: LetterOfCreditEventRecorded) -> tuple[int, Presentation]:
    for i, p in enumerate(order.presentations):
        if p.presentation_number == e.presentation_number:
            return i, p
    raise PrerequisiteMissing(
        f"{e.credit_event_type.value} on presentation {e.presentation_number}, which is not presented yet"
    )


def _presented(trade: TradeState, order: OrderState, e: LetterOfCreditEventRecorded) -> TradeState:
    terms = order.letter_of_credit
    assert terms is not None and e.amount is not None  # checked by ``recorded`` and rules.py
    if any(p.presentation_number == e.presentation_number for p in order.presentations):
        raise LifecycleViolation(
            f"presentation {e.presentation_number} under letter of credit {terms.lc_number} was already made"
        )
    issued = {i.invoice_number for i in order.invoices}
    for number in e.invoice_numbers:
        if number not in issued:
            raise PrerequisiteMissing(
                f"presentation names invoice {number}, not issued on order {order.order_id} yet"
            )
    for number in e.transport_document_numbers:
        if number not in trade.documents:
            raise PrerequisiteMissing(f"presentation names transport document {number}, not issued yet")
    documents = tuple(d.value for d in e.documents)
    presentation = Presentation(
        presentation_number=e.presentation_number,
        presented_by=e.sender,
        presented_at=e.occurred_at,
        documents=documents,
        invoice_numbers=tuple(e.invoice_numbers),
        transport_document_numbers=tuple(e.transport_document_numbers),
        amount=e.amount.amount,
        missing_documents=tuple(d for d in terms.documents_required if d not in documents),
        after_expiry=e.occurred_at.date() > terms.expiry_date,
    )
    return trade.evolve(**{"order": order.evolve(**{"presentations": (*order.presentations, presentation)})})
