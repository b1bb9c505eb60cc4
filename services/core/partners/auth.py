"""Authentication of partners' API keys against the store, with a short in-process cache.

``authenticate`` caches successful lookups in the process for :data:`AUTH_CACHE_TTL_S` seconds (failed
ones are never cached), so a disabled partner or a rotated key stops working everywhere within that
time, and at once in the process that disabled or rotated it. Services that take requests from partners
(the gateway, the ledger's query API) call it.
"""

from __future__ import annotations

import hmac
import time

import asyncpg

from corridor.core.partners.store import (
    _COLUMNS,
    DEFAULT_SCHEMA,
    Partner,
    _partner,
    _table,
    hash_key,
    partner_id_of_key,
)

#: How long a successful ``authenticate`` is trusted without asking the database again.
AUTH_CACHE_TTL_S = 2.0
_AUTH_CACHE_MAX = 10_000

# (schema, key digest) -> (partner, monotonic expiry)
_auth_cache: dict[tuple[str, bytes], tuple[Partner, float]] = {}


def forget(partner_id: str) -> None:
    for cache_key in [k for k, (p, _) in _auth_cache.items() if p.partner_id == partner_id]:
        _auth_cache.pop(cache_key, None)


def clear_auth_cache() -> None:
    _auth_cache.clear()


async def authenticate(
    pool: asyncpg.Pool,
    api_key: str,
    *,
    schema: str = DEFAULT_SCHEMA,
    cache_ttl_s: float = AUTH_CACHE_TTL_S,
) -> Partner | None:
    """The active partner this key belongs to, or None (unknown, malformed, rotated or disabled)."""
    partner_id = partner_id_of_key(api_key)
    if partner_id is None:
        return None
    digest = hash_key(api_key)
    cache_key = (schema, digest)
    now = time.monotonic()
    cached = _auth_cache.get(cache_key)
    if cached is not None:
        if cached[1] > now:
            return cached[0]
        _auth_cache.pop(cache_key, None)
    row = await pool.fetchrow(
        f"SELECT {_COLUMNS}, key_hash FROM {_table(schema)} WHERE partner_id = $1", partner_id
    )
    if row is None or not hmac.compare_digest(bytes(row["key_hash"]), digest):
        return None
    partner = _partner(row)
    if not partner.active:
        return None
    if cache_ttl_s > 0:
        if len(_auth_cache) >= _AUTH_CACHE_MAX:
            _auth_cache.clear()
        _auth_cache[cache_key] = (partner, now + cache_ttl_s)
    return partner
