"""The partner store: partners and their API keys in PostgreSQL (schema ``partners``).

A partner is one party of the trades (docs/domain.md §2): its ``partner_id`` is the ``party_id`` slug that
events carry (``sender``, ``buyer.party_id`` …) and its ``role`` a :class:`PartyRole` value.

API keys look like ``cor_<partner id>_<43 url-safe characters>`` (32 random bytes). A key is shown once,
when it is made (``add_partner``, ``rotate_key``); the table keeps only its SHA-256 digest and a short
``key_id`` (the first characters of the random part) so operators can tell keys apart. SHA-256 rather
than a password hash (scrypt, argon2): the key carries 256 bits of entropy, so nothing is gained by
slowing the hash down, while every uncached request would pay for it. Digests are compared in
constant time (:mod:`corridor.core.partners.auth`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import asyncpg

from corridor.core.db import apply_ddl
from corridor.core.domain.events import PartyRole
from corridor.core.domain.validators import check_party_id

DEFAULT_SCHEMA = "partners"
KEY_PREFIX = "cor_"
KEY_ID_CHARS = 8
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")


class PartnerStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Partner:
    partner_id: str
    role: str  # a PartyRole value
    name: str
    status: str  # a PartnerStatus value
    key_id: str | None = None
    created_at: dt.datetime | None = None
    rotated_at: dt.datetime | None = None

    @property
    def active(self) -> bool:
        return self.status == PartnerStatus.ACTIVE

    def to_dict(self) -> dict[str, Any]:
        return {
            "partner_id": self.partner_id,
            "role": self.role,
            "name": self.name,
            "status": self.status,
            "key_id": self.key_id,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "rotated_at": self.rotated_at.isoformat() if self.rotated_at else None,
        }


class PartnerError(ValueError):
    """A partner operation was refused (the message says why, for people)."""


class PartnerExists(PartnerError):
    pass


class PartnerNotFound(PartnerError):
    pass


# -- keys (pure) -------------------------------------------------------------------------------------


def new_api_key(partner_id: str) -> str:
    """A fresh key: ``cor_<partner id>_<32 random bytes, url-safe base64>``."""
    return f"{KEY_PREFIX}{partner_id}_{secrets.token_urlsafe(32)}"


def partner_id_of_key(api_key: str) -> str | None:
    """The partner id a well-formed key names, or None (partner ids never contain ``_``)."""
    if not api_key.startswith(KEY_PREFIX):
        return None
    partner_id, sep, secret = api_key[len(KEY_PREFIX) :].partition("_")
    if not sep or check_party_id(partner_id) is not None or not _SECRET.fullmatch(secret):
        return None
    return partner_id


def key_id_of(api_key: str) -> str:
    """The first characters of the key's random part: enough to tell keys apart, useless to attackers."""
    return api_key[len(KEY_PREFIX) :].partition("_")[2][:KEY_ID_CHARS]


