"""``corridor bench``: throughput and latency of the backbone, each figure beside its anchor (issue 7).

One module per stage (``kafka_tools``, ``raw_kafka``, ``produce``, ``codec_bench``, ``ledger_ingest``,
``gateway_ingest``, ``e2e``, ``scaling``); ``servers`` runs the gateway and the ledger in their own
processes on the bench's topics; ``report`` writes ``results.json``, ``results.md`` and ``results.png``.
See docs/adr/0007-benchmarks.md.
"""
