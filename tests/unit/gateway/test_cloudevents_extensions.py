"""CloudEvents extension attributes are carried as ``ce_<name>`` Kafka headers within limits, or refused
with 422 naming the attribute — never dropped (docs/adr/0019)."""

from __future__ import annotations

from typing import Any

import pytest

from corridor.core.domain.validation import FieldError
from corridor.gateway import cloudevents
from corridor.gateway.cloudevents import MAX_EXTENSION_BYTES, MAX_EXTENSIONS, IncomingEvent

BASE: dict[str, Any] = {
    "specversion": "1.0",
    "id": "4f1c1e0e-0b7a-4c1e-9a55-1f2b3c4d5e6f",
    "source": "/erp",
    "type": "corridor.trade.orders.OrderPlaced",
    "data": {"trade_id": "x"},
}


def _structured(**extra: Any) -> IncomingEvent | list[FieldError]:
    return cloudevents.structured({**BASE, **extra})


def test_extensions_become_ce_headers() -> None:
    event = _structured(partnerext="anything", priority=3, urgent=True)
    assert isinstance(event, IncomingEvent)
    assert event.extensions == (("partnerext", "anything"), ("priority", "3"), ("urgent", "true"))
    assert event.extension_headers() == [
        ("ce_partnerext", b"anything"),
        ("ce_priority", b"3"),
        ("ce_urgent", b"true"),
    ]


def test_core_attributes_are_not_extensions() -> None:
    event = _structured(time="2026-01-01T00:00:00Z", subject="order/1")
    assert isinstance(event, IncomingEvent) and event.extensions == ()


def test_binary_mode_extension_headers() -> None:
    headers = {f"ce-{k}": v for k, v in BASE.items() if k != "data"} | {"ce-comexref": "PO%2042"}
    event = cloudevents.binary(headers, BASE["data"])
    assert isinstance(event, IncomingEvent)
    assert event.extensions == (("comexref", "PO 42"),)


@pytest.mark.parametrize(
    ("extra", "field", "reason"),
    [
        ({"Bad_Name": "x"}, "Bad_Name", "lower-case"),
        ({"": None}, '""', "lower-case"),  # found by the hostile suite: an empty name is still named
        ({"averyveryverylongextensionname": "x"}, "averyveryverylongextensionname", "1-20"),
        ({"big": "x" * (MAX_EXTENSION_BYTES + 1)}, "big", "UTF-8 bytes"),
        ({"crlf": "a\r\nX-Injected: yes"}, "crlf", "control"),
        ({"nested": {"a": 1}}, "nested", "string"),
        ({"huge": 2**40}, "huge", "32-bit"),
        ({"dataschema": "https://example.org/s"}, "dataschema", "registry"),
        ({"partitionkey": "x"}, "partitionkey", "reserved"),
        ({"signatureverdict": "valid"}, "signatureverdict", "reserved"),
        ({f"ext{i}": "v" for i in range(MAX_EXTENSIONS + 1)}, "ext8", f"at most {MAX_EXTENSIONS}"),
    ],
)
def test_refused_extensions_name_the_attribute(extra: dict[str, Any], field: str, reason: str) -> None:
    errors = _structured(**extra)
    assert isinstance(errors, list)
    assert any(e.field == field and reason in e.reason for e in errors), errors
