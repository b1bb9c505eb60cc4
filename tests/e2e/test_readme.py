"""The README is executed: every ``bash`` and ``python`` block of README.md, then of docs/*.md, runs in
document order in one shell session on the test session's stack, as a new user would type it
(tests/support/readme.py says how a document marks a block illustrative, expected to fail, or a file
to save). What runs is decided by the documents alone: edit them, not this test.

The session starts in the project's directory (a fresh clone: ``./corridor`` finds its ``.venv``) with
the stack's addresses in ``CORRIDOR_*``; the documents' default addresses (``http://127.0.0.1:8080``
…) are rewritten to the stack's. The README's ``./corridor demo`` starts the services the session's
stack does not run (the relay, the monitor, the webhooks dispatcher); they are stopped afterwards.
"""

from __future__ import annotations

import os

import pytest

from corridor.core.settings import PROJECT_ROOT
from tests.support import readme

pytestmark = pytest.mark.e2e

DOCUMENTS = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]


def _session(stack) -> readme.Session:
    from tests.conftest import _default_stack_config

    config = _default_stack_config()
    partner_bootstrap = stack.partner_bootstrap_servers or config.partner_bootstrap_servers(
        len(stack.brokers) or 1
    )
    addresses = readme.default_addresses(
        {
            "gateway": stack.gateway_url,
            "registry": stack.schema_registry_url,
            "ledger": stack.ledger_url,
            "monitor": config.monitor_url,
            "relay": config.relay_url,
            "webhooks": config.webhooks_url,
            "kafka": stack.bootstrap_servers,
            "partner_listener": partner_bootstrap,
        }
    )
    if config.state_dir.resolve() != (PROJECT_ROOT / ".corridor").resolve():
        addresses[".corridor/"] = f"{config.state_dir}/"
    env = readme.environment_for(dict(os.environ)) | {
        "CORRIDOR_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "CORRIDOR_SCHEMA_REGISTRY_URL": stack.schema_registry_url,
        "CORRIDOR_GATEWAY_URL": stack.gateway_url,
        "CORRIDOR_LEDGER_URL": stack.ledger_url,
    }
    return readme.Session(cwd=PROJECT_ROOT, env=env, addresses=addresses)


@pytest.mark.timeout(900)
@pytest.mark.usefixtures("demo_services_stopped_after")
def test_the_readme_and_the_docs_run_as_written(stack) -> None:
    session = _session(stack)
    ran: list[str] = []
    for document in DOCUMENTS:
        for block in readme.parse(document):
            if not block.runs:
                continue
            outcome = session.run(block)
            assert outcome.ok, outcome.report()
            ran.append(block.where)
    # the README's own first trade ran: the demo, a partner, an order, a partner reading it
    assert len([w for w in ran if w.startswith("README.md")]) >= 10, ran
    assert any(w.startswith("cli.md") for w in ran), ran
