"""A broker restart (kill -9, then start) loses no acknowledged record — on an isolated one-broker stack."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import pytest

from corridor.core.codec import Codec
from corridor.core.kafka import TradeConsumer, TradeProducer, TradeRecord
from corridor.core.registry_client import RegistryClient
from corridor.core.topics import TRADE_TOPICS
from corridor.demo.story import chromite_story
from corridor.stack import api
from tests.support.kafka_login import share_operator_login

pytestmark = pytest.mark.integration


@pytest.fixture
def isolated_kafka(tmp_path: Path, stack, database_url: str):
    config = api.StackConfig(
        state_dir=tmp_path / "stack",
        brokers=1,
        kafka_port=29092,
        database_url=database_url,
        with_registry=False,
    )
    share_operator_login(config.state_dir)
    status = api.up(config)
    try:
        yield config, status
    finally:
        api.down(config)


async def test_kill_9_and_restart_loses_no_acknowledged_record(isolated_kafka, stack) -> None:
    config, status = isolated_kafka
    bootstrap = status.bootstrap_servers
    stories = [chromite_story() for _ in range(10)]
    events = [e for s in stories for e in s.events]
    async with RegistryClient(stack.schema_registry_url) as registry:
        async with TradeProducer(bootstrap, Codec(registry)) as producer:
            acks = await producer.publish_many(events)
        assert len(acks) == len(events)

        api.kill_broker(config, 1, signal.SIGKILL)
        assert not api.status(config).broker(1).alive
        api.start_broker(config, 1)

        trade_ids = {str(s.trade_id) for s in stories}
        seen: dict[str, int] = {}
        consumer = TradeConsumer(
            TRADE_TOPICS,
            bootstrap_servers=bootstrap,
            group_id=f"restart-{uuid.uuid4().hex[:6]}",
            codec=Codec(registry),
        )

        async def collect(record: TradeRecord) -> None:
            if record.key in trade_ids:
                seen[record.cloudevent.id] = seen.get(record.cloudevent.id, 0) + 1
                if len(seen) == len(events):
                    consumer.request_stop()

        async with consumer:
            await asyncio.wait_for(consumer.run(collect, idle_timeout=30), 120)
    assert set(seen) == {str(e.event_id) for e in events}, "an acknowledged record was lost"
    assert set(seen.values()) == {1}, "a record was stored twice"