def hash_key(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()


# -- schema ------------------------------------------------------------------------------------------


def _table(schema: str) -> str:
    if not _IDENTIFIER.match(schema):
        raise ValueError(f"invalid PostgreSQL schema name for partners: {schema!r}")
    return f'"{schema}".partners'


async def ensure_schema(pool: asyncpg.Pool, *, schema: str = DEFAULT_SCHEMA) -> None:
    """Create the schema and table if missing (idempotent; safe from several processes at once)."""
    table = _table(schema)
    await apply_ddl(
        pool,
        schema,
        [
            f'CREATE SCHEMA IF NOT EXISTS "{schema}"',
            f"""CREATE TABLE IF NOT EXISTS {table} (
                    partner_id  text PRIMARY KEY,
                    role        text NOT NULL,
                    name        text NOT NULL,
                    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
                    key_id      text NOT NULL,
                    key_hash    bytea NOT NULL,
                    created_at  timestamptz NOT NULL DEFAULT now(),
                    rotated_at  timestamptz,
                    disabled_at timestamptz
                )""",
        ],
    )


_COLUMNS = "partner_id, role, name, status, key_id, created_at, rotated_at"


def _partner(row: asyncpg.Record) -> Partner:
    return Partner(
        partner_id=row["partner_id"],
        role=row["role"],
        name=row["name"],
        status=row["status"],
        key_id=row["key_id"],
        created_at=row["created_at"],
        rotated_at=row["rotated_at"],
    )


def _check_partner_id(partner_id: str) -> None:
    reason = check_party_id(partner_id)
    if reason:
        raise PartnerError(f"invalid partner id {partner_id!r}: {reason}")


def _check_role(role: str) -> str:
    try:
        return PartyRole(role.upper()).value
    except ValueError:
        raise PartnerError(f"unknown role {role!r}; one of {', '.join(r.value for r in PartyRole)}") from None


# -- operations ---------------------------------------------------------------------------------------


async def add_partner(
    pool: asyncpg.Pool, partner_id: str, role: str, name: str, *, schema: str = DEFAULT_SCHEMA
) -> tuple[Partner, str]:
    """Register a partner; returns it and its API key (the only time the key is shown)."""
    _check_partner_id(partner_id)
    role = _check_role(role)
    if not name.strip():
        raise PartnerError("a partner needs a display name")
    api_key = new_api_key(partner_id)
    row = await pool.fetchrow(
        f"""INSERT INTO {_table(schema)} (partner_id, role, name, key_id, key_hash)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (partner_id) DO NOTHING
            RETURNING {_COLUMNS}""",
        partner_id,
        role,
        name.strip(),
        key_id_of(api_key),
        hash_key(api_key),
    )
    if row is None:
        raise PartnerExists(f"partner {partner_id!r} already exists (rotate-key gives it a new key)")
    return _partner(row), api_key


async def get_partner(pool: asyncpg.Pool, partner_id: str, *, schema: str = DEFAULT_SCHEMA) -> Partner | None:
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM {_table(schema)} WHERE partner_id = $1", partner_id)
    return _partner(row) if row else None


async def get_partners(
    pool: asyncpg.Pool, partner_ids: Iterable[str], *, schema: str = DEFAULT_SCHEMA
) -> dict[str, Partner]:
    """The registered partners among ``partner_ids`` (active or not), by id; unknown ids are absent."""
    ids = sorted(set(partner_ids))
    if not ids:
        return {}
    rows = await pool.fetch(
        f"SELECT {_COLUMNS} FROM {_table(schema)} WHERE partner_id = ANY($1::text[])", ids
    )
    return {row["partner_id"]: _partner(row) for row in rows}


async def list_partners(pool: asyncpg.Pool, *, schema: str = DEFAULT_SCHEMA) -> list[Partner]:
    rows = await pool.fetch(f"SELECT {_COLUMNS} FROM {_table(schema)} ORDER BY partner_id")
    return [_partner(r) for r in rows]


async def rotate_key(pool: asyncpg.Pool, partner_id: str, *, schema: str = DEFAULT_SCHEMA) -> str:
    """A new key for the partner; the old one stops working (here at once, elsewhere within the cache TTL)."""
    api_key = new_api_key(partner_id)
    row = await pool.fetchrow(
        f"""UPDATE {_table(schema)} SET key_id = $2, key_hash = $3, rotated_at = now()
            WHERE partner_id = $1 RETURNING partner_id""",
        partner_id,
        key_id_of(api_key),
        hash_key(api_key),
    )
    if row is None:
        raise PartnerNotFound(f"no partner {partner_id!r}")
    forget_cached(partner_id)
    return api_key


async def _set_status(pool: asyncpg.Pool, partner_id: str, status: PartnerStatus, schema: str) -> Partner:
    row = await pool.fetchrow(
        f"""UPDATE {_table(schema)}
            SET status = $2, disabled_at = CASE WHEN $2 = 'disabled' THEN now() END
            WHERE partner_id = $1 RETURNING {_COLUMNS}""",
        partner_id,
        status.value,
    )
    if row is None:
        raise PartnerNotFound(f"no partner {partner_id!r}")
    forget_cached(partner_id)
    return _partner(row)


async def disable_partner(pool: asyncpg.Pool, partner_id: str, *, schema: str = DEFAULT_SCHEMA) -> Partner:
    """Refuse the partner's key from now on (its record and history stay)."""
    return await _set_status(pool, partner_id, PartnerStatus.DISABLED, schema)


async def enable_partner(pool: asyncpg.Pool, partner_id: str, *, schema: str = DEFAULT_SCHEMA) -> Partner:
    return await _set_status(pool, partner_id, PartnerStatus.ACTIVE, schema)


def forget_cached(partner_id: str) -> None:
    """Drop the partner from this process's authentication cache (a rotated key or a disabled partner
    stops working here at once, elsewhere within the cache's TTL)."""
    from corridor.core.partners.auth import forget  # the cache lives with the authentication

    forget(partner_id)
