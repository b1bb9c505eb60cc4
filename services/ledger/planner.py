"""The ledger's batch planner: what becomes of every record of a batch, decided without I/O.

:func:`plan` takes what the consumer holds from earlier batches, the batch's records (decoded, or with
the reason they cannot be), the current states of the trades they touch, the clock and the policy, and
returns a :class:`Plan`; the consumer (``corridor.ledger.consumer``) only fetches, decodes, calls it,
executes the plan (one PostgreSQL transaction, the retry and dead-letter records, the receipts) and
commits. Everything here is a value: records, outcomes and the plan are frozen; the input states are
never changed (``lifecycle.apply`` returns new ones). No asyncio, no Kafka, no PostgreSQL, no logging —
an import contract in ``pyproject.toml`` keeps it so, and ``tests/unit/ledger/test_planner.py`` checks
its properties with Hypothesis.

The rules (docs/adr/0006-ledger.md, docs/adr/0035-ledger-planner.md):

* A record that could not be decoded is dead-lettered with its error class.
* Held events are tried first, then the batch's in event-time order across partitions (topic rank
  breaking ties) and in offset order within one partition (``heapq.merge`` of the partitions' streams).
* An event already in its trade's state (by event id) is a duplicate: written nowhere again.
* An event that breaks a trust rule is dead-lettered (``TrustViolation``) unless every broken rule may
  still come true (a sender not admitted *yet*): then it waits, like an event whose prerequisite
  (``PrerequisiteMissing``) is missing. A lifecycle violation, or any other error applying the event,
  is dead-lettered.
* What waits is tried again after the others, round after round, until a round applies nothing.
* What still waits is held (in memory, its offset not committed) while younger than ``hold_s``, or
  younger than ``max_hold_s`` while its partition of the trade topics still has records to read, and
  at most ``max_held`` of them; otherwise it is parked in the next retry topic, and after the last
  retry topic dead-lettered (``PrerequisiteMissing``, "gave up after N retries").
* Per partition, the offset that may be committed is the next one to read, but never past a held
  record.
* Licences are standing authorisations across trades (ADR 0045): before an event that names a licence
  (``lifecycle.licence.keys_of``) is applied, the licence's current row (``licences``, from the ledger's
  ``licences`` table, or as an earlier event of the batch left it) is laid over its trade's state; a
  licence the event changed is written back (``Plan.licence_writes``). Two trades drawing on one licence
  in one batch are applied one after the other; across ledgers, the row's version serialises them.

Every record given ends in exactly one outcome: applied, duplicate, held, parked or dead-lettered.
"""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import uuid
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from corridor.core.domain import trust
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import OrderPlaced
from corridor.core.domain.lifecycle import LifecycleViolation, PrerequisiteMissing, TradeState, apply
from corridor.core.domain.lifecycle import licence as licence_steps
from corridor.core.domain.lifecycle.state import LicenceState
from corridor.ledger import deadletter as dl

#: A topic partition as (topic, partition); aiokafka's ``TopicPartition`` is such a tuple.
Partition = tuple[str, int]

#: CloudEvents' required attributes (binary mode: ce_* headers); a record without them is dead-lettered.
REQUIRED_CE_HEADERS = ("ce_id", "ce_source", "ce_type", "ce_specversion")
_MIN_TIME = dt.datetime.min.replace(tzinfo=dt.UTC)
#: Rank of a topic missing from ``Policy.topic_rank`` (after every known one).
_UNRANKED = 9


@dataclass(frozen=True, slots=True)
class Inbound:
    """One consumed record: decoded (``event``) or not (``failure``: error class, reason).

    ``tp`` and ``offset`` say where it was read (a retry topic for a retried record), ``origin`` where
    it was first read and how often it was tried. ``record`` (the consumer record: key, value,
    headers) and ``span`` travel with it for the consumer that executes the plan; the planner never
    looks at them."""

    tp: Partition
    offset: int
    origin: dl.Origin
    event: TradeEvent | None = None
    failure: tuple[str, str] | None = None
    schema_id: int | None = None
    trace_id: str | None = None
    published_ms: int | None = None  # producer wall clock at send (header corridor_published_ms)
    record: Any = field(default=None, compare=False, repr=False)
    span: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if (self.event is None) == (self.failure is None):
            raise ValueError("an inbound record has either its event or its failure")

    @property
    def position(self) -> tuple[str, int, int]:
        """Where it was read: (topic, partition, offset), unique within a batch."""
        return (self.tp[0], self.tp[1], self.offset)

    @property
    def decoded(self) -> TradeEvent:
        assert self.event is not None
        return self.event


@dataclass(frozen=True, slots=True)
class Held:
    """A record waiting in memory for a prerequisite since ``since`` (monotonic clock)."""

    record: Inbound
    reason: str
    since: float
    told: bool = False  # its sender's pending receipt is written


