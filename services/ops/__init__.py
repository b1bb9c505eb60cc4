"""Operations tooling: ``corridor tail``, ``corridor dlq``, ``corridor trace`` and ``corridor lag``.

Read-mostly tools for people running the backbone (docs/adr/0008-observability.md): they read topics
without a consumer group (nothing is committed, no member joins a service's group), decode through the
schema registry, and show progress on stderr while they scan. ``dlq replay`` is the one that writes: it
re-produces dead letters to their original topics in Kafka transactions that also mark them replayed.
"""
