"""The ``corridor`` command line: one group, sub-commands contributed by each part of the project."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Corridor: Pakistan-China trade events over Apache Kafka."""


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
