"""Signed certificates in the ledger (docs/adr/0013-signed-certificates.md).

On the way in, each applied CertificateIssued / CertificateAmended is checked against the issuing
authorities' registered keys (``corridor.core.signatures``), and the verdict is written on the
certificate's projection row in the batch's own transaction (``store.SignatureRecord``). A tampered or
unknown-signer certificate is **stored with its verdict**, not dead-lettered: the ledger is the record of
what was published (the forgery is evidence, and the events that follow it still apply), while every
check of the certificate — ``GET /v1/certificates/{number}/verify``, ``corridor certificates verify`` —
answers ``tampered`` / ``unknown_signer``, never ``valid``.

On request, :func:`check` verifies again with the keys as they are now and the certificate's current
status, so a key registered late, a revoked key, a revoked or superseded certificate all show.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from corridor.core import signatures
from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import EVENT_TYPES
from corridor.core.signatures import KeyringCache, Verdict
from corridor.ledger.store import LedgerStore, SignatureRecord


async def record_verdicts(events: Sequence[TradeEvent], keyring: KeyringCache) -> list[SignatureRecord]:
    """The signature verdict of each certificate-issuing event among ``events`` (keys from the cache)."""
    issued = [e for e in events if e.avro_name in signatures.CERTIFICATE_TYPES]
    if not issued:
        return []
    key_ids = [s.key_id for e in issued if (s := getattr(e, "signature", None)) is not None]
    ring = await keyring.get(key_ids)
    records = []
    for event in issued:
        verdict = signatures.verify_event(event, ring)
        records.append(
            SignatureRecord(
                trade_id=event.trade_id,
                issuer=event.issuer.party_id,  # type: ignore[attr-defined]
                certificate_number=event.certificate_number,  # type: ignore[attr-defined]
                verdict=verdict.status.value,
                key_id=verdict.key_id,
                reason=verdict.reason,
            )
        )
    return records


@dataclass(frozen=True)
class CertificateCheck:
    """A certificate of the ledger, checked now."""

    trade_id: uuid.UUID
    certificate_number: str
    issuer: str
    status: str
    verdict: Verdict
    recorded_verdict: str | None  # when the ledger took the certificate in

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.verdict.to_dict(),
            "trade_id": str(self.trade_id),
            "issuer": self.issuer,
            "status": self.status,
            "recorded_verdict": self.recorded_verdict,
        }


async def check(
    store: LedgerStore,
    keyring: signatures.Keyring,
    number: str,
    *,
    issuer: str | None = None,
    visible_to: str | None = None,
    trade_id: uuid.UUID | None = None,
    event: TradeEvent | None = None,
) -> list[CertificateCheck]:
    """Verify the certificates numbered ``number`` (of ``issuer`` when given: numbers are unique per
    issuer only, ADR 0033) that ``visible_to`` may see (newest first; two at most: more than one means
    the caller has to name the issuer or the trade).

    With ``event`` (a certificate read from a file, say), that event is checked instead of the one the
    ledger stored, against the status the ledger has for the certificate."""
    found = []
    rows = await store.certificates_numbered(
        number, issuer=issuer, visible_to=visible_to, trade_id=trade_id, limit=2
    )
    for row in rows:
        subject = event
        if subject is None and row["payload"] is not None:
            subject = EVENT_TYPES[row["type"]].model_validate_json(row["payload"])
        if subject is None:  # pragma: no cover - a projection row always has its issuing event
            continue
        verdict = signatures.verify_event(subject, keyring, certificate_status=row["status"])
        found.append(
            CertificateCheck(
                trade_id=row["trade_id"],
                certificate_number=row["certificate_number"],
                issuer=row["issuer"],
                status=row["status"],
                verdict=verdict,
                recorded_verdict=row["signature_verdict"],
            )
        )
    return found
