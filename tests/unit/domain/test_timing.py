"""The times of an event (corridor.core.domain.timing, ADR 0026): created_at, actuals against the clock,
estimates ordered by creation. Pure: no Kafka, no PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from corridor.core import signatures
from corridor.core.domain import timing
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import CertificateIssued, TransportEventRecorded
from corridor.core.domain.lifecycle import apply, replay
from corridor.core.domain.validation import InvalidEvent, parse_event
from corridor.demo.story import chromite_story

NOW = dt.datetime(2026, 12, 5, 2, 0, tzinfo=dt.UTC)
SHIPMENT = "IOL-KHI-TXG-26-0412"


def story() -> list[TradeEvent]:
    return chromite_story().events


def depa(events: list[TradeEvent], classifier: str) -> TransportEventRecorded:
    return next(
        e
        for e in events
        if isinstance(e, TransportEventRecorded)
        and e.transport_event_type.value == "DEPA"
        and e.classifier.value == classifier
    )


def like(event: TradeEvent, **changes: Any) -> Any:
    """A new event (new id) like ``event`` with ``changes``, validated as a publisher's would be."""
    return type(event).model_validate({**event.model_dump(), "event_id": uuid.uuid4(), **changes})


# -- against the clock ---------------------------------------------------------------------------------


def test_an_estimated_arrival_a_year_ahead_is_accepted() -> None:
    eta = like(depa(story(), "EST"), occurred_at=NOW + dt.timedelta(days=365))
    assert timing.time_violations(eta, NOW) == []
    planned = like(depa(story(), "PLN"), occurred_at=NOW + dt.timedelta(days=400))
    assert timing.time_violations(planned, NOW) == []


def test_an_actual_milestone_in_the_future_is_refused_naming_occurred_at() -> None:
    act = like(depa(story(), "ACT"), occurred_at=NOW + dt.timedelta(days=1))
    ((field, reason),) = timing.time_violations(act, NOW)
    assert field == "occurred_at"
    assert "actual (ACT) DEPA" in reason and "in the future" in reason and "EST" in reason


def test_an_actual_within_the_clock_skew_is_accepted_and_just_beyond_is_not() -> None:
    act = depa(story(), "ACT")
    assert timing.time_violations(like(act, occurred_at=NOW + timing.CLOCK_SKEW), NOW) == []
    beyond = like(act, occurred_at=NOW + timing.CLOCK_SKEW + dt.timedelta(milliseconds=1))
    assert [f for f, _ in timing.time_violations(beyond, NOW)] == ["occurred_at"]
    # a smaller skew setting is honoured
    near = like(act, occurred_at=NOW + dt.timedelta(seconds=30))
    assert [f for f, _ in timing.time_violations(near, NOW, dt.timedelta(seconds=10))] == ["occurred_at"]


def test_created_at_in_the_future_is_refused_for_any_event() -> None:
    order = story()[0]
    ahead = like(order, created_at=NOW + dt.timedelta(hours=1))
    ((field, reason),) = timing.time_violations(ahead, NOW)
    assert field == "created_at" and "in the future" in reason
    assert timing.time_violations(like(order, created_at=NOW - dt.timedelta(days=3)), NOW) == []


# -- the rule without a clock ----------------------------------------------------------------------------


def test_an_actual_created_before_it_happened_is_invalid_naming_created_at() -> None:
    act = depa(story(), "ACT")
    data = act.model_dump(mode="json") | {"created_at": (act.occurred_at - dt.timedelta(hours=1)).isoformat()}
    with pytest.raises(InvalidEvent) as info:
        parse_event("TransportEventRecorded", data)
    assert [e.field for e in info.value.errors] == ["created_at"]
    assert "cannot be created" in info.value.errors[0].reason
    # an estimate is created before the time it estimates: that is what estimates are
    est = depa(story(), "EST")
    early = est.model_dump(mode="json") | {
        "created_at": (est.occurred_at - dt.timedelta(days=30)).isoformat()
    }
    assert parse_event("TransportEventRecorded", early).created_at is not None