@dataclass(frozen=True, slots=True)
class Park:
    """Produce the record to retry topic ``topic`` (attempt ``attempt``), due at ``not_before``."""

    record: Inbound
    reason: str
    topic: str
    attempt: int
    not_before: dt.datetime


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Dead-letter the record (or, for a rebuild, refuse it in its receipt only)."""

    record: Inbound
    error_class: str
    reason: str
    error: BaseException | None = field(default=None, compare=False)  # an unexpected error applying it


@dataclass(frozen=True, slots=True)
class StateChange:
    """A trade's new state and the one it was computed from (None: the trade is new)."""

    state: TradeState
    previous: TradeState | None


@dataclass(frozen=True, slots=True)
class LicenceChange:
    """A licence's new row (by ``licence_key``) and the one it was computed from (None: a new row)."""

    key: str
    state: LicenceState
    previous: LicenceState | None


@dataclass(frozen=True, slots=True)
class Policy:
    """The ledger's settings the plan depends on (``corridor.ledger.settings``)."""

    retry_topics: tuple[str, ...]
    retry_delays_s: tuple[float, ...]
    hold_s: float = 2.0
    max_hold_s: float = 60.0
    max_held: int = 100_000
    topic_rank: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.retry_delays_s) != len(self.retry_topics):
            raise ValueError("one retry delay per retry topic")


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do with one batch. ``sent`` is in production order (parked and given-up records first,
    then the dead letters of the batch); ``commits`` are the offsets that may be committed once the
    plan is executed."""

    applied: tuple[Inbound, ...]
    duplicates: tuple[Inbound, ...]
    writes: tuple[StateChange, ...]
    held: tuple[Held, ...]
    sent: tuple[Park | DeadLetter, ...]
    commits: Mapping[Partition, int]
    licence_writes: tuple[LicenceChange, ...] = ()

    @property
    def parked(self) -> tuple[Park, ...]:
        return tuple(s for s in self.sent if isinstance(s, Park))

    @property
    def dead_lettered(self) -> tuple[DeadLetter, ...]:
        return tuple(s for s in self.sent if isinstance(s, DeadLetter))

    @property
    def states(self) -> dict[uuid.UUID, TradeState]:
        """The trades' states after the plan, of the trades it changed."""
        return {w.state.trade_id: w.state for w in self.writes}

    def outcomes(self) -> dict[tuple[str, int, int], str]:
        """Each record's outcome by where it was read: stored, duplicate, held, parked, dead_lettered."""
        found = {r.position: "stored" for r in self.applied}
        found |= {r.position: "duplicate" for r in self.duplicates}
        found |= {h.record.position: "held" for h in self.held}
        found |= {s.record.position: "parked" if isinstance(s, Park) else "dead_lettered" for s in self.sent}
        return found


def check_record(
    event: TradeEvent, key: bytes | None, headers: Sequence[tuple[str, bytes]]
) -> tuple[str, str] | None:
    """Whether a decoded record may be taken in: its key is its trade id and its CloudEvents headers
    (the spec's required attributes) name its event. Returns (error class, reason) when not."""
    text = key.decode("utf-8", "replace") if key is not None else None
    if text != str(event.trade_id):
        return "KeyMismatch", f"record key {text!r} is not the event's trade id"
    found = {name: dl.header(headers, name) for name in REQUIRED_CE_HEADERS}
    missing = [name for name, value in found.items() if not value]
    if missing:
        return "MissingHeaders", f"record lacks the CloudEvents headers {missing}"
    if found["ce_id"] != str(event.event_id) or found["ce_type"] != event.avro_name:
        return "HeaderMismatch", (
            f"headers ce_id={found['ce_id']!r} ce_type={found['ce_type']!r} do not name the record's "
            f"event ({event.event_id}, {event.avro_name})"
        )
    return None


def merge(streams: Sequence[Sequence[Inbound]], topic_rank: Mapping[str, int]) -> Iterator[Inbound]:
    """The decoded records of a batch in the order they are applied: by event time across the streams
    (one per partition, in offset order), the topic's rank breaking ties, each stream's order kept."""
    return heapq.merge(
        *streams,
        key=lambda r: (
            r.event.occurred_at if r.event is not None else _MIN_TIME,
            topic_rank.get(r.origin.topic, _UNRANKED),
        ),
    )


def commit_targets(positions: Mapping[Partition, int], held: Iterable[Held]) -> dict[Partition, int]:
    """Per partition, the offset to commit: the next one to read, but never past a record still held."""
    targets = dict(positions)
    for h in held:
        tp = h.record.tp
        if tp in targets and h.record.offset < targets[tp]:
            targets[tp] = h.record.offset
    return targets


