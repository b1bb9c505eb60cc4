"""Push delivery to partners: webhook subscriptions, the dispatcher, and a reference receiver (ADR 0012)."""
