"""``kill -9`` of the relay in the middle of a transaction, during a stream of trades, then a restart:
every partner topic holds every event of the trades its partner is party to exactly once, and every
party of a trade sees its events in one order that keeps each trade topic's order (read_committed).

The killed relay runs with ``CORRIDOR_RELAY_PAUSE_BEFORE_COMMIT_MS``: it logs ``pausing_before_commit``
after sending a transaction's records and before committing it, and the test kills it right then, so
the crash leaves an open transaction whose records are already in the partner topics' logs. The
restarted relay (same instance, same transactional ids) fences it: the records are aborted, never
read, and relayed again in a committed transaction. Trades go on across the crash, so parties join
after the restart and are back-filled from the state read back and from the trade topics.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import defaultdict

import pytest

from corridor.core.routing import partner_topic
from corridor.core.signatures import SIGNED_TYPES
from corridor.core.topics import TRADE_TOPICS
from tests.integration.relay.relay_helpers import (
    RelayProcess,
    SecureStack,
    Trade,
    header,
    interleave,
    publish,
    read_topic,
    story_trade,
)

pytestmark = pytest.mark.integration


def test_kill_9_mid_transaction_then_restart(partner_stack: SecureStack, relay: RelayProcess) -> None:
    suffix = uuid.uuid4().hex[:8]
    trades: list[Trade] = [story_trade("chromite", suffix) for _ in range(4)]
    trades += [story_trade("explosives", suffix) for _ in range(4)]
    events = interleave(trades)  # 4 × 40 + 4 × 23 = 252 events of 8 concurrent trades
    partners = sorted(set().union(*(t.parties for t in trades)))

    # The session's relay makes way for one that pauses inside every transaction.
    relay.stop()
    relay.start(CORRIDOR_RELAY_PAUSE_BEFORE_COMMIT_MS="400", CORRIDOR_RELAY_BATCH_MAX_RECORDS="10")
    paused_before = len(relay.log_events("pausing_before_commit"))

    published: list[int] = []
    producer = threading.Thread(
        target=lambda: published.append(asyncio.run(publish(partner_stack, events, pause_s=0.03))),
        name="trades",
    )
    producer.start()
    try:
        # Let a few transactions commit, then kill while one is open (its records already sent).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            pauses = relay.log_events("pausing_before_commit")[paused_before:]
            if len(pauses) >= 4 and pauses[-1]["deliveries"] > 0:
                relay.kill9()
                break
            time.sleep(0.02)
        else:
            pytest.fail(f"the relay never paused before a commit:\n{relay.log_text()[-2000:]}")
        killed_at_deliveries = pauses[-1]["deliveries"]
        time.sleep(1.0)  # trades go on while no relay runs
        relay.start()  # same instance id and transactional ids; no pause
    finally:
        producer.join(timeout=120)
    assert published == [len(events)]

    # what each partner is owed: its role's need to know (ADR 16)
    expected = {p: [e for t in trades if p in t.parties for e in t.receives(p)] for p in partners}
    deadline = time.monotonic() + 90
    while True:
        counts = {
            p: len(asyncio.run(read_topic(partner_stack.bootstrap, partner_topic(p)))) for p in partners
        }
        if all(counts[p] >= len(expected[p]) for p in partners) or time.monotonic() > deadline:
            break
        time.sleep(0.5)

    # exactly once: every expected event, no other, no duplicate
    sequences: dict[uuid.UUID, dict[str, list[str]]] = defaultdict(dict)
    aborted = 0
    for partner_id in partners:
        topic = partner_topic(partner_id)
        records = asyncio.run(read_topic(partner_stack.bootstrap, topic))
        ids = [header(r, "ce_id") for r in records]
        assert len(ids) == len(set(ids)), f"{topic} holds duplicates"
        assert sorted(ids) == sorted(str(e.event_id) for e in expected[partner_id]), topic
        for record in records:
            assert header(record, "corridor_relay_source")
            if header(record, "ce_type") in SIGNED_TYPES:  # the stories' certificates are not signed
                assert header(record, "corridor_signature_verdict") == "unsigned"
            trade_id = uuid.UUID(record.key.decode())
            sequences[trade_id].setdefault(partner_id, []).append(header(record, "ce_id"))
        everything = asyncio.run(
            read_topic(partner_stack.bootstrap, topic, isolation_level="read_uncommitted")
        )
        aborted += len(everything) - len(records)

    # per trade: the parties agree on the order of the events they share (one relay order, each party
    # seeing its role's part of it), and that order keeps each trade topic's order
    for trade in trades:
        per_party = sequences[trade.trade_id]
        assert set(per_party) == trade.parties
        sequences_ = list(per_party.values())
        for a in sequences_:
            for b in sequences_:
                shared = set(a) & set(b)
                assert [i for i in a if i in shared] == [i for i in b if i in shared], (
                    f"parties of {trade.trade_id} disagree"
                )
            for topic in TRADE_TOPICS:
                produced = [
                    str(e.event_id) for e in trade.events if e.topic == topic and str(e.event_id) in a
                ]
                assert [i for i in a if i in set(produced)] == produced, f"{topic} order of {trade.trade_id}"

    # the kill did interrupt an open transaction: its records are in the logs, aborted
    assert killed_at_deliveries > 0 and aborted >= 1, (killed_at_deliveries, aborted)
    ready = relay.readyz()
    assert ready["stats"]["relayed"] > 0 and ready["restarts"] == 0
    assert all(slot["transactional_id"] == f"corridor-relay-{p}" for p, slot in ready["slots"].items())
