"""Corridor's operations dashboard: one web page over Kafka, the ledger's tables and the dead letters."""