def test_created_at_must_carry_an_offset_like_every_instant() -> None:
    data = story()[0].model_dump(mode="json") | {"created_at": "2026-02-10T01:30:00"}
    with pytest.raises(InvalidEvent) as info:
        parse_event("OrderPlaced", data)
    assert [e.field for e in info.value.errors] == ["created_at"]


# -- the gateway's stamp ---------------------------------------------------------------------------------


def test_stamped_sets_created_at_in_milliseconds_only_when_absent() -> None:
    order = story()[0]
    assert order.created_at is None
    at = dt.datetime(2026, 12, 5, 2, 0, 0, 123456, tzinfo=dt.UTC)
    stamped = timing.stamped(order, at)
    assert stamped.created_at == dt.datetime(2026, 12, 5, 2, 0, 0, 123000, tzinfo=dt.UTC)
    assert stamped.model_dump(exclude={"created_at"}) == order.model_dump(exclude={"created_at"})
    given = like(order, created_at=NOW - dt.timedelta(minutes=1))
    assert timing.stamped(given, at) is given


def test_signed_certificates_are_never_stamped_so_their_signature_still_verifies() -> None:
    assert timing.SIGNED_EVENT_TYPES == signatures.SIGNED_TYPES
    cert = next(e for e in story() if isinstance(e, CertificateIssued))
    assert timing.stamped(cert, NOW) is cert


# -- successive estimates order by creation ----------------------------------------------------------


def test_an_older_estimate_arriving_late_does_not_replace_a_newer_one() -> None:
    events = story()
    est = depa(events, "EST")
    before = replay(events[: events.index(est)])
    newer = like(est, occurred_at=est.occurred_at + dt.timedelta(hours=6), created_at=NOW)
    older = like(
        est, occurred_at=est.occurred_at + dt.timedelta(hours=2), created_at=NOW - dt.timedelta(days=1)
    )
    state = apply(apply(before, newer), older)  # the older one is applied last (e.g. a delayed resend)
    milestone = state.shipments[SHIPMENT].milestone("DEPA", "PKKHI")
    assert milestone is not None and milestone.estimated is not None
    assert milestone.estimated.event_id == newer.event_id and milestone.at == newer.occurred_at
    # in creation order the newer one wins too, whatever time it estimates (earlier here)
    sooner = like(
        est, occurred_at=est.occurred_at - dt.timedelta(hours=3), created_at=NOW + dt.timedelta(hours=1)
    )
    state = apply(state, sooner)
    milestone = state.shipments[SHIPMENT].milestone("DEPA", "PKKHI")
    assert milestone is not None and milestone.at == sooner.occurred_at
    assert milestone.estimated is not None and milestone.estimated.created_at == sooner.created_at


def test_without_created_at_the_estimate_applied_last_wins() -> None:
    events = story()
    est = depa(events, "EST")
    before = replay(events[: events.index(est)])
    first = like(est, occurred_at=est.occurred_at + dt.timedelta(hours=6))
    second = like(est, occurred_at=est.occurred_at + dt.timedelta(hours=2))
    milestone = apply(apply(before, first), second).shipments[SHIPMENT].milestone("DEPA", "PKKHI")
    assert milestone is not None and milestone.at == second.occurred_at


@pytest.mark.parametrize(
    ("new", "old", "replaces"),
    [
        (NOW, NOW - dt.timedelta(seconds=1), True),
        (NOW, NOW, True),
        (NOW - dt.timedelta(seconds=1), NOW, False),
        (None, NOW, True),
        (NOW, None, True),
        (None, None, True),
    ],
)
def test_supersedes(new: dt.datetime | None, old: dt.datetime | None, replaces: bool) -> None:
    assert timing.supersedes(new, old) is replaces
