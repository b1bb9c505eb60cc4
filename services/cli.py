"""The ``corridor`` command line: one group, sub-commands contributed by each part of the project."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Corridor: Pakistan-China trade events over Apache Kafka."""


@cli.command("test", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def test(pytest_args: tuple[str, ...]) -> None:
    """Run the whole test suite (unit, integration on real Kafka + PostgreSQL, e2e); args go to pytest."""
    import os
    import sys

    args = [sys.executable, "-m", "pytest", *(pytest_args or ("tests",))]
    os.execv(sys.executable, args)


@cli.group()
def schemas() -> None:
    """Work with the Avro schemas under schemas/ (the single source of truth)."""


@schemas.command("codegen")
def schemas_codegen() -> None:
    """Regenerate the pydantic models (services/core/domain/events.py) from schemas/*.avsc."""
    from services.core.domain import codegen

    changed = codegen.write()
    click.echo(f"{'updated' if changed else 'up to date'}: {codegen.OUTPUT}")


@schemas.command("list")
def schemas_list() -> None:
    """List every event type with its topic and registry subject."""
    from services.core.schemas import catalog

    for event in sorted(catalog().events.values(), key=lambda e: (e.topic, e.name)):
        click.echo(f"{event.topic:<24} {event.name:<24} {event.subject}")


@schemas.command("docs")
def schemas_docs() -> None:
    """Regenerate contracts/reference.md from contracts/asyncapi.yaml and schemas/*.avsc (offline)."""
    from services.core import contracts

    changed = contracts.write_reference()
    click.echo(f"{'updated' if changed else 'up to date'}: {contracts.REFERENCE_PATH}")


def _register_subcommands() -> None:
    # Imported lazily so `corridor --help` stays fast and one broken part cannot hide the others.
    from services.stack.cli import stack

    cli.add_command(stack)
    try:
        from services.demo.main import demo
    except ImportError:  # pragma: no cover - during bootstrap of the tree
        return
    cli.add_command(demo)


def main() -> None:
    _register_subcommands()
    cli()


if __name__ == "__main__":
    main()
