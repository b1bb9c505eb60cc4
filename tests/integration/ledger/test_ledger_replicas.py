"""Three ledgers in one consumer group (docs/adr/0006-ledger.md, issue 23): each owns whole trades.

The co-partitioned assignor (corridor.core.assignors) gives partition *i* of every trade and retry
topic to one ledger, for any number of ledgers: with three, each owns two partition indexes of all six
topics (aiokafka's round robin would spread a trade's topics over the three). The stories published
while all three run are stored completely: every event applied by the ledger that owns its trade."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from corridor.demo.story import chromite_story, explosives_story
from corridor.ledger.topics import CONSUMED_TOPICS
from tests.integration.ledger.ledger_helpers import InProcessLedger, LedgerSetup, eventually, wait_ready

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


async def test_three_ledgers_own_whole_trades(
    stack: Any, ledger: InProcessLedger, ledger_setup: LedgerSetup, publish: Any, api_key: Any
) -> None:
    others = [InProcessLedger(ledger_setup.settings(stack)) for _ in range(2)]
    try:
        for other in others:
            await asyncio.to_thread(other.start)
            await wait_ready(other.url)
        every = [ledger, *others]

        async def settled() -> list[set[Any]] | None:
            owned = [set(server.ledger.assigned) for server in every]
            together = set().union(*owned)
            if all(owned) and sum(map(len, owned)) == len(together) == 6 * len(CONSUMED_TOPICS):
                return owned
            return None

        owned = await eventually(settled, within=90)
        indexes = [{tp.partition for tp in mine} for mine in owned]
        for mine, index in zip(owned, indexes, strict=True):
            # partition i of every consumed topic, for each index it owns (TopicPartition is a tuple)
            assert mine == {(t, p) for t in CONSUMED_TOPICS for p in index}, sorted(mine)
        assert sorted(len(i) for i in indexes) == [2, 2, 2]

        stories = [chromite_story(), explosives_story()]
        for story in stories:
            await publish(*story.events)
        buyers = {story.trade_id: await api_key(story.events[0].sender, "BUYER") for story in stories}
        async with httpx.AsyncClient(base_url=others[-1].url, timeout=10) as http:
            for story in stories:

                async def complete(story: Any = story) -> bool:
                    response = await http.get(
                        f"/v1/trades/{story.trade_id}",
                        headers={"Authorization": f"Bearer {buyers[story.trade_id]}"},
                    )
                    return response.status_code == 200 and response.json()["version"] == len(story.events)

                await eventually(complete, within=90)
    finally:
        for other in others:
            await asyncio.to_thread(other.stop)


async def test_an_api_only_ledger_serves_what_the_consumers_store(
    stack: Any, ledger: InProcessLedger, ledger_setup: LedgerSetup, publish: Any, api_key: Any
) -> None:
    """``CORRIDOR_LEDGER_CONSUME=false``: the query API alone, over the tables the consuming ledger fills;
    ready without owning a partition, never a member of the consumer group."""
    api = InProcessLedger(ledger_setup.settings(stack).model_copy(update={"ledger_consume": False}))
    await asyncio.to_thread(api.start)
    try:
        await wait_ready(api.url)
        story = chromite_story()
        await publish(*story.events)
        buyer = await api_key(story.events[0].sender, "BUYER")
        async with httpx.AsyncClient(base_url=api.url, timeout=10) as http:

            async def complete() -> bool:
                response = await http.get(
                    f"/v1/trades/{story.trade_id}", headers={"Authorization": f"Bearer {buyer}"}
                )
                return response.status_code == 200 and response.json()["version"] == len(story.events)

            await eventually(complete, within=90)
            ready = (await http.get("/readyz")).json()
        assert ready["status"] == "ready" and "assigned_partitions" not in ready, ready
        assert api.app.state.ledger is None and api.app.state.publisher is None
        assert len(ledger.ledger.assigned) == 6 * len(CONSUMED_TOPICS)  # the consumer kept every partition
    finally:
        await asyncio.to_thread(api.stop)
