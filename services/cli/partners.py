"""``corridor partners``: register partners, manage their API keys and their Kafka access
(services/core/partners.py).

The database is ``CORRIDOR_DATABASE_URL`` or else the local stack's PostgreSQL; the table lives in the
schema ``CORRIDOR_PARTNERS_DB_SCHEMA`` (default ``partners``). ``add`` and ``rotate-key`` print the key
once: it is stored only as a hash.

Kafka access (docs/adr/0010-partner-isolation.md): ``add`` also gives the partner SCRAM-SHA-512
credentials for the broker's partner listener (username = partner id, password printed once with the
API key), ACLs to read its topic ``partner.<id>.v1`` with consumer groups ``<id>.*`` and nothing else,
and that topic. ``rotate-key`` replaces the password with the key, ``disable`` deletes the credential and
the ACLs, ``enable`` issues a new password. The admin requests go to ``CORRIDOR_BOOTSTRAP_SERVERS`` (the
internal listener); ``--no-kafka`` leaves Kafka alone. A broker without a partner listener (no
authorizer) is reported, not an error; an unreachable broker fails ``rotate-key`` and ``disable``
(the old access would otherwise stay), and is a warning for ``add`` and ``enable``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click

from corridor.cli.database import database_url
from corridor.cli.output import JsonGroup
from corridor.core.domain.events import PartyRole

T = TypeVar("T")
ROLES = [r.value for r in PartyRole]


def _schema() -> str:
    return os.environ.get("CORRIDOR_PARTNERS_DB_SCHEMA", "partners")


def _run(operation: Callable[[Any, str], Awaitable[T]]) -> T:
    """Run ``operation(pool, schema)`` on a small pool, after making sure the table exists."""
    import asyncpg

    from corridor.core import partners as core_partners

    url = database_url()
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


def _bootstrap_servers() -> str:
    from corridor.core.settings import Settings

    return Settings().bootstrap_servers


def _partner_listener() -> dict[str, Any]:
    """Where and how partners log in: ``bootstrap_servers``, ``security_protocol`` (SASL_SSL) and
    ``ssl_cafile``, the CA certificate a partner trusts (docs/adr/0028-tls-partner-listener.md).

    ``CORRIDOR_PARTNER_BOOTSTRAP_SERVERS`` / ``CORRIDOR_PARTNER_CA_FILE`` name them for a cluster; else
    the local stack's listener and its CA (``<state dir>/credentials/tls-ca.pem``)."""
    found: dict[str, Any] = {
        "bootstrap_servers": os.environ.get("CORRIDOR_PARTNER_BOOTSTRAP_SERVERS") or None,
        "security_protocol": "SASL_SSL",
        "ssl_cafile": os.environ.get("CORRIDOR_PARTNER_CA_FILE") or None,
    }
    if found["bootstrap_servers"]:
        return found
    try:
        from corridor.core.settings import Settings
        from corridor.stack import StackConfig, status

        settings = Settings()
        stack = status(StackConfig.from_settings(settings))
        if stack.bootstrap_servers == settings.bootstrap_servers:
            found["bootstrap_servers"] = stack.partner_bootstrap_servers
            found["security_protocol"] = stack.partner_security_protocol or "SASL_SSL"
            if stack.partner_ca_file is not None and not found["ssl_cafile"]:
                found["ssl_cafile"] = str(stack.partner_ca_file)
    except Exception:  # only a hint in the output: never fail the command for it
        return found
    return found


def _kafka(operation: Callable[[str], Coroutine[Any, Any, T]]) -> tuple[T | None, str | None, bool]:
    """Run ``operation(bootstrap)``: (result, error, the broker has no authorizer)."""
    from corridor.core import partners as p

    try:
        return asyncio.run(operation(_bootstrap_servers())), None, False
    except p.KafkaSecurityDisabled as exc:
        return None, str(exc), True
    except p.KafkaAccessError as exc:
        return None, str(exc), False


def _grant(partner_id: str) -> dict[str, Any]:
    """Kafka credentials, ACLs and topic for the partner, as the ``kafka`` member of the JSON output."""
    from corridor.core import partners as p
    from corridor.core.routing import group_prefix, partner_topic

    credentials, error, disabled = _kafka(lambda bootstrap: p.grant_kafka_access(bootstrap, partner_id))
    if credentials is None:
        return {"error": error, "authorizer": not disabled}
    return {
        **credentials.to_dict(),
        **_partner_listener(),
        "topic": partner_topic(partner_id),
        "group_prefix": group_prefix(partner_id),
    }


