"""The relay's default instance id (static group membership): a StatefulSet pod's name, else 1."""

from __future__ import annotations

import pytest

from corridor.relay.settings import RelaySettings, default_instance_id


@pytest.mark.parametrize(
    ("hostname", "expected"),
    [
        ("corridor-relay-0", "corridor-relay-0"),
        ("corridor-relay-12", "corridor-relay-12"),
        ("vm", "1"),
        ("relay", "1"),
        ("laptop.local", "1"),
        ("-3", "1"),
    ],
)
def test_a_pod_ordinal_names_the_instance(hostname: str, expected: str) -> None:
    assert default_instance_id(hostname) == expected


def test_a_configured_id_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORRIDOR_RELAY_INSTANCE_ID", "relay-a")
    assert RelaySettings().relay_instance_id == "relay-a"
    monkeypatch.delenv("CORRIDOR_RELAY_INSTANCE_ID")
    assert RelaySettings().relay_instance_id == default_instance_id()
