"""Lifecycle state machines of a trade: pure functions from (state, event) to a new state (no I/O).

``apply(state, event)`` returns the trade's new immutable ``TradeState`` or raises ``LifecycleViolation``
(the event contradicts the trade: dead-letter it) or ``PrerequisiteMissing`` (it needs something not seen
yet: park it and retry). The rules of single events live in ``domain/rules.py``; these are the rules
that need the events before them.
"""

from corridor.core.domain.lifecycle.errors import LifecycleError, LifecycleViolation, PrerequisiteMissing
from corridor.core.domain.lifecycle.state import (
    CertificateState,
    CertificateStatus,
    CustomsControl,
    CustomsStatus,
    InvoiceStage,
    Milestone,
    OrderState,
    OrderStatus,
    PartyRef,
    ShipmentState,
    ShipmentStatus,
    TimelineEntry,
    TradeState,
)
from corridor.core.domain.lifecycle.trade import apply, new_trade, replay, subject_of

__all__ = [
    "CertificateState",
    "CertificateStatus",
    "CustomsControl",
    "CustomsStatus",
    "InvoiceStage",
    "LifecycleError",
    "LifecycleViolation",
    "Milestone",
    "OrderState",
    "OrderStatus",
    "PartyRef",
    "PrerequisiteMissing",
    "ShipmentState",
    "ShipmentStatus",
    "TimelineEntry",
    "TradeState",
    "apply",
    "new_trade",
    "replay",
    "subject_of",
]