def _revoke(partner_id: str) -> dict[str, Any]:
    from corridor.core import partners as p

    removed, error, disabled = _kafka(lambda bootstrap: p.revoke_kafka_access(bootstrap, partner_id))
    if removed is None:
        return {"error": error, "authorizer": not disabled}
    return removed


def _echo_kafka(kafka: dict[str, Any] | None, *, what: str) -> None:
    """Human output of the Kafka part; problems go to stderr."""
    if kafka is None:
        return
    if "error" in kafka:
        click.echo(f"warning: {what} on Kafka failed: {kafka['error']}", err=True)
    elif "password" in kafka:
        click.echo(
            f"Kafka login (SCRAM-SHA-512, shown only now): username {kafka['username']} "
            f"password {kafka['password']}"
        )
        where = f" at {kafka['bootstrap_servers']}" if kafka.get("bootstrap_servers") else ""
        click.echo(f"  reads topic {kafka['topic']} with consumer groups {kafka['group_prefix']}*{where}")
        click.echo(
            f"  over {kafka.get('security_protocol', 'SASL_SSL')}: trust the CA certificate "
            f"{kafka.get('ssl_cafile') or '(CORRIDOR_PARTNER_CA_FILE is not set)'} and verify the host name"
        )
    else:
        click.echo(
            f"Kafka access revoked (SCRAM credential deleted: {kafka['scram_credential_deleted']}, "
            f"ACLs deleted: {kafka['acls_deleted']})"
        )


def _must_have_succeeded(kafka: dict[str, Any] | None, command: str, partner_id: str) -> None:
    """``rotate-key`` and ``disable`` fail when the broker was there but did not comply, or was not
    reachable: the old Kafka access would silently stay."""
    if kafka is not None and "error" in kafka and kafka.get("authorizer", True):
        raise click.ClickException(
            f"the database part of `{command} {partner_id}` is done, but Kafka access was not changed "
            f"({kafka['error']}); run it again once Kafka answers"
        )


_NO_KAFKA = click.option(
    "--no-kafka", is_flag=True, help="Leave the partner's Kafka credentials and ACLs alone."
)


def _registry_users_file() -> Path:
    """The registry's users file: ``CORRIDOR_REGISTRY_USERS_FILE``, else the local stack's."""
    from corridor.core import credentials
    from corridor.core.settings import Settings

    configured = os.environ.get("CORRIDOR_REGISTRY_USERS_FILE")
    if configured:
        return Path(configured)
    # read now, not cached: the CLI may run in-process in tests
    return credentials.credentials_dir(Settings().state_dir) / credentials.REGISTRY_USERS


def _registry_login(partner_id: str) -> dict[str, Any]:
    """A new ``read`` login of the schema registry for the partner (any older one replaced): the
    registry reloads its users file, so it works at once. Its password is printed once, never stored."""
    from corridor.core import credentials

    users = _registry_users_file()
    if not users.exists():
        return {"error": f"no registry users file at {users} (run `corridor stack up` first)"}
    user = credentials.partner_user(partner_id)
    password = credentials.new_password()
    credentials.set_user(users, user, password, credentials.READ)
    return {"basic.auth.user.info": f"{user}:{password}", "role": credentials.READ}


def _revoke_registry_login(partner_id: str) -> bool:
    from corridor.core import credentials

    users = _registry_users_file()
    return users.exists() and credentials.remove_user(users, credentials.partner_user(partner_id))


def _echo_registry(registry: dict[str, Any]) -> None:
    if "error" in registry:
        click.echo(f"warning: no schema registry login: {registry['error']}", err=True)
    else:
        click.echo(
            "schema registry login (basic.auth.user.info, read only; shown only now): "
            f"{registry['basic.auth.user.info']}"
        )


