"""One running total per licence across trades (docs/adr/0045-licences-across-trades.md), on real Kafka
and PostgreSQL: two trades of the same supplier and buyer book on the licences issued into the first;
the second trade's booking beyond what is left is rejected naming ``licences[0]``, the one within it is
accepted, the ``licences`` row holds both trades' draws; two writers of one licence row at the same
version cannot both commit; and two ledgers (one group, each owning one of the trades) booking the last
of a licence at once draw it once (the row, not Kafka, serialises ledgers)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka.partitioner import murmur2

from corridor.core.domain.events import ShipmentBooked
from corridor.ledger.store import LedgerStore, LicenceWrite, StaleState
from tests.integration.ledger.ledger_helpers import InProcessLedger, LedgerSetup, eventually, wait_ready
from tests.unit.ledger.test_licence_across_trades import EXPORT, IMPORT, booking, capped_story, second_trade

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


async def _receipt(db: asyncpg.Pool, schema: str, event: Any) -> dict[str, Any] | None:
    """The ledger's word on ``event``: accepted (stored) or its receipt (pending / rejected)."""
    if await db.fetchval(f'SELECT 1 FROM "{schema}".events WHERE event_id = $1', event.event_id):
        return {"status": "accepted"}
    row = await db.fetchrow(
        f'SELECT status, reason FROM "{schema}".receipts WHERE event_id = $1 AND status = $2',
        event.event_id,
        "rejected",
    )
    return dict(row) if row is not None else None


async def test_two_trades_draw_one_licence(
    ledger: InProcessLedger, ledger_setup: LedgerSetup, publish: Any, api_key: Any, db: asyncpg.Pool
) -> None:
    schema = ledger_setup.db_schema
    story = capped_story()
    template = story[-1]
    assert isinstance(template, ShipmentBooked)
    a_trade = uuid.uuid4()
    # trade A: the story under a fresh trade id (the licences are issued into it), 120 t booked
    first = [
        type(e).model_validate({**json.loads(e.model_dump_json()), "trade_id": str(a_trade)}) for e in story
    ]
    first_booking = booking(template, a_trade, "S-A1", "120", order_id=template.order_id)
    other = second_trade(story)
    b_trade = other[0].trade_id
    over, within = booking(template, b_trade, "S-B1", "80"), booking(template, b_trade, "S-B2", "30")
    await publish(*first[:-1], first_booking, *other)
    assert await eventually(lambda: _receipt(db, schema, first_booking), within=90) == {"status": "accepted"}
    await publish(over)
    refused = await eventually(lambda: _receipt(db, schema, over), within=90)
    assert refused["status"] == "rejected", refused
    assert refused["reason"].startswith("licences[0]: shipment S-B1 would draw 80,000 kg"), refused
    assert "30,000 kg left of the 150,000 kg authorised" in refused["reason"]
    await publish(within)
    assert await eventually(lambda: _receipt(db, schema, within), within=90) == {"status": "accepted"}

    rows = await db.fetch(
        f'SELECT issuer, certificate_number, version, state::text AS state FROM "{schema}".licences'
    )
    by_key = {f"{r['issuer']}/{r['certificate_number']}": json.loads(r["state"]) for r in rows}
    for key in (EXPORT, IMPORT):
        drawn = [(d["trade_id"], d["shipment_id"]) for d in by_key[key]["drawdowns"]]
        assert drawn == [(str(a_trade), "S-A1"), (str(b_trade), "S-B2")], drawn
        assert by_key[key]["issued_in"] == str(a_trade)

    # the ledger API of trade B: the supplier (the export licence's holder) sees it drawn to nothing
    supplier = await api_key("wah-nobel", "SUPPLIER")
    async with httpx.AsyncClient(base_url=ledger.url, timeout=10) as http:
        response = await http.get(f"/v1/trades/{b_trade}", headers={"Authorization": f"Bearer {supplier}"})
    assert response.status_code == 200, response.text
    export = next(x for x in response.json()["licences"] if x["kind"] == "EXPLOSIVES_EXPORT_LICENCE")
    assert export["remaining"][0]["remaining_net_explosive_mass_kg"] == "0.000", export
    assert [d["shipment_id"] for d in export["drawdowns"]] == ["S-A1", "S-B2"]

    # two writers of the export licence at the version read: the second's batch is stale, nothing written
    store = LedgerStore(db, schema)
    row = (await store.load_licences([EXPORT]))[EXPORT]
    await store.write_batch([], [], licences=[LicenceWrite(row.state, row.version)])
    with pytest.raises(StaleState) as info:
        await store.write_batch([], [], licences=[LicenceWrite(row.state, row.version)])
    assert info.value.licences == {EXPORT}
    assert (await store.load_licences([EXPORT]))[EXPORT].version == row.version + 1


def _partition(trade_id: uuid.UUID, partitions: int = 6) -> int:
    """The trade topics' partition of a trade (Kafka's default partitioner on the trade id key)."""
    return (murmur2(str(trade_id).encode()) & 0x7FFFFFFF) % partitions


def _as_trade(events: list[Any], trade_id: uuid.UUID) -> list[Any]:
    return [
        type(e).model_validate(
            {**json.loads(e.model_dump_json()), "trade_id": str(trade_id), "event_id": str(uuid.uuid4())}
        )
        for e in events
    ]


async def test_two_ledgers_booking_one_licence_at_once_draw_it_once(
    stack: Any, ledger: InProcessLedger, ledger_setup: LedgerSetup, publish: Any, db: asyncpg.Pool
) -> None:
    """Trades A and B on partitions of two different ledgers each book 100 t of the 150 t licence at the
    same moment: whichever commits first draws, the other's batch finds the licence row moved, plans
    again and is rejected. Never both (Kafka orders neither against the other)."""
    schema = ledger_setup.db_schema
    other = InProcessLedger(ledger_setup.settings(stack))
    await asyncio.to_thread(other.start)
    try:
        await wait_ready(other.url)
        servers = [ledger, other]

        async def split() -> list[set[int]] | None:
            owned = [{tp.partition for tp in server.ledger.assigned} for server in servers]
            return owned if all(owned) and not owned[0] & owned[1] and len(owned[0] | owned[1]) == 6 else None

        owned = await eventually(split, within=90)
        ids = [next(t for t in iter(uuid.uuid4, None) if _partition(t) in mine) for mine in owned]
        story = capped_story()
        template = story[-1]
        assert isinstance(template, ShipmentBooked)
        first = _as_trade(story[:-1], ids[0])
        second = _as_trade(second_trade(story), ids[1])
        await publish(*first, *second)
        last = [first[-1], second[-1]]
        for event in last:
            assert await eventually(lambda e=event: _receipt(db, schema, e), within=90) == {
                "status": "accepted"
            }
        bookings = [
            booking(template, ids[0], "S-A1", "100", order_id=template.order_id),
            booking(template, ids[1], "S-B1", "100"),
        ]
        await publish(*bookings)
        decided = [await eventually(lambda b=b: _receipt(db, schema, b), within=90) for b in bookings]
        statuses = sorted(d["status"] for d in decided)
        assert statuses == ["accepted", "rejected"], decided
        (refused,) = [d for d in decided if d["status"] == "rejected"]
        assert "50,000 kg left of the 150,000 kg authorised" in refused["reason"], refused
        drawn = (await LedgerStore(db, schema).load_licences([EXPORT]))[EXPORT].state.drawdowns
        assert [d.net_explosive_mass_kg for d in drawn] == [100_000], drawn
    finally:
        await asyncio.to_thread(other.stop)
