"""A licence is one standing authorisation across trades (ADR 0045), through the ledger's planner with an
in-memory licences table: two trades draw on one running total, the draw beyond what is left is refused
naming ``licences[i]``, a redelivered booking draws nothing twice, and nobody but the licence's holder
can book on it. The same through Kafka and PostgreSQL: tests/integration/ledger/test_licence_across_trades.py.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any

import pytest

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import CertificateIssued, CertificateRevoked, ShipmentBooked
from corridor.core.domain.lifecycle import TradeState
from corridor.core.domain.lifecycle.state import LicenceState
from corridor.demo.story import explosives_story
from corridor.ledger import deadletter as dl
from corridor.ledger import planner
from corridor.ledger.views import trade_view

EXPORT = "pk-department-of-explosives/EL-01-2026-0311"
IMPORT = "cn-miit/MIIT-BP-2026-08817"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
TOPIC = "trade.orders.v1"
ORDER, OTHER_ORDER = "MCCK-PO-2026-0042", "MCCK-PO-2026-0099"
POLICY = planner.Policy(("r1",), (5.0,), hold_s=0.0, max_hold_s=0.0)


def again(event: TradeEvent, **changes: Any) -> Any:
    """A new event (new event id) like ``event`` with ``changes`` (validated as on intake)."""
    data = {**event.model_dump(mode="json"), "event_id": str(uuid.uuid4()), **changes}
    return type(event).model_validate(data)


def booking(
    template: ShipmentBooked, trade_id: uuid.UUID, shipment_id: str, tonnes: str, order_id: str | None = None
) -> ShipmentBooked:
    """``tonnes`` of line 1 booked in trade ``trade_id`` (the story's order, or the second trade's), with
    their net explosive mass (1 t = 1,000 kg)."""
    data = template.model_dump(mode="json")
    data["dangerous_goods"][0]["particulars"].update(
        net_explosive_mass_kg=str(Decimal(tonnes) * 1000),
        packages={"count": int(Decimal(tonnes) * 40), "kind": "CT"},
    )
    return again(  # type: ignore[no-any-return]
        template,
        trade_id=str(trade_id),
        order_id=order_id or (ORDER if trade_id == template.trade_id else OTHER_ORDER),
        shipment_id=shipment_id,
        allocations=[{"line_number": 1, "quantity": {"value": tonnes, "unit": "TNE"}}],
        dangerous_goods=data["dangerous_goods"],
    )


class Ledger:
    """The consumer's loop without Kafka or PostgreSQL: states and licence rows in dicts, one plan per
    batch, the licence rows written back as ``LedgerStore.write_batch`` does."""

    def __init__(self) -> None:
        self.states: dict[uuid.UUID, TradeState | None] = {}
        self.licences: dict[str, LicenceState] = {}
        self.offset = 0

    def run(self, *events: TradeEvent) -> planner.Plan:
        stream = []
        for event in events:
            origin = dl.Origin(TOPIC, 0, self.offset, NOW, 1)
            stream.append(planner.Inbound((TOPIC, 0), self.offset, origin, event=event))
            self.offset += 1
        plan = planner.plan(
            [], [stream], self.states, policy=POLICY, now=NOW, clock=0.0, positions={},
            licences=self.licences,
        )  # fmt: skip
        for write in plan.writes:
            self.states[write.state.trade_id] = write.state
        for change in plan.licence_writes:
            assert self.licences.get(change.key) is change.previous  # the version the batch read
            self.licences[change.key] = change.state
        return plan


def refusal(plan: planner.Plan) -> str:
    (dead,) = plan.dead_lettered
    assert dead.error_class == "LifecycleViolation"
    assert not plan.licence_writes  # a refused booking draws nothing
    return dead.reason


@pytest.fixture
def story() -> list[TradeEvent]:
    return capped_story()


def capped_story() -> list[TradeEvent]:
    """The explosives story up to its booking, its two licences authorising 150 t (150,000 kg NEM)."""
    events = explosives_story().events
    upto = next(i for i, e in enumerate(events) if isinstance(e, ShipmentBooked))
    out = []
    for e in events[: upto + 1]:
        if isinstance(e, CertificateIssued) and e.licence is not None:
            terms = e.model_dump(mode="json")["licence"]
            terms["authorised"][0].update(
                net_explosive_mass_kg="150000", quantity={"value": "150", "unit": "TNE"}
            )
            e = again(e, licence=terms)
        out.append(e)
    return out


def second_trade(story: list[TradeEvent], rename: dict[str, str] | None = None) -> list[TradeEvent]:
    """Another order between the same parties (or with ``rename``d parties), its own trade, without
    licences issued into it: up to (not including) its booking."""
    trade_id = uuid.uuid4()
    out = []
    for e in story:
        if isinstance(e, ShipmentBooked) or (isinstance(e, CertificateIssued) and e.licence is not None):
            continue
        text = e.model_dump_json()
        for old, new in {ORDER: OTHER_ORDER, **(rename or {})}.items():
            text = text.replace(f'"{old}"', f'"{new}"')
        out.append(
            type(e).model_validate(
                {**json.loads(text), "event_id": str(uuid.uuid4()), "trade_id": str(trade_id)}
            )
        )
    return out


def test_two_trades_draw_on_one_running_total(story: list[TradeEvent]) -> None:
    ledger = Ledger()
    template = story[-1]
    assert isinstance(template, ShipmentBooked)
    a = template.trade_id
    ledger.run(*story[:-1])
    assert ledger.run(booking(template, a, "S-A1", "120")).applied
    other = second_trade(story)
    b = other[0].trade_id
    ledger.run(*other)
    reason = refusal(ledger.run(booking(template, b, "S-B1", "80")))
    assert reason.startswith("licences[0]: shipment S-B1 would draw 80,000 kg"), reason
    assert "30,000 kg left of the 150,000 kg authorised" in reason
    assert ledger.run(booking(template, b, "S-B1", "30")).applied
    for key in (EXPORT, IMPORT):
        licence = ledger.licences[key]
        (amount,) = licence.authorised
        assert (amount.remaining_net_explosive_mass_kg, amount.remaining_quantity) == (0, 0)
        assert [(d.trade_id, d.shipment_id) for d in licence.drawdowns] == [(a, "S-A1"), (b, "S-B1")]
        assert licence.issued_in == a
    # trade B holds its copy of the licence as of its booking; trade A's copy is older
    b_state = ledger.states[b]
    assert b_state is not None and b_state.licences[EXPORT] == ledger.licences[EXPORT]


def test_both_trades_in_one_batch_are_drawn_one_after_the_other(story: list[TradeEvent]) -> None:
    ledger = Ledger()
    template = story[-1]
    assert isinstance(template, ShipmentBooked)
    other = second_trade(story)
    plan = ledger.run(
        *story[:-1], *other, booking(template, template.trade_id, "S-A1", "120"),
        booking(template, other[0].trade_id, "S-B1", "80"),
    )  # fmt: skip
    (dead,) = plan.dead_lettered
    assert "S-B1" in dead.reason and "30,000 kg left" in dead.reason
    (amount,) = ledger.licences[EXPORT].authorised
    assert amount.drawn_net_explosive_mass_kg == 120_000


def test_a_redelivered_booking_draws_nothing_twice(story: list[TradeEvent]) -> None:
    ledger = Ledger()
    template = story[-1]
    assert isinstance(template, ShipmentBooked)
    ledger.run(*story[:-1])
    first = booking(template, template.trade_id, "S-A1", "100")
    ledger.run(first)
    plan = ledger.run(first)  # the same record again: a redelivery after a crash before the commit
    assert plan.duplicates and not plan.applied and not plan.licence_writes
    (amount,) = ledger.licences[EXPORT].authorised
    assert amount.drawn_net_explosive_mass_kg == 100_000
    assert len(ledger.licences[EXPORT].drawdowns) == 1


def test_nobody_but_the_holder_books_on_a_licence(story: list[TradeEvent]) -> None:
    """Another buyer's order names the licences of mcc-kashgar-mining: its import approval is not theirs."""
    ledger = Ledger()
    template = story[-1]
    assert isinstance(template, ShipmentBooked)
    ledger.run(*story[:-1])
    other = second_trade(story, {"mcc-kashgar-mining": "xinjiang-blasting"})
    ledger.run(*other)
    reason = refusal(ledger.run(booking(template, other[0].trade_id, "S-X1", "10")))
    assert reason.startswith("licences[1]: licence MIIT-BP-2026-08817 is held by mcc-kashgar-mining, not by "
                             "this order's buyer xinjiang-blasting"), reason  # fmt: skip
    assert ledger.licences[EXPORT].drawdowns == ()


