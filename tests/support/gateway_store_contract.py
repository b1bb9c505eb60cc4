"""The contract of ``corridor.gateway.ports.IdempotencyStore``, as one function run on every
implementation: the in-memory fake (tests/unit/gateway/test_gateway_fakes.py) and ``GatewayStore`` on a
real PostgreSQL (tests/integration/gateway/test_gateway_store_contract.py). ADR 0036.

The store under test must have been made with ``stale_after_s=STALE_AFTER_S``."""

from __future__ import annotations

import asyncio
import uuid

from corridor.core.domain import trust
from corridor.core.domain.base import TradeEvent
from corridor.demo.story import chromite_story
from corridor.gateway.ports import ClaimState, Completion, IdempotencyStore

STALE_AFTER_S = 0.2


def _order() -> TradeEvent:
    order = chromite_story().events[0]
    return order.model_copy(update={"trade_id": uuid.uuid4(), "event_id": uuid.uuid4()})


async def check_idempotency_store(store: IdempotencyStore) -> None:
    partner, other_partner = f"p-{uuid.uuid4().hex[:8]}", f"q-{uuid.uuid4().hex[:8]}"
    k1, k2, k3 = (str(uuid.uuid4()) for _ in range(3))
    h1, h2, h3 = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32
    t1, t2, t3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def states(claims: dict[str, object]) -> dict[str, ClaimState]:
        return {k: c.state for k, c in claims.items()}  # type: ignore[attr-defined]

    await store.ping()
    # of two requests claiming one key exactly one owns it; the key is the partner's own
    assert states(await store.claim(partner, [k1, k2], [h1, h2], t1)) == {
        k1: ClaimState.OWNED,
        k2: ClaimState.OWNED,
    }
    assert states(await store.claim(partner, [k1], [h1], t2)) == {k1: ClaimState.IN_PROGRESS}
    assert states(await store.claim(partner, [k1], [h2], t2)) == {k1: ClaimState.CONFLICT}
    assert states(await store.claim(other_partner, [k1], [h2], t2)) == {k1: ClaimState.OWNED}
    # release frees only the caller's own claims
    await store.release(partner, t2, [k1])
    assert states(await store.claim(partner, [k1], [h1], t2)) == {k1: ClaimState.IN_PROGRESS}
    assert await store.acknowledged(partner, k1) is None

    # complete: done with its result (replayed by key and by event id), failed keys freed
    order = _order()
    result = {"event_id": str(order.event_id), "topic": order.topic, "partition": 1, "offset": 7}
    done = Completion(k1, result, order.trade_id, order.event_id, order.avro_name, order.model_dump_json())
    await store.complete(partner, t1, [done], [k2])
    claim = (await store.claim(partner, [k1], [h1], t2))[k1]
    assert (claim.state, claim.result) == (ClaimState.DONE, result)
    assert await store.acknowledged(partner, k1) == result
    assert await store.acknowledged(partner, str(order.event_id)) == result
    assert await store.acknowledged(other_partner, k1) is None
    assert await store.trust_states([order.trade_id, uuid.uuid4()]) == {
        order.trade_id: trust.admit(None, order)
    }
    await store.release(partner, t1, [k1])  # a done key is never released
    assert (await store.claim(partner, [k1], [h1], t3))[k1].state is ClaimState.DONE
    assert states(await store.claim(partner, [k2], [h2], t2)) == {k2: ClaimState.OWNED}

    # a pending claim never completed is taken over once stale; its old owner can no longer complete it
    await asyncio.sleep(STALE_AFTER_S * 2)
    assert states(await store.claim(partner, [k2], [h2], t3)) == {k2: ClaimState.OWNED}
    late = Completion(k2, {**result, "event_id": k2}, order.trade_id, uuid.uuid4(), order.avro_name)
    await store.complete(partner, t2, [late], [])
    assert (await store.claim(partner, [k2], [h2], t1))[k2].state is ClaimState.IN_PROGRESS

    # wait_for_others: a key in progress elsewhere is claimed once its owner lets go
    await store.claim(partner, [k3], [h3], t1)

    async def let_go() -> None:
        await asyncio.sleep(0.05)
        await store.release(partner, t1, [k3])

    releasing = asyncio.ensure_future(let_go())
    claims = await store.wait_for_others(partner, [k3], [h3], t3, timeout_s=5, poll_s=0.01)
    await releasing
    assert states(claims) == {k3: ClaimState.OWNED}

    # expiry: rows claimed longer ago than the retention go (done and pending alike), younger ones stay
    await asyncio.sleep(0.3)
    fresh = str(uuid.uuid4())
    assert states(await store.claim(other_partner, [fresh], [h1], t1)) == {fresh: ClaimState.OWNED}
    assert await store.expire_idempotency(0.25) >= 3  # k1 (done), k2 and k3 (pending): the rest is fresh
    assert await store.acknowledged(partner, k1) is None
    assert states(await store.claim(other_partner, [fresh], [h1], t2)) == {fresh: ClaimState.IN_PROGRESS}
