"""The README's first command, driven as a user would: `corridor demo` on the running stack."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

import pytest

from corridor.core.envelope import REQUIRED_HEADERS
from tests.support.confluent import read_with_confluent

pytestmark = pytest.mark.e2e


@pytest.mark.usefixtures("demo_services_stopped_after")
def test_demo_prints_the_whole_timeline_and_standard_clients_decode_it(stack) -> None:
    env = {
        **os.environ,
        "CORRIDOR_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "CORRIDOR_SCHEMA_REGISTRY_URL": stack.schema_registry_url,
    }
    result = subprocess.run(
        [sys.executable, "-m", "corridor.cli", "demo"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    trade_id = re.search(r"^Trade ([0-9a-f-]{36})", out, re.M).group(1)
    rows = [line for line in out.splitlines() if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d (PKT|CST)", line)]
    assert len(rows) == 40  # 6 admissions, 2 letter-of-credit events, two vessels
    assert "OrderPlaced" in rows[0] and "5,000 TNE HS 2610.00 @ USD 285.50 FOB Karachi (PKKHI)" in rows[0]
    assert rows[0].startswith("2026-02-10 09:30 CST")  # the buyer's local time in Tianjin
    assert any("OrderAmended" in r and "5,500 TNE" in r for r in rows)
    assert any("TransportEventRecorded" in r and "DEPA ACT" in r for r in rows)
    assert any("PreferenceDecided" in r and "GRANTED" in r for r in rows)
    assert "FINAL ZVC-INV-2026-0038: USD 1,578,676.77" in rows[-1]
    assert "40 events published by 8 parties" in out
    # published through the gateway, each party with its own key, and stored by the ledger:
    assert "each with its party's API key, to the gateway" in result.stderr
    assert f"/v1/trades/{trade_id}): trade CLOSED" in out
    assert "order TJRD-PO-2026-0117: CLOSED (revision 1)" in out
    assert "shipment IOL-KHI-TXG-26-0412: DELIVERED" in out and "customs RELEASED" in out
    # numbered per run (a suffix of the trade id), so a second run's certificates are its own
    suffix = trade_id.replace("-", "")[:6].upper()
    assert f"certificate CPFTA-PK-2026-118734-{suffix} (CPFTA_ORIGIN): PREFERENCE_GRANTED" in out
    # the read-back group is deleted, and a party reads the trade from its own partner topic
    assert "(deleted afterwards)" in out
    group = re.search(r"read back by consumer group (\S+) \(deleted afterwards\)", out).group(1)
    from corridor.ops.lag import consumer_groups

    assert group not in asyncio.run(consumer_groups(stack.bootstrap_servers))
    assert "Partner zhob-valley-chromite read the trade's 40 events from its own topic" in out

    found = read_with_confluent(stack.bootstrap_servers, stack.schema_registry_url, trade_id, 40)
    assert len(found) == 40
    for msg, value in found:
        headers = dict(msg.headers())
        assert set(REQUIRED_HEADERS) <= set(headers)
        assert value["trade_id"] is not None and str(value["trade_id"]) == trade_id
