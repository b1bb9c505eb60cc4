"""The relay's state records, history cache, merge order and settings (no Kafka)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from corridor.core.domain.trust import admit
from corridor.core.routing import TradeRoute
from corridor.demo.story import chromite_story
from corridor.relay.settings import RelaySettings
from corridor.relay.state import (
    HistoryCache,
    RelayRecord,
    StateError,
    decode_route,
    encode_route,
    merge_by_timestamp,
    ref_of,
    topic_of,
)


def test_state_record_round_trip() -> None:
    trust = admit(None, chromite_story().events[0])
    types = ("corridor.trade.orders.OrderPlaced", "x.A", "x.B")
    trade = TradeRoute(("buyer-x", "supplier-y"), ((0, 12), (0, 3), (0, 40)), types, trust)
    encoded = encode_route(trade)
    assert encoded.startswith(b'{"v":3,"parties":["buyer-x","supplier-y"],"events":[[0,12],[0,3],[0,40]],')
    assert decode_route(encoded) == trade


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        b'{"v":4,"parties":[],"events":[]}',
        b'{"v":3}',
        b"[]",
        # versions 1 and 2 referred to the trade topics, which the relay no longer reads (ADR 0027)
        b'{"v":1,"parties":["buyer-x"],"events":[[0,12]]}',
        b'{"v":2,"parties":["buyer-x"],"events":[[2,12]],"types":["x"]}',
    ],
)
def test_unreadable_state_records_are_refused(value: bytes) -> None:
    with pytest.raises(StateError):
        decode_route(value)


def test_refs_name_the_accepted_stream() -> None:
    assert ref_of("trade.accepted.v1", 7) == (0, 7)
    assert topic_of((0, 5)) == "trade.accepted.v1"
    with pytest.raises(KeyError):
        ref_of("trade.orders.v1", 7)  # the relay never reads a trade topic: nothing there is decided


def record(n: int) -> RelayRecord:
    return RelayRecord(key=b"t", value=bytes([n]), timestamp_ms=n, headers=())


def test_history_cache_keeps_the_most_recently_used() -> None:
    cache = HistoryCache(capacity=2)
    cache.put(0, (0, 1), record(1))
    cache.put(0, (0, 2), record(2))
    assert cache.get(0, (0, 1)) == record(1)  # now the most recent
    cache.put(1, (0, 3), record(3))
    assert cache.get(0, (0, 2)) is None and len(cache) == 2
    cache.forget_partition(0)
    assert cache.get(0, (0, 1)) is None and cache.get(1, (0, 3)) == record(3)
    disabled = HistoryCache(capacity=0)
    disabled.put(0, (0, 1), record(1))
    assert len(disabled) == 0


@dataclass
class R:
    name: str
    timestamp: int


def test_merge_by_timestamp_keeps_each_partitions_order() -> None:
    orders = [R("o1", 10), R("o2", 50), R("o3", 20)]  # o3's timestamp goes backwards: still after o2
    shipments = [R("s1", 30), R("s2", 40)]
    merged = [r.name for r in merge_by_timestamp([orders, shipments, []])]
    assert merged == ["o1", "s1", "s2", "o2", "o3"]
    assert [r.name for r in merge_by_timestamp([[R("a", 5)], [R("b", 5)]])] == ["a", "b"]  # ties: topic order


def test_settings_defaults_derive_from_the_group(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "CORRIDOR_RELAY_GROUP_ID",
        "CORRIDOR_RELAY_STATE_TOPIC",
        "CORRIDOR_RELAY_TRANSACTIONAL_ID_PREFIX",
    ):
        monkeypatch.delenv(name, raising=False)
    settings = RelaySettings()
    assert settings.relay_group_id == "corridor-relay"
    assert settings.state_topic == "corridor-relay.state.v2"
    assert settings.transactional_id_prefix == "corridor-relay"
    other = RelaySettings(relay_group_id="relay-test", relay_transactional_id_prefix="tx")
    assert (other.state_topic, other.transactional_id_prefix) == ("relay-test.state.v2", "tx")
    with pytest.raises(ValueError):
        RelaySettings(relay_group_id="bad group")
