"""Point Corridor's event types at bench topics, so the real code paths never write to the trade topics.

Each generated event class names its topic in a ``ClassVar`` (``OrderPlaced.topic``) that
``TradeProducer.send`` reads; the bench swaps it for the area's bench topic while a stage runs (and in the
gateway and ledger processes it starts). Schemas, subjects and schema ids stay those of the trade topics.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from corridor.core.domain.events import EVENT_TYPES


def set_event_topics(mapping: Mapping[str, str]) -> dict[type, str]:
    """Replace each event type's topic by ``mapping[its trade topic]``; returns what to restore."""
    saved: dict[type, str] = {}
    for cls in EVENT_TYPES.values():
        saved[cls] = cls.topic
        cls.topic = mapping[cls.topic]
    return saved


@contextmanager
def event_topics(mapping: Mapping[str, str]) -> Iterator[None]:
    saved = set_event_topics(mapping)
    try:
        yield
    finally:
        for cls, topic in saved.items():
            cls.topic = topic  # type: ignore[attr-defined]
