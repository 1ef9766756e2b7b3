"""The audit trail: one JSON line per decision served by the API and one per stream batch.

Who obtained which decision, under which model and policy, and how fast: identifiers, versions,
decisions and counts only. Never an applicant's attributes (income, age, amounts, statuses) nor a
credential; the logger name `loan_scorer.audit` lets a log shipper route these lines to
retention of their own.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable

audit_logger = logging.getLogger("loan_scorer.audit")


def api_decision(
    *,
    client: str,
    request_id: str,
    application_id: str,
    model_version: str | None,
    policy_version: str | None,
    decision: str,
    latency_ms: float,
) -> None:
    """`decision` is approve/review/decline, or `scoring_error` for an unscorable application."""
    audit_logger.info(
        "api decision",
        extra={
            "audit": "api_decision",
            "client": client,
            "request_id": request_id,
            "application_id": application_id,
            "model_version": model_version,
            "policy_version": policy_version,
            "decision": decision,
            "latency_ms": round(latency_ms, 3),
        },
    )


def stream_batch(
    *,
    champion_version: str,
    policy_version: str,
    decisions: Iterable[tuple[str, str]],
    dead_letter_reasons: Iterable[str],
    duplicates: int,
    offsets: dict[str, tuple[int, int]],
    latency_ms: float,
) -> None:
    """One committed batch: counts by decision and by dead-letter reason, and the input offsets
    it covered per topic-partition (first, last), which lead to each decision on the output.

    `decisions` holds (model version, decision) per published score: with a canary, one batch
    holds decisions of two models, so each is counted under the model that made it
    (`decisions_by_model`, `model_versions`); `champion_version` is what was served as the
    champion, which is not who decided a canary's share.
    """
    by_model: dict[str, Counter[str]] = {}
    for model_version, decision in decisions:
        by_model.setdefault(model_version, Counter())[decision] += 1
    audit_logger.info(
        "stream batch committed",
        extra={
            "audit": "stream_batch",
            "model_versions": sorted(by_model),
            "champion_version": champion_version,
            "policy_version": policy_version,
            "decisions": dict(sum(by_model.values(), Counter())),
            "decisions_by_model": {
                version: dict(counts) for version, counts in sorted(by_model.items())
            },
            "dead_letters": dict(Counter(dead_letter_reasons)),
            "duplicates": duplicates,
            "offsets": {key: list(span) for key, span in offsets.items()},
            "latency_ms": round(latency_ms, 3),
        },
    )