def plan(
    held: Sequence[Held],
    streams: Sequence[Sequence[Inbound]],
    states: Mapping[uuid.UUID, TradeState | None],
    *,
    policy: Policy,
    now: dt.datetime,
    clock: float,
    positions: Mapping[Partition, int],
    verdicts: Mapping[uuid.UUID, str] | None = None,
    lagging: Collection[int] = (),
    licences: Mapping[str, LicenceState] | None = None,
) -> Plan:
    """The plan for one batch (see the module doc for the rules).

    ``states``: the current state of each trade the records touch (None or absent: not seen yet);
    ``now``: the wall clock (retry due times); ``clock``: the monotonic clock (how long held);
    ``positions``: per partition read, the next offset to read; ``verdicts``: the signature verdicts of
    the batch's amendments and revocations by event id; ``lagging``: partition numbers whose trade
    topics still have records to read; ``licences``: the current rows of the licences the batch's events
    name (by ``licence_key``; absent: no row yet)."""
    verdicts = verdicts or {}
    given_licences = dict(licences or {})
    current_licences = dict(given_licences)
    dead: list[DeadLetter] = [
        DeadLetter(r, *r.failure) for stream in streams for r in stream if r.failure is not None
    ]
    decoded = [s for s in ([r for r in stream if r.event is not None] for stream in streams) if s]
    current: dict[uuid.UUID, TradeState | None] = dict(states)
    before = dict(current)
    applied: list[Inbound] = []
    duplicates: list[Inbound] = []

    def attempt(record: Inbound) -> str | None:
        """Apply one event to ``current``; the reason it waits, or None when it is decided."""
        event = record.decoded
        state = current.get(event.trade_id)
        if state is not None and event.event_id in state.applied:
            duplicates.append(record)
            return None
        # a trade not seen yet: apply() makes the event wait for its order (with the lifecycle's reason)
        broken = (
            trust.check(state.trust if state else None, event, verdict=verdicts.get(event.event_id))
            if state is not None or isinstance(event, OrderPlaced)
            else []
        )
        if broken:
            reason = "; ".join(map(str, broken))
            if all(v.pending for v in broken):
                return reason
            dead.append(DeadLetter(record, "TrustViolation", reason))
            return None
        keys = licence_steps.keys_of(event) if state is not None else ()
        if state is not None and keys:
            # the licence's one running total, not the trade's copy of it (ADR 0045)
            overlay = {
                k: current_licences[k]
                for k in keys
                if k in current_licences and state.licences.get(k) is not current_licences[k]
            }
            if overlay:
                state = state.evolve(licences={**state.licences, **overlay})
        try:
            new = apply(state, event)
        except PrerequisiteMissing as exc:
            return exc.reason
        except LifecycleViolation as exc:
            dead.append(DeadLetter(record, "LifecycleViolation", exc.reason))
            return None
        except Exception as exc:  # a bug must not block the partition: dead-letter it (the consumer logs it)
            dead.append(
                DeadLetter(record, type(exc).__name__, f"unexpected error applying the event: {exc}", exc)
            )
            return None
        current[event.trade_id] = new
        for k in keys:
            after = new.licences.get(k)
            if after is not None and (state is None or after is not state.licences.get(k)):
                current_licences[k] = after
        applied.append(record)
        return None

    waiting: list[tuple[Inbound, str]] = []
    for record in itertools.chain((h.record for h in held), merge(decoded, policy.topic_rank)):
        if (reason := attempt(record)) is not None:
            waiting.append((record, reason))
    # what waited for something applied later in the batch gets another chance, until no progress
    while waiting:
        n = len(applied)
        still = [(record, reason) for record, _ in waiting if (reason := attempt(record)) is not None]
        waiting = still
        if len(applied) == n:
            break

    writes = tuple(
        StateChange(state, before.get(t))
        for t, state in current.items()
        if state is not None and state is not before.get(t)
    )

    was_held = {h.record.position: h for h in held}
    hold: list[Held] = []
    sent: list[Park | DeadLetter] = []
    for record, reason in waiting:
        earlier = was_held.get(record.position)
        since = earlier.since if earlier is not None else clock
        age = clock - since
        keep = age < policy.hold_s or (age < policy.max_hold_s and record.origin.partition in lagging)
        if keep and len(hold) < policy.max_held:
            hold.append(Held(record, reason, since, told=earlier.told if earlier is not None else False))
            continue
        retries_done = record.origin.attempts - 1
        if retries_done >= len(policy.retry_topics):
            sent.append(
                DeadLetter(record, "PrerequisiteMissing", f"{reason} (gave up after {retries_done} retries)")
            )
        else:
            not_before = now + dt.timedelta(seconds=policy.retry_delays_s[retries_done])
            sent.append(Park(record, reason, policy.retry_topics[retries_done], retries_done + 1, not_before))
    sent.extend(dead)
    return Plan(
        applied=tuple(applied),
        duplicates=tuple(duplicates),
        writes=writes,
        held=tuple(hold),
        sent=tuple(sent),
        commits=commit_targets(positions, hold),
        licence_writes=tuple(
            LicenceChange(k, v, given_licences.get(k))
            for k, v in current_licences.items()
            if v is not given_licences.get(k)
        ),
    )
