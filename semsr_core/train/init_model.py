"""Which model a run starts from: ``generator.init`` and the card it reads the generator from."""

from __future__ import annotations

import copy
from typing import Any

from semsr_core.errors import ConfigError, ModelError

__all__ = ["BUNDLED", "bundled_model_name", "resolve_init_generator"]

BUNDLED = "bundled"


def bundled_model_name(scale: int) -> str:
    """The bundled model a fine-tune of ×``scale`` data starts from."""
    return f"default-x{scale}"


def resolve_init_generator(raw: dict[str, Any], origin: str = "config",
                           default_scale: int = 4) -> dict[str, Any]:
    """``generator.init = "bundled"`` → the bundled model of ``data.scale``, with the
    generator's ``arch`` and sizes from that model's card (a copy of ``raw``). The same
    for any other model (a name or a file) in ``init`` when the generator names no
    ``arch``: e.g. ``finetune --set generator.init="my-model.semsr"``. ``default_scale``:
    the data's scale when ``raw`` names none (the config's default).

    The card is the one source of the sizes, so a retrained model with another
    configuration is fine-tuned as it is; sizes written in the recipe are refused.
    ``generator.tone = true`` may be given: the fine-tuned model adds a learnable tone
    curve (RRDBNet's ``tone``) that starts as the identity."""
    generator = raw.get("generator")
    if not isinstance(generator, dict) or not generator.get("init"):
        return raw
    init = str(generator["init"])
    if init != BUNDLED and "arch" in generator:
        return raw  # a recipe that spells out its generator: init must match it
    from semsr_core.models import read_card, resolve_model

    scale = raw.get("data", {}).get("scale", default_scale)
    name = bundled_model_name(scale) if init == BUNDLED else init
    try:
        card = read_card(resolve_model(name))
    except ModelError as exc:
        if init != BUNDLED:
            raise ConfigError(f"{origin}: generator.init: {exc}",
                              hint="Name a model (`semsr models list`) or a .semsr file.") from None
        raise ConfigError(f"{origin}: generator.init: no bundled model for ×{scale} data "
                          f"({exc})", hint="Fine-tuning starts from default-x4 or "
                          "default-x2; for other scales choose a recipe that trains from "
                          "scratch.") from None
    given = [k for k in generator if k not in ("init", "arch", "tone")]
    if given:
        raise ConfigError(f"{origin}: generator.{given[0]}: the generator's sizes come from "
                          f"the model {name}",
                          hint="Remove it, or name another model file in generator.init.")
    if generator.get("arch", card.arch) != card.arch:
        raise ConfigError(f"{origin}: generator.arch: the bundled model {name} is a "
                          f"{card.arch}, not a {generator['arch']}",
                          hint="Remove generator.arch: it comes from the model.")
    data = copy.deepcopy(raw)
    data["generator"] = {"arch": card.arch, "init": name,
                         **{k: v for k, v in card.config.items() if k != "scale"}}
    if generator.get("tone"):  # a tone curve is only ever added
        data["generator"]["tone"] = True
    if init != BUNDLED:  # a named model enlarges by its own scale
        data.setdefault("data", {})["scale"] = card.scale
    return data
