"""The ``corridor`` command line: every entry point of the project lives in this package.

One root group here (and the ``schemas`` and ``test`` commands); each other sub-command is a module
beside it (``stack``, ``partners``, ``certificates``, ``ops``, ``deploy``, ``bench``, ``demo``) that
parses options, calls the runtime or the tools, and prints; ``output`` is the shared JSON/error
contract (docs/cli.md). The modules hold no logic of their own that a test could not reach through the
package they call."""

from __future__ import annotations

from pathlib import Path

import click

from corridor.cli.output import JsonGroup, argv_wants_json, fail_as_json
from corridor.core.compatibility import CompatibilityLevel
from corridor.core.evolution import TRADE_SUBJECT_LEVEL


@click.group(cls=JsonGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Corridor: Pakistan-China trade events over Apache Kafka.

    Commands with --json print one JSON document, errors included; every failure exits non-zero
    (docs/cli.md)."""


@cli.command("test", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def test(pytest_args: tuple[str, ...]) -> None:
    """Run the whole test suite (unit, integration on real Kafka + PostgreSQL, e2e); args go to pytest."""
    import os
    import subprocess
    import sys

    from corridor.core.settings import PROJECT_ROOT

    # The monitor's browser test needs Debian's Chromium; install it where we may (root, apt-get).
    ensure_chromium = PROJECT_ROOT / "deploy" / "local" / "ensure-chromium.sh"
    if subprocess.run(["bash", str(ensure_chromium)], check=False).returncode != 0:
        raise SystemExit(1)
    # pytest runs in the project (its rootdir and conftest); paths the user gave are theirs, resolved
    # against the directory they typed the command in
    paths = pytest_args or (str(PROJECT_ROOT / "tests"),)
    args = [sys.executable, "-m", "pytest", *(_user_path(a) for a in paths)]
    os.chdir(PROJECT_ROOT)
    os.execv(sys.executable, args)


def _user_path(arg: str) -> str:
    """``arg`` made absolute when it names a path (``tests/unit``, ``file.py::test``) that exists from
    the current directory; options and anything else unchanged."""
    import os

    if arg.startswith("-"):
        return arg
    path, sep, rest = arg.partition("::")
    if path and os.path.exists(path):
        return os.path.abspath(path) + sep + rest
    return arg


@cli.group()
def schemas() -> None:
    """Work with the Avro schemas under schemas/ (the single source of truth)."""


@schemas.command("codegen")
def schemas_codegen() -> None:
    """Regenerate the pydantic models (services/core/domain/events.py) from schemas/*.avsc."""
    from corridor.core.domain import codegen

    changed = codegen.write()
    click.echo(f"{'updated' if changed else 'up to date'}: {codegen.OUTPUT}")


@schemas.command("list")
def schemas_list() -> None:
    """List every event type with its topic and registry subject."""
    from corridor.core.schemas import catalog

    for event in sorted(catalog().events.values(), key=lambda e: (e.topic, e.name)):
        click.echo(f"{event.topic:<24} {event.name:<24} {event.subject}")


@schemas.command("docs")
def schemas_docs() -> None:
    """Regenerate contracts/reference.md from contracts/asyncapi.yaml and schemas/*.avsc, and the
    self-contained payload schemas contracts/avro/<area>/<Name>.avsc (offline)."""
    from corridor.core import contracts

    for path in contracts.write_payloads():
        click.echo(f"{'updated' if path.exists() else 'deleted'}: {path}")
    changed = contracts.write_reference()
    click.echo(f"{'updated' if changed else 'up to date'}: {contracts.REFERENCE_PATH}")


@schemas.command("check")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Git work tree whose schemas/ to check (default: this project).",
)
@click.option(
    "--registry", "registry_url", default=None, help="Also check against this live schema registry."
)
@click.option(
    "--level",
    type=click.Choice([lvl.value for lvl in CompatibilityLevel]),
    default=TRADE_SUBJECT_LEVEL.value,
    show_default=True,
    help="Compatibility level to enforce.",
)
def schemas_check(repo: Path | None, registry_url: str | None, level: str) -> None:
    """Fail if schemas/ breaks compatibility with any earlier version (git history, optionally a registry)."""
    from corridor.core.evolution import check_against_history, check_against_registry, git_history
    from corridor.core.schemas import SchemaCatalog
    from corridor.core.settings import PROJECT_ROOT

    root = repo or PROJECT_ROOT
    current = SchemaCatalog(root / "schemas")
    history = git_history(root)
    findings = check_against_history(current, history, CompatibilityLevel(level))
    baselines = f"{history.commits} commit(s) of git history"
    if registry_url:
        findings += check_against_registry(current, registry_url)
        baselines += f" and the registry at {registry_url}"
    if findings:
        for finding in findings:
            click.echo(str(finding), err=True)
        raise click.ClickException(
            f"{len(findings)} subject(s) break {level}; add a default to new fields, or publish the change "
            "on a new topic version"
        )
    click.echo(f"schemas/ ({len(current.events)} event types) is {level}-compatible with {baselines}")


@schemas.command("register")
@click.option(
    "--registry", "registry_url", default=None, help="Registry URL (default: CORRIDOR_SCHEMA_REGISTRY_URL)."
)
def schemas_register(registry_url: str | None) -> None:
    """Register every event schema, setting each trade subject to BACKWARD_TRANSITIVE when it has no level."""
    import httpx

    from corridor.core.evolution import register_all
    from corridor.core.schemas import catalog
    from corridor.core.settings import get_settings

    url = registry_url or get_settings().schema_registry_url
    try:
        for done in register_all(catalog(), url):
            click.echo(f"{done.subject:<72} id {done.schema_id:<5} version {done.version}")
    except httpx.HTTPStatusError as exc:
        raise click.ClickException(f"the registry refused a schema: {exc}") from None
    except httpx.TransportError as exc:
        raise click.ClickException(f"cannot reach the registry at {url}: {exc}") from None


def _register_subcommands() -> None:
    # Imported lazily so `corridor --help` stays fast and one broken part cannot hide the others.
    from corridor.cli.partners import partners
    from corridor.cli.stack import stack

    cli.add_command(stack)
    cli.add_command(partners)
    from corridor.cli.bench import bench

    cli.add_command(bench)
    # operations: tail, dlq, trace, lag (the work itself is in corridor.ops)
    from corridor.cli.ops import register as register_ops

    register_ops(cli)
    # signed certificates: sign, verify, authority keys
    from corridor.cli.certificates import certificates

    cli.add_command(certificates)
    # cluster deployment: generated Strimzi resources (services/deploy/)
    from corridor.cli.deploy import deploy

    cli.add_command(deploy)
    try:
        from corridor.cli.demo import demo
    except ImportError:  # pragma: no cover - during bootstrap of the tree
        return
    cli.add_command(demo)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI as ``corridor`` (the launcher's name, whatever Python module runs it)."""
    import sys

    _register_subcommands()
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        code = cli.main(args=args, prog_name="corridor", standalone_mode=False)
    except click.ClickException as exc:
        if argv_wants_json(args):
            fail_as_json(exc)
        exc.show()
        sys.exit(exc.exit_code or 1)
    except click.Abort:
        click.echo("Aborted!", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
