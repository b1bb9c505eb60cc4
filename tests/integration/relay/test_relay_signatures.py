"""Certificate events reach the partner topics with the relay's verdict on their issuer's signature
(``corridor_signature_verdict``, services/core/signatures.py): delivered whatever the verdict, never held
back for it."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid

import asyncpg
import pytest

from corridor.core import signatures
from corridor.core.routing import partner_topic
from tests.integration.relay.relay_helpers import (
    RelayProcess,
    SecureStack,
    header,
    publish,
    read_topic,
    story_trade,
)

pytestmark = pytest.mark.integration


async def register(database_url: str, partner_id: str) -> tuple[object, str]:
    key = signatures.generate_private_key()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=1)
    try:
        await signatures.ensure_schema(pool)
        registered = await signatures.add_key(pool, partner_id, signatures.public_key_bytes(key))
    finally:
        await pool.close()
    return key, registered.key_id


def test_certificates_carry_the_signature_verdict(partner_stack: SecureStack, relay: RelayProcess) -> None:
    trade = story_trade("explosives", uuid.uuid4().hex[:8])
    certificates = [i for i, e in enumerate(trade.events) if e.avro_name in signatures.SIGNED_TYPES]
    assert len(certificates) == 3  # two licences and the CPFTA certificate of origin
    for index in certificates:
        certificate = trade.events[index]
        issuer = certificate.issuer.party_id  # type: ignore[attr-defined]
        key, key_id = asyncio.run(register(partner_stack.database_url, issuer))
        trade.events[index] = signatures.sign_event(certificate, key, key_id)  # type: ignore[arg-type]
    # the last one is altered after its issuer signed it
    altered = trade.events[certificates[-1]]
    trade.events[certificates[-1]] = altered.model_copy(
        update={"occurred_at": altered.occurred_at + dt.timedelta(seconds=1)}
    )
    asyncio.run(publish(partner_stack, trade.events))

    buyer = trade.events[0].buyer.party_id  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    owed = len(trade.receives(buyer))  # the buyer receives every event of its trade
    while len(records := asyncio.run(read_topic(partner_stack.bootstrap, partner_topic(buyer)))) < owed:
        assert time.monotonic() < deadline, f"{len(records)} of {owed} events relayed"
        time.sleep(0.3)
    verdicts = {header(r, "ce_id"): header(r, "corridor_signature_verdict") for r in records}
    ids = [str(e.event_id) for e in trade.events]
    assert [verdicts[ids[i]] for i in certificates[:-1]] == ["valid", "valid"]
    assert verdicts[ids[certificates[-1]]] == "tampered"  # delivered all the same, flagged
    assert all(verdicts[i] is None for n, i in enumerate(ids) if n not in certificates)
