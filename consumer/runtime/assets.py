"""What the scorer serves: the champion, its policy and any challengers, loaded and verified."""

from __future__ import annotations

from dataclasses import dataclass

from consumer.config.settings import ChallengerMode, Settings
from scoring.artifact import LoadedModel, load_model
from scoring.policy import DEFAULT_POLICY_PATH, Policy, load_policy


@dataclass(frozen=True)
class Challenger:
    model: LoadedModel
    mode: ChallengerMode
    share: float


@dataclass(frozen=True)
class ScoringAssets:
    model: LoadedModel
    policy: Policy
    challengers: tuple[Challenger, ...] = ()


def load_assets(settings: Settings) -> ScoringAssets:
    """The model (verified against its card, from a directory or a registry alias), the decision
    policy (validated) and any challengers (verified like the champion: a bad challenger stops
    the start too)."""
    if settings.model_uri:
        from registry.resolve import load_model_from

        model = load_model_from(settings.model_uri)
    else:
        model = load_model(settings.model_dir)
    policy = load_policy(settings.policy_file or DEFAULT_POLICY_PATH)
    challengers = tuple(
        Challenger(load_model(setting.model_dir), setting.mode, setting.share)
        for setting in settings.challengers
    )
    return ScoringAssets(model=model, policy=policy, challengers=challengers)
