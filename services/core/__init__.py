"""The shared core every Corridor service is built on.

Public surface: settings, logging, the Confluent-wire-format codec, CloudEvents envelope,
Kafka producer/consumer helpers, topic specs, and the trade domain (events, validators, lifecycles).
"""
