"""``corridor stack up | down | status``: the local stack from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from corridor.cli.output import JsonGroup
from corridor.stack import api
from corridor.stack.config import DEFAULT_LISTENERS, MAX_BROKERS, StackConfig
from corridor.stack.errors import StackError
from corridor.stack.postgres import redacted
from corridor.stack.services import SERVICE_NAMES, SERVICES


def _config(ctx: click.Context, **overrides: Any) -> StackConfig:
    """Settings, then the layout the state dir was last started with, then the options given."""
    base: dict[str, Any] = {}
    if ctx.obj.get("state_dir") is not None:
        base["state_dir"] = ctx.obj["state_dir"]
    config = api.recorded_config(StackConfig.from_settings(**base))
    given = {k: v for k, v in overrides.items() if v is not None}
    return config.replace(**given) if given else config


def _service_list(_ctx: click.Context, _param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in SERVICE_NAMES]
    if unknown:
        raise click.BadParameter(f"unknown {', '.join(unknown)}; choose from {','.join(SERVICE_NAMES)}")
    return names


def _fail(exc: StackError) -> None:
    click.echo(f"error: {exc}", err=True)
    sys.exit(1)


@click.group(cls=JsonGroup)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="State directory of the stack (default: CORRIDOR_STATE_DIR or <repo>/.corridor).",
)
@click.pass_context
def stack(ctx: click.Context, state_dir: Path | None) -> None:
    """Run Kafka (KRaft), PostgreSQL, the schema registry, the ledger, the gateway, the monitor, the relay
    and the webhooks dispatcher on this machine, without Docker."""
    ctx.ensure_object(dict)
    ctx.obj["state_dir"] = state_dir.resolve() if state_dir else None


@stack.command()
@click.option(
    "--brokers",
    type=click.IntRange(1, MAX_BROKERS),
    default=None,
    help="Number of Kafka nodes (default: as already created, else 1).",
)
@click.option("--kafka-port", type=int, default=None, help="Client port of broker 1 (default 9092).")
@click.option("--postgres-port", type=int, default=None, help="Port of the embedded PostgreSQL.")
@click.option("--registry-port", type=int, default=None, help="Port of the schema registry (default 8081).")
@click.option("--ledger-port", type=int, default=None, help="Port of the ledger (default 8082).")
@click.option("--gateway-port", type=int, default=None, help="Port of the gateway (default 8080).")
@click.option("--monitor-port", type=int, default=None, help="Port of the monitor (default 8083).")
@click.option("--relay-port", type=int, default=None, help="Port of the relay (default 8084).")
@click.option("--webhooks-port", type=int, default=None, help="Port of the webhooks service (default 8085).")
@click.option(
    "--services",
    "service_names",
    callback=_service_list,
    default=None,
    metavar="NAME,…",
    help=f"Which HTTP services to run (default: all of {','.join(SERVICE_NAMES)}).",
)
@click.option("--no-services", is_flag=True, help="Kafka and PostgreSQL only.")
@click.option("--no-registry", is_flag=True, help="Same as --no-services (the others need the registry).")
@click.option(
    "--no-partner-listener",
    is_flag=True,
    help="Without the SASL/SCRAM partner listener (port 9094) and so without the ACL authorizer.",
)
@click.pass_context
def up(
    ctx: click.Context,
    brokers: int | None,
    kafka_port: int | None,
    postgres_port: int | None,
    registry_port: int | None,
    ledger_port: int | None,
    gateway_port: int | None,
    monitor_port: int | None,
    relay_port: int | None,
    webhooks_port: int | None,
    service_names: tuple[str, ...] | None,
    no_services: bool,
    no_registry: bool,
    no_partner_listener: bool,
) -> None:
    """Start the stack (or verify and reuse what already runs): Kafka, PostgreSQL, the trade topics,
    then the HTTP services."""
    if (no_services or no_registry) and service_names is not None:
        raise click.UsageError("--services and --no-services exclude each other")
    config = _config(
        ctx,
        brokers=brokers,
        kafka_port=kafka_port,
        postgres_port=postgres_port,
        registry_port=registry_port,
        ledger_port=ledger_port,
        gateway_port=gateway_port,
        monitor_port=monitor_port,
        relay_port=relay_port,
        webhooks_port=webhooks_port,
        services=() if no_services or no_registry else service_names,
        listeners=DEFAULT_LISTENERS if no_partner_listener else None,
    )
    try:
        result = api.up(config)
    except StackError as exc:
        _fail(exc)
        return
    _print_table(result)


@stack.command()
@click.option("--purge", is_flag=True, help="Also delete the Kafka and PostgreSQL data and logs.")
@click.pass_context
def down(ctx: click.Context, purge: bool) -> None:
    """Stop exactly what `stack up` started."""
    try:
        api.down(_config(ctx), purge=purge)
    except StackError as exc:
        _fail(exc)


@stack.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Show what runs; exits 1 if a part of the stack is down."""
    try:
        result = api.status(_config(ctx))
    except StackError as exc:
        _fail(exc)
        return
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _print_table(result)
    sys.exit(0 if result.ok else 1)


def _print_table(result: api.StackStatus) -> None:
    def state(alive: bool, ready: bool = True) -> str:
        return "DOWN" if not alive else "up" if ready else "UNREADY"

    rows: list[tuple[str, str, str, str]] = []
    for broker in result.brokers:
        rows.append((f"kafka broker {broker.node_id}", state(broker.alive), str(broker.pid or "-"),
                     f"127.0.0.1:{broker.port}"))  # fmt: skip
    pg = result.postgres
    rows.append(("postgres" + ("" if pg.embedded else " (external)"), state(pg.alive), str(pg.pid or "-"),
                 redacted(pg.url) if pg.url else "-"))  # fmt: skip
    for service in SERVICES:
        found = result.service_status.get(service.name)
        if found is not None:
            title = service.title + ("" if found.managed else " (external)")
            rows.append((title, state(found.alive, found.ready), str(found.pid or "-"), found.url))
    width = max(len(r[0]) for r in rows)
    click.echo(f"{'component':<{width}}  {'state':<7}  {'pid':>7}  address")
    for name, st, pid, address in rows:
        click.echo(f"{name:<{width}}  {st:<7}  {pid:>7}  {address}")
    click.echo(f"bootstrap servers: {result.bootstrap_servers} (SASL_PLAINTEXT, SCRAM-SHA-512)")
    click.echo("operator login:    credentials/kafka-corridor-operator.password (the CLI uses it)")
    if result.partner_bootstrap_servers:
        protocol = result.partner_security_protocol or "SASL_SSL"
        click.echo(f"partner listener:  {result.partner_bootstrap_servers} ({protocol}, SCRAM-SHA-512)")
        if result.partner_ca_file:
            click.echo(f"partners trust:    {result.partner_ca_file} (the stack's CA certificate)")
    click.echo(f"state dir:         {result.state_dir}")
    for problem in result.problems:
        click.echo(f"problem: {problem}")
