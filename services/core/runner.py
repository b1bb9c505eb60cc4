"""The runner behind every ``python -m corridor.<name>``: flags, settings, logging checks, uvicorn.

Each service's ``__main__`` declares only what is its own (description, default port, settings class,
extra flags, whether it needs a database, its app factory) and calls :func:`run_service`, which

* parses ``--host``, ``--port``, the service's own flags and ``--log-level``; a flag given on the command
  line overrides its ``CORRIDOR_*`` settings field;
* exits 2 with ``<name>: invalid settings`` (``invalid CORRIDOR_* settings`` for a service without
  flags of its own) when the settings do not validate, with ``<name>: CORRIDOR_DATABASE_URL is not set``
  when the service needs a database and has none, and with ``<name>: unknown log level`` on a level
  stdlib ``logging`` does not know;
* configures logging, builds the app and serves it with uvicorn (uvicorn's own log config and access
  log off: the services log through structlog, requests included);
* returns 0 after a clean stop, 1 when the server never started (uvicorn leaves ``started`` false when
  the lifespan failed, e.g. an unreachable database).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import uvicorn
from pydantic import ValidationError
from starlette.types import ASGIApp

__all__ = ["EXAMPLE_DATABASE_URL", "Flag", "ServiceSettings", "run_service"]

EXAMPLE_DATABASE_URL = "postgresql://postgres@127.0.0.1:55432/corridor"
DEFAULT_LOG_LEVEL_HELP = "default CORRIDOR_LOG_LEVEL or INFO"


class ServiceSettings(Protocol):
    """What the runner reads of a service's settings (every ``corridor.<name>.settings`` class has it)."""

    @property
    def database_url(self) -> str | None: ...

    @property
    def log_level(self) -> str: ...

    @property
    def log_format(self) -> str: ...


S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class Flag:
    """A flag of one service's own (``--group-id``); given, its value overrides settings field ``field``."""

    name: str
    field: str
    help: str
    type: Callable[[str], Any] = str
    choices: tuple[str, ...] | None = None


def run_service(
    name: str,
    argv: Sequence[str] | None,
    *,
    description: str,
    host: str,
    port: int,
    settings: Callable[..., S],
    create_app: Callable[[S], ASGIApp],
    configure_logging: Callable[[str, str], None],
    flags: Sequence[Flag] = (),
    log_level_help: str = DEFAULT_LOG_LEVEL_HELP,
    database: str | None = None,
    quiet_loggers: Sequence[str] = (),
    timeout_graceful_shutdown: int | None = None,
    before_run: Callable[[], None] | None = None,
) -> int:
    """Serve service ``name`` (``python -m corridor.<name>``) until it is stopped; the exit code.

    ``database``, when given, makes ``CORRIDOR_DATABASE_URL`` required and says which database it should
    point at ("the PostgreSQL database of the backbone"). ``quiet_loggers`` are stdlib loggers kept to
    WARNING and above (or the chosen level, if higher); ``before_run`` runs just before the server does.
    """
    parser = argparse.ArgumentParser(prog=f"python -m corridor.{name}", description=description)
    parser.add_argument("--host", default=host, help=f"interface to listen on (default {host})")
    parser.add_argument("--port", type=int, default=port, help=f"TCP port (default {port})")
    fields = {
        parser.add_argument(flag.name, type=flag.type, choices=flag.choices, help=flag.help).dest: flag.field
        for flag in flags
    }
    parser.add_argument("--log-level", help=log_level_help)
    args = parser.parse_args(argv)

    overrides = {field: getattr(args, dest) for dest, field in fields.items()}
    overrides["log_level"] = args.log_level
    try:
        service_settings = settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        # without flags of its own, only the environment can be wrong
        what = "settings" if flags else "CORRIDOR_* settings"
        print(f"{name}: invalid {what}:\n{exc}", file=sys.stderr)
        return 2
    if database is not None and not service_settings.database_url:
        print(
            f"{name}: CORRIDOR_DATABASE_URL is not set; point it at {database}, "
            f"e.g. CORRIDOR_DATABASE_URL={EXAMPLE_DATABASE_URL}",
            file=sys.stderr,
        )
        return 2
    level = service_settings.log_level.upper()
    if level not in logging.getLevelNamesMapping():
        print(f"{name}: unknown log level {level!r} (use DEBUG, INFO, WARNING or ERROR)", file=sys.stderr)
        return 2

    configure_logging(level, service_settings.log_format)
    quiet = max(logging.getLevelNamesMapping()[level], logging.WARNING)
    for logger in quiet_loggers:
        logging.getLogger(logger).setLevel(quiet)
    try:
        app = create_app(service_settings)
    except (ValueError, OSError) as exc:  # a credential or key missing or unreadable: say which, exit 2
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_config=None,  # keep configure_logging's handler
        access_log=False,  # the apps log each request themselves
        log_level=level.lower(),
        lifespan="on",
        timeout_graceful_shutdown=timeout_graceful_shutdown,
    )
    if before_run is not None:
        before_run()
    server = uvicorn.Server(config)
    server.run()
    # uvicorn leaves started=False when the lifespan (e.g. the database) failed
    return 0 if server.started else 1
