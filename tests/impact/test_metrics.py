"""Impact metrics on hand-checked values, then against independent references on real pairs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError
from sklearn.metrics import brier_score_loss, roc_auc_score

from impact.calibration import brier_score, calibration_curve, expected_calibration_error
from impact.discrimination import delong_auc_difference, ks_statistic, paired_scores, roc_auc
from impact.fairness import adverse_impact
from impact.loss import DEFAULT_LGD, expected_loss, realised_loss
from impact.pairs import validate_pairs
from impact.performance import performance_by_version
from impact.rates import approval_rate, default_rate_by
from impact.what_if import decisions_under, what_if, with_cutoffs
from scoring.policy import POLICY_DIR, Policy, load_policy
from tests.impact.conftest import CHALLENGER_VERSION
from training import evaluation

POLICY_V1 = load_policy(POLICY_DIR / "policy-v1.yaml")
POLICY_V2 = load_policy(POLICY_DIR / "policy-v2.yaml")

# --- hand-checked values ---------------------------------------------------------------------


def test_auc_counts_pairs_and_halves_ties() -> None:
    # Positives 0.9, 0.6 against negatives 0.7, 0.2: 3 of 4 pairs ordered right.
    assert roc_auc([1, 1, 0, 0], [0.9, 0.6, 0.7, 0.2]) == pytest.approx(0.75)
    # 0.8 vs (0.8 tie, 0.1, 0.5) = 2.5; 0.3 vs the same = 1; 3.5 of 6.
    assert roc_auc([1, 0, 1, 0, 0], [0.8, 0.8, 0.3, 0.1, 0.5]) == pytest.approx(3.5 / 6)
    assert roc_auc([1, 0], [0.5, 0.5]) == pytest.approx(0.5)


def test_auc_is_nan_without_both_outcomes() -> None:
    assert math.isnan(roc_auc([1, 1], [0.2, 0.3]))
    assert math.isnan(ks_statistic([0, 0], [0.2, 0.3]))


def test_ks_is_the_widest_gap_between_the_two_cdfs() -> None:
    # At 0.2: bad 0, good 1/2; at 0.6: 1/2, 1/2; at 0.7: 1/2, 1; at 0.9: 1, 1.
    assert ks_statistic([1, 1, 0, 0], [0.9, 0.6, 0.7, 0.2]) == pytest.approx(0.5)
    assert ks_statistic([1, 0], [0.9, 0.1]) == pytest.approx(1.0)


def test_brier_is_the_mean_squared_gap() -> None:
    assert brier_score([1, 0], [0.8, 0.4]) == pytest.approx((0.04 + 0.16) / 2)


def test_labels_must_be_binary_and_aligned() -> None:
    with pytest.raises(ValueError, match="0 or 1"):
        roc_auc([2, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="one length"):
        brier_score([1, 0, 1], [0.1, 0.2])


def test_ece_and_calibration_curve_by_hand() -> None:
    labels, scores = [1, 0, 0, 1], [0.05, 0.15, 0.12, 0.95]
    # bin 0: |0.05 - 1|; bin 1: |0.27 - 0|; bin 9: |0.95 - 1|; over 4 rows.
    assert expected_calibration_error(labels, scores) == pytest.approx((0.95 + 0.27 + 0.05) / 4)
    curve = calibration_curve(labels, scores)
    assert curve["bin_low"].tolist() == pytest.approx([0.0, 0.1, 0.9])
    assert curve["count"].tolist() == [1, 2, 1]
    assert curve["mean_pd"].tolist() == pytest.approx([0.05, 0.135, 0.95])
    assert curve["default_rate"].tolist() == pytest.approx([1.0, 0.0, 1.0])


def test_approval_rate_and_default_rate_by_grade() -> None:
    assert approval_rate(["approve", "review", "approve", "decline"]) == pytest.approx(0.5)
    assert math.isnan(approval_rate([]))
    frame = pd.DataFrame(
        {
            "grade": ["A", "A", "B", "B", "B"],
            "defaulted": [False, True, True, True, False],
            "pd": [0.05, 0.07, 0.1, 0.12, 0.14],
        }
    )
    table = default_rate_by(frame, "grade").set_index("grade")
    assert table.loc["A", "count"] == 2
    assert table.loc["A", "default_rate"] == pytest.approx(0.5)
    assert table.loc["B", "defaults"] == 2
    assert table.loc["B", "mean_pd"] == pytest.approx(0.12)


def test_delong_by_hand() -> None:
    """Two models, positives first. Placements (V10, V01) of model a: (1, .5), (.5, 1), AUC .75;
    of model b: (1, 0), (.5, .5), AUC .5. S10 = [[.125, .25], [.25, .5]], S01 = [[.125, 0],
    [0, 0]]; var = (.125 + .5 - .5) / 2 + (.125) / 2 = .125."""
    labels = [1, 1, 0, 0]
    result = delong_auc_difference(labels, [0.9, 0.6, 0.7, 0.2], [0.8, 0.4, 0.5, 0.45])
    assert result.champion_auc == pytest.approx(0.75)
    assert result.challenger_auc == pytest.approx(0.5)
    assert result.difference == pytest.approx(0.25)
    assert result.standard_error == pytest.approx(math.sqrt(0.125))
    z95 = 1.959963984540054
    assert result.low == pytest.approx(0.25 - z95 * math.sqrt(0.125))
    assert result.high == pytest.approx(0.25 + z95 * math.sqrt(0.125))
    assert result.p_value == pytest.approx(2 * (1 - 0.7602499389065233))  # Phi(0.7071)


def test_delong_of_a_model_against_itself_is_exactly_zero() -> None:
    scores = [0.9, 0.6, 0.7, 0.2, 0.4]
    result = delong_auc_difference([1, 1, 0, 0, 1], scores, scores)
    assert result.difference == 0.0
    assert result.standard_error == pytest.approx(0.0, abs=1e-12)
    assert result.p_value == 1.0


def test_adverse_impact_against_the_most_favoured_group() -> None:
    def group(name: str, rows: int, approved: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "band": [name] * rows,
                "decision": ["approve"] * approved + ["decline"] * (rows - approved),
                "defaulted": [False] * rows,
            }
        )

    frame = pd.concat(
        [group("a", 100, 60), group("b", 50, 40), group("c", 40, 20), group("d", 10, 1)]
    )
    table = adverse_impact(frame, "band").set_index("band")
    assert table["approval_rate"].to_dict() == pytest.approx(
        {"a": 0.6, "b": 0.8, "c": 0.5, "d": 0.1}
    )
    assert table["impact_ratio"].to_dict() == pytest.approx(
        {"a": 0.75, "b": 1.0, "c": 0.625, "d": 0.125}
    )
    assert table["reference"].to_dict() == {"a": False, "b": True, "c": False, "d": False}
    # d is far below 4/5 but only 10 rows: shown, not flagged.
    assert table["below_four_fifths"].to_dict() == {"a": True, "b": False, "c": True, "d": False}


def test_expected_and_realised_loss_of_the_approved_book() -> None:
    pd_values, exposure = [0.1, 0.2, 0.5], [1000.0, 2000.0, 3000.0]
    decisions = ["approve", "approve", "decline"]
    assert expected_loss(pd_values, exposure, decisions) == pytest.approx((100 + 400) * 0.45)
    assert realised_loss([0, 1, 1], exposure, decisions) == pytest.approx(2000 * 0.45)
    assert expected_loss(pd_values, exposure, decisions, lgd=1.0) == pytest.approx(500.0)
    assert DEFAULT_LGD == 0.45
    with pytest.raises(ValueError, match="lgd"):
        expected_loss(pd_values, exposure, decisions, lgd=1.5)


def test_decisions_under_policy_cutoffs_and_recorded_knock_outs() -> None:
    pd_values = [0.1, 0.1, 0.3, 0.6]
    knock_outs = pd.Series(["", "KO05_OUTSIDE_TRAINING_RANGE", "", "KO01_LOAN_ABOVE_PRICE"])
    assert decisions_under(POLICY_V2, pd_values, knock_outs) == [
        "approve",
        "review",
        "review",
        "decline",  # a knock-out never softens a PD decline
    ]
    # policy-v1 has no KO05: that application is approved on its PD.
    assert decisions_under(POLICY_V1, pd_values, knock_outs) == [
        "approve",
        "approve",
        "review",
        "decline",
    ]
    looser = with_cutoffs(POLICY_V2, approve_below=0.35, decline_at_or_above=0.7)
    assert decisions_under(looser, pd_values, knock_outs) == [
        "approve",
        "review",
        "approve",
        "review",
    ]


def test_with_cutoffs_validates_like_a_policy_file() -> None:
    with pytest.raises(ValidationError, match="approve_below must not exceed"):
        with_cutoffs(POLICY_V2, approve_below=0.6, decline_at_or_above=0.5)


# --- against independent references on the real data set --------------------------------------


def test_realised_metrics_match_sklearn_and_training(champion_pairs: pd.DataFrame) -> None:
    y = champion_pairs["defaulted"].to_numpy(dtype=np.int64)
    s = champion_pairs["pd"].to_numpy()
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert brier_score(y, s) == pytest.approx(brier_score_loss(y, s), abs=1e-12)
    assert ks_statistic(y, s) == pytest.approx(evaluation.ks_statistic(y, s), abs=1e-12)
    assert expected_calibration_error(y, s) == pytest.approx(
        evaluation.expected_calibration_error(y, s), abs=1e-12
    )


def test_realised_auc_on_the_test_split_is_the_cards(
    champion_pairs: pd.DataFrame, model_dir: Path
) -> None:
    """The card's test metrics came from scikit-learn on the same held-out rows; the scorecard
    that served the pairs must give the same numbers (1e-9 in log-odds, so 1e-6 here)."""
    card = json.loads((model_dir / "model_card.json").read_text())["metrics"]
    table = performance_by_version(champion_pairs).iloc[0]
    assert table["count"] == card["test_rows"]
    assert table["roc_auc"] == pytest.approx(card["test_roc_auc"], abs=1e-6)
    assert table["brier"] == pytest.approx(card["test_brier"], abs=1e-6)
    assert table["ece"] == pytest.approx(card["test_ece"], abs=1e-6)


def test_recorded_decisions_are_reproduced_from_pd_and_knock_outs(
    champion_pairs: pd.DataFrame, default_policy: Policy
) -> None:
    again = decisions_under(default_policy, champion_pairs["pd"], champion_pairs["knock_outs"])
    assert again == champion_pairs["decision"].tolist()
    assert set(again) == {"approve", "review", "decline"}


def test_delong_standard_error_agrees_with_a_paired_bootstrap(all_pairs: pd.DataFrame) -> None:
    """Reference: 2,000 paired bootstrap resamples of the applications (sklearn's AUC, so neither
    the AUC nor the variance comes from the code under test). DeLong's SE is asymptotic; on 890
    rows the two agree within 10 %, and the bootstrap mean difference within 0.005."""
    version = all_pairs.loc[all_pairs["role"] == "champion", "model_version"].iloc[0]
    both = paired_scores(all_pairs, version, CHALLENGER_VERSION)
    y = both["defaulted"].to_numpy(dtype=np.int64)
    a, b = both["pd_champion"].to_numpy(), both["pd_challenger"].to_numpy()
    result = delong_auc_difference(y, a, b)

    rng = np.random.default_rng(20261127)
    draws = []
    for _ in range(2000):
        index = rng.integers(0, y.size, y.size)
        draws.append(roc_auc_score(y[index], a[index]) - roc_auc_score(y[index], b[index]))
    assert result.difference == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b), abs=1e-12)
    assert result.standard_error == pytest.approx(float(np.std(draws, ddof=1)), rel=0.10)
    assert float(np.mean(draws)) == pytest.approx(result.difference, abs=0.005)
    assert result.count == 890
    assert result.low < result.difference < result.high


def test_paired_scores_refuses_a_version_scored_twice(all_pairs: pd.DataFrame) -> None:
    twice = all_pairs.copy()
    twice.loc[twice["role"] == "shadow", "model_version"] = twice["model_version"].iloc[0]
    with pytest.raises(ValueError, match="scored an application twice"):
        paired_scores(twice, twice["model_version"].iloc[0], CHALLENGER_VERSION)


def test_what_if_side_by_side(champion_pairs: pd.DataFrame) -> None:
    looser = with_cutoffs(POLICY_V2, approve_below=0.30, decline_at_or_above=0.55)
    result = what_if(
        champion_pairs,
        {"policy-v1": POLICY_V1, "approve<0.30": looser},
        recorded={"policy-v2": POLICY_V2},
    )
    summary = result.summary.set_index("policy").to_dict("index")
    recorded = champion_pairs["decision"]
    assert summary["recorded"]["approve_count"] == int((recorded == "approve").sum())
    assert summary["recorded"]["expected_loss"] == pytest.approx(
        expected_loss(champion_pairs["pd"], champion_pairs["exposure"], recorded)
    )
    # Dropping KO05 (v1) and raising the approve cut-off can only approve more.
    assert summary["policy-v1"]["approve_count"] >= summary["recorded"]["approve_count"]
    assert summary["approve<0.30"]["approve_count"] > summary["recorded"]["approve_count"]
    assert summary["approve<0.30"]["expected_loss"] > summary["recorded"]["expected_loss"]
    # Every column sums to the applications.
    for label in ("recorded", "policy-v1", "approve<0.30"):
        row = summary[label]
        counts = row["approve_count"] + row["review_count"] + row["decline_count"]
        assert counts == len(champion_pairs)
    assert result.not_evaluated == {"policy-v1": (), "approve<0.30": ()}
    assert list(result.decisions.columns[-2:]) == ["decision_policy-v1", "decision_approve<0.30"]


def test_what_if_names_rules_it_cannot_rederive(champion_pairs: pd.DataFrame) -> None:
    as_v1 = champion_pairs.assign(policy_version="policy-v1", knock_outs="")
    result = what_if(validate_pairs(as_v1), {"policy-v2": POLICY_V2}, {"policy-v1": POLICY_V1})
    assert result.not_evaluated == {"policy-v2": ("KO05_OUTSIDE_TRAINING_RANGE",)}
    with pytest.raises(ValueError, match="recorded policies missing"):
        what_if(champion_pairs, {"policy-v1": POLICY_V1}, {"policy-v1": POLICY_V1})


def test_performance_by_version_and_role(all_pairs: pd.DataFrame) -> None:
    table = performance_by_version(all_pairs)
    assert sorted(table["role"]) == ["champion", "shadow"]
    assert table["count"].tolist() == [890, 890]
    shadow = table.set_index("role").loc["shadow"]
    challenger = all_pairs[all_pairs["role"] == "shadow"]
    assert shadow["roc_auc"] == pytest.approx(
        roc_auc_score(challenger["defaulted"], challenger["pd"]), abs=1e-12
    )
    assert shadow["approval_rate"] == pytest.approx((challenger["decision"] == "approve").mean())
