"""Which PostgreSQL a command works on: ``CORRIDOR_DATABASE_URL``, else the local stack's (as operator)."""

from __future__ import annotations

import click


def database_url() -> str:
    """The database URL, read now (not cached: the CLI may run in-process in tests); a clear error
    when there is none."""
    from corridor.core.settings import Settings

    settings = Settings()
    if settings.database_url:
        return settings.database_url
    # the local stack's embedded server, as the operator (its superuser, password from the credentials)
    from corridor.stack import StackConfig, status

    url = status(StackConfig.from_settings(settings)).database_url
    if not url:
        raise click.ClickException(
            "no database: set CORRIDOR_DATABASE_URL, or start the local stack with `corridor stack up`"
        )
    return url
