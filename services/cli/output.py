"""The CLI's output contract (docs/cli.md): one place that decides how a command ends.

- A command that has ``--json`` prints its result as one JSON document on stdout; when it fails under
  ``--json`` it prints ``{"error": {"message", "kind", "exit_code"}}`` on stdout instead of a text line
  on stderr, so a script that parses stdout always gets JSON.
- Every failure exits non-zero: 1 for an error, 2 for a usage error (a bad option or argument, click's
  own convention).
- Unexpected exceptions under ``--json`` become a JSON error too (kind ``internal``), never a partial
  document followed by a traceback.

Commands opt in with ``cls=JsonCommand`` (groups with ``cls=JsonGroup``, whose sub-commands and
sub-groups then get these classes by default). Usage errors found while parsing (before the command
runs) are reported as JSON by ``corridor.cli.main`` when ``--json`` is on the command line.
"""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click


def error_document(message: str, *, kind: str = "error", exit_code: int = 1) -> dict[str, Any]:
    """The JSON shape of every failure under ``--json``."""
    return {"error": {"message": message, "kind": kind, "exit_code": exit_code}}


def echo_json(value: Any) -> None:
    """A result under ``--json``: one document, UTF-8 text kept as is."""
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def fail_as_json(exc: click.ClickException) -> NoReturn:
    """Print ``exc`` as the JSON error document and exit with its code (at least 1)."""
    kind = "usage" if isinstance(exc, click.UsageError) else "error"
    code = exc.exit_code or 1
    echo_json(error_document(exc.format_message(), kind=kind, exit_code=code))
    sys.exit(code)


def _wants_json(ctx: click.Context) -> bool:
    return any(bool(c.params.get("as_json")) for c in (ctx, *_parents(ctx)))


def _parents(ctx: click.Context) -> list[click.Context]:
    out = []
    parent = ctx.parent
    while parent is not None:
        out.append(parent)
        parent = parent.parent
    return out


class JsonCommand(click.Command):
    """A command whose failures follow the output contract: JSON under ``--json``, non-zero always."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            if _wants_json(ctx):
                fail_as_json(exc)
            raise
        except (click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            if _wants_json(ctx):
                echo_json(error_document(f"{type(exc).__name__}: {exc}", kind="internal"))
                sys.exit(1)
            raise


class JsonGroup(click.Group):
    """A group whose commands (and nested groups) are ``JsonCommand`` / ``JsonGroup`` by default."""

    command_class = JsonCommand
    group_class = type  # sub-groups are of this same class


def argv_wants_json(argv: list[str]) -> bool:
    """Whether a command line asks for JSON (for errors found before any command ran)."""
    return "--json" in argv
