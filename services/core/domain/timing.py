"""The times an event carries and the rules between them and the clock (pure, no I/O; ADR 0026).

Every trade event has two instants (docs/domain.md §4):

* ``occurred_at`` — the business time: when the thing happened, or, for a planned (PLN) or estimated
  (EST) milestone, when it is planned or expected to happen. It may lie far in the future (an ETA
  months ahead); it is never the Kafka record timestamp (that is the time of publication).
* ``created_at`` — when the sender's system created the event (DCSA's event created time). Optional on
  the wire; the gateway sets it to the moment it received the event when the sender left it out
  (:func:`stamped`).

Invariants checked here, with the clock passed in (``now``) so the rules stay pure:

* ``created_at`` is never later than ``now`` plus :data:`CLOCK_SKEW`;
* an actual (ACT) milestone has happened: its ``occurred_at`` is never later than ``now`` plus
  :data:`CLOCK_SKEW`; planned and estimated ones may lie at any time the schema allows.

The rule that needs no clock — an actual event is not created before it happened — is in
``rules.py`` (it holds for every reader at any later time, so the ledger can apply it on replay).

Successive PLN or EST times of one milestone replace each other in the order they were *created*
(:func:`supersedes`), not in the order of the times they estimate, nor only in arrival order.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from corridor.core.domain.base import TradeEvent

Violation = tuple[str, str]
E = TypeVar("E", bound=TradeEvent)

#: How far ahead of the gateway's clock a sender's clock may run (NTP-synchronised systems are within
#: seconds; five minutes covers an unsynchronised ERP without letting a future "actual" through).
CLOCK_SKEW = dt.timedelta(minutes=5)

#: Event types whose content an issuer signs (corridor.core.signatures.SIGNED_TYPES, repeated here to keep
#: the domain free of the crypto module): the gateway never adds a field to them, as that would break the
#: signature; their ``created_at`` is what the issuer signed, or nothing.
SIGNED_EVENT_TYPES = frozenset(
    {
        "corridor.trade.certificates.CertificateIssued",
        "corridor.trade.certificates.CertificateAmended",
        "corridor.trade.certificates.CertificateRevoked",
        "corridor.trade.certificates.OriginDataTransmitted",
        "corridor.trade.certificates.VerificationAnswered",
    }
)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def is_actual(event: Any) -> bool:
    """True for an event reporting an actual (ACT) milestone (transport and equipment events)."""
    classifier = getattr(event, "classifier", None)
    return classifier is not None and str(getattr(classifier, "value", classifier)) == "ACT"


def time_violations(event: TradeEvent, now: dt.datetime, skew: dt.timedelta = CLOCK_SKEW) -> list[Violation]:
    """What is wrong with the event's times against the clock ``now`` (a UTC instant)."""
    violations: list[Violation] = []
    latest = now + skew
    created = event.created_at
    if created is not None and created > latest:
        violations.append(
            (
                "created_at",
                f"{_iso(created)} is in the future (the gateway's clock says {_iso(now)}, allowing "
                f"{int(skew.total_seconds())} s of clock skew): it is when the event was created, which "
                "has happened; leave it out and the gateway sets it",
            )
        )
    if is_actual(event) and event.occurred_at > latest:
        kind = getattr(event, "transport_event_type", None) or getattr(event, "equipment_event_type", None)
        what = str(getattr(kind, "value", kind)) if kind is not None else "milestone"
        violations.append(
            (
                "occurred_at",
                f"an actual (ACT) {what} at {_iso(event.occurred_at)} is in the future (the gateway's clock "
                f"says {_iso(now)}, allowing {int(skew.total_seconds())} s of clock skew); send it as "
                "estimated (EST) or planned (PLN) until it has happened",
            )
        )
    return violations


def stamped(event: E, received_at: dt.datetime) -> E:
    """The event with ``created_at`` set to ``received_at`` when the sender left it out.

    Signed event types are returned unchanged (a field added after signing would make the signature
    fail). ``received_at`` is cut to milliseconds, as Avro ``timestamp-millis`` stores it.
    """
    if event.created_at is not None or event.avro_name in SIGNED_EVENT_TYPES:
        return event
    at = received_at.astimezone(dt.UTC)
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    return event.model_copy(update={"created_at": at})


def supersedes(new_created: dt.datetime | None, old_created: dt.datetime | None) -> bool:
    """Whether a PLN/EST time created at ``new_created`` replaces one created at ``old_created``.

    Created later (or at the same instant) replaces; created earlier is a stale estimate arriving late
    and is kept out. When either creation time is unknown (events published without the gateway, before
    ``created_at`` existed), the one applied later — Kafka order within the trade — replaces.
    """
    if new_created is None or old_created is None:
        return True
    return new_created >= old_created
