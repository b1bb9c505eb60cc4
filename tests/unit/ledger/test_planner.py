"""The ledger's batch planner (``corridor.ledger.planner``) without Kafka or PostgreSQL: properties checked
with Hypothesis over the demo stories' events, split over partitions, held, retried and broken at random.
The consumer that executes the plans runs on the real stack: tests/integration/ledger/."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.lifecycle import TradeState
from corridor.demo.story import chromite_story, explosives_story
from corridor.ledger import deadletter as dl
from corridor.ledger import planner

STORIES: tuple[tuple[TradeEvent, ...], ...] = (
    tuple(chromite_story().events),
    tuple(explosives_story().events),
)
EVENTS_ANY = STORIES[0][0]
NOW = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
CLOCK = 10_000.0
TOPICS = ("trade.orders.v1", "trade.shipments.v1", "trade.documents.v1")
RANK = {topic: rank for rank, topic in enumerate(TOPICS)}
RETRY = ("ledger.retry.5s", "ledger.retry.30s", "ledger.retry.5m")
DELAYS = (5.0, 30.0, 300.0)
FAST = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def inbound(
    event: TradeEvent | None, tp: tuple[str, int], offset: int, attempts: int = 1, first: int | None = None
) -> planner.Inbound:
    """A record read at ``tp``/``offset``; a retried one (``attempts`` > 1) from a retry topic, first
    read at offset ``first`` of trade topic ``tp[0]``."""
    origin = dl.Origin(tp[0], tp[1], offset if first is None else first, NOW, attempts)
    if attempts > 1:
        tp = (RETRY[min(attempts, len(RETRY) + 1) - 2], tp[1])
    if event is None:
        return planner.Inbound(tp, offset, origin, failure=("WireFormatError", "not our wire format"))
    return planner.Inbound(tp, offset, origin, event=event)


def policy(hold_s: float = 2.0, max_hold_s: float = 60.0, max_held: int = 100_000) -> planner.Policy:
    return planner.Policy(
        RETRY, DELAYS, hold_s=hold_s, max_hold_s=max_hold_s, max_held=max_held, topic_rank=RANK
    )


def spread(events: tuple[TradeEvent, ...], partitions: list[int]) -> list[list[planner.Inbound]]:
    """The events over partitions (one stream each), each partition in the story's order."""
    streams: dict[tuple[str, int], list[planner.Inbound]] = {}
    for event, p in zip(events, partitions, strict=True):
        tp = (TOPICS[p % len(TOPICS)], p)
        streams.setdefault(tp, []).append(inbound(event, tp, len(streams.get(tp, []))))
    return list(streams.values())


@dataclass
class Batch:
    held: list[planner.Held]
    streams: list[list[planner.Inbound]]
    states: dict[uuid.UUID, TradeState | None]
    positions: dict[tuple[str, int], int]
    lagging: frozenset[int]
    policy: planner.Policy

    def plan(self, **changes: object) -> planner.Plan:
        args: dict[str, object] = {
            "policy": self.policy,
            "now": NOW,
            "clock": CLOCK,
            "positions": self.positions,
            "lagging": self.lagging,
        }
        args.update(changes)
        return planner.plan(self.held, self.streams, self.states, **args)  # type: ignore[arg-type]

    def records(self) -> list[planner.Inbound]:
        return [h.record for h in self.held] + [r for s in self.streams for r in s]


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    """A story's events in any order over 1–4 partitions; some already applied, some not decodable, some
    held from earlier batches (for any time), any of them tried before (up to twice the retry topics)."""
    events = list(draw(st.sampled_from(STORIES)))
    seen = draw(st.integers(0, len(events)))  # a prefix already applied in earlier batches
    states: dict[uuid.UUID, TradeState | None] = {}
    if seen:
        first = planner.plan([], [[inbound(e, ("x", 0), i) for i, e in enumerate(events[:seen])]], {},
                             policy=policy(), now=NOW, clock=CLOCK, positions={})  # fmt: skip
        states = dict(first.states)
    order = draw(st.permutations(events))
    keep = draw(st.lists(st.booleans(), min_size=len(order), max_size=len(order)))
    chosen = [e for e, k in zip(order, keep, strict=True) if k] or order[:1]
    n_partitions = draw(st.integers(1, 4))
    streams: dict[tuple[str, int], list[planner.Inbound]] = {}
    held: list[planner.Held] = []
    for event in chosen:
        p = draw(st.integers(0, n_partitions - 1))
        topic = (TOPICS[draw(st.integers(0, len(TOPICS) - 1))], p)
        attempts = draw(st.integers(1, 2 * len(RETRY)))
        read_at = inbound(EVENTS_ANY, topic, 0, attempts).tp  # the retry topic for a retried record
        offset = sum(1 for s in streams.get(read_at, [])) + sum(1 for h in held if h.record.tp == read_at)
        broken = draw(st.integers(0, 9)) == 0
        first = draw(st.integers(0, 10_000))
        record = inbound(None if broken else event, topic, offset, attempts, first=first)
        assert record.tp == read_at
        if not broken and draw(st.integers(0, 5)) == 0:
            since = CLOCK - draw(st.floats(0, 120, allow_nan=False))
            held.append(planner.Held(record, "waited before", since, told=draw(st.booleans())))
        else:
            streams.setdefault(read_at, []).append(record)
    positions = {
        tp: max(
            [r.offset for r in streams.get(tp, [])] + [h.record.offset for h in held if h.record.tp == tp]
        )
        + 1
        for tp in {*streams, *(h.record.tp for h in held)}
    }
    hold_s = draw(st.sampled_from([0.0, 2.0, 30.0]))
    return Batch(
        held=held,
        streams=list(streams.values()),
        states=states,
        positions=positions,
        lagging=frozenset(draw(st.sets(st.integers(0, n_partitions - 1)))),
        policy=policy(
            hold_s=hold_s, max_hold_s=max(hold_s, 60.0), max_held=draw(st.sampled_from([0, 3, 1000]))
        ),
    )


