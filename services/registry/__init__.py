"""Corridor's schema registry: a Confluent Schema Registry-compatible REST service stored in PostgreSQL.

Run it with ``python -m corridor.registry --host 127.0.0.1 --port 8081`` (database from
``CORRIDOR_DATABASE_URL``), or build the ASGI app with :func:`corridor.registry.app.create_app`.
See docs/adr/0003-schema-registry.md for what is supported.
"""
