"""Who may publish what about which trade: the gateway's authorisation (pure, no I/O).

A partner may publish an event when all of these hold (docs/adr/0005-gateway.md,
docs/adr/0016-trade-admission-and-need-to-know.md):

1. its registered role may publish the event type (``roles.PUBLISHER_ROLES``; checked before the data);
2. ``data.sender`` is its own partner id;
3. every party the payload names is a registered, active partner in the role the payload gives it
   (:func:`registry_errors`; otherwise 422 naming the field);
4. the trade's trust rules (``corridor.core.domain.trust.check``) find nothing against it: the trade is
   opened by its buyer's OrderPlaced, the sender is admitted to it (by the buyer or the supplier, with
   PartyAdmitted) and not withdrawn, the field naming the actor is the sender, a certificate is amended
   or revoked only by its issuer (signed, when it was issued signed), and so on. Nobody joins a trade by
   naming itself or by being named.

:class:`TradeView` holds the trust facts of the trades a request touches, folded from their accepted
events (``store.trust_states``), and updates them as the request's events are admitted in order, so a
batch may open a trade and continue it (OrderPlaced, PartyAdmitted …).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from corridor.core.domain import trust
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import Party, PartyAdmitted, PartyWithdrawn
from corridor.core.domain.roles import PUBLISHER_ROLES, may_publish
from corridor.core.domain.trust import TrustState, Violation
from corridor.core.domain.validation import FieldError
from corridor.core.partners import Partner


def _short(event_type: str) -> str:
    return event_type.rsplit(".", 1)[-1]


def role_errors(role: str, event_type: str) -> list[FieldError]:
    """Rule 1 alone (it needs only the type, so it runs before the event's data is validated)."""
    if may_publish(role, event_type):
        return []
    allowed = " or ".join(sorted(PUBLISHER_ROLES.get(event_type, ()))) or "no partner"
    return [
        FieldError("type", f"a {role} may not publish {_short(event_type)}; it is published by {allowed}")
    ]


def registry_errors(event: TradeEvent, registered: Mapping[str, Partner]) -> list[FieldError]:
    """Rule 3: every party id the payload names is a registered, active partner in the role it is
    named in (``registered``: the partners among those ids, active or not)."""
    errors = []
    for path, party_id in trust.named_parties(event).items():
        partner = registered.get(party_id)
        if partner is None:
            errors.append(FieldError(path, f"{party_id!r} is not a registered partner"))
            continue
        if not partner.active:
            errors.append(FieldError(path, f"partner {party_id!r} is disabled"))
            continue
        if isinstance(event, PartyAdmitted | PartyWithdrawn):
            role, role_path = event.role, "data.role"
        else:
            named: object = event
            for name in path.split(".")[1:-1]:  # data.<field>[.<field>…].party_id
                named = getattr(named, name)
            assert isinstance(named, Party)
            role, role_path = named.role, path.rsplit(".", 1)[0] + ".role"
        if role != partner.role:
            errors.append(FieldError(role_path, f"{party_id!r} is registered as {partner.role}, not {role}"))
    return errors


def check(
    partner_id: str, event: TradeEvent, state: TrustState | None, verdict: str | None
) -> list[Violation]:
    """Why ``partner_id`` may not publish ``event`` in a trade with trust facts ``state`` (rules 2 and
    4); empty when it may. ``verdict``: the event's signature verdict, for amendments and revocations."""
    if event.sender != partner_id:
        return [
            Violation(
                "data.sender",
                "actor-is-sender",
                f"must be your partner id {partner_id!r}, not {event.sender!r}",
            )
        ]
    return trust.check(state, event, verdict=verdict)


@dataclass
class TradeView:
    """The trust facts of some trades, updated as the events of one request are admitted in order."""

    states: dict[uuid.UUID, TrustState] = field(default_factory=dict)

    def check(self, partner_id: str, event: TradeEvent, verdict: str | None = None) -> list[Violation]:
        return check(partner_id, event, self.states.get(event.trade_id), verdict)

    def admit(self, event: TradeEvent) -> None:
        """Record what an allowed event changes."""
        self.states[event.trade_id] = trust.admit(self.states.get(event.trade_id), event)
