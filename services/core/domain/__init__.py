"""The trade domain: generated event models, reference data, validators and cross-field rules.

Everything here is pure (no I/O) and unit-tested without Kafka or PostgreSQL.
"""
