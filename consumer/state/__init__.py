"""The scorer's local state: scored event ids per input partition, on disk (RocksDB).

One store per assigned input partition (`store.py`), the RocksDB options every store shares
(`options.py`), the checkpoint file beside each store (`checkpoint.py`), the content hash kept
beside each id (`hashing.py`) and the error tree (`errors.py`). No Kafka here: the changelog topic
that is the source of truth is read and written in consumer/kafka and consumer/delivery.

May import only consumer.config, consumer.records, consumer.telemetry and third-party libraries;
never a Kafka client or HTTP.
"""
