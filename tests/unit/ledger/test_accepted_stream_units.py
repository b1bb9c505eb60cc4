"""The accepted stream's record format and the receipts' shapes (pure). The real paths run in
tests/integration/gateway/test_gateway_receipts.py and tests/integration/relay/test_relay_accepted_only.py.
"""

from __future__ import annotations

import datetime as dt
import uuid

from corridor.ledger.handlers import receipt_view
from corridor.ledger.publisher import (
    SEQ_HEADER,
    SOURCE_HEADER,
    accepted_headers,
    decode_headers,
    encode_headers,
)
from corridor.ledger.store import OutboxRecord
from corridor.sdk import LEDGER_POSITION_HEADER, Receipt


def test_headers_survive_the_outbox_byte_for_byte() -> None:
    urdu = "/partners/\u0645\u0639\u062f\u0646".encode()
    headers = [("ce_id", b"abc"), ("ce_source", urdu), ("empty", b""), ("binary", bytes(range(256)))]
    assert decode_headers(encode_headers(headers)) == headers


def test_an_accepted_record_names_the_ledgers_position_and_drops_forged_ones() -> None:
    forged = [("ce_id", b"x"), (SEQ_HEADER, b"999999"), (SOURCE_HEADER, b"nowhere:0:0")]
    row = OutboxRecord(
        seq=42,
        event_id=uuid.uuid4(),
        trade_id=uuid.uuid4(),
        key=b"k",
        value=b"v",
        headers=encode_headers(forged),
        source="trade.orders.v1:3:17",
    )
    assert accepted_headers(row) == [
        ("ce_id", b"x"),
        (SEQ_HEADER, b"42"),
        (SOURCE_HEADER, b"trade.orders.v1:3:17"),
    ]
    assert SEQ_HEADER == LEDGER_POSITION_HEADER  # what the SDK reads is what the ledger writes


def test_receipts_have_one_shape_whatever_the_status() -> None:
    event_id, trade_id = uuid.uuid4(), uuid.uuid4()
    at = dt.datetime(2026, 12, 5, 2, 0, tzinfo=dt.UTC)
    common = {"event_id": event_id, "trade_id": trade_id, "type": "T"}
    accepted = receipt_view({**common, "status": "accepted", "seq": 7, "ingested_at": at})
    rejected = receipt_view(
        {
            **common,
            "status": "rejected",
            "error_class": "LifecycleViolation",
            "reason": "a second order",
            "attempts": 1,
            "updated_at": at,
        }
    )
    assert accepted.keys() == rejected.keys()
    assert (accepted["position"], accepted["decided_at"], accepted["rule"]) == (7, at.isoformat(), None)
    assert (rejected["position"], rejected["rule"]) == (None, "LifecycleViolation")
    parsed = Receipt.from_json(rejected)
    assert parsed.status == "rejected" and parsed.decided and parsed.event_id == event_id
    assert not Receipt.from_json({**accepted, "status": "pending"}).decided
