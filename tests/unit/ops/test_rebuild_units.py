"""``corridor rebuild`` without a stack: the rebuild's ledger dead-letters nothing (the refusal is in the
receipt), schema names are checked before anything is touched, and the comparison compares a trade's
applied events as a set. The rebuild itself runs on the real stack:
tests/integration/ops/test_ops_rebuild.py."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, cast

import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from corridor.demo.story import chromite_story
from corridor.ledger import deadletter as dl
from corridor.ledger import planner
from corridor.ledger.consumer import Ledger
from corridor.ops.rebuild import _COMPARED, RebuildError, _check_name, _comparison_sql, workspace_of


class _RefusingProducer:
    async def send(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the rebuild's ledger produced a record")


def _item() -> planner.Inbound:
    event = chromite_story().events[0]
    tp = TopicPartition("trade.orders.v1", 0)
    record = ConsumerRecord(tp.topic, 0, 7, 0, 0, str(event.trade_id).encode(), b"x", None, 36, 1, [])
    origin = dl.Origin(tp.topic, 0, 7, dt.datetime.now(dt.UTC), 1)
    return planner.Inbound(tp, 7, origin, event=event, record=record)


def _ledger(**options: Any) -> Ledger:
    ledger = Ledger(bootstrap_servers="127.0.0.1:1", codec=cast(Any, None), store=cast(Any, None),
                    group_id="g", **options)  # fmt: skip
    ledger._producer = cast(Any, _RefusingProducer())
    return ledger


def test_the_rebuilds_ledger_records_a_refusal_in_the_receipt_and_dead_letters_nothing() -> None:
    async def go() -> None:
        ledger = _ledger(dead_letters=False)
        item = _item()
        sent = await ledger._dead_letter(planner.DeadLetter(item, "LifecycleViolation", "a second order"))
        assert sent.done() and sent.result() is None
        receipt = ledger._receipt(item, "rejected", "LifecycleViolation", "a second order", None)
        assert receipt is not None and receipt.event_id == item.decoded.event_id
        assert (receipt.status, receipt.error_class, receipt.reason, receipt.retry_at) == (
            "rejected", "LifecycleViolation", "a second order", None)  # fmt: skip
        assert ledger.stats.dead_by_class == {"LifecycleViolation": 1}
        # the live ledger does produce it
        with pytest.raises(AssertionError, match="produced a record"):
            await _ledger()._dead_letter(planner.DeadLetter(_item(), "LifecycleViolation", "a second order"))

    asyncio.run(go())


@pytest.mark.parametrize("name", ["Ledger", "ledger-x", "1ledger", "ledger; drop", "l" * 48])
def test_a_schema_name_that_is_not_a_plain_identifier_or_too_long_is_refused(name: str) -> None:
    with pytest.raises(RebuildError, match="ledger schema name"):
        _check_name(name)


def test_names_of_the_workspace_and_the_kept_schema_fit_postgresql() -> None:
    _check_name("l" * 47)
    assert workspace_of("ledger") == "ledger_rebuild"
    assert len(f"{'l' * 47}_prev_{10**9 + 1}") <= 63


def test_the_comparison_takes_a_trades_applied_events_as_a_set_and_names_the_columns() -> None:
    kind, table, keys, columns = _COMPARED[0]
    sql = _comparison_sql("ledger", "ledger_rebuild", table, keys, columns)
    assert kind == "trade" and 'FROM "ledger".trade_states' in sql
    assert 'FROM "ledger_rebuild".trade_states' in sql
    assert "x.state - 'applied'" in sql and "array_agg(a ORDER BY a)" in sql
    assert "FULL JOIN" in sql and "IS DISTINCT FROM" in sql
    assert {k for k, *_ in _COMPARED} == {"trade", "event", "receipt", "order", "shipment", "certificate"}
