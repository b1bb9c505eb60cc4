"""Corridor-Signature: HMAC-SHA256 over "<t>.<body>", the timestamp window, secret rotation."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from corridor.webhooks import signing

SECRET = "whsec_test-secret-0123456789"
BODY = b'{"specversion":"1.0","id":"9b2f4c7e","data":{"note":"\xe9\x93\xac\xe7\x9f\xbf"}}'
T = 1_767_225_600  # 2026-01-01T00:00:00Z


def test_known_answer() -> None:
    expected = hmac.new(SECRET.encode(), b"1767225600." + BODY, hashlib.sha256).hexdigest()
    assert signing.mac(SECRET, T, BODY) == expected
    assert signing.sign(SECRET, BODY, timestamp=T) == f"t=1767225600,v1={expected}"


def test_a_fresh_signature_verifies_and_gives_its_timestamp() -> None:
    header = signing.sign(SECRET, BODY, timestamp=T)
    assert signing.verify(header, BODY, SECRET, now=T + 10) == T
    assert signing.verify(header.upper().replace("T=", "t=").replace("V1=", "v1="), BODY, SECRET, now=T) == T


@pytest.mark.parametrize(
    ("header", "body", "secret", "reason"),
    [
        (None, BODY, SECRET, "no Corridor-Signature"),
        ("", BODY, SECRET, "no Corridor-Signature"),
        ("v1=abc", BODY, SECRET, "needs t="),
        ("t=1767225600", BODY, SECRET, "needs t="),
        ("t=yesterday,v1=abc", BODY, SECRET, "not an integer"),
        (signing.sign(SECRET, BODY, timestamp=T), BODY + b" ", SECRET, "does not match"),
        (signing.sign(SECRET, BODY, timestamp=T), BODY, SECRET + "x", "does not match"),
        # the timestamp is under the MAC: moving it forward breaks the signature
        (
            signing.sign(SECRET, BODY, timestamp=T).replace(f"t={T}", f"t={T + 600}"),
            BODY,
            SECRET,
            "does not match",
        ),
    ],
)
def test_refused(header: str | None, body: bytes, secret: str, reason: str) -> None:
    with pytest.raises(signing.SignatureMismatch, match=reason) as exc:
        signing.verify(header, body, secret, now=T)
    assert not exc.value.stale


@pytest.mark.parametrize("offset", [-301, 301, -86_400])
def test_timestamps_outside_the_window_are_stale(offset: int) -> None:
    header = signing.sign(SECRET, BODY, timestamp=T)
    with pytest.raises(signing.SignatureMismatch, match="tolerance 300 s") as exc:
        signing.verify(header, BODY, SECRET, now=T - offset)
    assert exc.value.stale
    assert signing.verify(header, BODY, SECRET, now=T + 299) == T
    assert signing.verify(header, BODY, SECRET, now=T - offset, tolerance_s=abs(offset) + 1) == T


def test_one_matching_v1_of_several_is_enough() -> None:
    old, new = signing.mac("old-secret-0123456789", T, BODY), signing.mac(SECRET, T, BODY)
    header = f"t={T},v1={old},v1={new}"
    assert signing.parse(header) == (T, [old, new])
    assert signing.verify(header, BODY, SECRET, now=T) == T
    assert signing.verify(header, BODY, "old-secret-0123456789", now=T) == T
