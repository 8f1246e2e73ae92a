"""Dataset construction, the one place a training dataset is made.

:func:`training_dataset` makes the dataset of an augmentation name with its options;
:func:`recipe_augmentations` says which names and options a recipe's ``data`` section
asks for; :func:`recipe_datasets` makes them. The training engine
(:func:`semsr_core.train.data.prepare_data`) builds its sets with
:func:`recipe_datasets`, the previews (:mod:`semsr_core.data.preview`, the wizard,
``semsr augment-preview``) with :func:`training_dataset`: a preview of a name and
options is exactly the set training makes of them.
"""

from __future__ import annotations

from typing import Any

from semsr_core.arguments import check_kwargs
from semsr_core.data.datasets.base import SeededDataset
from semsr_core.data.datasets.pasted import SyntheticDefects, ZssrPasted
from semsr_core.data.datasets.patches import PairedPatches
from semsr_core.data.datasets.tiles import RotatedTiles
from semsr_core.data.datasets.training_pairs import TrainingPairs
from semsr_core.errors import ConfigError

AUGMENTATIONS: dict[str, tuple[type[SeededDataset], dict]] = {
    "defects": (SyntheticDefects, {}),
    "rot16": (RotatedTiles, {}),
    "rot90flip": (PairedPatches, {"geometric": "rot90flip"}),
    "stretch_shear": (PairedPatches, {"geometric": "stretch_shear"}),
    "zssr_paste": (ZssrPasted, {}),
    "none": (PairedPatches, {"geometric": "none"}),
}
"""Augmentation name (recipes, CLI) → dataset class and its fixed options."""


def training_dataset(augmentation: str, pairs: TrainingPairs, *, seed: int = 0,
                     **options) -> SeededDataset:
    """The training dataset for the augmentation called ``augmentation``.

    ``options`` are the dataset's keyword arguments (e.g. ``alpha``, ``beta``,
    ``source``, ``degradation`` for ``defects``); an unknown one is a
    :class:`~semsr_core.errors.ConfigError` naming it.
    """
    if augmentation not in AUGMENTATIONS:
        raise ConfigError(f"unknown augmentation {augmentation!r}",
                          hint=f"Choose one of: {', '.join(AUGMENTATIONS)}.")
    cls, fixed = AUGMENTATIONS[augmentation]
    check_kwargs(cls, options, what=f"augmentation {augmentation!r}",
                 ignore=("pairs", "seed", *fixed))
    return cls(pairs, seed=seed, **fixed, **options)


#: Turned copies of each tile in the ``rot16`` augmentation.
ROT16_COPIES = 16


def defect_source(name: str) -> Any:
    """The defect source F of ``data.defects.source``: ``"skimage"`` (scikit-image's
    natural images) or a folder of images."""
    from semsr_core.data.defects import DefectSource

    if name == "skimage":
        return DefectSource.default()
    return DefectSource.from_folder(name)


def recipe_augmentations(data: Any, pairs: TrainingPairs) -> list[tuple[str, dict[str, Any]]]:
    """The augmentations a recipe's ``data`` section
    (:class:`~semsr_core.train.config.DataConfig`) asks for on ``pairs``, as
    ``(name, options)`` for :func:`training_dataset`, in the order of the training set.

    Synthetic defects (``data.defects``) are the whole training set; otherwise each
    ``data.augment`` name gives one set, and ``data.paste`` one more. Pairs whose
    input is already on the output grid (ZSSR-upscaled LR, ``pairs.scale`` 1) get the
    HR-sized patch.
    """
    if data.defects is not None:
        if data.lr_patch != data.defects.alpha:
            raise ConfigError(f"data.lr_patch ({data.lr_patch}) must equal data.defects.alpha "
                              f"({data.defects.alpha}): the α×α tiles are the training "
                              "patches")
        return [("defects", {"source": defect_source(data.defects.source),
                             "degradation": data.degradation, "alpha": data.defects.alpha,
                             "beta": data.defects.beta})]
    patch = data.lr_patch * data.scale // pairs.scale
    smallest = min(min(lr.shape) for lr in pairs.lr)
    per_image = max(1, (smallest // patch) ** 2)
    chosen: list[tuple[str, dict[str, Any]]] = []
    for name in data.augment or ["none"]:
        if name == "rot16":
            chosen.append((name, {"alpha": patch, "n": ROT16_COPIES}))
        elif name in ("rot90flip", "stretch_shear", "none"):
            chosen.append((name, {"patch": patch, "samples_per_image": per_image}))
        else:
            raise ConfigError(f"data.augment: unknown augmentation {name!r}",
                              hint="Use rot90flip, rot16, stretch_shear or none; synthetic "
                                   "defects and patch pasting have their own tables.")
    if data.paste is not None:
        chosen.append(("zssr_paste", {
            "degradation": data.degradation if pairs.scale > 1 else None,
            "n1": data.paste.n1, "n2": data.paste.n2, "patch": patch}))
    return chosen


def recipe_datasets(data: Any, pairs: TrainingPairs, seed: int = 0
                    ) -> tuple[list[SeededDataset], SeededDataset | None]:
    """The training sets of a recipe's ``data`` section on ``pairs``
    (:func:`recipe_augmentations`, each made by :func:`training_dataset`), and the
    clean "real" stream of a PatchGAN for synthetic defects (else None)."""
    sets = [training_dataset(name, pairs, seed=seed, **options)
            for name, options in recipe_augmentations(data, pairs)]
    real = sets[0].real_stream() if isinstance(sets[0], SyntheticDefects) else None
    return sets, real
