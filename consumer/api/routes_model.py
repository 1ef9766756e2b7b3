"""`GET /v1/model`: which model and policy decide, and how good the model was when trained.

Any authenticated client may read the card; the decision policy (cut-offs, grades, knock-out
rules) and the card's decision thresholds are given only to a client holding `model:read`, since
knowing them exactly is what lets an applicant (or a broker) game the decision.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from consumer.api.deps import PrincipalDep
from consumer.api.problems import error_responses
from consumer.api.state import StateDep
from scoring.card import ModelCard
from scoring.policy import Policy

router = APIRouter(tags=["model"])

POLICY_SCOPE = "model:read"


class ModelDescription(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_version: str
    policy_version: str
    card: ModelCard
    policy: Policy | None = Field(
        description=f"The decision policy; null unless the client holds the {POLICY_SCOPE} scope."
    )


@router.get(
    "/v1/model",
    summary="The model card and, with the model:read scope, the decision policy in use",
    response_model=ModelDescription,
    responses=error_responses(401, 429, 503),
)
def model(state: StateDep, principal: PrincipalDep) -> ModelDescription:
    assets = state.assets.require()
    may_read_policy = POLICY_SCOPE in principal.scopes
    card = assets.model.card
    if not may_read_policy:
        card = card.model_copy(update={"decision_thresholds": {}})
    return ModelDescription(
        model_version=assets.model.model_version,
        policy_version=assets.policy.policy_version,
        card=card,
        policy=assets.policy if may_read_policy else None,
    )
