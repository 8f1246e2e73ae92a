"""A model's clean variant: the same network trained on noise-free inputs only, used
where the scan reads clean.

A model trained on clean and noisy inputs alike must guess, at every fine detail,
whether it is structure or noise; on a clean scan it smooths some real structure away
(`benchmarks/quality_ood.md`). Its card may name a variant trained on noise-free inputs
only, with the largest input noise it is meant for::

    training.clean_variant = {"model": "default-x4-clean", "max_noise_sigma": 0.01}

When the input's noise σ — the guard's estimate (:mod:`semsr_core.archs.noise_level`)
on the first slice, in network units — is at most that, the variant enlarges the whole
call: every slice of a stack, so that one output comes from one model. The choice and
the σ it was made on go into the output's settings; ``clean_variant="off"`` keeps the
model as given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from semsr_core.errors import ConfigError
from semsr_core.infer.consistency import noise_sigma
from semsr_core.io.intensity import IntensityMapping

SETTINGS = ("auto", "off")


def check_setting(setting: str) -> str:
    if setting not in SETTINGS:
        raise ConfigError(f"clean variant setting '{setting}' is not known",
                          hint=f"Use --clean-variant with one of: {', '.join(SETTINGS)}.")
    return setting


def declared(card: Any) -> dict[str, Any] | None:
    """The card's ``clean_variant`` entry, checked; None when it names none."""
    entry = card.training.get("clean_variant")
    if not entry:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("model"), str) or not \
            isinstance(entry.get("max_noise_sigma"), int | float):
        raise ConfigError(f"model '{card.name}' has a malformed clean_variant entry: {entry!r}",
                          hint='It must be {"model": <name>, "max_noise_sigma": <number>}.')
    return entry


def first_slice(values: Any) -> np.ndarray | None:
    """The first 2-D slice of an image, a (Z, Y, X) array or a lazy stack."""
    if values is None:
        return None
    if getattr(values, "ndim", len(getattr(values, "shape", ()))) == 2:
        return np.asarray(values)
    return np.asarray(values[0])


def choose(model: Any, values: Any, mapping: IntensityMapping | None = None,
           setting: str = "auto") -> tuple[Any, dict[str, Any] | None]:
    """The model to enlarge ``values`` with, and the record of the choice (None for a
    model that names no clean variant, or with ``setting`` ``off``). ``mapping``: the
    intensity mapping the call uses (default: the values' own, as ``super_resolve``
    would choose it; computed only for a model that names a variant)."""
    from semsr_core.infer.normalize import mapping_for
    from semsr_core.models import load_model

    check_setting(setting)
    entry = declared(model.card)
    if entry is None or setting == "off":
        return model, None
    image = first_slice(values)
    limit = float(entry["max_noise_sigma"])
    record: dict[str, Any] = {"variant": entry["model"], "max_noise_sigma": limit}
    if image is None:
        return model, {**record, "used": False, "reason": "no image to measure"}
    if mapping is None:
        mapping = mapping_for(values, model.card.normalization)
    sigma = noise_sigma(mapping.to_unit(image))
    record["noise_sigma"] = round(sigma, 5)
    if sigma > limit:
        return model, {**record, "used": False,
                       "reason": f"the input reads noisy (σ {sigma:.4f} > {limit:g})"}
    variant = load_model(entry["model"])
    if variant.card.scale != model.card.scale:
        raise ConfigError(f"model '{model.card.name}' names a ×{variant.card.scale} clean "
                          f"variant '{entry['model']}' for its ×{model.card.scale}",
                          hint="Use --clean-variant off, or fix the model's card.")
    return variant, {**record, "used": True,
                     "reason": f"the input reads clean (noise σ {sigma:.4f} ≤ {limit:g}): "
                               f"enlarged by {entry['model']}, trained on noise-free inputs "
                               f"(--clean-variant off keeps {model.card.name})"}
