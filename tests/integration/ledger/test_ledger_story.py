"""The stories through Kafka into the ledger, read back through its query API as their parties."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from corridor.demo.story import chromite_story, explosives_story
from tests.integration.ledger.ledger_helpers import InProcessLedger, LedgerSetup, eventually

pytestmark = pytest.mark.integration


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def trade_when(http: httpx.AsyncClient, trade_id: uuid.UUID, key: str, version: int) -> dict[str, Any]:
    async def check() -> dict[str, Any] | None:
        response = await http.get(f"/v1/trades/{trade_id}", headers=bearer(key))
        if response.status_code == 200 and response.json()["version"] >= version:
            return dict(response.json())
        return None

    return dict(await eventually(check, within=90))


async def test_chromite_story_ends_closed_delivered_and_granted(
    ledger: InProcessLedger, publish: Any, api_key: Any, db: asyncpg.Pool, ledger_setup: LedgerSetup
) -> None:
    story = chromite_story()
    await publish(*story.events)
    buyer = await api_key("tianjin-rongda-smelting", "BUYER")
    async with httpx.AsyncClient(base_url=ledger.url, timeout=10) as http:
        trade = await trade_when(http, story.trade_id, buyer, len(story.events))

    assert trade["trade_id"] == str(story.trade_id)
    assert trade["status"] == "CLOSED" and trade["version"] == len(story.events)
    order = trade["order"]
    assert (order["status"], order["invoice_stage"]) == ("CLOSED", "FINAL")
    assert order["order_id"] == "TJRD-PO-2026-0117" and order["revision"] == 1
    assert order["lines"][0]["quantity"] == "5500.000"
    assert [(i["kind"], i["total"]) for i in order["invoices"]] == [
        ("PROVISIONAL", "1573790.2000"),
        ("FINAL", "1578676.7700"),
    ]

    # two partial shipments of one order, dry bulk: each its own milestones, each short landed
    shipment, second = trade["shipments"]
    for s in (shipment, second):
        assert s["status"] == "DELIVERED" and s["customs_status"] == "RELEASED"
        assert s["cargo_type"] == "DRY_BULK" and s["allocations"] == [
            {"line_number": 1, "quantity": "2750.000", "unit": "TNE"}
        ]
        assert "GTIN" not in {m["event_type"] for m in s["milestones"]}  # no containers
    assert shipment["actual_departure"] == "2026-03-01T17:00:00Z"
    assert shipment["actual_arrival"] == "2026-03-14T22:00:00Z"
    assert second["actual_departure"] == "2026-03-05T16:00:00Z"
    depa = next(m for m in shipment["milestones"] if m["event_type"] == "DEPA")
    assert (depa["classifier"], depa["at"]) == ("ACT", "2026-03-01T17:00:00Z")
    assert depa["planned"] and depa["estimated"]  # kept, never overwriting the actual
    survey = next(m for m in second["milestones"] if m["event_type"] == "FINAL_DRAFT_SURVEY")
    assert (survey["quantity"], survey["quantity_unit"]) == ("2761.100", "TNE")
    assert shipment["quantity_finding"] == "short landed 2.7 TNE of 2,751.3 TNE shipped"
    assert second["quantity_finding"] == "short landed 11 TNE of 2,761.1 TNE shipped"
    deliveries = [t["summary"] for t in trade["timeline"] if t["type"] == "ShipmentDelivered"]
    assert deliveries[0].endswith(
        "2,748.6 of 5,500 TNE ordered delivered so far, 1 shipment still to deliver"
    )
    assert deliveries[1].endswith("order: delivered within tolerance: 5,498.7 of 5,500 TNE ordered")

    certificates = {c["certificate_number"]: c for c in trade["certificates"]}
    coo = certificates["CPFTA-PK-2026-118734"]
    assert (coo["kind"], coo["status"], coo["verification"], coo["preference"]) == (
        "CPFTA_ORIGIN",
        "PREFERENCE_GRANTED",
        "MATCHED",
        "GRANTED",
    )
    assert certificates["SGS-KHI-MIN-26-03391"]["status"] == "ISSUED"

    timeline = trade["timeline"]
    assert len(timeline) == len(story.events)
    assert [t["occurred_at"] for t in timeline] == sorted(t["occurred_at"] for t in timeline)
    assert [t["event_id"] for t in timeline] == [
        str(e.event_id) for e in sorted(story.events, key=lambda e: e.occurred_at)
    ]
    assert timeline[0]["type"] == "OrderPlaced" and timeline[0]["sender"] == "tianjin-rongda-smelting"
    assert "5,000 TNE" in timeline[0]["summary"]
    assert timeline[-1]["type"] == "InvoiceIssued" and "FINAL" in timeline[-1]["summary"]
    assert {p["party_id"] for p in trade["parties"]} >= {"zhob-valley-chromite", "gacc-tianjin", "tdap"}

    # the append-only ledger: every event once, with where it was read and its trace
    s = ledger_setup.db_schema
    rows = await db.fetch(
        f"SELECT event_id, type, topic, partition, \"offset\", sender, trace_id, payload->>'sender' AS ps "
        f'FROM "{s}".events WHERE trade_id = $1',
        story.trade_id,
    )
    assert sorted(str(r["event_id"]) for r in rows) == sorted(str(e.event_id) for e in story.events)
    assert all(r["trace_id"] and len(r["trace_id"]) == 32 for r in rows)
    assert all(r["sender"] == r["ps"] for r in rows)
    assert {r["topic"] for r in rows} == {"trade.orders.v1", "trade.shipments.v1", "trade.certificates.v1"}
    projection = await db.fetchrow(
        f"SELECT o.status, o.invoice_stage, s.status AS shipment, s.actual_departure, c.preference "
        f'FROM "{s}".orders o JOIN "{s}".shipments s USING (trade_id) '
        f'JOIN "{s}".certificates c USING (trade_id) '
        "WHERE o.trade_id = $1 AND c.kind = 'CPFTA_ORIGIN' ORDER BY s.actual_departure",
        story.trade_id,
    )
    assert dict(projection) | {"actual_departure": None} == {
        "status": "CLOSED",
        "invoice_stage": "FINAL",
        "shipment": "DELIVERED",
        "actual_departure": None,
        "preference": "GRANTED",
    }
    assert projection["actual_departure"].isoformat() == "2026-03-01T17:00:00+00:00"


async def test_explosives_story_ends_accepted_arrived_with_both_licences(
    ledger: InProcessLedger, publish: Any, api_key: Any
) -> None:
    story = explosives_story()
    await publish(*story.events)
    buyer = await api_key("mcc-kashgar-mining", "BUYER")
    carrier = await api_key("nlc-sost", "CARRIER")
    async with httpx.AsyncClient(base_url=ledger.url, timeout=10) as http:
        trade = await trade_when(http, story.trade_id, buyer, len(story.events))
        # need to know (ADR 16): the carrier sees the shipment, not the order's prices or the licences
        carried = await trade_when(http, story.trade_id, carrier, len(story.events))
    assert carried["order"] is None and carried["certificates"] == [] and carried["licences"] == []
    assert [s["shipment_id"] for s in carried["shipments"]] == [s["shipment_id"] for s in trade["shipments"]]
    assert {t["type"] for t in carried["timeline"]} <= {
        "PartyAdmitted",
        "ShipmentBooked",
        "TransportEventRecorded",
        "TransportDocumentEventRecorded",
        "ShipmentDelivered",
    }
    assert trade["status"] == "ACCEPTED"  # delivered in full, not invoiced yet
    (shipment,) = trade["shipments"]
    assert (shipment["status"], shipment["transport_mode"], shipment["un_numbers"]) == (
        "DELIVERED",
        "ROAD",
        ["UN0241"],
    )
    # three trucks: the second and third trucks' departures from Sost are their own milestones, and so
    # is each truck's crossing at Khunjerab (a BOCR call)
    calls = sorted(
        (m["event_type"], m["location"], m["vehicle_reference"], m["facility_type"])
        for m in shipment["milestones"]
    )
    trucks = ("LEB-4471", "LEB-4472", "LEB-4473")
    assert calls == sorted(
        [("DEPA", "PKZSD", t, "INTE") for t in trucks]
        + [("ARRI", "CNKJP", t, "BOCR") for t in trucks]
        + [("ARRI", "CNKSS", t, "INTE") for t in trucks]
    )
    assert all(m["classifier"] == "ACT" for m in shipment["milestones"])
    assert shipment["quantity_finding"] == "landed as shipped, 200 TNE"
    assert sorted((d["document_type"], d["status"]) for d in trade["documents"]) == [("CMR", "ISSUED")] * 3
    # the licences are valid for a year, through 2027-05-16 (ADR 0034): the status is today's
    status = "ISSUED" if dt.date.today() <= dt.date(2027, 5, 16) else "EXPIRED"
    assert sorted((c["kind"], c["status"]) for c in trade["certificates"]) == [
        ("CPFTA_ORIGIN", "ISSUED"),  # TDAP's, every box filled (ADR 0033)
        ("EXPLOSIVES_EXPORT_LICENCE", status),
        ("EXPLOSIVES_IMPORT_APPROVAL", status),
    ]
    licences = [c for c in trade["certificates"] if c["kind"] != "CPFTA_ORIGIN"]
    assert [c["valid_until"] for c in licences] == ["2027-05-16"] * 2
    # the dangerous goods as booked, and both licences drawn down by the shipment (ADR 0034)
    assert shipment["dangerous_goods_declaration"] == "WN-DGD-2026-0107"
    assert [
        (d["un_number"], d["classification"], d["package_count"]) for d in shipment["dangerous_goods"]
    ] == [("UN0241", "1.1D", 8000)]
    assert shipment["licences"] == [
        "pk-department-of-explosives/EL-01-2026-0311",
        "cn-miit/MIIT-BP-2026-08817",
    ]
    assert sorted(
        (lic["kind"], lic["holder"], [d["shipment_id"] for d in lic["drawdowns"]], lic["remaining"])
        for lic in trade["licences"]
    ) == [
        (
            kind,
            holder,
            ["NLC-SST-KHG-26-0107"],
            # what is left only for the licence's holder (the buyer reads): ADR 0045
            [
                {
                    "un_number": "UN0241",
                    "remaining_net_explosive_mass_kg": "0.000",
                    "remaining_quantity": "0.000",
                    "unit": "TNE",
                }
            ]
            if holder == "mcc-kashgar-mining"
            else [],
        )
        for kind, holder in (
            ("EXPLOSIVES_EXPORT_LICENCE", "wah-nobel"),
            ("EXPLOSIVES_IMPORT_APPROVAL", "mcc-kashgar-mining"),
        )
    ]


async def test_a_partner_sees_only_its_trades(ledger: InProcessLedger, publish: Any, api_key: Any) -> None:
    story = chromite_story()
    await publish(*story.events)
    buyer = await api_key("tianjin-rongda-smelting", "BUYER")
    outsider = await api_key("wah-nobel", "SUPPLIER")
    async with httpx.AsyncClient(base_url=ledger.url, timeout=10) as http:
        await trade_when(http, story.trade_id, buyer, len(story.events))

        hidden = await http.get(f"/v1/trades/{story.trade_id}", headers=bearer(outsider))
        absent = await http.get(f"/v1/trades/{uuid.uuid4()}", headers=bearer(outsider))
        assert hidden.status_code == absent.status_code == 404
        assert hidden.headers["content-type"].startswith("application/problem+json")
        assert hidden.json()["title"] == absent.json()["title"] == "Not Found"
        assert (await http.get(f"/v1/trades/{story.trade_id}")).status_code == 401
        wrong = await http.get(f"/v1/trades/{story.trade_id}", headers=bearer(buyer[:-2] + "xx"))
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
        assert wrong.json()["status"] == 401

        found = await http.get(
            "/v1/trades", params={"state": "closed", "hs_code": "2610.00"}, headers=bearer(buyer)
        )
        assert found.status_code == 200
        assert str(story.trade_id) in {t["trade_id"] for t in found.json()["items"]}
        item = next(t for t in found.json()["items"] if t["trade_id"] == str(story.trade_id))
        assert (item["order_id"], item["buyer"], item["supplier"]) == (
            "TJRD-PO-2026-0117",
            "tianjin-rongda-smelting",
            "zhob-valley-chromite",
        )
        with_party = await http.get(
            "/v1/trades",
            params={"party": "gacc-tianjin", "from": "2026-02-10", "to": "2026-02-11"},
            headers=bearer(buyer),
        )
        assert str(story.trade_id) in {t["trade_id"] for t in with_party.json()["items"]}
        for params in (
            {"state": "CANCELLED"},
            {"hs_code": "360200"},
            {"from": "2026-02-11"},
            {"party": "cn-miit"},
        ):
            other = await http.get("/v1/trades", params=params, headers=bearer(buyer))
            assert str(story.trade_id) not in {t["trade_id"] for t in other.json()["items"]}, params
        theirs = await http.get("/v1/trades", headers=bearer(outsider))
        assert str(story.trade_id) not in {t["trade_id"] for t in theirs.json()["items"]}

        bad = await http.get("/v1/trades", params={"state": "LOST"}, headers=bearer(buyer))
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
        assert (await http.get("/v1/trades", params={"limit": 0}, headers=bearer(buyer))).status_code == 422
        assert (
            await http.get("/v1/trades", params={"cursor": "@@"}, headers=bearer(buyer))
        ).status_code == 422


async def test_search_pages_with_a_cursor(ledger: InProcessLedger, publish: Any, api_key: Any) -> None:
    start = dt.datetime(2026, 6, 7, 3, 17, tzinfo=dt.UTC)
    stories = [chromite_story(start=start + dt.timedelta(hours=i)) for i in range(5)]
    for story in stories:
        await publish(story.events[0])
    buyer = await api_key("tianjin-rongda-smelting", "BUYER")
    params = {"from": "2026-06-07T03:00:00Z", "to": "2026-06-07T09:00:00Z", "limit": 2}
    async with httpx.AsyncClient(base_url=ledger.url, timeout=10) as http:

        async def all_there() -> bool:
            response = await http.get("/v1/trades", params={**params, "limit": 50}, headers=bearer(buyer))
            return len(response.json()["items"]) >= 5

        await eventually(all_there, within=60)
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            response = await http.get(
                "/v1/trades",
                params={**params, **({"cursor": cursor} if cursor else {})},
                headers=bearer(buyer),
            )
            page = response.json()
            seen.extend(t["trade_id"] for t in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert seen == [str(s.trade_id) for s in reversed(stories)]  # newest order first, each once
    ledger_ready = ledger.ledger
    assert ledger_ready is not None and ledger_ready.ready
