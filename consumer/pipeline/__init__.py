"""One micro-batch from raw records to records to publish: decode, dedup, score, encode.

May not import a Kafka client, HTTP, or kafka, delivery, runtime, api, cli.
"""
