"""What the outcomes joiner exports: each model version and role judged on real outcomes.

Gauges, recomputed from every joined pair at each refresh with `impact`'s metric modules (the
same functions the report uses), and cleared first so a version no longer served leaves no stale
series. Labels are bounded: versions, roles, grades, decisions, and group bands.
"""

from __future__ import annotations

import logging
import math
from typing import Final

import pandas as pd
from prometheus_client import CollectorRegistry, Counter, Gauge

from impact.discrimination import delong_auc_difference, paired_scores
from impact.fairness import MIN_GROUP_SIZE, adverse_impact
from impact.performance import performance_by_version
from impact.rates import default_rate_by

logger = logging.getLogger(__name__)

VERSION_ROLE: Final = ["model_version", "role"]
FAIRNESS_ATTRIBUTES: Final = ("age_band", "marital_status")


class RealisedMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

        def gauge(name: str, doc: str, labels: list[str] = VERSION_ROLE) -> Gauge:
            return Gauge(name, doc, labels, registry=registry)

        self.pairs = gauge(
            "loan_scorer_realised_pairs", "Scores joined to a real outcome, by version and role."
        )
        self.defaults = gauge("loan_scorer_realised_defaults", "Joined pairs whose loan defaulted.")
        self.roc_auc = gauge("loan_scorer_realised_roc_auc", "ROC AUC of PD against outcomes.")
        self.ks = gauge("loan_scorer_realised_ks", "Kolmogorov-Smirnov statistic of the PD.")
        self.brier = gauge("loan_scorer_realised_brier", "Brier score of the PD.")
        self.calibration_error = gauge(
            "loan_scorer_realised_calibration_error",
            "Expected calibration error of the PD (10 equal-width bins, as in the model card).",
        )
        self.approval_rate = gauge(
            "loan_scorer_realised_approval_rate", "Share of the joined scores approved."
        )
        self.default_rate = gauge(
            "loan_scorer_realised_default_rate", "Share of the joined scores that defaulted."
        )
        self.default_rate_by_grade = gauge(
            "loan_scorer_realised_default_rate_by_grade",
            "Realised default rate per risk grade.",
            [*VERSION_ROLE, "grade"],
        )
        self.default_rate_by_decision = gauge(
            "loan_scorer_realised_default_rate_by_decision",
            "Realised default rate per decision (for declines: of the loans granted anyway "
            "upstream, or scored in shadow).",
            [*VERSION_ROLE, "decision"],
        )
        difference_labels = ["champion_version", "challenger_version", "challenger_role"]
        self.auc_difference = gauge(
            "loan_scorer_realised_auc_difference",
            "Champion ROC AUC minus a challenger's (canary or shadow) on the applications both "
            "scored (DeLong); positive: the champion ranks better.",
            difference_labels,
        )
        self.auc_difference_low = gauge(
            "loan_scorer_realised_auc_difference_ci_low",
            "Lower end of the 95 % DeLong confidence interval of the AUC difference.",
            difference_labels,
        )
        self.auc_difference_high = gauge(
            "loan_scorer_realised_auc_difference_ci_high",
            "Upper end of the 95 % DeLong confidence interval of the AUC difference.",
            difference_labels,
        )
        self.adverse_impact_ratio = gauge(
            "loan_scorer_adverse_impact_ratio",
            "Approval rate of a group over that of the most favoured group (four-fifths rule: "
            f"alert below 0.8); groups of at least {MIN_GROUP_SIZE} joined scores only.",
            [*VERSION_ROLE, "attribute", "group"],
        )
        self.records = Counter(
            "loan_scorer_outcomes_records",
            "Records read by the outcomes joiner, by stream (scores, shadow, applications, "
            "outcomes).",
            ["stream"],
            registry=registry,
        )
        self.invalid_records = Counter(
            "loan_scorer_outcomes_invalid_records",
            "Records the outcomes joiner could not decode and skipped, by stream.",
            ["stream"],
            registry=registry,
        )
        self.refresh_seconds = Gauge(
            "loan_scorer_outcomes_refresh_seconds",
            "Time the last recomputation of the realised metrics took.",
            registry=registry,
        )
        # The scorer's retry-loop gauges (telemetry/metrics.py), same names: one alert for both.
        self.retry_failing_seconds = Gauge(
            "loan_scorer_retry_failing_seconds",
            "How long the joiner's consumer has had an error no wait fixes (loop=outcomes); 0 "
            "while it has none.",
            ["loop"],
            registry=registry,
        )
        self.retry_stalled = Gauge(
            "loan_scorer_retry_stalled",
            "1 while the joiner's consumer error has lasted past "
            "LOAN_SCORER_RETRY_UNREADY_AFTER_S (it exits past LOAN_SCORER_RETRY_EXIT_AFTER_S).",
            ["loop"],
            registry=registry,
        )
        self._gauges = [
            self.pairs,
            self.defaults,
            self.roc_auc,
            self.ks,
            self.brier,
            self.calibration_error,
            self.approval_rate,
            self.default_rate,
            self.default_rate_by_grade,
            self.default_rate_by_decision,
            self.auc_difference,
            self.auc_difference_low,
            self.auc_difference_high,
            self.adverse_impact_ratio,
        ]

    def publish(self, pairs: pd.DataFrame) -> None:
        """Set every gauge from the joined pairs (NaN values, e.g. an AUC of one class, are
        left out rather than exported)."""
        for gauge in self._gauges:
            gauge.clear()
        if pairs.empty:
            return
        for row in performance_by_version(pairs).to_dict("records"):
            labels = (str(row["model_version"]), str(row["role"]))
            _set(self.pairs, labels, float(row["count"]))
            _set(self.defaults, labels, float(row["defaults"]))
            _set(self.roc_auc, labels, float(row["roc_auc"]))
            _set(self.ks, labels, float(row["ks"]))
            _set(self.brier, labels, float(row["brier"]))
            _set(self.calibration_error, labels, float(row["ece"]))
            _set(self.approval_rate, labels, float(row["approval_rate"]))
            _set(self.default_rate, labels, float(row["default_rate"]))
        for (version, role), group in pairs.groupby(VERSION_ROLE, sort=True):
            labels = (str(version), str(role))
            for column, gauge in (
                ("grade", self.default_rate_by_grade),
                ("decision", self.default_rate_by_decision),
            ):
                for rate in default_rate_by(group, column).to_dict("records"):
                    _set(gauge, (*labels, str(rate[column])), float(rate["default_rate"]))
            for attribute in FAIRNESS_ATTRIBUTES:
                impact = adverse_impact(group, attribute)
                for entry in impact.to_dict("records"):
                    if int(entry["count"]) >= MIN_GROUP_SIZE:
                        _set(
                            self.adverse_impact_ratio,
                            (*labels, attribute, str(entry[attribute])),
                            float(entry["impact_ratio"]),
                        )
        self._publish_differences(pairs)

    def _publish_differences(self, pairs: pd.DataFrame) -> None:
        """Champion against each challenger on the applications both scored, whatever the
        roles: the champion scores a canary's applications in shadow, and a shadow challenger
        the champion's, so canaries are paired too. Labelled with the challenger's role."""
        champion_versions = set(pairs.loc[pairs["role"] == "champion", "model_version"])
        challengers = pairs[~pairs["model_version"].isin(champion_versions)]
        for champion_version in sorted(champion_versions):
            for challenger_version, rows in challengers.groupby("model_version", sort=True):
                roles = set(rows["role"])
                role = "canary" if "canary" in roles else "shadow"
                both = paired_scores(
                    pairs[pairs["model_version"].isin([champion_version, challenger_version])],
                    champion_version,
                    str(challenger_version),
                )
                defaults = int(both["defaulted"].sum())
                if defaults == 0 or defaults == len(both):
                    continue
                result = delong_auc_difference(
                    both["defaulted"], both["pd_champion"], both["pd_challenger"]
                )
                labels = (champion_version, str(challenger_version), role)
                _set(self.auc_difference, labels, result.difference)
                _set(self.auc_difference_low, labels, result.low)
                _set(self.auc_difference_high, labels, result.high)


def _set(gauge: Gauge, labels: tuple[str, ...], value: float) -> None:
    if math.isfinite(value):
        gauge.labels(*labels).set(value)
