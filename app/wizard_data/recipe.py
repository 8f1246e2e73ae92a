"""The wizard's recipe page, free of Qt: the recipe to start from
(:func:`default_recipe`), a recipe's main values with their defaults
(:func:`hyperparameters`), edits as ``--set`` overrides (:func:`overrides_for`) checked by
the engine's own validation (:func:`validate`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HyperParameter:
    """One editable recipe value: its ``--set`` key, a label, and the recipe's default
    written as TOML (what an override's value is parsed as)."""

    key: str
    label: str
    default: str
    group: str


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


#: Up to this many pairs a dataset is small: fine-tuning the bundled model beats
#: training from scratch (issue 15: from scratch, 4 pairs gave a model 14 dB worse
#: than bicubic; fine-tuning gained +3 dB in the same ten minutes).
SMALL_DATASET_PAIRS = 16


def default_recipe(pairs: int, device: str = "auto") -> tuple[str, str]:
    """The recipe the wizard starts from for ``pairs`` pairs on ``device``, and one
    sentence that says why: ``finetune`` for small datasets and on a CPU (where
    recipes that train from scratch need hours), else ``n1_reduced``."""
    from semsr_core.infer.device import resolve_device

    on_cpu = resolve_device(device).type == "cpu"
    if pairs <= SMALL_DATASET_PAIRS or on_cpu:
        why = (f"{pairs} pair(s) are few to learn from scratch" if pairs <= SMALL_DATASET_PAIRS
               else "training from scratch on a CPU takes hours")
        return "finetune", (f"Recommended: finetune — {why}, so it adapts the bundled model "
                            "of your data's scale to your scans in minutes; the recipes "
                            "of the papers stay in the list.")
    return "n1_reduced", ("Recommended: n1_reduced — with this many pairs and a GPU, a "
                          "model trained from scratch on your scans can do better than "
                          "adapting the bundled one (finetune, also in the list).")


#: Below this many pairs the wizard says that more pairs would help: on semsr's simulated
#: lab case (benchmarks/lab_workflow.md, 2026-12-07) a 10-minute fine-tune gained +2.6 dB
#: over bicubic from 4 pairs and +3.1 dB from 8 (float32 and uint16), while 30 minutes
#: on 4 pairs gained +2.6 dB: they had been learned by heart.
FEW_PAIRS = 8


def pairs_hint(pairs: int) -> str:
    """A sentence for datasets of fewer than :data:`FEW_PAIRS` pairs, else ``""``."""
    if pairs >= FEW_PAIRS:
        return ""
    return ("More pairs help more than more time: on semsr's simulated lab case a "
            "10-minute fine-tune gained +2.6 dB over bicubic from 4 pairs and +3.1 dB "
            "from 8, and 30 minutes on 4 pairs no more than 10.")


def recipe_info(recipe: str) -> dict[str, str]:
    """The ``[recipe]`` table of a bundled recipe or TOML file: name, source, description."""
    from semsr_core.train.config import load_raw

    raw, _ = load_raw(recipe)
    info = raw.get("recipe", {})
    return {k: str(info.get(k, "")) for k in ("name", "source", "description")}


def hyperparameters(recipe: str) -> list[HyperParameter]:
    """The main values of a recipe, as present in it: generator sizes, LR patch,
    batch, epochs (and steps per epoch) of each phase, learning rates, loss weights."""
    from semsr_core.train.config import load_raw

    raw, _ = load_raw(recipe)
    found: list[HyperParameter] = []

    def add(key: str, label: str, value: Any, group: str) -> None:
        if value is None:  # absent from the recipe: an empty field keeps the engine's way
            found.append(HyperParameter(key, label, "", group))
        elif isinstance(value, int | float | str) and not isinstance(value, bool):
            found.append(HyperParameter(key, label, _toml_value(value), group))

    generator = raw.get("generator", {})
    for name, value in generator.items():
        if name not in ("arch", "init") and isinstance(value, int | float):
            add(f"generator.{name}", f"generator {name}", value, "Generator")
    data = raw.get("data", {})  # the scale comes from the data (see data_overrides)
    add("data.lr_patch", "LR patch (px)", data.get("lr_patch", 32), "Data")
    add("data.batch", "batch", data.get("batch", 16), "Data")
    add("optimizer.lr", "generator learning rate", raw.get("optimizer", {}).get("lr", 1e-4),
        "Optimiser")
    for name, disc in raw.get("discriminators", {}).items():
        add(f"discriminators.{name}.optimizer.lr", f"discriminator '{name}' learning rate",
            disc.get("optimizer", {}).get("lr", 1e-4), "Optimiser")
    for phase in raw.get("phases", []):
        pname = phase.get("name", "?")
        group = f"Phase '{pname}'"
        add(f"phases.{pname}.epochs", "epochs", phase.get("epochs", 1), group)
        add(f"phases.{pname}.steps_per_epoch", "steps per epoch (empty: all)",
            phase.get("steps_per_epoch"), group)
        if "l1_weight" in phase:
            add(f"phases.{pname}.l1_weight", "δ (L1 weight; VGG gets 1−δ)",
                phase["l1_weight"], group)
        for loss, term in phase.get("losses", {}).items():
            if "l1_weight" in phase and loss in ("l1", "vgg"):
                continue
            if isinstance(term, int | float):
                add(f"phases.{pname}.losses.{loss}", f"{loss} weight", term, group)
            elif isinstance(term, dict):
                add(f"phases.{pname}.losses.{loss}.weight", f"{loss} weight",
                    term.get("weight", 1.0), group)
    return found


def overrides_for(fields: list[HyperParameter], values: dict[str, str]) -> list[str]:
    """``key=value`` overrides for the values that differ from the recipe's defaults
    (an empty value keeps the default)."""
    items = []
    for item in fields:
        text = values.get(item.key, "").strip()
        if text and text != item.default:
            items.append(f"{item.key}={text}")
    return items


def validate(recipe: str, overrides: list[str]) -> Any:
    """The validated :class:`~semsr_core.train.config.TrainConfig` (ConfigError names the
    bad key)."""
    from semsr_core.train.config import load_config

    return load_config(recipe, overrides)
