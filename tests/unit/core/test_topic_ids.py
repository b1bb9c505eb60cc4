"""Topic incarnations (corridor.core.topic_ids): which topics were deleted and created again."""

from __future__ import annotations

import uuid

from corridor.core.topic_ids import ZERO_ID, Incarnations, ids_of

A1, A2, B1 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def test_a_first_sighting_is_not_a_recreation() -> None:
    seen = Incarnations()
    assert seen.changed({"a": A1, "b": B1}) == set()
    assert seen.known == {"a": A1, "b": B1}


def test_a_new_id_under_a_known_name_is_a_recreation_once() -> None:
    seen = Incarnations({"a": A1, "b": B1})
    assert seen.changed({"a": A2, "b": B1}) == {"a"}
    assert seen.changed({"a": A2, "b": B1}) == set()  # noticed once, then it is the known one


def test_a_missing_topic_keeps_its_id_until_it_is_back() -> None:
    seen = Incarnations({"a": A1})
    assert seen.changed({}) == set()  # deleted (or not answered): nothing to rewind yet
    assert seen.known == {"a": A1}
    assert seen.changed({"a": A2}) == {"a"}  # back under a new id


def test_the_zero_id_is_no_id() -> None:
    seen = Incarnations({"a": A1})
    assert seen.changed({"a": ZERO_ID}) == set()
    assert seen.known == {"a": A1}


def test_ids_of_takes_error_free_named_topics() -> None:
    answer = [
        (0, "a", A1.bytes, False, [], 0, {}),
        (3, "gone", ZERO_ID.bytes, False, [], 0, {}),  # UNKNOWN_TOPIC_OR_PARTITION
        (0, None, B1.bytes, False, [], 0, {}),
    ]
    assert ids_of(answer) == {"a": A1}
