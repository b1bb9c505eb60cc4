"""Trade states written compact (ADR 0044): what ``state_delta`` and ``compact_write`` produce.

The SQL fold (``folded_state``, the ``trade_states`` view) is exercised on PostgreSQL in
tests/integration/ledger/test_ledger_storage.py; here the ledger's own fold (``fold_state``) checks,
event by event over both stories, that a delta holds exactly what changed, and that it is small.
"""

from __future__ import annotations

import json
import uuid

from corridor.core.domain.lifecycle import TradeState, apply
from corridor.demo.story import chromite_story, explosives_story
from corridor.ledger.store import (
    SNAPSHOT_EVERY,
    TradeWrite,
    _inserted,
    compact_write,
    fold_state,
    state_delta,
)


def test_inserted_items_are_found_with_their_index_or_none_when_an_item_went() -> None:
    assert _inserted((1, 2), (1, 2, 3)) == [(2, 3)]
    assert _inserted((1, 3), (0, 1, 2, 3)) == [(0, 0), (2, 2)]
    assert _inserted((), (5,)) == [(0, 5)]
    assert _inserted((1, 2), (1, 2)) == []
    assert _inserted((1, 2, 3), (1, 3)) is None
    assert _inserted((1, 2), (2, 1, 3)) is None


def test_each_delta_of_both_stories_folds_into_the_next_state_and_is_small() -> None:
    for story in (chromite_story(uuid.uuid4()), explosives_story(uuid.uuid4())):
        state: TradeState | None = None
        written = whole = 0
        for event in story.events:
            previous, state = state, apply(state, event)
            if previous is None:
                continue
            delta = state_delta(previous, state)
            assert fold_state(previous.model_dump_json(), [delta]) == state, event.avro_name
            written, whole = written + len(delta), whole + len(state.model_dump_json())
        assert written < whole / 8, story.name  # chromite: 1/18 of the whole states, explosives 1/12


def test_a_new_trade_a_snapshot_version_and_a_write_without_news_are_written_whole() -> None:
    events = chromite_story(uuid.uuid4()).events
    states: list[TradeState] = []
    state: TradeState | None = None
    for event in events[: SNAPSHOT_EVERY + 1]:
        state = apply(state, event)
        states.append(state)
    assert compact_write(TradeWrite(states[0], None)) is None
    assert compact_write(TradeWrite(states[1], states[0])) is not None
    # version SNAPSHOT_EVERY is written whole, and so is a batch that jumps across it
    assert compact_write(TradeWrite(states[SNAPSHOT_EVERY - 1], states[SNAPSHOT_EVERY - 2])) is None
    assert compact_write(TradeWrite(states[SNAPSHOT_EVERY], states[SNAPSHOT_EVERY - 3])) is None
    assert compact_write(TradeWrite(states[3], states[3])) is None


def test_a_map_entry_that_went_sets_the_field_whole() -> None:
    events = chromite_story(uuid.uuid4()).events
    state: TradeState | None = None
    for event in events:
        state = apply(state, event)
        if state is not None and len(state.parties) > 1:
            break
    assert state is not None
    fewer = state.evolve(parties=dict(list(state.parties.items())[1:]), version=state.version + 1)
    delta = json.loads(state_delta(state, fewer))
    assert "parties" in delta["set"] and not any(p[0] == "parties" for p, _ in delta.get("put", []))
