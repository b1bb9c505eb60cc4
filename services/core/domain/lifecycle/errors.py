"""The two ways an event can fail to apply to a trade's state.

``LifecycleViolation`` — the event contradicts what the trade already records (a response to a revision
that does not exist, a second actual departure, presenting a revoked certificate …). Replaying it can
never succeed: the ledger dead-letters it.

``PrerequisiteMissing`` — the event refers to something not seen *yet* (its trade's order, the shipment
it reports on, the certificate it uses). Parties publish independently on three topics, so this is
normal: the ledger parks the event and retries it later; only after the last retry does it give up.
"""

from __future__ import annotations


class LifecycleError(Exception):
    """Base class: ``reason`` says, for people, why the event does not apply."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LifecycleViolation(LifecycleError):
    """The event breaks the trade's lifecycle; it will never apply."""


class PrerequisiteMissing(LifecycleError):
    """The event needs something the trade does not know yet; it may apply later."""
