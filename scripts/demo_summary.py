"""Read what the demo's scorer committed and print a summary a person can check at a glance."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from confluent_kafka import Consumer, TopicPartition

from consumer.config.settings import Settings
from consumer.records import header_list
from consumer.tools.tail import format_score
from impact.report_fairness import card_fairness_lines
from schemas.dead_letter import parse_dead_letter_headers
from schemas.decode import decode_loan_scored
from scoring.artifact import read_card


def fairness_lines() -> list[str]:
    """The champion's held-out fairness and the gate against the shadow challenger, if any."""
    card = read_card(Path(os.environ.get("LOAN_SCORER_MODEL_DIR") or "build/model"))
    challengers = json.loads(os.environ.get("LOAN_SCORER_CHALLENGERS") or "[]")
    challenger = read_card(Path(challengers[0]["model_dir"])) if challengers else None
    return card_fairness_lines(card, challenger)


def main(expected: int, since_ms: int, timeout_s: float = 180.0) -> int:
    settings = Settings()
    consumer = Consumer(
        {
            **settings.kafka_common_config(),
            "group.id": f"loan-scorer-demo-summary-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    # Count only what this demo run added: start at each partition's end as of now minus what
    # arrived since `since_ms` (records are timestamped when produced).
    partitions = []
    for topic in (settings.output_topic, settings.dlq_topic):
        metadata = consumer.list_topics(topic, timeout=30).topics[topic]
        partitions += [TopicPartition(topic, p, since_ms) for p in metadata.partitions]
    consumer.assign(consumer.offsets_for_times(partitions, timeout=30))
    decisions: Counter[str] = Counter()
    grades: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    samples: list[str] = []
    deadline = time.monotonic() + timeout_s
    while sum(decisions.values()) + sum(reasons.values()) < expected:
        if time.monotonic() > deadline:
            break
        message = consumer.poll(0.5)
        if message is None or message.error() is not None:
            continue
        if message.topic() == settings.output_topic:
            scored = decode_loan_scored(message.value())
            decisions[scored.decision.value] += 1
            grades[scored.risk_grade.value] += 1
            if len(samples) < 5:
                samples.append(format_score(message.value()))
        else:
            headers = header_list(message.headers())
            reasons[parse_dead_letter_headers(headers).reason.value] += 1
    consumer.close()
    scored_total, dead_total = sum(decisions.values()), sum(reasons.values())
    print(
        f"\n== loan-scorer demo: {scored_total + dead_total} of {expected} events accounted for =="
    )
    print(f"scored ({settings.output_topic}): {scored_total}")
    for decision in ("approve", "review", "decline"):
        print(f"  {decision:<8} {decisions[decision]:>6}")
    print("  grades   " + "  ".join(f"{g}:{grades[g]}" for g in "ABCDE"))
    print(f"dead letters ({settings.dlq_topic}): {dead_total}")
    for reason, count in sorted(reasons.items()):
        print(f"  {reason:<20} {count:>6}")
    print("first scores:")
    for line in samples:
        print("  " + line)
    for line in fairness_lines():
        print(line)
    return 0 if scored_total + dead_total == expected else 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
