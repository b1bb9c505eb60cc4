"""Signed certificates: the canonical encoding an issuer signs, Ed25519 signing and verification, and the
registry of issuing authorities' public keys (docs/adr/0013-signed-certificates.md).

* :func:`canonical_bytes` — what is signed: the RFC 8785 (JCS) JSON of ``{"type": <event type>, "data":
  <every field of the event except signature>}``, null-valued fields left out, decimals in plain
  notation without trailing zeros, instants as UTC milliseconds (``2026-03-02T06:45:00.000Z``).
  Anyone can rebuild these bytes from the event's JSON and check the signature offline.
* :func:`sign_event` / :func:`verify_event` — pure, no I/O. ``verify_event(event, keyring)`` answers a
  :class:`Verdict`: ``valid``, ``tampered``, ``unknown_signer``, ``revoked``, ``superseded`` (the last
  two also from the certificate's status in the ledger, when the caller passes it) or ``unsigned``.
* The key registry — table ``<partners schema>.authority_keys`` (partner, key id, raw 32-byte public key,
  created, revoked) — with :func:`add_key`, :func:`list_keys`, :func:`revoke_key`, :func:`load_keyring`
  and :class:`KeyringCache` for services that verify many events.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from corridor.core.domain.base import TradeEvent
from corridor.core.domain.events import (
    CertificateAmended,
    CertificateIssued,
    CertificateRevoked,
    OriginDataTransmitted,
    Signature,
    VerificationAnswered,
)
from corridor.core.domain.validators import check_party_id, check_reference

if TYPE_CHECKING:  # the key registry works on the caller's pool; verifying needs no PostgreSQL driver,
    import asyncpg  # so the partner SDK ships this module without asyncpg (ADR 0022)

__all__ = [
    "ALGORITHM",
    "CERTIFICATE_TYPES",
    "SIGNED_TYPES",
    "AuthorityKey",
    "KeyringCache",
    "SignatureError",
    "Verdict",
    "VerdictStatus",
    "add_key",
    "canonical_bytes",
    "canonical_document",
    "default_key_id",
    "ensure_schema",
    "fingerprint",
    "generate_private_key",
    "keyring_of",
    "list_keys",
    "load_keyring",
    "load_private_key",
    "load_public_key",
    "private_key_pem",
    "public_key_bytes",
    "public_key_pem",
    "revoke_key",
    "sign_event",
    "verify_event",
]

ALGORITHM = "Ed25519"
#: Event types that carry a certificate's content (the ledger records their verdict on the certificate).
CERTIFICATE_TYPES: frozenset[str] = frozenset({CertificateIssued.avro_name, CertificateAmended.avro_name})
#: Event types that carry an issuer's signature: the certificate's content, and its revocation (a signed
#: certificate is amended or revoked only by a change signed with its issuer's key, ADR 0016).
SIGNED_TYPES: frozenset[str] = CERTIFICATE_TYPES | {
    CertificateRevoked.avro_name,
    # the issuer's steps of the verification loop (docs/adr/0038-certificate-verification-loop.md)
    OriginDataTransmitted.avro_name,
    VerificationAnswered.avro_name,
}
DEFAULT_SCHEMA = "partners"  # the partners' schema (services/core/partners.py): keys belong to partners
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SIGNATURE_BYTES = 64
_PUBLIC_KEY_BYTES = 32
#: Largest integer JSON (and so RFC 8785) represents exactly.
_MAX_EXACT_INT = 2**53 - 1

E = TypeVar("E", bound=TradeEvent)


class SignatureError(ValueError):
    """A key or signature operation was refused (the message says why, for people)."""


# -- canonical encoding (pure) -------------------------------------------------------------------------


def _decimal(value: Decimal) -> str:
    if not value.is_finite():
        raise SignatureError(f"decimal {value} has no canonical form")
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, Enum):
        return _canonical(value.value)
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_EXACT_INT:
            raise SignatureError(f"integer {value} is beyond what JSON represents exactly")
        return value
    if isinstance(value, Decimal):
        return _decimal(value)
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.UTC)
        return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise SignatureError(f"{type(value).__name__} values have no canonical form")


def canonical_document(event: TradeEvent) -> dict[str, Any]:
    """The object whose JCS serialization is signed: the event type and every field but ``signature``."""
    data = event.model_dump(mode="python", exclude={"signature"})
    return {"type": event.avro_name, "data": _canonical(data)}


def canonical_bytes(event: TradeEvent) -> bytes:
    """The bytes an issuer signs (UTF-8 JSON, keys sorted, no whitespace: RFC 8785 for these values)."""
    return json.dumps(
        canonical_document(event), ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


# -- keys (pure) ---------------------------------------------------------------------------------------


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The raw 32-byte public key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem(public_key: bytes) -> str:
    """A raw public key as PEM (SubjectPublicKeyInfo), the form ``openssl pkey -pubout`` writes."""
    key = Ed25519PublicKey.from_public_bytes(public_key)
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """PKCS #8 PEM, unencrypted (protect the file: mode 0600 or a vault)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def load_private_key(data: bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from PKCS #8 PEM, or from its raw 32-byte seed (as bytes or base64 text)."""
    if b"-----BEGIN" in data:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise SignatureError(f"not a readable private key: {exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SignatureError(f"the private key is {type(key).__name__}, not Ed25519")
        return key
    return Ed25519PrivateKey.from_private_bytes(_raw32(data, "private key"))


def load_public_key(data: bytes) -> bytes:
    """The raw 32-byte public key from PEM (SubjectPublicKeyInfo), raw bytes, or base64 of the raw key."""
    if b"-----BEGIN" in data:
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError) as exc:
            raise SignatureError(f"not a readable public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise SignatureError(f"the public key is {type(key).__name__}, not Ed25519")
        return public_key_bytes(key)
    raw = _raw32(data, "public key")
    Ed25519PublicKey.from_public_bytes(raw)  # refuses what is not a key
    return raw


def _raw32(data: bytes, what: str) -> bytes:
    if len(data) == _PUBLIC_KEY_BYTES:
        return data
    try:
        raw = base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != _PUBLIC_KEY_BYTES:
        raise SignatureError(f"an Ed25519 {what} is PEM, 32 raw bytes, or those 32 bytes in base64")
    return raw


def fingerprint(public_key: bytes) -> str:
    """SHA-256 of the raw public key, hex."""
    return hashlib.sha256(public_key).hexdigest()


def default_key_id(partner_id: str, public_key: bytes) -> str:
    """``<partner id>-<first 8 hex digits of the key's SHA-256>``: stable, and names its owner."""
    return f"{partner_id}-{fingerprint(public_key)[:8]}"


@dataclass(frozen=True)
class AuthorityKey:
    """A public key registered for an issuing partner; ``revoked_at`` set means: trust it no more."""

    partner_id: str
    key_id: str
    public_key: bytes  # raw 32 bytes
    created_at: dt.datetime | None = None
    revoked_at: dt.datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "partner_id": self.partner_id,
            "key_id": self.key_id,
            "algorithm": ALGORITHM,
            "public_key": base64.b64encode(self.public_key).decode("ascii"),
            "fingerprint": fingerprint(self.public_key),
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


Keyring = Mapping[str, AuthorityKey]  # by key id


def keyring_of(keys: Iterable[AuthorityKey]) -> dict[str, AuthorityKey]:
    return {k.key_id: k for k in keys}


# -- signing and verification (pure) --------------------------------------------------------------------


def _check_signed_type(event: TradeEvent) -> None:
    if event.avro_name not in SIGNED_TYPES:
        raise SignatureError(f"{event.avro_name} carries no signature; only {sorted(SIGNED_TYPES)} do")


def sign_event(event: E, private_key: Ed25519PrivateKey, key_id: str) -> E:
    """A copy of the certificate event with the issuer's signature over its canonical encoding."""
    _check_signed_type(event)
    reason = check_reference(key_id)
    if reason:
        raise SignatureError(f"key id {key_id!r}: {reason}")
    value = private_key.sign(canonical_bytes(event))
    signature = Signature(algorithm=ALGORITHM, key_id=key_id, value=value)
    return event.model_copy(update={"signature": signature})


class VerdictStatus(StrEnum):
    VALID = "valid"  # signed by a registered, unrevoked key of the issuer; certificate still in force
    TAMPERED = "tampered"  # the signature does not match the content (altered after signing, or forged)
    UNKNOWN_SIGNER = "unknown_signer"  # no registered key of the issuer has that key id
    REVOKED = "revoked"  # the certificate was revoked by its issuer, or the signing key was revoked
    SUPERSEDED = "superseded"  # an amendment replaced the certificate
    UNSIGNED = "unsigned"  # no signature (certificates from before signing, or never signed)


@dataclass(frozen=True)
class Verdict:
    status: VerdictStatus
    reason: str
    certificate_number: str | None = None
    key_id: str | None = None
    signer: str | None = None  # partner id the verifying key belongs to

    @property
    def valid(self) -> bool:
        return self.status == VerdictStatus.VALID

    def to_dict(self) -> dict[str, Any]:
        return {
            "certificate_number": self.certificate_number,
            "verdict": self.status.value,
            "reason": self.reason,
            "key_id": self.key_id,
            "signer": self.signer,
        }


#: Certificate statuses of the ledger (``CertificateStatus``) that decide a verdict on their own.
_STATUS_VERDICTS = {"REVOKED": VerdictStatus.REVOKED, "SUPERSEDED": VerdictStatus.SUPERSEDED}


def verify_event(event: TradeEvent, keyring: Keyring, *, certificate_status: str | None = None) -> Verdict:
    """Check a certificate event's signature against the registered keys (pure, no I/O).

    Order: unsigned → unknown signer (no such key, or a key of another partner than ``issuer``) →
    tampered (the signature does not verify) → revoked key → the certificate's own status in the ledger
    (``certificate_status``: ``REVOKED`` / ``SUPERSEDED``, when the caller knows it) → valid.
    """
    number: str | None = getattr(event, "certificate_number", None)
    signature: Signature | None = getattr(event, "signature", None)
    if event.avro_name not in SIGNED_TYPES or signature is None:
        return Verdict(
            VerdictStatus.UNSIGNED, f"{event.avro_name.rsplit('.', 1)[-1]} carries no signature", number
        )
    issuer: str = event.issuer.party_id  # type: ignore[attr-defined]
    key = keyring.get(signature.key_id)

    def verdict(status: VerdictStatus, reason: str) -> Verdict:
        return Verdict(status, reason, number, signature.key_id, key.partner_id if key else None)

    if key is None:
        return verdict(VerdictStatus.UNKNOWN_SIGNER, f"no registered key {signature.key_id!r}")
    if key.partner_id != issuer:
        return verdict(
            VerdictStatus.UNKNOWN_SIGNER,
            f"key {key.key_id!r} belongs to {key.partner_id}, not to the issuer {issuer}",
        )
    if signature.algorithm != ALGORITHM:
        return verdict(VerdictStatus.TAMPERED, f"algorithm {signature.algorithm!r} is not {ALGORITHM}")
    try:
        if len(signature.value) != _SIGNATURE_BYTES:
            raise InvalidSignature
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(signature.value, canonical_bytes(event))
    except InvalidSignature:
        return verdict(
            VerdictStatus.TAMPERED,
            f"the signature by {key.key_id!r} does not match the certificate's content",
        )
    if key.revoked_at is not None:
        return verdict(
            VerdictStatus.REVOKED, f"the signing key {key.key_id!r} was revoked at {key.revoked_at}"
        )
    status = _STATUS_VERDICTS.get((certificate_status or "").upper())
    if status is not None:
        return verdict(status, f"signature valid, but the certificate is {status.value}")
    return verdict(VerdictStatus.VALID, f"signed by {issuer} with key {key.key_id!r}")


# -- the key registry (PostgreSQL) ------------------------------------------------------------------------


def _table(schema: str) -> str:
    if not _IDENTIFIER.match(schema):
        raise ValueError(f"invalid PostgreSQL schema name for authority keys: {schema!r}")
    return f'"{schema}".authority_keys'


async def ensure_schema(pool: asyncpg.Pool, *, schema: str = DEFAULT_SCHEMA) -> None:
    """Create the table if missing (idempotent; safe from several processes at once)."""
    from corridor.core.db import apply_ddl  # asyncpg: only where the key registry is used

    table = _table(schema)
    await apply_ddl(
        pool,
        schema,
        [
            f'CREATE SCHEMA IF NOT EXISTS "{schema}"',
            f"""CREATE TABLE IF NOT EXISTS {table} (
                    partner_id  text NOT NULL,
                    key_id      text PRIMARY KEY,
                    public_key  bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
                    created_at  timestamptz NOT NULL DEFAULT now(),
                    revoked_at  timestamptz
                )""",
            f"CREATE INDEX IF NOT EXISTS authority_keys_partner ON {table} (partner_id, created_at)",
        ],
    )


_COLUMNS = "partner_id, key_id, public_key, created_at, revoked_at"


def _key(row: asyncpg.Record) -> AuthorityKey:
    return AuthorityKey(
        partner_id=row["partner_id"],
        key_id=row["key_id"],
        public_key=bytes(row["public_key"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


async def add_key(
    pool: asyncpg.Pool,
    partner_id: str,
    public_key: bytes,
    *,
    key_id: str | None = None,
    schema: str = DEFAULT_SCHEMA,
) -> AuthorityKey:
    """Register a raw 32-byte Ed25519 public key for ``partner_id`` (key id default: :func:`default_key_id`).

    Registering the same key for the same partner again returns the registered key."""
    reason = check_party_id(partner_id)
    if reason:
        raise SignatureError(f"invalid partner id {partner_id!r}: {reason}")
    public_key = load_public_key(public_key)
    key_id = key_id or default_key_id(partner_id, public_key)
    reason = check_reference(key_id)
    if reason:
        raise SignatureError(f"invalid key id {key_id!r}: {reason}")
    table = _table(schema)
    row = await pool.fetchrow(
        f"""INSERT INTO {table} (partner_id, key_id, public_key) VALUES ($1, $2, $3)
            ON CONFLICT DO NOTHING RETURNING {_COLUMNS}""",
        partner_id,
        key_id,
        public_key,
    )
    if row is not None:
        return _key(row)
    existing = await pool.fetchrow(
        f"SELECT {_COLUMNS} FROM {table} WHERE key_id = $1 OR public_key = $2", key_id, public_key
    )
    if existing is not None:
        found = _key(existing)
        if (found.partner_id, found.key_id, found.public_key) == (partner_id, key_id, public_key):
            return found
        raise SignatureError(
            f"key id {found.key_id!r} of {found.partner_id} already has "
            + ("this public key" if found.public_key == public_key else "another public key")
        )
    raise SignatureError(f"key {key_id!r} could not be registered")  # pragma: no cover - a racing delete


async def list_keys(
    pool: asyncpg.Pool, *, partner_id: str | None = None, schema: str = DEFAULT_SCHEMA
) -> list[AuthorityKey]:
    rows = await pool.fetch(
        f"""SELECT {_COLUMNS} FROM {_table(schema)} WHERE $1::text IS NULL OR partner_id = $1
            ORDER BY partner_id, created_at, key_id""",
        partner_id,
    )
    return [_key(r) for r in rows]


async def revoke_key(pool: asyncpg.Pool, key_id: str, *, schema: str = DEFAULT_SCHEMA) -> AuthorityKey:
    """Mark a key revoked (compromised): certificates it signed verify as ``revoked`` from then on."""
    row = await pool.fetchrow(
        f"""UPDATE {_table(schema)} SET revoked_at = coalesce(revoked_at, now()) WHERE key_id = $1
            RETURNING {_COLUMNS}""",
        key_id,
    )
    if row is None:
        raise SignatureError(f"no registered key {key_id!r}")
    return _key(row)


async def load_keyring(pool: asyncpg.Pool, *, schema: str = DEFAULT_SCHEMA) -> dict[str, AuthorityKey]:
    """Every registered key (revoked ones too: they answer ``revoked``, not ``unknown_signer``)."""
    return keyring_of(await list_keys(pool, schema=schema))


class KeyringCache:
    """The keyring for a service verifying many events: reloaded every ``ttl_s`` seconds, and at once
    (at most every ``miss_reload_s``) when an event names a key id not loaded yet, so a key registered
    a moment ago is found and a revocation is seen within ``ttl_s``."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        *,
        schema: str = DEFAULT_SCHEMA,
        ttl_s: float = 30.0,
        miss_reload_s: float = 1.0,
    ) -> None:
        self.pool = pool
        self.schema = schema
        self.ttl_s = ttl_s
        self.miss_reload_s = miss_reload_s
        self._keys: dict[str, AuthorityKey] = {}
        self._loaded_at: float | None = None
        self._schema_ready = False

    async def get(self, key_ids: Iterable[str] = ()) -> dict[str, AuthorityKey]:
        now = time.monotonic()
        age = None if self._loaded_at is None else now - self._loaded_at
        missing = any(k not in self._keys for k in key_ids)
        if age is None or age >= self.ttl_s or (missing and age >= self.miss_reload_s):
            if not self._schema_ready:
                await ensure_schema(self.pool, schema=self.schema)
                self._schema_ready = True
            self._keys = await load_keyring(self.pool, schema=self.schema)
            self._loaded_at = now
        return self._keys

    def invalidate(self) -> None:
        self._loaded_at = None
