"""What ops see: metrics, readiness, liveness, structured logs, the audit trail, drift.

May not import a Kafka client, HTTP, or any room above it (only consumer.config).
"""
