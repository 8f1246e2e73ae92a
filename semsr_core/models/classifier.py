"""The bundled defect classifier as a model file: loading it frozen, saving a new one.

It is a ``.semsr`` file like every model (safetensors weights, the JSON card in the
header), with ``task = "defect-classification"`` in its card, so that the store never
lists or loads it as a super-resolution model (:func:`semsr_core.models.list_models`,
:func:`semsr_core.models.load_model`). Its card also names its classes, the tile side
it was trained on and its held-out accuracy per class
(``benchmarks/train_defect_classifier.py`` makes it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import nn

from semsr_core.errors import ModelError

#: The card's task of a defect classifier.
CLASSIFIER_TASK = "defect-classification"
#: The bundled classifier's name (``resources/models/defect-classifier.semsr``).
DEFECT_CLASSIFIER = "defect-classifier"


class DefectClassifierModel:
    """A frozen classifier network (eval mode, no gradients to its weights) and its card:
    ``classes`` (names by class number) and ``tile`` (the HR tile side it judges)."""

    def __init__(self, network: nn.Module, card: Any, path: Path | None):
        self.network = network.eval().requires_grad_(False)
        self.card = card
        self.path = path

    @property
    def classes(self) -> list[str]:
        return list(self.card.extra["classes"])

    @property
    def tile(self) -> int:
        return int(self.card.extra["tile"])


def load_classifier(name_or_path: str | os.PathLike = DEFECT_CLASSIFIER
                    ) -> DefectClassifierModel:
    """The defect classifier ``name_or_path`` (by default the bundled one), frozen.

    Raises:
        ModelError: naming the file, when it is no defect classifier or its card lacks
            the classes or the tile side.
    """
    from semsr_core.models.store import load_model

    model = load_model(name_or_path, task=CLASSIFIER_TASK)
    extra = model.card.extra
    if not isinstance(extra.get("classes"), list) or not isinstance(extra.get("tile"), int):
        raise ModelError("the defect classifier's card names no classes or tile side",
                         path=model.path, hint="Re-make it with "
                         "benchmarks/train_defect_classifier.py.")
    return DefectClassifierModel(model.generator, model.card, model.path)


def save_classifier(network: nn.Module, path: str | os.PathLike, *, config: dict[str, Any],
                    classes: list[str], tile: int, name: str = DEFECT_CLASSIFIER,
                    description: str = "", training: dict[str, Any] | None = None,
                    metrics: dict[str, Any] | None = None) -> Path:
    """Write ``network`` (a ``defect_classifier``) as a ``.semsr`` model with its card."""
    from semsr_core.models.card import ModelCard
    from semsr_core.models.model import Model

    card = ModelCard(arch="defect_classifier", config=dict(config), scale=1,
                     in_channels=int(config.get("in_channels", 1)),
                     out_channels=len(classes), name=name, description=description,
                     training=dict(training or {}), metrics=dict(metrics or {}),
                     extra={"task": CLASSIFIER_TASK, "classes": list(classes),
                            "tile": int(tile)})
    return Model(network, card).save(Path(path))
