"""The SDK example of README.md (``feed.py`` of "Your first trade"), run verbatim against the test stack.

A real partner: registered with ``corridor partners add`` (SCRAM credentials and ACLs on the broker),
buyer of a new trade whose events the session's relay copies to its topic. The example, extracted
from the README and run as its own Python process (with an order id it never meets, so it reads on),
logs in, prints one line per event in trade order, and has committed every event it printed once it
waits for more. (tests/e2e/test_readme.py runs it as the README tells the reader to.)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from corridor.core.kafka import client_security
from corridor.core.routing import partner_topic
from tests.integration.relay.relay_helpers import (
    PROJECT_ROOT,
    RelayProcess,
    SecureStack,
    add_partner,
    publish,
    read_topic,
    story_trade,
)
from tests.support import readme

pytestmark = pytest.mark.integration


def readme_example() -> str:
    blocks = [b for b in readme.parse(PROJECT_ROOT / "README.md") if b.file and b.file.endswith('feed.py"')]
    assert blocks, "no feed.py example in the README"
    return blocks[0].code


async def committed(bootstrap: str, group: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **client_security())
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}


async def handled_all(bootstrap: str, topic: str) -> dict[int, int]:
    """The committed offsets of a consumer that handled every record: last offset + 1 per partition
    (not the end offset: the relay's transaction markers take offsets too)."""
    last: dict[int, int] = {}
    for record in await read_topic(bootstrap, topic):
        last[record.partition] = record.offset + 1
    return last


def test_the_readme_example_reads_the_partners_trade(partner_stack: SecureStack, relay: RelayProcess) -> None:
    code = readme_example()

    trade = story_trade("explosives", uuid.uuid4().hex[:8])
    buyer = next(e for e in trade.events if type(e).__name__ == "OrderPlaced").buyer.party_id  # type: ignore[attr-defined]
    added = add_partner(partner_stack, buyer, "BUYER")
    login = added["kafka"]
    registry_login = added["schema_registry"]["basic.auth.user.info"]
    asyncio.run(publish(partner_stack, trade.events))

    env = partner_stack.env(
        PARTNER_BOOTSTRAP=login["bootstrap_servers"],
        PARTNER_CA_FILE=login["ssl_cafile"],  # SASL_SSL: the CA certificate `partners add` printed
        CORRIDOR_SCHEMA_REGISTRY_URL=partner_stack.registry_url,
    )
    process = subprocess.Popen(
        # the partner's own registry login (read role), as `partners add` printed it
        [sys.executable, "-c", code, buyer, login["password"], registry_login, "no-such-order"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while len(lines) < len(trade.events) and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.strip())
        # all printed: once the example waits for more, everything it printed is committed
        group = f"{buyer}.erp"
        everything = asyncio.run(handled_all(partner_stack.bootstrap, partner_topic(buyer)))
        deadline = time.monotonic() + 20
        while asyncio.run(committed(partner_stack.bootstrap, group)) != everything:
            assert time.monotonic() < deadline, f"the example did not commit what it handled: {lines}"
            time.sleep(0.2)
    finally:
        process.terminate()
        _, errors = process.communicate(timeout=20)
    expected = [f"{trade.trade_id} {type(e).__name__} from {e.sender}" for e in trade.events]
    assert lines == expected, errors[-3000:]
    assert asyncio.run(committed(partner_stack.bootstrap, f"{buyer}.erp")) == everything
