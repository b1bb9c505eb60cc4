"""The local stack launcher: Kafka (KRaft) from Maven Central jars, embedded PostgreSQL, the registry."""
