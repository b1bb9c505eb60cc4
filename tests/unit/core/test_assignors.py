"""The co-partitioned assignor (corridor.core.assignors): one owner per partition index."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor.core.assignors import NAME, assignment_strategy, co_partitioned
from corridor.ledger.topics import CONSUMED_TOPICS

SIX = dict.fromkeys(CONSUMED_TOPICS, 6)


@pytest.mark.parametrize("members", range(1, 9))
def test_every_partition_once_and_a_trades_partitions_on_one_ledger(members: int) -> None:
    subscriptions = {f"ledger-{n}": CONSUMED_TOPICS for n in range(members)}
    plan = co_partitioned(subscriptions, SIX)
    owners: dict[int, set[str]] = {}
    seen = []
    for member, by_topic in plan.items():
        for topic, partitions in by_topic.items():
            for p in partitions:
                owners.setdefault(p, set()).add(member)
                seen.append((topic, p))
    assert sorted(seen) == sorted((t, p) for t in CONSUMED_TOPICS for p in range(6))  # each exactly once
    assert all(len(o) == 1 for o in owners.values()), owners  # partition i of every topic: one ledger
    counts = [len({p for ps in plan[m].values() for p in ps}) for m in plan]
    assert max(counts) - min(counts) <= 1  # indexes balanced
    if members == 4:  # round robin would split a trade's topics here (36 topic-partitions, 4 members)
        assert sorted(counts) == [1, 1, 2, 2]


@given(
    st.dictionaries(
        st.text("abcdef", min_size=1, max_size=4),
        st.sets(st.sampled_from(["a", "b", "c"]), min_size=1),
        min_size=1,
        max_size=6,
    ),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(1, 12), min_size=1),
)
def test_any_subscriptions_get_each_partition_once_from_a_subscriber(
    subscriptions: dict[str, set[str]], partitions: dict[str, int]
) -> None:
    plan = co_partitioned(subscriptions, partitions)
    assigned = [(t, p, m) for m, by_topic in plan.items() for t, ps in by_topic.items() for p in ps]
    wanted = {
        (t, p)
        for t in partitions
        for p in range(partitions[t])
        if any(t in s for s in subscriptions.values())
    }
    assert sorted((t, p) for t, p, _ in assigned) == sorted(wanted)
    assert all(t in subscriptions[m] for t, _, m in assigned)


def test_no_members_no_plan() -> None:
    assert co_partitioned({}, SIX) == {}


def test_the_strategy_offers_round_robin_second_for_older_members() -> None:
    first, second = assignment_strategy()
    assert first.name == NAME and second.name == "roundrobin"
