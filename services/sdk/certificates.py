"""Verifying a certificate's issuer signature offline: Ed25519 over the certificate's canonical JSON
(RFC 8785 of its type and fields without the signature; docs/adr/0013-signed-certificates.md).

The relay already stamps its verdict on your copy (``PartnerRecord.signature_verdict``); this is for a
partner who wants to check it itself, with the public keys the issuing authorities publish::

    keys = [authority_key("pk-mofa", pem_bytes)]          # PEM, 32 raw bytes, or base64 of them
    verdict = verify_certificate(event, keys)            # valid / tampered / unknown_signer / revoked …

Pure: no network, no database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from corridor.core.domain.base import TradeEvent
from corridor.core.signatures import (
    AuthorityKey,
    Verdict,
    VerdictStatus,
    canonical_bytes,
    default_key_id,
    keyring_of,
    load_public_key,
    verify_event,
)

__all__ = [
    "AuthorityKey",
    "Verdict",
    "VerdictStatus",
    "authority_key",
    "canonical_bytes",
    "verify_certificate",
]


def authority_key(
    partner_id: str, public_key: bytes, *, key_id: str | None = None, revoked_at: dt.datetime | None = None
) -> AuthorityKey:
    """An issuing authority's Ed25519 public key (PEM, raw 32 bytes or their base64); ``key_id`` defaults
    to Corridor's ``<partner id>-<first 8 hex digits of the key's SHA-256>``."""
    raw = load_public_key(public_key)
    return AuthorityKey(partner_id, key_id or default_key_id(partner_id, raw), raw, revoked_at=revoked_at)


def verify_certificate(
    event: TradeEvent,
    keys: Iterable[AuthorityKey] | Mapping[str, AuthorityKey],
    *,
    certificate_status: str | None = None,
) -> Verdict:
    """The verdict on a certificate event's signature, given the issuers' keys (a list, or by key id).

    ``certificate_status`` (``REVOKED`` / ``SUPERSEDED``, from the ledger) turns a valid signature into
    that verdict. Events that carry no signature answer ``unsigned``.
    """
    keyring = keys if isinstance(keys, Mapping) else keyring_of(keys)
    return verify_event(event, keyring, certificate_status=certificate_status)
