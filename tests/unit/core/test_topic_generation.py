"""A topic generation renames where records live, never the contract (ADR 0040).

``CORRIDOR_TOPIC_GENERATION`` is read once per process, so the names a generation-2 process uses are
read from a child process started with it; the parsing and the ACL mapping are checked in process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from corridor.core.paths import PROJECT_ROOT
from corridor.core.topics import (
    GENERATION_ENV,
    PartitionCountError,
    contract_name,
    generation_name,
    topic_generation,
)
from corridor.deploy.access import SERVICE_PRINCIPALS, service_acls


def test_the_generation_is_1_unless_set() -> None:
    assert topic_generation({}) == 1
    assert topic_generation({GENERATION_ENV: " 2 "}) == 2


@pytest.mark.parametrize("raw", ["two", "0", "-1", "10000", "2.5"])
def test_a_bad_generation_is_refused_naming_the_variable(raw: str) -> None:
    with pytest.raises(PartitionCountError, match=GENERATION_ENV):
        topic_generation({GENERATION_ENV: raw})


def test_names_of_a_generation_and_back() -> None:
    assert generation_name("trade.orders.v1", 1) == "trade.orders.v1"
    assert generation_name("trade.orders.v1", 2) == "trade.orders.v1.g2"
    assert generation_name("trade.orders.v1.g2", 3) == "trade.orders.v1.g3"  # replaced, not stacked
    assert generation_name("trade.orders.v1.g2", 1) == "trade.orders.v1"
    assert contract_name("trade.accepted.v1.g12") == "trade.accepted.v1"
    assert contract_name("partner.cn-buyer.v1") == "partner.cn-buyer.v1"


_PROBE = """
import json
from corridor.core import topics
from corridor.core.schemas import catalog
from corridor.ledger import topics as ledger_topics
from corridor.monitor.views import DLQ_TOPIC as MONITOR_DLQ
from corridor.ops.dlq import MARKER_TOPIC
from corridor.relay.settings import RelaySettings
from corridor.deploy.access import relay_state_topic_spec
events = catalog().events
print(json.dumps({
    "trade": list(topics.TRADE_TOPICS),
    "specs": [s.name for s in topics.TOPIC_SPECS],
    "accepted": topics.ACCEPTED,
    "retry": list(ledger_topics.RETRY_TOPICS),
    "dlq": ledger_topics.DLQ_TOPIC,
    "monitor_dlq": MONITOR_DLQ,
    "marker": MARKER_TOPIC,
    "relay_state": RelaySettings().state_topic,
    "deploy_state": relay_state_topic_spec().name,
    "subjects": sorted({e.subject.split("-")[0] for e in events.values()}),
    "event_topics": sorted({e.topic for e in events.values()}),
}))
"""


def _names(generation: str | None) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRIDOR_")}
    if generation is not None:
        env[GENERATION_ENV] = generation
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    names: dict[str, object] = json.loads(out)
    return names


def test_a_generation_2_process_reads_and_writes_g2_and_keeps_the_contract_names() -> None:
    names = _names("2")
    assert names["trade"] == ["trade.orders.v1.g2", "trade.shipments.v1.g2", "trade.certificates.v1.g2"]
    assert names["specs"] == names["trade"]
    assert names["accepted"] == "trade.accepted.v1.g2"
    assert names["retry"] == ["trade.retry.5s.v1.g2", "trade.retry.30s.v1.g2", "trade.retry.5m.v1.g2"]
    assert names["dlq"] == names["monitor_dlq"] == "trade.dlq.v1.g2"
    assert names["marker"] == "trade.dlq.replays.v1.g2"  # it names dead letters by their offsets
    assert names["relay_state"] == names["deploy_state"] == "corridor-relay.state.v2.g2"
    # what partners and the registry see does not move: subjects and events' topics are the contract's
    contract = ["trade.certificates.v1", "trade.orders.v1", "trade.shipments.v1"]
    assert names["subjects"] == names["event_topics"] == contract


def test_generation_1_is_todays_names() -> None:
    names = _names(None)
    assert names["trade"] == ["trade.orders.v1", "trade.shipments.v1", "trade.certificates.v1"]
    assert names["relay_state"] == "corridor-relay.state.v2"


def test_acls_of_a_generation_name_its_topics_and_leave_prefixes_and_wildcards() -> None:
    for principal in SERVICE_PRINCIPALS:
        today = service_acls(principal.service)
        moved = service_acls(principal.service, 2)
        assert len(moved) == len(today)
        for binding in moved:
            literal_topic = binding.resource_type == "TOPIC" and binding.pattern_type == "LITERAL"
            if literal_topic and binding.resource_name != "*":
                assert binding.resource_name.endswith(".g2"), binding
            else:
                assert binding in today, binding
    gateway = {b.resource_name for b in service_acls("gateway", 2) if b.resource_type == "TOPIC"}
    assert gateway == {"trade.orders.v1.g2", "trade.shipments.v1.g2", "trade.certificates.v1.g2"}
