"""A/B experiments as settings: weighted arms over strategies, an optional shadow strategy."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ExperimentArm(BaseModel):
    """One arm of an experiment: a strategy and its share of the traffic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    strategy: str = Field(min_length=1)
    weight: float = Field(1.0, gt=0)


class Experiment(BaseModel):
    """A weighted split between strategies, optionally with a shadow strategy on every request.

    ``model_groups`` limits it to those groups (empty = every request that names no strategy).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    arms: list[ExperimentArm] = Field(min_length=1)
    shadow_strategy: str = ""
    model_groups: list[str] = []

    @model_validator(mode="after")
    def _distinct_arms(self) -> Experiment:
        names = [a.name for a in self.arms]
        if len(set(names)) != len(names):
            raise ValueError(f"experiment {self.name!r}: arm names must be distinct, got {names}")
        return self
