"""World-model families, and the door they come through.

Every family implements the ModelFamily protocol (`worldgym.models.base`) and
builds models with the WorldModel contract; the rest of worldgym reaches them
only through these. A family is named on the command line (`worldgym train
--family NAME`) by a registered name, an installed package's entry point in
the group `worldgym.model_families`, or `module:attribute`. worldgym's own state
ensemble is registered through the same door.
"""

from __future__ import annotations

import importlib.metadata

from worldgym.models.base import (
    FAMILY_METHODS,
    SAMPLING_MODES,
    ModelFamily,
    Prediction,
    WorldModel,
)
from worldgym.specs import import_attribute, is_attribute_spec

ENTRY_POINT_GROUP = "worldgym.model_families"
DEFAULT_FAMILY = "state-ensemble"

_families: dict[str, ModelFamily | str] = {}


def _check(family, label: str) -> ModelFamily:
    missing = [name for name in ("name", "Config", *FAMILY_METHODS) if not hasattr(family, name)]
    if missing:
        raise ValueError(
            f"{label!r} is a {type(family).__name__}, not a worldgym model family: it lacks "
            f"{', '.join(missing)} (see worldgym.models.base.ModelFamily)."
        )
    return family


def register_family(family: ModelFamily | str, name: str | None = None, *,
                    overwrite: bool = False) -> str:  # fmt: skip
    """Make a model family available by name (`--family NAME`); return the name.

    `family` is a ModelFamily object or a "module:attribute" string naming one
    (resolved lazily when `name` is given).
    """
    if name is None:
        family = get_family(family) if isinstance(family, str) else _check(family, "family")
        name = family.name
    existing = _families.get(name)
    if existing is not None and existing is not family and not overwrite:
        raise ValueError(f"A model family called {name!r} is already registered; pass "
                         "overwrite=True to replace it.")  # fmt: skip
    _families[name] = family
    return name


def family_names() -> tuple[str, ...]:
    points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
    return (*_families, *(ep.name for ep in points if ep.name not in _families))


def get_family(spec: str | ModelFamily) -> ModelFamily:
    """The family named `spec` (a name, an entry point or module:attribute)."""
    if not isinstance(spec, str):
        return _check(spec, type(spec).__name__)
    source = _families.get(spec)
    if source is None:
        points = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
        if spec in points:
            source = points[spec].value
        elif is_attribute_spec(spec):
            source = spec
        else:
            raise ValueError(
                f"Unknown world-model family {spec!r}; known families are "
                f"{', '.join(family_names())}, or give module:attribute."
            )
    family = import_attribute(source, "model family") if isinstance(source, str) else source
    family = _check(family, spec)
    if isinstance(_families.get(spec), str):
        _families[spec] = family  # resolved once
    _families.setdefault(family.name, family)  # models name their family by name
    return family


def member_models(model: WorldModel) -> list[WorldModel]:
    """The model's members as models of their own (for the spread of a verdict
    across members); a family without members gives [model]."""
    return list(get_family(model.family).members(model))


register_family("worldgym.models.ensemble:FAMILY", DEFAULT_FAMILY)
register_family("worldgym.models.latent:FAMILY", "latent")

__all__ = [
    "DEFAULT_FAMILY", "ModelFamily", "Prediction", "SAMPLING_MODES", "WorldModel", "family_names",
    "get_family", "member_models", "register_family",
]  # fmt: skip