def test_a_licence_revoked_in_its_trade_is_dead_in_every_trade(story: list[TradeEvent]) -> None:
    ledger = Ledger()
    template = story[-1]
    assert isinstance(template, ShipmentBooked)
    ledger.run(*story[:-1])
    licence = next(e for e in story if isinstance(e, CertificateIssued) and e.licence is not None)
    ledger.run(
        CertificateRevoked(
            event_id=uuid.uuid4(), trade_id=licence.trade_id,
            occurred_at=template.occurred_at - dt.timedelta(hours=1), sender=licence.sender,
            certificate_number=licence.certificate_number, issuer=licence.issuer,
            reason="magazine licence suspended",
        )
    )  # fmt: skip
    other = second_trade(story)
    ledger.run(*other)
    assert "licences[0]: licence EL-01-2026-0311 of pk-department-of-explosives is revoked" in refusal(
        ledger.run(booking(template, other[0].trade_id, "S-B1", "10"))
    )


def test_a_licence_issued_again_keeps_one_total_and_its_terms(story: list[TradeEvent]) -> None:
    """The authority presents the same licence into a second trade: the same terms share the running
    total; other terms are refused (a licence is amended, not issued again)."""
    ledger = Ledger()
    template = story[-1]
    assert isinstance(template, ShipmentBooked)
    ledger.run(*story[:-1])
    ledger.run(booking(template, template.trade_id, "S-A1", "120"))
    other = second_trade(story)
    b = other[0].trade_id
    ledger.run(*other)
    licences = [e for e in story if isinstance(e, CertificateIssued) and e.licence is not None]
    terms = licences[0].model_dump(mode="json")["licence"]
    terms["authorised"][0]["net_explosive_mass_kg"] = "900000"
    reason = refusal(
        ledger.run(again(licences[0], trade_id=str(b), order_id=other[0].order_id, licence=terms))
    )
    assert "licence: licence EL-01-2026-0311 of pk-department-of-explosives is already issued" in reason
    same = [again(e, trade_id=str(b), order_id=other[0].order_id) for e in licences]
    assert len(ledger.run(*same).applied) == 2
    assert "30,000 kg left" in refusal(ledger.run(booking(template, b, "S-B1", "80")))


