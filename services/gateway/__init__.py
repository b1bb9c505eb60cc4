"""The partner gateway: authenticated HTTP ingestion of CloudEvents into the trade topics (docs/adr/0005)."""
