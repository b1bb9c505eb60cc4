"""A stopped stack starts again from its data; a broker that dies on start is reported with its log."""

from __future__ import annotations

import pytest

from corridor.stack import StackConfig, StackError, down, status, up

from .conftest import isolated_config

pytestmark = pytest.mark.integration


def test_restart_from_existing_data_then_a_crashing_broker(
    isolated_cleanup: list[StackConfig], database_url: str
) -> None:
    # with_registry=False, the older spelling of services=(): Kafka only.
    config = isolated_config(brokers=1, database_url=database_url, with_registry=False)
    isolated_cleanup.append(config)
    first = up(config)
    cluster_id = config.cluster_file.read_text()
    down(config)
    stopped = status(config)
    assert not stopped.ok and not stopped.brokers[0].alive
    assert stopped.postgres.alive  # external: checked by `up`, never stopped by `down`

    # Second start: same data, no new format, the same cluster.
    again = up(config)
    assert again.started == ["broker-1"] and again.ok and again.services == {}
    assert config.cluster_file.read_text() == cluster_id
    assert again.brokers[0].pid != first.brokers[0].pid
    down(config)

    # A node whose storage says it is someone else refuses to start: `up` says so, with the log.
    meta = config.broker_data_dir(1) / "meta.properties"
    meta.write_text(meta.read_text().replace("node.id=1", "node.id=7"))
    with pytest.raises(StackError) as caught:
        up(config)
    message = str(caught.value)
    assert "broker 1" in message and "exited during startup" in message
    assert "server.log (last lines)" in message or "stdout.log (last lines)" in message