@FAST
@given(batches())
def test_every_record_ends_in_exactly_one_outcome(batch: Batch) -> None:
    before = dict(batch.states)
    plan = batch.plan()
    decided = (
        [r.position for r in plan.applied]
        + [r.position for r in plan.duplicates]
        + [h.record.position for h in plan.held]
        + [s.record.position for s in plan.sent]
    )
    assert Counter(decided) == Counter(r.position for r in batch.records())
    assert set(plan.outcomes()) == {r.position for r in batch.records()}
    # undecodable records are dead-lettered with their decoding failure
    for record in batch.records():
        if record.failure is not None:
            assert plan.outcomes()[record.position] == "dead_lettered"
    # the planner changed no state it was given (a plan is a value; the consumer executes it)
    assert batch.states == before and all(batch.states[t] is before[t] for t in before)


@FAST
@given(batches())
def test_nothing_is_committed_past_a_record_still_held(batch: Batch) -> None:
    plan = batch.plan()
    assert set(plan.commits) == set(batch.positions)
    for tp, position in batch.positions.items():
        held = [h.record.offset for h in plan.held if h.record.tp == tp]
        assert plan.commits[tp] == min([position, *held])


@FAST
@given(batches())
def test_what_waits_was_tried_until_no_progress_then_held_parked_or_dead_lettered_per_policy(
    batch: Batch,
) -> None:
    plan = batch.plan()
    waited = [*((h.record, h.reason) for h in plan.held), *((p.record, p.reason) for p in plan.parked)]
    waited += [(d.record, d.reason) for d in plan.dead_lettered if d.error_class == "PrerequisiteMissing"]
    # no further progress: trying what waits once more against the states the plan reached applies nothing
    reached = {**batch.states, **plan.states}
    again = planner.plan([planner.Held(r, why, CLOCK) for r, why in waited], [], reached, policy=batch.policy,
                         now=NOW, clock=CLOCK, positions={})  # fmt: skip
    assert not again.applied
    earlier = {h.record.position: h for h in batch.held}
    assert len(plan.held) <= batch.policy.max_held
    for h in plan.held:
        age = CLOCK - h.since
        assert age < batch.policy.hold_s or (
            age < batch.policy.max_hold_s and h.record.origin.partition in batch.lagging
        )
        was = earlier.get(h.record.position)
        assert h.since == (was.since if was else CLOCK) and h.told == (was.told if was else False)
    for p in plan.parked:
        retries_done = p.record.origin.attempts - 1
        assert p.topic == RETRY[retries_done] and p.attempt == retries_done + 1
        assert p.not_before == NOW + dt.timedelta(seconds=DELAYS[retries_done])
    for d in plan.dead_lettered:
        if d.error_class == "PrerequisiteMissing":
            retries_done = d.record.origin.attempts - 1
            assert retries_done >= len(RETRY) and d.reason.endswith(f"(gave up after {retries_done} retries)")
    for d in plan.dead_lettered:
        if d.error_class == "PrerequisiteMissing" or d.record.failure is not None:
            continue
        assert d.error_class in {"TrustViolation", "LifecycleViolation"}, d


@FAST
@given(batches())
def test_planning_again_on_the_states_the_plan_reached_applies_nothing_twice(batch: Batch) -> None:
    """A batch replayed (a crash before the commit) after its plan was stored: every event it applied is
    a duplicate by its event id. Only a record the first plan refused as a violation can fare otherwise
    (a response to a revision that a later event of the same batch made)."""
    first = batch.plan()
    batch.states = {**batch.states, **first.states}
    second = batch.plan()
    assert {r.position for r in first.applied} <= {r.position for r in second.duplicates}
    assert not {r.position for r in first.applied} & {r.position for r in second.applied}
    violations = [d for d in first.dead_lettered if d.error_class in {"TrustViolation", "LifecycleViolation"}]
    if not violations:
        assert not second.applied and not second.writes


