from __future__ import annotations

from consumer.kafka.stats import brokers_up, consumer_lags

STATS = {
    "brokers": {
        "127.0.0.1:9092/bootstrap": {"nodeid": -1, "state": "UP"},
        "127.0.0.1:9092/1": {"nodeid": 1, "state": "UP"},
    },
    "topics": {
        "loan-applications": {
            "partitions": {
                "0": {"fetch_state": "active", "consumer_lag_stored": 12, "consumer_lag": 40},
                "1": {"fetch_state": "active", "consumer_lag_stored": -1, "consumer_lag": 7},
                "2": {"fetch_state": "active", "consumer_lag_stored": -1, "consumer_lag": -1},
                "3": {"fetch_state": "none", "consumer_lag_stored": 5},
                "-1": {"consumer_lag": 99},
            }
        }
    },
}


def test_lag_prefers_the_stored_position_and_skips_unknown_and_inactive_partitions() -> None:
    assert consumer_lags(STATS) == {("loan-applications", 0): 12, ("loan-applications", 1): 7}


def test_empty_statistics_have_no_lag_and_no_broker() -> None:
    assert consumer_lags({}) == {}
    assert brokers_up({}) is False


def test_a_bootstrap_placeholder_alone_does_not_count_as_a_broker() -> None:
    assert brokers_up(STATS) is True
    only_bootstrap = {"brokers": {"b": {"nodeid": -1, "state": "UP"}}}
    down = {"brokers": {"b": {"nodeid": 1, "state": "DOWN"}}}
    assert brokers_up(only_bootstrap) is False
    assert brokers_up(down) is False
