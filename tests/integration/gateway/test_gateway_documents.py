"""Transport documents on real Kafka and PostgreSQL (ADR 0026): through the stack's gateway and ledger, a
bill of lading is issued and then surrendered, another is issued and voided; a buyer cannot issue one
(403) and a wrong container check digit is a 422 naming the field."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.gateway.test_gateway_times import _post
from tests.integration.gateway.test_gateway_times import story as story  # a fresh trade for this module

pytestmark = pytest.mark.integration

DOCUMENT = "corridor.trade.shipments.TransportDocumentEventRecorded"
EXAMPLE = Path(__file__).parents[3] / "contracts/examples/valid/TransportDocumentEventRecorded.json"


def _document(events: list[tuple[str, dict[str, Any]]], number: str, **changes: Any) -> dict[str, Any]:
    """The contract's B/L example as this trade's carrier issues it for this trade's shipment."""
    booking = next(d for t, d in events if t.endswith("ShipmentBooked"))
    supplier = next(d for t, d in events if t.endswith("OrderPlaced"))["supplier"]
    buyer = next(d for t, d in events if t.endswith("OrderPlaced"))["buyer"]
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))["data"]
    data.update(
        event_id=str(uuid.uuid4()),
        trade_id=booking["trade_id"],
        sender=booking["carrier"]["party_id"],
        carrier=booking["carrier"],
        shipper=supplier,
        notify_party=buyer,
        shipment_ids=[booking["shipment_id"]],
        document_number=number,
        equipment=[{"container_number": "IOLU4127057", "seal_numbers": ["PK-CUS-0048812"]}],
        created_at=None,
    )
    data.update(changes)
    return data


def test_bills_of_lading_issued_surrendered_and_voided_end_to_end(
    stack: Any, story: tuple[list[tuple[str, dict[str, Any]]], dict[str, str]]
) -> None:
    events, keys = story
    booking = next(i for i, (t, _) in enumerate(events) if t.endswith("ShipmentBooked"))
    surrendered_no, voided_no = f"IOLU-{uuid.uuid4().hex[:8].upper()}", f"IOLU-{uuid.uuid4().hex[:8].upper()}"
    buyer = next(d for t, d in events if t.endswith("OrderPlaced"))["buyer"]["party_id"]
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as http:
        for event_type, data in events[: booking + 1]:  # the module's fresh trade up to its booking
            answer = _post(http, keys, event_type, data)
            assert answer.status_code == 201, (event_type, answer.text)

        for data in (
            _document(events, surrendered_no),
            _document(events, surrendered_no, document_event_type="SURR"),
            _document(events, voided_no),
            _document(
                events, voided_no, document_event_type="VOID", reason="issued against the wrong booking"
            ),
        ):
            answer = _post(http, keys, DOCUMENT, data)
            assert answer.status_code == 201, answer.text
            assert answer.json()["topic"] == "trade.shipments.v1"

        # a buyer never issues a bill of lading: refused for its role, whatever it says
        by_buyer = _document(events, f"IOLU-{uuid.uuid4().hex[:8].upper()}", sender=buyer)
        refused = _post(http, keys, DOCUMENT, by_buyer)
        assert refused.status_code == 403, refused.text
        # a container number whose check digit is wrong: 422 naming the field
        wrong = _document(
            events,
            f"IOLU-{uuid.uuid4().hex[:8].upper()}",
            equipment=[{"container_number": "IOLU4127054", "seal_numbers": []}],
        )
        invalid = _post(http, keys, DOCUMENT, wrong)
        assert invalid.status_code == 422, invalid.text
        assert [e["field"] for e in invalid.json()["errors"]] == ["data.equipment[0].container_number"]

    trade_id = events[0][1]["trade_id"]
    deadline = time.monotonic() + 60
    documents: dict[str, Any] = {}
    with httpx.Client(base_url=stack.ledger_url, timeout=10) as http:
        while time.monotonic() < deadline:
            answer = http.get(f"/v1/trades/{trade_id}", headers={"X-API-Key": keys[buyer]})
            if answer.status_code == 200:
                documents = {d["document_number"]: d for d in answer.json()["documents"]}
                if {documents.get(n, {}).get("status") for n in (surrendered_no, voided_no)} == {
                    "SURRENDERED",
                    "VOIDED",
                }:
                    break
            time.sleep(0.5)
    assert documents[surrendered_no]["status"] == "SURRENDERED", documents
    assert documents[surrendered_no]["bill_of_lading_type"] == "TO_ORDER"
    assert documents[surrendered_no]["container_numbers"] == ["IOLU4127057"]
    assert documents[surrendered_no]["surrendered_at"] is not None
    assert documents[voided_no]["status"] == "VOIDED"
    assert documents[voided_no]["reason"] == "issued against the wrong booking"
