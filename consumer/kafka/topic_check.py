"""Readiness input: does the input topic exist? Asked of the cluster metadata, every interval.

A consumer subscribed to a topic that does not exist waits for an assignment without any error,
so the loop alone would look healthy; a metadata request says plainly that the topic is missing
(or not authorised), and `/readyz` repeats it.
"""

from __future__ import annotations

import logging
import threading

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from consumer.config.settings import Settings
from consumer.kafka.config import admin_config
from consumer.kafka.topics import topic_metadata, topic_problem
from consumer.telemetry.readiness import Readiness

logger = logging.getLogger(__name__)


class InputTopicCheck:
    """A daemon thread asking the brokers for the input topic now and then every interval.

    All topics are listed rather than the one asked for (consumer/kafka/topics.py): naming a
    missing topic can make the broker create it, which is not a check's business.
    A failed request (broker down) changes nothing here: broker reachability is its own input.
    """

    def __init__(self, settings: Settings, readiness: Readiness) -> None:
        self._topic = settings.input_topic
        self._interval_s = settings.readiness_topic_check_interval_s
        self._timeout_s = min(settings.kafka_timeout_s, 10.0)
        self._readiness = readiness
        self._admin = AdminClient(admin_config(settings, f"loan-scorer-{settings.instance_id}"))
        self._last_problem: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="input-topic-check", daemon=True)

    def check_once(self) -> str | None:
        """Ask once and tell readiness; returns the problem found (None when the topic is fine
        or the brokers did not answer)."""
        try:
            found = topic_metadata(self._admin, self._topic, self._timeout_s)
        except KafkaException as exc:
            logger.debug("input topic check failed", extra={"kafka_error": str(exc)})
            return None
        problem = topic_problem(found, self._topic)
        if problem != self._last_problem:  # log changes, not every interval
            if problem is None:
                logger.info("input topic found", extra={"topic": self._topic})
            else:
                logger.warning("input topic not consumable", extra={"problem": problem})
            self._last_problem = problem
        self._readiness.set_input_topic_problem(problem)
        return problem

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(1.0)  # a daemon: a check stuck on a dead broker must not delay exit

    def _run(self) -> None:
        while not self._stop.is_set():
            self.check_once()
            self._admin.poll(0)  # writes its queued log lines (consumer/kafka/config.py)
            self._stop.wait(self._interval_s)
