"""``corridor partners``: register partners and manage their API keys (services/core/partners.py).

The database is ``CORRIDOR_DATABASE_URL`` or else the local stack's PostgreSQL; the table lives in the
schema ``CORRIDOR_PARTNERS_DB_SCHEMA`` (default ``partners``). ``add`` and ``rotate-key`` print the key
once: it is stored only as a hash.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from services.core.domain.events import PartyRole

T = TypeVar("T")
ROLES = [r.value for r in PartyRole]


def _database_url() -> str:
    from services.core.settings import Settings

    settings = Settings()  # read now, not cached: the CLI may run in-process in tests
    if settings.database_url:
        return settings.database_url
    from services.stack import StackConfig, status

    url = status(StackConfig.from_settings(settings)).database_url
    if not url:
        raise click.ClickException(
            "no database: set CORRIDOR_DATABASE_URL, or start the local stack with `corridor stack up`"
        )
    return url


def _schema() -> str:
    return os.environ.get("CORRIDOR_PARTNERS_DB_SCHEMA", "partners")


def _run(operation: Callable[[Any, str], Awaitable[T]]) -> T:
    """Run ``operation(pool, schema)`` on a small pool, after making sure the table exists."""
    import asyncpg

    from services.core import partners as core_partners

    url = _database_url()
    schema = _schema()

    async def main() -> T:
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=2, timeout=10)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise click.ClickException(f"cannot connect to PostgreSQL: {exc}") from None
        try:
            await core_partners.ensure_schema(pool, schema=schema)
            return await operation(pool, schema)
        finally:
            await pool.close()

    try:
        return asyncio.run(main())
    except core_partners.PartnerError as exc:
        raise click.ClickException(str(exc)) from None


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.group()
def partners() -> None:
    """Partners (parties that publish and read trade events) and their API keys."""


@partners.command("add")
@click.argument("partner_id")
@click.option(
    "--role",
    required=True,
    type=click.Choice(ROLES, case_sensitive=False),
    help="The role the partner plays in trades; it decides which event types it may publish.",
)
@click.option("--name", required=True, help="Display name, e.g. 'SGS Pakistan (Pvt) Ltd.'.")
@click.option("--json", "as_json", is_flag=True, help="Print the partner and its key as JSON.")
def add(partner_id: str, role: str, name: str, as_json: bool) -> None:
    """Register PARTNER_ID (the party_id its events carry) and print its API key, once."""
    from services.core import partners as p

    partner, api_key = _run(lambda pool, schema: p.add_partner(pool, partner_id, role, name, schema=schema))
    if as_json:
        _echo_json({"partner": partner.to_dict(), "api_key": api_key})
        return
    click.echo(f"partner {partner.partner_id} ({partner.role}, {partner.name}) added")
    click.echo(f"API key (shown only now; store it safely): {api_key}")


@partners.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the partners as a JSON array.")
def list_(as_json: bool) -> None:
    """List partners with role, status and the id of their current key (never the key itself)."""
    from services.core import partners as p

    found = _run(lambda pool, schema: p.list_partners(pool, schema=schema))
    if as_json:
        _echo_json([x.to_dict() for x in found])
        return
    if not found:
        click.echo("no partners yet (`corridor partners add` registers one)")
        return
    click.echo(f"{'partner':<32} {'role':<18} {'status':<9} {'key id':<10} name")
    for x in found:
        click.echo(f"{x.partner_id:<32} {x.role:<18} {x.status:<9} {x.key_id or '':<10} {x.name}")


@partners.command("rotate-key")
@click.argument("partner_id")
@click.option("--json", "as_json", is_flag=True, help="Print the new key as JSON.")
def rotate_key(partner_id: str, as_json: bool) -> None:
    """Give PARTNER_ID a new API key; the old key stops working within seconds."""
    from services.core import partners as p

    api_key = _run(lambda pool, schema: p.rotate_key(pool, partner_id, schema=schema))
    if as_json:
        _echo_json({"partner_id": partner_id, "api_key": api_key})
        return
    click.echo(f"new API key for {partner_id} (shown only now; the old key no longer works): {api_key}")


@partners.command("disable")
@click.argument("partner_id")
@click.option("--json", "as_json", is_flag=True, help="Print the partner as JSON.")
def disable(partner_id: str, as_json: bool) -> None:
    """Refuse PARTNER_ID's key from now on (its record stays; `enable` lets it back in)."""
    from services.core import partners as p

    partner = _run(lambda pool, schema: p.disable_partner(pool, partner_id, schema=schema))
    if as_json:
        _echo_json(partner.to_dict())
        return
    click.echo(f"partner {partner_id} disabled")


@partners.command("enable")
@click.argument("partner_id")
@click.option("--json", "as_json", is_flag=True, help="Print the partner as JSON.")
def enable(partner_id: str, as_json: bool) -> None:
    """Accept PARTNER_ID's current key again."""
    from services.core import partners as p

    partner = _run(lambda pool, schema: p.enable_partner(pool, partner_id, schema=schema))
    if as_json:
        _echo_json(partner.to_dict())
        return
    click.echo(f"partner {partner_id} enabled")
