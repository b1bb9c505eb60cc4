"""Subscriptions (pure): filters as DCSA subscriptions have them, and what a partner may send."""

from __future__ import annotations

import uuid

import pytest

from corridor.core.domain.events import TransportEventRecorded
from corridor.demo.story import chromite_story
from corridor.webhooks import subscriptions as subs

STORY = chromite_story()


def subscription(**filters: object) -> subs.Subscription:
    return subs.Subscription(
        id=uuid.uuid4(),
        partner_id="tianjin-rongda-smelting",
        callback_url="https://erp.example.com/hooks",
        secret="s" * 20,
        filters=subs.Filters(**filters),  # type: ignore[arg-type]
    )


def kinds(subscription: subs.Subscription) -> list[str]:
    return [type(e).__name__ for e in STORY.events if subscription.matches(e)]


def test_no_filter_takes_everything() -> None:
    assert len(kinds(subscription())) == len(STORY.events)


def test_event_types_trade_and_location_filters() -> None:
    certificates = subscription(
        event_types=(
            "corridor.trade.certificates.CertificateIssued",
            "corridor.trade.certificates.PreferenceDecided",
        )
    )
    assert kinds(certificates) == ["CertificateIssued", "CertificateIssued", "PreferenceDecided"]
    assert kinds(subscription(trade_id=uuid.uuid4())) == []
    assert len(kinds(subscription(trade_id=STORY.trade_id))) == len(STORY.events)
    at_tianjin = kinds(subscription(location="CNTXG"))
    assert "ShipmentBooked" in at_tianjin and "ShipmentDelivered" in at_tianjin
    assert "OrderPlaced" not in at_tianjin  # FOB Karachi: the order names no location field
    both = subscription(event_types=("corridor.trade.shipments.TransportEventRecorded",), location="CNTXG")
    arrivals = [e for e in STORY.events if both.matches(e)]
    assert arrivals and all(
        isinstance(e, TransportEventRecorded) and e.transport_call.location.unlocode == "CNTXG"
        for e in arrivals
    )


def test_locations_are_found_wherever_they_sit() -> None:
    booked = next(e for e in STORY.events if type(e).__name__ == "ShipmentBooked")
    assert {"PKKHI", "CNTXG"} <= subs.locations_of(booked)


@pytest.mark.parametrize(
    ("url", "allow_http", "problem"),
    [
        ("https://erp.example.com/corridor/events", False, None),
        ("http://127.0.0.1:9000/hooks", False, None),
        ("http://localhost/hooks", False, None),
        ("http://[::1]:9000/", False, None),
        ("http://erp.example.com/hooks", False, "must be https"),
        ("http://erp.example.com/hooks", True, None),
        ("ftp://erp.example.com/x", False, "absolute http(s) URL"),
        ("/relative/path", False, "absolute http(s) URL"),
        ("https://user:pw@erp.example.com/", False, "credentials"),
        ("https://erp.example.com/#x", False, "fragment"),
    ],
)
def test_callback_urls(url: str, allow_http: bool, problem: str | None) -> None:
    reason = subs.check_callback_url(url, allow_http=allow_http)
    assert (reason is None) if problem is None else (reason is not None and problem in reason), reason


def test_secrets_and_event_type_names() -> None:
    assert subs.check_secret(subs.new_secret()) is None
    assert subs.check_secret("short") is not None
    assert subs.check_secret("with a space in it!!") is not None
    full, unknown = subs.event_type_names(["OrderPlaced", "corridor.trade.orders.OrderPlaced", "Nope"])
    assert full == ("corridor.trade.orders.OrderPlaced",) and unknown == ["Nope"]


def test_partner_topics() -> None:
    assert subs.partner_topic("sgs-pakistan") == "partner.sgs-pakistan.v1"
    assert subs.partner_of_topic("partner.sgs-pakistan.v1") == "sgs-pakistan"
    for other in ("trade.orders.v1", "partner..v1", "partner.sgs-pakistan.v2", "partner.SGS.v1"):
        assert subs.partner_of_topic(other) is None
