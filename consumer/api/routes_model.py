"""`GET /v1/model`: which model and policy decide, and how good the model was when trained."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from consumer.api.problems import error_responses
from consumer.api.state import StateDep
from scoring.card import ModelCard
from scoring.policy import Policy

router = APIRouter(tags=["model"])


class ModelDescription(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_version: str
    policy_version: str
    card: ModelCard
    policy: Policy


@router.get(
    "/v1/model",
    summary="The model card and the decision policy in use",
    response_model=ModelDescription,
    responses=error_responses(503),
)
def model(state: StateDep) -> ModelDescription:
    assets = state.assets.require()
    return ModelDescription(
        model_version=assets.model.model_version,
        policy_version=assets.policy.policy_version,
        card=assets.model.card,
        policy=assets.policy,
    )