@click.group(cls=JsonGroup)
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
@click.option("--json", "as_json", is_flag=True, help="Print the partner, its key and Kafka login as JSON.")
@_NO_KAFKA
@click.option(
    "--kafka-manifest",
    type=click.File("w"),
    default=None,
    help="Write the partner's Strimzi KafkaUser and KafkaTopic to this file instead of calling the broker "
    "(a cluster whose operator owns users and ACLs, deploy/k8s; the password is then in the Secret "
    "named after the partner).",
)
def add(
    partner_id: str, role: str, name: str, as_json: bool, no_kafka: bool, kafka_manifest: TextIO | None
) -> None:
    """Register PARTNER_ID (the party_id its events carry) and print its API key and its Kafka login
    (SCRAM username and password), once."""
    from corridor.core import partners as p

    if kafka_manifest is not None:  # before the database: a bad id must not leave a half-added partner
        from corridor.deploy.render import partner_manifest

        try:
            manifest = partner_manifest(partner_id)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="PARTNER_ID") from None
    partner, api_key = _run(lambda pool, schema: p.add_partner(pool, partner_id, role, name, schema=schema))
    kafka = None if no_kafka or kafka_manifest is not None else _grant(partner_id)
    registry = _registry_login(partner_id)
    if kafka_manifest is not None:
        kafka_manifest.write(manifest)
    if as_json:
        _echo_json(
            {"partner": partner.to_dict(), "api_key": api_key, "kafka": kafka, "schema_registry": registry}
        )
        return
    click.echo(f"partner {partner.partner_id} ({partner.role}, {partner.name}) added")
    click.echo(f"API key (shown only now; store it safely): {api_key}")
    _echo_registry(registry)
    _echo_kafka(kafka, what="granting access")


@partners.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the partners as a JSON array.")
def list_(as_json: bool) -> None:
    """List partners with role, status and the id of their current key (never the key itself); --json
    prints a JSON array of the same partner objects the other commands print under "partner"."""
    from corridor.core import partners as p

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
@click.option("--json", "as_json", is_flag=True, help="Print the new key and Kafka login as JSON.")
@_NO_KAFKA
def rotate_key(partner_id: str, as_json: bool, no_kafka: bool) -> None:
    """Give PARTNER_ID a new API key and a new Kafka password; the old ones stop working (the key
    within seconds, the password at the next login)."""
    from corridor.core import partners as p

    async def rotate(pool: Any, schema: str) -> tuple[Any, str]:
        api_key = await p.rotate_key(pool, partner_id, schema=schema)
        return await p.get_partner(pool, partner_id, schema=schema), api_key

    partner, api_key = _run(rotate)
    kafka = None if no_kafka else _grant(partner_id)
    registry = _registry_login(partner_id)
    if as_json:
        _echo_json(
            {"partner": partner.to_dict(), "api_key": api_key, "kafka": kafka, "schema_registry": registry}
        )
    else:
        click.echo(f"new API key for {partner_id} (shown only now; the old key no longer works): {api_key}")
        _echo_registry(registry)
        _echo_kafka(kafka, what="rotating the password")
    _must_have_succeeded(kafka, "rotate-key", partner_id)


@partners.command("disable")
@click.argument("partner_id")
@click.option("--json", "as_json", is_flag=True, help="Print the partner (and the Kafka outcome) as JSON.")
@_NO_KAFKA
def disable(partner_id: str, as_json: bool, no_kafka: bool) -> None:
    """Refuse PARTNER_ID's key and delete its Kafka credential and ACLs from now on (its record and its
    topic stay; `enable` lets it back in)."""
    from corridor.core import partners as p

    partner = _run(lambda pool, schema: p.disable_partner(pool, partner_id, schema=schema))
    kafka = None if no_kafka else _revoke(partner_id)
    _revoke_registry_login(partner_id)
    if as_json:
        _echo_json({"partner": partner.to_dict(), "kafka": kafka})
    else:
        click.echo(f"partner {partner_id} disabled")
        _echo_kafka(kafka, what="revoking access")
    _must_have_succeeded(kafka, "disable", partner_id)


@partners.command("enable")
@click.argument("partner_id")
@click.option("--json", "as_json", is_flag=True, help="Print the partner (and its new Kafka login) as JSON.")
@_NO_KAFKA
def enable(partner_id: str, as_json: bool, no_kafka: bool) -> None:
    """Accept PARTNER_ID's current key again; its Kafka credential was deleted by `disable`, so it gets
    a new Kafka password (printed once) and its ACLs back."""
    from corridor.core import partners as p

    partner = _run(lambda pool, schema: p.enable_partner(pool, partner_id, schema=schema))
    kafka = None if no_kafka else _grant(partner_id)
    registry = _registry_login(partner_id)
    if as_json:
        _echo_json({"partner": partner.to_dict(), "kafka": kafka, "schema_registry": registry})
        return
    click.echo(f"partner {partner_id} enabled")
    _echo_registry(registry)
    _echo_kafka(kafka, what="granting access")