@FAST
@given(st.sampled_from(STORIES), st.data())
def test_a_story_spread_over_partitions_in_its_order_is_applied_whole(
    events: tuple[TradeEvent, ...], data: st.DataObject
) -> None:
    """Each partition in the story's order, merged by event time: every event applies (what needs a later
    one waits and applies in a later round of the same batch), each once, one write per trade."""
    partitions = data.draw(st.lists(st.integers(0, 5), min_size=len(events), max_size=len(events)))
    plan = planner.plan(
        [], spread(events, partitions), {}, policy=policy(), now=NOW, clock=CLOCK, positions={}
    )
    assert not plan.sent and not plan.held and not plan.duplicates
    assert sorted(r.decoded.event_id for r in plan.applied) == sorted(e.event_id for e in events)
    assert [w.previous for w in plan.writes] == [None] * len({e.trade_id for e in events})
    assert plan.states[events[0].trade_id].applied >= {e.event_id for e in events}


@FAST
@given(st.sampled_from(STORIES), st.data())
def test_the_merge_keeps_each_partitions_order_and_applies_a_trade_in_event_time_order(
    events: tuple[TradeEvent, ...], data: st.DataObject
) -> None:
    partitions = data.draw(st.lists(st.integers(0, 5), min_size=len(events), max_size=len(events)))
    by_time = sorted(events, key=lambda e: e.occurred_at)  # a partition is read in the order it was written
    streams = spread(tuple(by_time), [partitions[events.index(e)] for e in by_time])
    merged = list(planner.merge(streams, RANK))
    assert Counter(r.position for r in merged) == Counter(r.position for s in streams for r in s)
    keys = [(r.decoded.occurred_at, RANK[r.tp[0]]) for r in merged]
    assert keys == sorted(keys)
    for stream in streams:
        assert [r for r in merged if r.tp == stream[0].tp] == stream
    # a trade's events read in event-time order are applied in that order, each at its first try
    plan = planner.plan([], streams, {}, policy=policy(), now=NOW, clock=CLOCK, positions={})
    assert [r.position for r in plan.applied] == [r.position for r in merged]


def test_a_record_whose_order_never_comes_is_held_then_parked_then_dead_lettered() -> None:
    event = STORIES[0][1]  # the supplier's response: its trade's order is not known
    tp = (TOPICS[0], 0)
    verdicts = []
    for attempts, since in [(1, CLOCK), (1, CLOCK - 2.5), (2, CLOCK - 2.5), (4, CLOCK - 2.5)]:
        record = inbound(event, tp, 0, attempts)
        held = [planner.Held(record, "waits", since)] if since != CLOCK else []
        plan = planner.plan(held, [] if held else [[record]], {}, policy=policy(), now=NOW, clock=CLOCK,
                            positions={tp: 1})  # fmt: skip
        verdicts.append(plan.outcomes()[record.position])
        if verdicts[-1] == "parked":
            assert plan.parked[0].topic == RETRY[attempts - 1]
    assert verdicts == ["held", "parked", "parked", "dead_lettered"]


def test_an_event_that_breaks_a_trust_rule_is_dead_lettered_and_a_duplicate_is_written_nowhere() -> None:
    events = STORIES[0]
    order = inbound(events[0], (TOPICS[0], 0), 0)
    twice = inbound(events[0], (TOPICS[0], 0), 1)
    forged = events[1].model_copy(update={"sender": events[0].sender})  # the buyer answers its own order
    plan = planner.plan([], [[order, twice, inbound(forged, (TOPICS[0], 0), 2)]], {}, policy=policy(),
                        now=NOW, clock=CLOCK, positions={(TOPICS[0], 0): 3})  # fmt: skip
    assert plan.outcomes() == {
        order.position: "stored",
        twice.position: "duplicate",
        (TOPICS[0], 0, 2): "dead_lettered",
    }
    assert plan.dead_lettered[0].error_class == "TrustViolation"
    assert plan.commits == {(TOPICS[0], 0): 3}


@pytest.mark.parametrize(
    ("key", "headers", "error_class"),
    [
        (b"not-the-trade", "ok", "KeyMismatch"),
        (None, "ok", "KeyMismatch"),
        ("trade", [], "MissingHeaders"),
        ("trade", "other-id", "HeaderMismatch"),
        ("trade", "ok", None),
    ],
)
def test_a_decoded_record_names_its_trade_in_the_key_and_its_event_in_the_headers(
    key: bytes | str | None, headers: object, error_class: str | None
) -> None:
    event = STORIES[0][0]
    ce = {
        "ce_id": str(event.event_id),
        "ce_source": "/x",
        "ce_type": event.avro_name,
        "ce_specversion": "1.0",
    }
    if headers == "other-id":
        ce["ce_id"] = str(uuid.uuid4())
    found = planner.check_record(
        event,
        str(event.trade_id).encode() if key == "trade" else key,  # type: ignore[arg-type]
        [(k, v.encode()) for k, v in ce.items()] if headers != [] else [],
    )
    assert (found[0] if found else None) == error_class
