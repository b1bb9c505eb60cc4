"""The ``Corridor-Signature`` header of every webhook delivery: who sent the body, and when.

``Corridor-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``. The timestamp is
inside the MAC, so a receiver that refuses timestamps outside a window (:data:`DEFAULT_TOLERANCE_S`)
refuses old deliveries replayed by someone who captured them; every attempt is signed afresh. Several
``v1=`` entries may appear (one per secret while a secret is being changed); one match is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Corridor-Signature"
SCHEME = "v1"
#: How far (seconds) a delivery's timestamp may be from the receiver's clock, either way.
DEFAULT_TOLERANCE_S = 300


class SignatureMismatch(ValueError):
    """The header is missing or malformed, no ``v1`` matches, or the timestamp is outside the window."""

    def __init__(self, reason: str, *, stale: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stale = stale


def mac(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"<timestamp>." + body`` under the subscription's secret."""
    return hmac.new(
        secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256
    ).hexdigest()


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The header value for ``body`` sent now (or at ``timestamp``)."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},{SCHEME}={mac(secret, t, body)}"


def sign_all(secrets: list[str], body: bytes, *, timestamp: int | None = None) -> str:
    """The header value with one ``v1=`` per secret (the current and, during a rotation, the old one)."""
    t = int(time.time()) if timestamp is None else timestamp
    return ",".join([f"t={t}", *(f"{SCHEME}={mac(secret, t, body)}" for secret in secrets)])


def parse(header: str) -> tuple[int, list[str]]:
    """(timestamp, the ``v1`` signatures) of a header value; raises :class:`SignatureMismatch`."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if name == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureMismatch(f"timestamp {value!r} is not an integer") from None
        elif name == SCHEME:
            signatures.append(value.strip().lower())
    if timestamp is None or not signatures:
        raise SignatureMismatch(f"{HEADER} needs t=<unix seconds> and {SCHEME}=<hex HMAC-SHA256>")
    return timestamp, signatures


def verify(
    header: str | None,
    body: bytes,
    secret: str,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> int:
    """Check a delivery; returns its timestamp, or raises :class:`SignatureMismatch` saying why."""
    if not header:
        raise SignatureMismatch(f"no {HEADER} header")
    timestamp, signatures = parse(header)
    expected = mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, s) for s in signatures):
        raise SignatureMismatch("signature does not match the body")
    clock = time.time() if now is None else now
    if abs(clock - timestamp) > tolerance_s:
        off = abs(clock - timestamp)
        raise SignatureMismatch(
            f"timestamp {timestamp} is {off:.0f} s from now (tolerance {tolerance_s:.0f} s)", stale=True
        )
    return timestamp
