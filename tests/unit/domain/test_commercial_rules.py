"""Commercial rules of an order and its letter of credit (ADR 0030), pure: counter-offers, cancellation
after departure, invoices against the order's lines and tolerance, netting, the credit's terms and events,
and who may send each credit event."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from corridor.core.domain import trust
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import (
    InvoiceIssued,
    LetterOfCreditEventRecorded,
    OrderAmended,
    OrderCancelled,
    OrderPlaced,
    OrderResponded,
    PartyAdmitted,
    ShipmentBooked,
    TransportEventRecorded,
)
from corridor.core.domain.lifecycle import (
    LifecycleViolation,
    OrderStatus,
    PrerequisiteMissing,
    TradeState,
    apply,
    replay,
)
from corridor.demo import story
from corridor.demo.story import chromite_story

ORDER = "TJRD-PO-2026-0117"
LC = "HCB-TJ-LC-26-00417"


@pytest.fixture
def chromite() -> list[TradeEvent]:
    return chromite_story().events


def _new(event: TradeEvent, **changes: Any) -> Any:
    data = {**event.model_dump(), "event_id": uuid.uuid4(), **changes}
    return type(event).model_validate(data)


def _first(events: list[TradeEvent], cls: type[TradeEvent], **match: Any) -> Any:
    return next(e for e in events if isinstance(e, cls) and all(getattr(e, k) == v for k, v in match.items()))


def _before(events: list[TradeEvent], stop: TradeEvent) -> TradeState:
    state = replay(events[: events.index(stop)])
    assert state is not None
    return state


def _refused(state: TradeState | None, event: TradeEvent, *fragments: str) -> str:
    with pytest.raises(LifecycleViolation) as info:
        apply(state, event)
    for fragment in fragments:
        assert fragment in info.value.reason, info.value.reason
    return info.value.reason


def _line(placed: OrderPlaced, **changes: Any) -> dict[str, Any]:
    return {**placed.model_dump()["lines"][0], **changes}


def _invoice_line(tonnes: str, price: str = "285.50", **changes: Any) -> dict[str, Any]:
    q, p = Decimal(tonnes), Decimal(price)
    return {
        "line_number": 1,
        "hs_code": "261000",
        "quantity": {"value": q, "unit": "TNE"},
        "unit_price": {"amount": p, "currency": "USD"},
        "amount": {"amount": (q * p).quantize(Decimal("0.0001")), "currency": "USD"},
        **changes,
    }


def _invoice(like: InvoiceIssued, number: str, kind: str, *lines: dict[str, Any]) -> InvoiceIssued:
    total = sum((line["amount"]["amount"] for line in lines), Decimal(0))
    return _new(  # type: ignore[no-any-return]
        like,
        invoice_number=number,
        invoice_kind=kind,
        lines=list(lines),
        total={"amount": total, "currency": "USD"},
    )


# -- counter-offers ------------------------------------------------------------------------------------


def _countered(chromite: list[TradeEvent]) -> tuple[TradeState, list[dict[str, Any]]]:
    placed, accepted = chromite[:2]
    assert isinstance(placed, OrderPlaced)
    counter = [_line(placed, quantity={"value": Decimal("4800.000"), "unit": "TNE"})]
    state = replay(
        [placed, _new(accepted, response="ACCEPTED_WITH_AMENDMENT", counter_lines=counter, reason="stock")]
    )
    assert state is not None
    return state, counter


def test_a_counter_offer_leaves_the_order_unagreed_and_refuses_its_invoice(
    chromite: list[TradeEvent],
) -> None:
    state, _ = _countered(chromite)
    assert state.order is not None
    assert state.order.status == OrderStatus.ACCEPTED_WITH_AMENDMENT
    assert state.order.agreed_revision is None and state.order.lines[0].quantity == Decimal("5000.000")
    provisional = _first(chromite, InvoiceIssued, invoice_kind="PROVISIONAL")
    _refused(
        state, _new(provisional), "whose terms are not agreed", "counter-offer to revision 0 awaits the buyer"
    )


def test_the_buyer_accepts_a_counter_offer_with_its_lines(chromite: list[TradeEvent]) -> None:
    state, counter = _countered(chromite)
    amendment = _first(chromite, OrderAmended)
    accepted = apply(state, _new(amendment, lines=counter, accepts_counter_offer=True, reason="agreed"))
    order = accepted.order
    assert order is not None and order.status == OrderStatus.ACCEPTED
    assert order.agreed_revision == 1 and order.lines[0].quantity == Decimal("4800.000")
    assert order.revisions[1].response_reason == "the buyer accepts the counter-offer to revision 0"


def test_an_acceptance_must_take_the_counter_lines_as_offered(chromite: list[TradeEvent]) -> None:
    state, counter = _countered(chromite)
    amendment = _first(chromite, OrderAmended)
    other = [{**counter[0], "unit_price": {"amount": Decimal("280.00"), "currency": "USD"}}]
    _refused(state, _new(amendment, lines=other, accepts_counter_offer=True), "its line 1 differs")
    extra = [*counter, {**counter[0], "line_number": 2}]
    _refused(
        state,
        _new(amendment, lines=extra, accepts_counter_offer=True),
        "with lines [1, 2]",
        "offered lines [1]",
    )


def test_no_counter_offer_no_acceptance(chromite: list[TradeEvent]) -> None:
    placed, accepted, amendment = chromite[:3]
    accept = _new(amendment, accepts_counter_offer=True)
    _refused(replay([placed]), accept, "revision 0 is not answered yet", "no counter-offer to accept")
    _refused(replay([placed, accepted]), accept, "revision 0 was answered ACCEPTED")


def test_a_counter_offer_to_an_amendment_keeps_the_agreed_revision(chromite: list[TradeEvent]) -> None:
    placed, accepted, amendment, accepted_1 = chromite[:4]
    assert isinstance(placed, OrderPlaced)
    counter = [_line(placed, quantity={"value": Decimal("5200.000"), "unit": "TNE"})]
    countered = _new(accepted_1, response="ACCEPTED_WITH_AMENDMENT", counter_lines=counter, reason="capacity")
    state = replay([placed, accepted, amendment, countered])
    assert state is not None and state.order is not None
    assert state.order.status == OrderStatus.ACCEPTED_WITH_AMENDMENT
    assert state.order.agreed_revision == 0 and state.order.lines[0].quantity == Decimal("5000.000")


# -- cancellation --------------------------------------------------------------------------------------


def _cancel(after: TradeEvent) -> OrderCancelled:
    return OrderCancelled(
        event_id=uuid.uuid4(),
        trade_id=after.trade_id,
        occurred_at=after.occurred_at + dt.timedelta(hours=1),
        sender=story.BUYER.party_id,
        order_id=ORDER,
        reason="market fell",
    )


def test_an_order_is_cancelled_while_its_goods_have_not_left(chromite: list[TradeEvent]) -> None:
    booked = _first(chromite, ShipmentBooked)
    state = replay(chromite[: chromite.index(booked) + 1])
    assert state is not None
    order = apply(state, _cancel(booked)).order
    assert order is not None and order.status == OrderStatus.CANCELLED


def test_no_cancellation_once_goods_departed(chromite: list[TradeEvent]) -> None:
    departed = _first(chromite, TransportEventRecorded, transport_event_type="DEPA", classifier="ACT")
    state = replay(chromite[: chromite.index(departed) + 1])
    _refused(state, _cancel(departed), "after its goods left (shipment IOL-KHI-TXG-26-0412)", "credit note")


# -- invoices against the order ------------------------------------------------------------------------


def test_a_final_invoice_nets_the_provisional_and_states_the_balance(chromite: list[TradeEvent]) -> None:
    final = _first(chromite, InvoiceIssued, invoice_kind="FINAL")
    state = apply(_before(chromite, final), final)
    assert state.order is not None
    (invoice,) = [i for i in state.order.invoices if i.kind.value == "FINAL"]
    assert invoice.nets == ("ZVC-INV-2026-0031",)
    assert invoice.balance == Decimal("4886.5700") == state.order.balance_due


def test_an_overbilled_final_invoice_leaves_a_negative_balance(chromite: list[TradeEvent]) -> None:
    final = _first(chromite, InvoiceIssued, invoice_kind="FINAL")
    lower = _invoice(final, "ZVC-INV-2026-0039", "FINAL", _invoice_line("5400.000", "285.00"))
    state = apply(_before(chromite, final), lower)
    assert state.order is not None
    assert state.order.balance_due == Decimal("1539000.0000") - Decimal("1573790.2000")


def test_a_provisional_over_the_tolerance_is_refused(chromite: list[TradeEvent]) -> None:
    provisional = _first(chromite, InvoiceIssued, invoice_kind="PROVISIONAL")
    state = _before(chromite, provisional)
    over = _invoice(provisional, "ZVC-INV-2026-0032", "PROVISIONAL", _invoice_line("6050.001"))
    _refused(state, over, "bills 6050.001 TNE in all", "5500.000 TNE + 10.00% tolerance = 6050.000 TNE")
    at_most = _invoice(provisional, "ZVC-INV-2026-0032", "PROVISIONAL", _invoice_line("6050.000"))
    assert apply(state, at_most).order is not None


def test_invoices_of_one_kind_add_up_against_the_tolerance(chromite: list[TradeEvent]) -> None:
    provisional = _first(chromite, InvoiceIssued, invoice_kind="PROVISIONAL")
    state = apply(_before(chromite, provisional), provisional)  # 5512.4 TNE
    second = _invoice(provisional, "ZVC-INV-2026-0033", "PROVISIONAL", _invoice_line("600.000"))
    _refused(state, second, "bills 6112.400 TNE in all (5512.400 TNE on earlier provisional invoices)")
    credit = _invoice(provisional, "ZVC-CN-2026-0001", "CREDIT_NOTE", _invoice_line("600.000"))
    assert apply(state, credit).order is not None  # a credit note credits: no quantity ceiling


def test_an_invoice_line_must_be_an_order_line_with_its_hs_code_and_unit(chromite: list[TradeEvent]) -> None:
    provisional = _first(chromite, InvoiceIssued, invoice_kind="PROVISIONAL")
    state = _before(chromite, provisional)
    number = "ZVC-INV-2026-0034"
    wrong_hs = _invoice(provisional, number, "PROVISIONAL", _invoice_line("100.000", hs_code="261900"))
    _refused(state, wrong_hs, "line 1 has HS code 261900, but order TJRD-PO-2026-0117 line 1 is HS 261000")
    unknown = _invoice(provisional, number, "PROVISIONAL", _invoice_line("100.000", line_number=2))
    _refused(state, unknown, "bills line 2, which order TJRD-PO-2026-0117 does not have (its lines: 1)")
    kgm = _invoice_line("100.000")
    kgm["quantity"]["unit"] = "KGM"
    _refused(state, _invoice(provisional, number, "PROVISIONAL", kgm), "is in KGM", "ordered in TNE")


def test_an_invoice_in_another_currency_is_refused(chromite: list[TradeEvent]) -> None:
    provisional = _first(chromite, InvoiceIssued, invoice_kind="PROVISIONAL")
    line = _invoice_line("100.000")
    line["unit_price"]["currency"] = line["amount"]["currency"] = "CNY"
    cny = _new(provisional, invoice_number="ZVC-INV-2026-0035", lines=[line], total={**line["amount"]})
    _refused(_before(chromite, provisional), cny, "is in CNY, but order TJRD-PO-2026-0117 is priced in USD")


# -- letter of credit terms (single-event rules) -------------------------------------------------------


def _placed_with(chromite: list[TradeEvent], **changes: Any) -> dict[str, Any]:
    data = chromite[0].model_dump()
    data["letter_of_credit"] = {**data["letter_of_credit"], **changes}
    return data


def _errors(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        OrderPlaced.model_validate(data)
    return str(info.value)


def test_credit_terms_only_with_letter_of_credit_payment(chromite: list[TradeEvent]) -> None:
    data = {**_placed_with(chromite), "payment_terms": "TELEGRAPHIC_TRANSFER"}
    assert "letter_of_credit: only an order paid by LETTER_OF_CREDIT carries credit terms" in _errors(data)


def test_credit_terms_are_consistent(chromite: list[TradeEvent]) -> None:
    late = _placed_with(chromite, latest_shipment_date=dt.date(2026, 5, 1))
    assert (
        "letter_of_credit.latest_shipment_date: must not be after the credit's expiry_date 2026-04-30"
        in _errors(late)
    )
    same = _placed_with(chromite, advising_bank=chromite[0].model_dump()["letter_of_credit"]["issuing_bank"])
    assert "letter_of_credit.advising_bank.party_id: the advising bank is another bank" in _errors(same)
    cny = _placed_with(chromite, amount={"amount": Decimal("1"), "currency": "CNY"})
    assert "letter_of_credit.amount.currency: must be USD, the currency of the order's lines" in _errors(cny)
    none = _placed_with(chromite, documents_required=[])
    assert (
        "letter_of_credit.documents_required: a documentary credit calls for at least one document"
        in _errors(none)
    )
    not_a_bank = _placed_with(chromite, issuing_bank=story.BUYER)
    assert "letter_of_credit.issuing_bank.role: must be BANK, got BUYER" in _errors(not_a_bank)


def test_order_without_credit_terms_still_reads(chromite: list[TradeEvent]) -> None:
    data = chromite[0].model_dump()
    del data["letter_of_credit"]  # an order placed before the terms were carried
    assert OrderPlaced.model_validate(data).letter_of_credit is None


def _credit_event(chromite: list[TradeEvent], kind: str, **changes: Any) -> dict[str, Any]:
    base = _first(chromite, LetterOfCreditEventRecorded, credit_event_type="DOCUMENTS_PRESENTED")
    data = {**base.model_dump(), "event_id": uuid.uuid4(), "credit_event_type": kind}
    if kind != "DOCUMENTS_PRESENTED":
        data.update(documents=[], invoice_numbers=[])
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("kind", "changes", "expected"),
    [
        ("DOCUMENTS_PRESENTED", {"documents": []}, "documents: a presentation lists the documents presented"),
        ("DOCUMENTS_PRESENTED", {"amount": None}, "amount: required: the amount claimed by the presentation"),
        (
            "DISCREPANCY_NOTED",
            {"amount": None},
            "discrepancies: say what does not comply (UCP 600 article 16)",
        ),
        ("DISCREPANCY_NOTED", {"discrepancies": ["late"]}, "amount: a discrepancy moves no money"),
        ("PAYMENT_MADE", {"amount": None}, "amount: required: the amount paid"),
        ("PAYMENT_MADE", {"documents": ["PACKING_LIST"]}, "documents: only DOCUMENTS_PRESENTED lists"),
        ("PAYMENT_MADE", {"discrepancies": ["x"]}, "discrepancies: only DISCREPANCY_NOTED lists"),
    ],
)
def test_what_each_credit_event_must_say(
    chromite: list[TradeEvent], kind: str, changes: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValidationError) as info:
        LetterOfCreditEventRecorded.model_validate(_credit_event(chromite, kind, **changes))
    assert expected in str(info.value)


# -- letter of credit lifecycle ------------------------------------------------------------------------


def _presented(chromite: list[TradeEvent]) -> tuple[TradeState, LetterOfCreditEventRecorded]:
    presented = _first(chromite, LetterOfCreditEventRecorded, credit_event_type="DOCUMENTS_PRESENTED")
    return apply(_before(chromite, presented), presented), presented


def _credit(like: LetterOfCreditEventRecorded, kind: str, **changes: Any) -> LetterOfCreditEventRecorded:
    data = {**like.model_dump(), "event_id": uuid.uuid4(), "credit_event_type": kind, **changes}
    if kind != "DOCUMENTS_PRESENTED":
        data.update(documents=[], invoice_numbers=[], transport_document_numbers=[])
    if kind == "DISCREPANCY_NOTED":
        data.setdefault("amount", None)
        data["amount"] = changes.get("amount")
    return LetterOfCreditEventRecorded.model_validate(data)


def test_a_presentation_is_recorded_with_what_it_lacks(chromite: list[TradeEvent]) -> None:
    presented = _first(chromite, LetterOfCreditEventRecorded, credit_event_type="DOCUMENTS_PRESENTED")
    partial = _credit(presented, "DOCUMENTS_PRESENTED", documents=["COMMERCIAL_INVOICE", "BILL_OF_LADING"])
    state = apply(_before(chromite, presented), partial)
    assert state.order is not None
    (p,) = state.order.presentations
    assert p.missing_documents == ("CERTIFICATE_OF_ORIGIN", "INSPECTION_CERTIFICATE")
    assert not p.after_expiry and p.amount == Decimal("1573790.2000")
    late = _credit(presented, "DOCUMENTS_PRESENTED", occurred_at=dt.datetime(2026, 5, 2, tzinfo=dt.UTC))
    assert apply(_before(chromite, presented), late).order.presentations[0].after_expiry  # type: ignore[union-attr]


def test_a_presentation_is_made_once_and_names_known_invoices(chromite: list[TradeEvent]) -> None:
    state, presented = _presented(chromite)
    _refused(
        state, _credit(presented, "DOCUMENTS_PRESENTED"), "presentation ICB-KHI-EXP-26-1187", "already made"
    )
    unknown = _credit(presented, "DOCUMENTS_PRESENTED", presentation_number="P-2", invoice_numbers=["ZVC-X"])
    with pytest.raises(PrerequisiteMissing, match="invoice ZVC-X, not issued"):
        apply(state, unknown)


def test_a_discrepancy_then_a_payment(chromite: list[TradeEvent]) -> None:
    state, presented = _presented(chromite)
    noted = _credit(presented, "DISCREPANCY_NOTED", discrepancies=["B/L shows transhipment at Port Klang"])
    state = apply(state, noted)
    paid = _credit(presented, "PAYMENT_MADE", amount={"amount": Decimal("1000000.0000"), "currency": "USD"})
    state = apply(state, paid)
    assert state.order is not None
    (p,) = state.order.presentations
    assert p.discrepancies == ("B/L shows transhipment at Port Klang",) and p.paid == Decimal("1000000.0000")
    rest = _credit(presented, "PAYMENT_MADE", amount={"amount": Decimal("573790.2001"), "currency": "USD"})
    _refused(state, rest, "exceeds what it claims: 1573790.2000 USD, 1000000.0000 paid already")


def test_nothing_noted_after_full_payment(chromite: list[TradeEvent]) -> None:
    paid = _first(chromite, LetterOfCreditEventRecorded, credit_event_type="PAYMENT_MADE")
    state = apply(_before(chromite, paid), paid)
    noted = _credit(paid, "DISCREPANCY_NOTED", discrepancies=["late"])
    _refused(state, noted, "after it was paid")


def test_a_payment_never_exceeds_the_credit(chromite: list[TradeEvent]) -> None:
    state, presented = _presented(chromite)
    big = Decimal("1727275.0000")
    second = _credit(
        presented, "DOCUMENTS_PRESENTED", presentation_number="P-2", amount={"amount": big, "currency": "USD"}
    )
    state = apply(apply(state, _credit(presented, "PAYMENT_MADE")), second)
    over = _credit(second, "PAYMENT_MADE", amount={"amount": Decimal("153485.0001"), "currency": "USD"})
    _refused(state, over, "beyond its amount: 1727275.0000 USD, 1573790.2000 paid already")


def test_credit_events_name_the_orders_credit_and_a_known_presentation(chromite: list[TradeEvent]) -> None:
    state, presented = _presented(chromite)
    _refused(state, _credit(presented, "PAYMENT_MADE", lc_number="OTHER-LC"), "OTHER-LC is not the credit")
    cny = _credit(presented, "PAYMENT_MADE", amount={"amount": Decimal("1"), "currency": "CNY"})
    _refused(state, cny, "amount in CNY, but letter of credit HCB-TJ-LC-26-00417 is in USD")
    with pytest.raises(PrerequisiteMissing, match="P-9, which is not presented yet"):
        apply(state, _credit(presented, "PAYMENT_MADE", presentation_number="P-9"))


def test_no_credit_events_on_an_order_without_a_credit(chromite: list[TradeEvent]) -> None:
    presented = _first(chromite, LetterOfCreditEventRecorded, credit_event_type="DOCUMENTS_PRESENTED")
    events = [_new(chromite[0], letter_of_credit=None), *chromite[1 : chromite.index(presented)]]
    state = replay(events)
    _refused(state, presented, "is not paid by a letter of credit")


# -- who may send which credit event (trust) -----------------------------------------------------------


def _trust_before(chromite: list[TradeEvent], stop: TradeEvent) -> trust.TrustState:
    state: trust.TrustState | None = None
    for event in chromite[: chromite.index(stop)]:
        state = trust.admit(state, event)
    assert state is not None
    return state


def _rules(state: trust.TrustState, event: TradeEvent) -> list[tuple[str, str]]:
    return [(v.field, v.rule) for v in trust.check(state, event)]


def test_the_credit_banks_are_folded_from_the_order(chromite: list[TradeEvent]) -> None:
    state = trust.admit(None, chromite[0])
    assert state.credits[LC] == trust.CreditFacts(
        issuing_bank="haihe-commercial-bank", advising_bank="indus-commercial-bank"
    )


def test_who_sends_each_credit_event(chromite: list[TradeEvent]) -> None:
    presented = _first(chromite, LetterOfCreditEventRecorded, credit_event_type="DOCUMENTS_PRESENTED")
    state = _trust_before(chromite, presented)
    supplier, issuing, advising = (
        story.SUPPLIER.party_id,
        story.ISSUING_BANK.party_id,
        story.ADVISING_BANK.party_id,
    )
    allowed = {
        ("DOCUMENTS_PRESENTED", supplier),
        ("DOCUMENTS_PRESENTED", advising),
        ("DISCREPANCY_NOTED", issuing),
        ("DISCREPANCY_NOTED", advising),
        ("PAYMENT_MADE", issuing),
        ("PAYMENT_MADE", advising),
    }
    for kind in ("DOCUMENTS_PRESENTED", "DISCREPANCY_NOTED", "PAYMENT_MADE"):
        for sender in (supplier, issuing, advising):
            extra = {"discrepancies": ["x"]} if kind == "DISCREPANCY_NOTED" else {}
            event = _credit(presented, kind, sender=sender, **extra)
            expected = [] if (kind, sender) in allowed else [("data.credit_event_type", "credit-bank")]
            assert _rules(state, event) == expected, (kind, sender)


def test_a_buyer_or_carrier_sends_no_credit_event(chromite: list[TradeEvent]) -> None:
    paid = _first(chromite, LetterOfCreditEventRecorded, credit_event_type="PAYMENT_MADE")
    state = _trust_before(chromite, paid)
    for sender in (story.BUYER.party_id, story.CARRIER.party_id):
        assert _rules(state, _new(paid, sender=sender)) == [("type", "role-in-trade")]


def test_a_bank_not_admitted_or_not_of_the_credit(chromite: list[TradeEvent]) -> None:
    paid = _first(chromite, LetterOfCreditEventRecorded, credit_event_type="PAYMENT_MADE")
    admitted = _first(chromite, PartyAdmitted, party_id=story.ISSUING_BANK.party_id)
    unadmitted = _trust_before(chromite, admitted)
    assert _rules(unadmitted, paid) == [("data.sender", "admitted-party")]
    other = "bank-of-somewhere"
    state = trust.admit(
        _trust_before(chromite, paid), _new(admitted, party_id=other, sender=story.BUYER.party_id)
    )
    assert _rules(state, _new(paid, sender=other)) == [("data.credit_event_type", "credit-bank")]
    assert _rules(state, _new(paid, lc_number="OTHER-LC")) == [("data.lc_number", "credit-bank")]


def test_a_bank_receives_the_credit_the_invoices_and_transport_documents_only() -> None:
    assert trust.RECEIVES["BANK"] == {
        "corridor.trade.orders.LetterOfCreditEventRecorded",
        "corridor.trade.orders.InvoiceIssued",
        "corridor.trade.shipments.TransportDocumentEventRecorded",
    }
    assert "corridor.trade.orders.LetterOfCreditEventRecorded" not in trust.RECEIVES["CARRIER"]


def test_the_credit_names_its_banks_but_admits_neither(chromite: list[TradeEvent]) -> None:
    """Naming a partner admits nobody (ADR 0016): a bank acts only once a principal admitted it."""
    state = trust.admit(None, chromite[0])
    assert state.parties == ("tianjin-rongda-smelting", "zhob-valley-chromite")
    assert "haihe-commercial-bank" not in trust.named_parties(chromite[0]).values()


def test_the_response_to_a_counter_offer_is_the_buyers(chromite: list[TradeEvent]) -> None:
    """A supplier cannot accept its own counter-offer: the acceptance is an OrderAmended, the buyer's."""
    amendment = _first(chromite, OrderAmended)
    state = _trust_before(chromite, amendment)
    forged = _new(amendment, sender=story.SUPPLIER.party_id, accepts_counter_offer=True)
    assert _rules(state, forged) == [("type", "role-in-trade")]
    assert isinstance(chromite[1], OrderResponded)


def test_the_ledger_view_states_the_balance_and_a_bank_sees_the_credit_not_the_negotiation() -> None:
    from corridor.ledger.views import trade_view

    state = replay(chromite_story().events)
    assert state is not None
    today = dt.date(2026, 4, 1)
    whole = trade_view(state, None, today, story.BUYER.party_id)
    assert whole["order"]["balance_due"] == "4886.5700" and whole["order"]["credit_paid"] == "1573790.2000"
    assert whole["order"]["invoices"][1]["nets"] == ["ZVC-INV-2026-0031"]
    bank = trade_view(state, None, today, story.ISSUING_BANK.party_id)
    assert set(bank["order"]) == {"invoices", "letter_of_credit", "presentations", "credit_paid"}
    assert bank["order"]["letter_of_credit"]["lc_number"] == LC
    assert bank["shipments"] == [] and bank["certificates"] == []
    assert {t["type"] for t in bank["timeline"]} == {
        "InvoiceIssued",
        "LetterOfCreditEventRecorded",
        "PartyAdmitted",
    }
