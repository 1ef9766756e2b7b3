"""Facts read from librdkafka's statistics JSON (statistics.interval.ms): lag and broker state.

librdkafka already tracks per-partition lag against the log end, so we read it rather than
issuing our own watermark requests. Field meanings: librdkafka's STATISTICS.md.
"""

from __future__ import annotations

from typing import Any

INTERNAL_PARTITION = -1  # librdkafka's "unassigned" pseudo-partition in the stats tree


def consumer_lags(stats: dict[str, Any]) -> dict[tuple[str, int], int]:
    """Lag per (topic, partition) the consumer fetches, in messages; unknown lags are left out.

    `consumer_lag_stored` measures from the position the loop has consumed and stored (with
    exactly-once, offsets are committed through the producer, which the consumer's own
    `consumer_lag` never sees); `consumer_lag` is the fallback.
    """
    lags: dict[tuple[str, int], int] = {}
    for topic, topic_stats in (stats.get("topics") or {}).items():
        for partition_key, partition in (topic_stats.get("partitions") or {}).items():
            partition_id = int(partition_key)
            if partition_id == INTERNAL_PARTITION:
                continue
            if partition.get("fetch_state") not in (None, "active"):
                continue
            for field in ("consumer_lag_stored", "consumer_lag"):
                lag = partition.get(field, -1)
                if isinstance(lag, int) and lag >= 0:
                    lags[(topic, partition_id)] = lag
                    break
    return lags


def brokers_up(stats: dict[str, Any]) -> bool:
    """Whether at least one real broker connection is up (bootstrap placeholders excluded)."""
    for broker in (stats.get("brokers") or {}).values():
        if broker.get("nodeid", -1) >= 0 and broker.get("state") == "UP":
            return True
    return False
