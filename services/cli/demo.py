"""``corridor demo``: bring the stack up (unless told not to) and play a trade story (corridor.demo.run)."""

from __future__ import annotations

import asyncio
import logging
import sys

import click

from corridor.cli.output import JsonCommand
from corridor.core.settings import get_settings
from corridor.demo.run import _say, run_demo
from corridor.demo.story import STORIES


@click.command("demo", cls=JsonCommand)
@click.option(
    "--story", "story_name", type=click.Choice(sorted(STORIES)), default="chromite", show_default=True
)
@click.option(
    "--no-stack", is_flag=True, help="Use the servers from CORRIDOR_* settings; do not start the stack."
)
@click.option(
    "--via",
    type=click.Choice(["gateway", "kafka"]),
    default=None,
    help="Publish through the partner gateway (CORRIDOR_GATEWAY_URL) or straight to Kafka "
    "(default: the gateway when it answers).",
)
def demo(story_name: str, no_stack: bool, via: str | None) -> None:
    """Bring the stack up (if needed) and play a trade story through Kafka, printing its timeline."""
    from corridor.demo import via_gateway
    from corridor.stack import api
    from corridor.stack.config import StackConfig

    settings = get_settings()
    bootstrap, registry_url = settings.bootstrap_servers, settings.schema_registry_url
    database_url = settings.database_url
    ledger_url: str | None = settings.ledger_url
    partner_bootstrap: str | None = None
    if not no_stack:
        status = api.up(StackConfig.from_settings(settings))
        bootstrap, registry_url = status.bootstrap_servers, status.schema_registry_url
        database_url = database_url or status.database_url
        ledger_url = status.services.get("ledger")
        if "relay" in status.services:  # a party reads its own feed only where the relay fills it
            partner_bootstrap = status.partner_bootstrap_servers
    gateway_url = via_gateway.gateway_url()
    if via != "kafka":
        reachable = via_gateway.gateway_reachable(gateway_url)
        if via == "gateway" and not reachable:
            raise click.ClickException(f"no gateway answers at {gateway_url} (set CORRIDOR_GATEWAY_URL)")
        via = "gateway" if reachable else "kafka"
        if not reachable:
            _say(f"▶ no gateway at {gateway_url}: publishing straight to Kafka")
    if via == "gateway" and not database_url:
        database_url = api.status(StackConfig.from_settings(settings)).database_url
        if not database_url:
            raise click.ClickException(
                "the gateway path needs the partners database: set CORRIDOR_DATABASE_URL"
            )
    # aiokafka logs transient coordinator lookups of a brand-new consumer group as errors; a first-time
    # user should not read those as failures. Real failures surface as exceptions below.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        asyncio.run(
            run_demo(
                story_name,
                bootstrap,
                registry_url,
                via=via,
                gateway_url=gateway_url,
                database_url=database_url,
                ledger_url=ledger_url,
                partner_bootstrap=partner_bootstrap,
            )
        )
    except click.ClickException:
        raise
    except Exception as exc:  # a clear one-line reason beats a traceback for a first-time user
        _say(f"demo failed: {type(exc).__name__}: {exc}")
        sys.exit(1)
