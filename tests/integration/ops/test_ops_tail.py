"""``corridor tail``: events produced while it runs come out decoded through the registry, as JSON lines
(headers + payload) or as lines for people; filters by type and partner; from the beginning too."""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import pytest

from corridor.core.domain.events import OrderPlaced
from corridor.core.topics import ORDERS
from corridor.demo.story import chromite_story
from tests.integration.ledger.ledger_helpers import PROJECT_ROOT
from tests.integration.ops.ops_helpers import run_cli, stack_env

pytestmark = pytest.mark.integration


async def _start_tail(stack: Any, *args: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "corridor.cli",
        "tail",
        "--follow",  # the test decides when it has seen enough, however slow the machine
        *args,
        cwd=PROJECT_ROOT,
        env=stack_env(stack),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    # it says so once it holds its start offsets: what is produced from now on is shown
    line = await asyncio.wait_for(process.stderr.readline(), 60)
    assert b"waiting for" in line, line
    return process


async def test_tail_shows_produced_events_decoded(ops_stack: Any, publish: Any) -> None:
    story = chromite_story()
    orders = [e for e in story.events if e.topic == ORDERS]
    trade = str(story.trade_id)
    as_json = await _start_tail(ops_stack, ORDERS, "--json", "--max", str(len(orders)), "--trade", trade)
    human = await _start_tail(ops_stack, ORDERS, "--max", "2", "--trade", trade)
    placed_only = await _start_tail(
        ops_stack, ORDERS, "--json", "--max", "1", "--type", "OrderPlaced", "--partner", orders[0].sender
    )
    try:
        acks = await publish(*story.events)
        out, err = await asyncio.wait_for(as_json.communicate(), 60)
        assert as_json.returncode == 0, err
        lines = [json.loads(line) for line in out.decode().splitlines()]
        assert [line["event"]["event_id"] for line in lines] == [str(e.event_id) for e in orders]
        published = {a.event_id: a for a in acks}
        for line, event in zip(lines, orders, strict=True):
            ack = published[str(event.event_id)]
            where = (line["topic"], line["partition"], line["offset"])
            assert where == (ack.topic, ack.partition, ack.offset)
            assert line["key"] == trade and line["type"] == event.avro_name and line["schema_id"] > 0
            headers = line["headers"]
            assert headers["ce_id"] == str(event.event_id) and headers["ce_type"] == event.avro_name
            assert headers["traceparent"].startswith("00-") and int(headers["corridor_published_ms"]) > 0
            assert line["event"]["trade_id"] == trade and line["event"]["sender"] == event.sender
        assert lines[0]["event"]["order_id"] == orders[0].order_id
        assert "error" not in lines[0]

        out, err = await asyncio.wait_for(human.communicate(), 60)
        assert human.returncode == 0, err
        first, second = out.decode().splitlines()
        assert f"{ORDERS}/{acks[0].partition}@{acks[0].offset}" in first
        assert "OrderPlaced" in first and orders[0].sender in first and orders[0].order_id in first
        assert "2026-02-10" in first  # the event's time
        assert "OrderResponded" in second and "ACCEPTED" in second

        out, err = await asyncio.wait_for(placed_only.communicate(), 60)
        assert placed_only.returncode == 0, err
        (line,) = [json.loads(x) for x in out.decode().splitlines()]
        assert line["type"] == orders[0].avro_name and isinstance(orders[0], OrderPlaced)
    finally:
        for process in (as_json, human, placed_only):
            if process.returncode is None:
                process.kill()
                await process.wait()

    # from the beginning (the trade's records only: others are skipped before decoding)
    code, out, err = await run_cli(
        ops_stack, "tail", ORDERS, "--from-beginning", "--trade", trade, "--max", "1", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["event"]["event_id"] == str(orders[0].event_id)


async def test_tail_of_a_missing_topic_fails_with_the_reason(ops_stack: Any) -> None:
    code, _, err = await run_cli(ops_stack, "tail", "no.such.topic.v1", "--max", "1")
    assert code != 0 and "does not exist" in err
