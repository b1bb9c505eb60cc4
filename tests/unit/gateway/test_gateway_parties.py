"""The gateway's authorisation (services/gateway/parties.py): role, sender, registered parties, and the
trust rules over a request's events in order. Pure."""

from __future__ import annotations

import uuid

from corridor.core.domain.events import PartyAdmitted
from corridor.core.partners import Partner
from corridor.demo import story
from corridor.demo.story import chromite_story
from corridor.gateway.parties import TradeView, registry_errors, role_errors


def _partner(partner_id: str, role: str, status: str = "active") -> Partner:
    return Partner(partner_id=partner_id, role=role, name=partner_id, status=status, key_id="k")


def test_role_errors_name_the_type() -> None:
    assert role_errors("BUYER", "corridor.trade.orders.OrderPlaced") == []
    (error,) = role_errors("CARRIER", "corridor.trade.orders.PartyAdmitted")
    assert error.field == "type" and "BUYER or SUPPLIER" in error.reason


def test_every_named_party_must_be_registered_active_and_in_its_role() -> None:
    placed = chromite_story().events[0]
    buyer, supplier = story.BUYER.party_id, story.SUPPLIER.party_id
    assert (
        registry_errors(placed, {buyer: _partner(buyer, "BUYER"), supplier: _partner(supplier, "SUPPLIER")})
        == []
    )
    (missing,) = registry_errors(placed, {buyer: _partner(buyer, "BUYER")})
    assert (missing.field, missing.reason) == (
        "data.supplier.party_id",
        f"{supplier!r} is not a registered partner",
    )
    (disabled,) = registry_errors(
        placed, {buyer: _partner(buyer, "BUYER"), supplier: _partner(supplier, "SUPPLIER", "disabled")}
    )
    assert disabled.field == "data.supplier.party_id" and "disabled" in disabled.reason
    (wrong,) = registry_errors(
        placed, {buyer: _partner(buyer, "BUYER"), supplier: _partner(supplier, "BUYER")}
    )
    assert (wrong.field, wrong.reason) == (
        "data.supplier.role",
        f"{supplier!r} is registered as BUYER, not SUPPLIER",
    )
    admission = next(e for e in chromite_story().events if isinstance(e, PartyAdmitted))
    (role,) = registry_errors(admission, {admission.party_id: _partner(admission.party_id, "CUSTOMS")})
    assert role.field == "data.role"


def test_a_batch_opens_a_trade_and_continues_it_and_the_sender_is_bound() -> None:
    events = chromite_story().events
    view = TradeView()
    for event in events[:8]:
        assert view.check(event.sender, event) == [], event
        view.admit(event)
    (forged,) = view.check("someone-else", events[8])
    assert (forged.field, forged.rule) == ("data.sender", "actor-is-sender")
    stranger = events[8].model_copy(update={"event_id": uuid.uuid4(), "trade_id": uuid.uuid4()})
    assert [v.rule for v in view.check(stranger.sender, stranger)] == ["trade-opened-by-buyer"]