def test_only_the_holder_and_issuer_see_the_other_trades_draws(story: list[TradeEvent]) -> None:
    """In trade B, the buyer sees the supplier's export licence drawn by trade B only, not what is left
    (that would tell it what the supplier shipped to others); the supplier, its holder, sees it all."""
    ledger = Ledger()
    template = story[-1]
    assert isinstance(template, ShipmentBooked)
    ledger.run(*story[:-1], booking(template, template.trade_id, "S-A1", "120"))
    other = second_trade(story)
    b = other[0].trade_id
    ledger.run(*other, booking(template, b, "S-B1", "30"))
    state = ledger.states[b]
    assert state is not None
    today = dt.date(2026, 6, 1)

    def export_licence(reader: str) -> dict[str, Any]:
        return next(x for x in trade_view(state, None, today, reader)["licences"] if x["issuer"] in EXPORT)

    seen = export_licence("mcc-kashgar-mining")
    assert [d["shipment_id"] for d in seen["drawdowns"]] == ["S-B1"]
    assert seen["remaining"] == []
    assert seen["authorised"][0]["drawn_net_explosive_mass_kg"] == "30000"
    whole = export_licence("wah-nobel")
    assert [d["shipment_id"] for d in whole["drawdowns"]] == ["S-A1", "S-B1"]
    assert whole["remaining"][0]["remaining_net_explosive_mass_kg"] == "0"
