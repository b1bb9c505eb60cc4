"""The relay: routes every trade event to the partner topics of the trade's parties, exactly once.

``python -m corridor.relay`` consumes the trade topics in group ``corridor-relay`` and produces each
event to ``partner.<partner id>.v1`` for every party of its trade (services/core/routing.py), inside a
Kafka transaction that also commits the consumed offsets and the relay's state
(docs/adr/0011-relay-exactly-once.md).
"""
