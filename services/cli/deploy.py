"""``corridor deploy``: render the cluster manifests' generated parts, and a partner's Strimzi resources."""

from __future__ import annotations

import click


@click.group()
def deploy() -> None:
    """Cluster deployment (deploy/k8s): generated KafkaTopic/KafkaUser resources, partner resources."""


@deploy.command("render")
@click.option("--check", is_flag=True, help="Only check: exit 1 when a generated file is stale.")
def render(check: bool) -> None:
    """Write deploy/k8s/base/kafka/{topics,users}.yaml from services/deploy/access.py."""
    from corridor.core.settings import PROJECT_ROOT
    from corridor.deploy import render as r

    if check:
        stale = r.stale_files()
        for path in stale:
            click.echo(f"stale: {path.relative_to(PROJECT_ROOT)} (run `corridor deploy render`)", err=True)
        raise SystemExit(1 if stale else 0)
    written = r.write_all()
    for path in written:
        click.echo(f"updated: {path.relative_to(PROJECT_ROOT)}")
    if not written:
        click.echo("up to date")


@deploy.command("partner")
@click.argument("partner_id")
def partner(partner_id: str) -> None:
    """Print PARTNER_ID's KafkaUser (SCRAM-SHA-512, its ACLs) and KafkaTopic, for `kubectl apply -f -`."""
    from corridor.deploy.render import partner_manifest

    try:
        click.echo(partner_manifest(partner_id), nl=False)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="PARTNER_ID") from None
