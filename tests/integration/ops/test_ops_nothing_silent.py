"""Issue 17: the ops commands never fail silently, and their numbers are true.

- ``tail`` names what it waits for and stops by itself; an unknown topic names the nearest;
- ``lag`` of an unknown group is an error naming the groups (it said "0 behind" and exited 0);
- ``lag`` does not count a Kafka transaction's commit marker as a record: a group that read a
  transactional partition to its end is at lag 0 (it showed 1 for ever).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from corridor.core.kafka import client_security
from corridor.monitor.collector import Monitor
from corridor.monitor.kafka_source import GroupInfo
from corridor.monitor.settings import MonitorSettings
from corridor.monitor.views import group_row
from corridor.ops.lag import group_lag
from tests.integration.ops.ops_helpers import run_cli

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_lag_of_an_unknown_group_is_an_error_naming_the_groups(ops_stack: Any) -> None:
    code, out, err = await run_cli(ops_stack, "lag", "--group", "no-such-group")
    assert code == 1 and out == ""
    assert "no consumer group 'no-such-group'" in err and "Groups:" in err
    code, out, _ = await run_cli(ops_stack, "lag", "--group", "no-such-group", "--json")
    assert code == 1
    error = json.loads(out)["error"]
    assert "no consumer group 'no-such-group'" in error["message"] and error["exit_code"] == 1


async def test_tail_says_what_it_waits_for_and_stops_by_itself(ops_stack: Any) -> None:
    code, _, err = await run_cli(
        ops_stack, "tail", "trade.orders.v1", "--type", "OrderPlaced", "--idle-timeout", "1", within=60
    )
    assert code == 0, err
    assert "waiting for OrderPlaced records on trade.orders.v1" in err
    assert "stops after 1 s without a new record" in err and "0 record(s) shown" in err

    code, _, err = await run_cli(ops_stack, "tail", "trade.order.v1", "--max", "1")
    assert code == 1 and "topic 'trade.order.v1' does not exist; did you mean trade.orders.v1" in err


async def test_a_transaction_marker_is_not_lag(ops_stack: Any) -> None:
    bootstrap = ops_stack.bootstrap_servers
    topic, group = f"it-markers-{uuid.uuid4().hex[:8]}", f"it-markers-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_security())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, **client_security(), transactional_id=f"{topic}-tx"
    )
    await producer.start()
    try:
        for batch in range(2):  # two transactions: records, marker, records, marker
            async with producer.transaction():
                for i in range(3):
                    await producer.send_and_wait(topic, f"{batch}-{i}".encode())
    finally:
        await producer.stop()
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        **client_security(),
        group_id=group,
        isolation_level="read_committed",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        seen = []
        while len(seen) < 6:
            for records in (await consumer.getmany(timeout_ms=2000)).values():
                seen += records
        await consumer.commit({tp: seen[-1].offset + 1})  # what a commit-after-handler consumer commits
    finally:
        await consumer.stop()
    (row,) = await group_lag(bootstrap, group)
    assert row.end - row.committed == 1  # the last transaction's commit marker
    assert row.lag == 0 and row.counted
    code, out, err = await run_cli(ops_stack, "lag", "--group", group, "--json")
    assert code == 0, err
    assert json.loads(out)["total"] == 0

    # the dashboard agrees: the marker is no lag there either
    monitor = Monitor(MonitorSettings(bootstrap_servers=bootstrap))
    await monitor.kafka.start()  # the markers are read through the monitor's own Kafka source
    try:
        monitor.end = {(topic, 0): row.end}
        info = GroupInfo(group, "consumer", committed={(topic, 0): row.committed})
        await monitor._count_markers([info])  # the first sample only notes the span
        await monitor._count_markers([info])  # it stood still: read
        assert info.not_records == {(topic, 0): 1}
        assert group_row(info, monitor.end)["lag"] == 0
        # a record produced after the commit is lag again (1 record, 2 offsets with its marker)
        info_behind = GroupInfo(group, "consumer", committed={(topic, 0): row.committed - 4})
        await monitor._count_markers([info_behind])
        await monitor._count_markers([info_behind])
        assert group_row(info_behind, monitor.end)["lag"] == 3
    finally:
        await monitor.kafka.stop()
        await monitor.registry.close()
