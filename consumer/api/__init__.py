"""The HTTP API served beside the Kafka loop: probes, metrics, on-demand scoring, model card."""
