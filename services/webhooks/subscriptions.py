"""Webhook subscriptions (pure): who gets which events where, as DCSA Track & Trace subscriptions do.

A subscription belongs to one partner and receives the events of that partner's topic
(``partner.<partner id>.v1``) that pass its filters: event types (any when empty), one trade id, and one
UN/LOCODE that must appear somewhere in the event (a port of loading, a transport call, the place a
certificate was issued …). Each delivery is signed with the subscription's shared secret
(``signing.py``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import secrets
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import EVENT_TYPES
from corridor.core.domain.reference import canonical_locode

#: Partner topics, as the relay writes them; the group names the partner id.
PARTNER_TOPIC = re.compile(r"^partner\.(?P<partner>[a-z0-9][a-z0-9-]*)\.v1$")
MIN_SECRET = 16
MAX_SECRET = 256
_SECRET_CHARS = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces


def partner_topic(partner_id: str) -> str:
    return f"partner.{partner_id}.v1"


def partner_of_topic(topic: str) -> str | None:
    match = PARTNER_TOPIC.match(topic)
    return match.group("partner") if match else None


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


@dataclass(frozen=True)
class Filters:
    event_types: tuple[str, ...] = ()  # full Avro names; empty: every type
    trade_id: uuid.UUID | None = None
    location: str | None = None  # UN/LOCODE

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_types": list(self.event_types),
            "trade_id": str(self.trade_id) if self.trade_id else None,
            "location": self.location,
        }


@dataclass(frozen=True)
class Subscription:
    id: uuid.UUID
    partner_id: str
    callback_url: str
    secret: str
    filters: Filters = field(default_factory=Filters)
    created_at: dt.datetime | None = None
    #: During a secret rotation: the old secret, which still signs deliveries until ``previous_secret_until``.
    previous_secret: str | None = None
    previous_secret_until: dt.datetime | None = None
    verified_at: dt.datetime | None = None  # when the endpoint confirmed it wants the subscription

    def signing_secrets(self, now: dt.datetime | None = None) -> list[str]:
        """The secrets a delivery is signed with now: the current one, plus the previous one during the
        overlap of a rotation (one ``v1=`` each; a receiver that knows either accepts)."""
        now = now or dt.datetime.now(dt.UTC)
        keep = self.previous_secret and self.previous_secret_until and self.previous_secret_until > now
        return [self.secret, self.previous_secret] if keep and self.previous_secret else [self.secret]

    def matches(self, event: TradeEvent) -> bool:
        f = self.filters
        if f.event_types and event.avro_name not in f.event_types:
            return False
        if f.trade_id is not None and event.trade_id != f.trade_id:
            return False
        # a filter on CNSHG matches an event at CNSHA: one place, one code (docs/domain.md §6)
        return f.location is None or canonical_locode(f.location) in {
            canonical_locode(code) for code in locations_of(event)
        }

    def to_dict(self, *, with_secret: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(self.id),
            "partner_id": self.partner_id,
            "callback_url": self.callback_url,
            **self.filters.to_dict(),
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
            "previous_secret_until": (
                self.previous_secret_until.isoformat() if self.previous_secret_until else None
            ),
        }
        if with_secret:
            body["secret"] = self.secret
        return body


def _walk(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "unlocode" and isinstance(item, str):
                yield item
            else:
                yield from _walk(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk(item)


def locations_of(event: TradeEvent) -> set[str]:
    """Every UN/LOCODE an event names, wherever it sits."""
    return set(_walk(event.model_dump(mode="python")))


# -- checking what a partner sends ------------------------------------------------------------------------


def check_callback_url(url: str, *, allow_http: bool = False) -> str | None:
    """Why ``url`` cannot be a callback, or None. Plain http only to loopback (or when allowed)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "an absolute http(s) URL, e.g. https://erp.example.com/corridor/events"
    if parts.username or parts.password:
        return "credentials do not belong in the URL; the shared secret signs every delivery"
    if parts.fragment:
        return "no #fragment"
    if parts.scheme == "http" and not allow_http and not _loopback(parts.hostname):
        return "must be https (plain http only to localhost)"
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_secret(secret: str) -> str | None:
    if not MIN_SECRET <= len(secret) <= MAX_SECRET:
        return f"{MIN_SECRET} to {MAX_SECRET} characters"
    if not _SECRET_CHARS.match(secret):
        return "printable ASCII without spaces"
    return None


def event_type_names(names: Iterable[str]) -> tuple[tuple[str, ...], list[str]]:
    """(full names, unknown names) for event types given by full or short name."""
    by_short = {full.rsplit(".", 1)[-1]: full for full in EVENT_TYPES}
    full: list[str] = []
    unknown: list[str] = []
    for name in names:
        resolved = name if name in EVENT_TYPES else by_short.get(name)
        if resolved is None:
            unknown.append(name)
        elif resolved not in full:
            full.append(resolved)
    return tuple(full), unknown
