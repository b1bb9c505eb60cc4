"""Fixtures of the certificates' integration tests: the ledger's own (a ledger of this test on the shared
stack, with its own consumer group and throwaway PostgreSQL schemas; a producer; partner API keys)."""

from tests.integration.ledger.conftest import (  # noqa: F401 - fixtures, used by name
    api_key,
    db,
    ledger,
    ledger_setup,
    publish,
    registry,
)
