"""World-model families. Every family implements the WorldModel contract
(`worldgym.models.base`); the rest of worldgym reaches them only through it."""

from __future__ import annotations

from worldgym.models import ensemble
from worldgym.models.base import SAMPLING_MODES, Prediction, WorldModel

FAMILIES = {ensemble.FAMILY: ensemble}


def _family(name: str):
    if name not in FAMILIES:
        raise ValueError(f"Unknown world-model family {name!r}; known: {', '.join(FAMILIES)}.")
    return FAMILIES[name]


def build_world_model(family: str, params, metadata: dict, config: dict) -> WorldModel:
    """A WorldModel of `family` from parameters and checkpoint metadata."""
    module = _family(family)
    return module.make_world_model(
        params, metadata["observation_shape"][0], metadata["action_shape"][0],
        module.config_from_dict(config), metadata,
    )  # fmt: skip


def like_params(family: str, metadata: dict, config: dict):
    """A pytree shaped like the family's parameters (for restoring checkpoints)."""
    module = _family(family)
    return module.like_params(
        metadata["observation_shape"][0], metadata["action_shape"][0],
        module.config_from_dict(config),
    )  # fmt: skip


def member_models(model: WorldModel) -> list[WorldModel]:
    """The model's members as models of their own (for the spread of a verdict
    across members); a family without members gives [model]."""
    module = _family(model.family)
    return module.member_models(model) if hasattr(module, "member_models") else [model]


__all__ = ["FAMILIES", "SAMPLING_MODES", "Prediction", "WorldModel", "build_world_model"]
