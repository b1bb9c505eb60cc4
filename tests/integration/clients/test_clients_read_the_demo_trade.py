"""Each partner client (clients/java, clients/go, clients/typescript) reads the chromite demo trade from
the partner listener of a live stack — SCRAM-SHA-512, read_committed, its own consumer group — decodes
every record through the registry (logged in as the partner's read-only registry user), verifies both
signed certificates as valid and a tampered copy as tampered, and prints exactly what the Python SDK
prints for the same records (clients/README.md).

The trade is the demo's chromite story with fresh party ids, its two certificates signed by their
issuers' keys registered in the stack (as ``corridor demo`` does), published to the trade topics and
copied by the session's relay to the buyer's partner topic."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from corridor.core import signatures
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
from tests.support import clients

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # three toolchains' builds on a cold cache

EVENTS = 40  # the chromite story (two vessels, 6 admissions, 2 credit events); the buyer reads it all


async def _register_and_sign(database_url: str, events: list[Any]) -> list[dict[str, Any]]:
    """Sign each certificate with a new key of its issuer, registered in the stack; the keys' JSON."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    keys = []
    try:
        await signatures.ensure_schema(pool)
        for index, event in enumerate(events):
            if event.avro_name not in signatures.SIGNED_TYPES:
                continue
            private = signatures.generate_private_key()
            key = await signatures.add_key(pool, event.issuer.party_id, signatures.public_key_bytes(private))
            events[index] = signatures.sign_event(event, private, key.key_id)
            keys.append(key.to_dict())
    finally:
        await pool.close()
    return keys


def _lines(name: str, process: subprocess.Popen[str]) -> list[dict[str, Any]]:
    try:
        out, err = process.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = process.communicate()
        raise AssertionError(f"the {name} example did not finish:\n{out[-2000:]}\n{err[-3000:]}") from None
    assert process.returncode == 0, f"the {name} example failed ({process.returncode}):\n{err[-4000:]}"
    try:
        lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    except ValueError as exc:
        raise AssertionError(f"the {name} example printed no JSON line: {exc}\n{out[-2000:]}") from None
    return sorted(lines, key=lambda line: (line["partition"], line["offset"]))


def test_every_client_reads_the_demo_trade_like_the_python_sdk(
    partner_stack: SecureStack, relay: RelayProcess, tmp_path: Path
) -> None:
    # build first (once per session, shared with tests/clients): a missing toolchain fails here
    commands = {
        "java": clients.java_example(),
        "go": clients.go_example(),
        "typescript": clients.typescript_example(),
        "python": [sys.executable, str(Path(__file__).with_name("sdk_example.py"))],
    }
    trade = story_trade("chromite", uuid.uuid4().hex[:8])
    assert len(trade.events) == EVENTS
    keys = asyncio.run(_register_and_sign(partner_stack.database_url, trade.events))
    assert len(keys) == 2
    keyring = tmp_path / "keys.json"
    keyring.write_text(json.dumps(keys), encoding="utf-8")

    buyer = trade.events[0].buyer.party_id  # type: ignore[attr-defined]
    added = add_partner(partner_stack, buyer, "BUYER")
    login = added["kafka"]
    asyncio.run(publish(partner_stack, trade.events))
    deadline = time.monotonic() + 60
    while len(asyncio.run(read_topic(partner_stack.bootstrap, partner_topic(buyer)))) < EVENTS:
        assert time.monotonic() < deadline, "the relay did not copy the trade to the buyer's topic"
        time.sleep(0.5)

    processes = {
        name: subprocess.Popen(
            command,
            cwd=PROJECT_ROOT,
            env=partner_stack.env(
                PARTNER_ID=buyer,
                PARTNER_PASSWORD=login["password"],
                PARTNER_BOOTSTRAP=login["bootstrap_servers"],
                # SASL_SSL: the CA certificate `partners add` printed (each client verifies host names)
                PARTNER_CA_FILE=login["ssl_cafile"],
                SCHEMA_REGISTRY_URL=partner_stack.registry_url,
                # the partner's read-only registry login (the registry answers 401 without one)
                SCHEMA_REGISTRY_USER_INFO=added["schema_registry"]["basic.auth.user.info"],
                KEYRING_FILE=str(keyring),
                PARTNER_GROUP=f"{buyer}.{name}-example",
                MAX_RECORDS=str(EVENTS),
                IDLE_TIMEOUT_S="60",
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, command in commands.items()
    }
    outputs = {name: _lines(name, process) for name, process in processes.items()}

    reference = outputs.pop("python")
    assert len(reference) == EVENTS
    # every event once (in the relay's order: it reads three trade topics, so not the publishing order)
    assert sorted(line["ce_id"] for line in reference) == sorted(str(e.event_id) for e in trade.events)
    assert all(line["trade_id"] == str(trade.trade_id) == line["key"] for line in reference)
    types = {str(e.event_id): e.avro_name for e in trade.events}
    assert all(line["ce_type"] == line["type"] == types[line["ce_id"]] for line in reference)
    certificates = [line["certificate"] for line in reference if line["certificate"]]
    assert [(c["verdict"], c["tampered_copy_verdict"]) for c in certificates] == [("valid", "tampered")] * 2
    for name, lines in outputs.items():
        assert len(lines) == EVENTS, f"{name} printed {len(lines)} of {EVENTS} records"
        for ours, theirs in zip(reference, lines, strict=True):
            assert theirs == ours, f"{name} differs from the Python SDK at {ours['type']}"
