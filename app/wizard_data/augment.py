"""The wizard's augmentation page, free of Qt: the augmentations chosen
(:class:`AugmentationChoice`, as ``--set`` overrides), the staged pairs as the datasets
see them (:func:`load_training_pairs`) and previews of training samples made by the
training code itself (:func:`augmentation_previews`)."""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from semsr_app.wizard_data.scan import DataChoice, read_first

#: Geometric augmentations a recipe's ``data.augment`` may name.
GEOMETRIC = ("rot90flip", "rot16", "stretch_shear", "none")


@dataclass(frozen=True)
class AugmentationChoice:
    """Augmentations chosen in the wizard; ``None`` keeps the recipe's own choice.

    ``geometric`` is one of :data:`GEOMETRIC`; ``defects`` is (α, β) of [S0]'s synthetic
    defects; ``paste`` is (n1, n2) of [S1]'s ZSSR patch pasting.
    """

    geometric: str | None = None
    defects: tuple[int, int] | None = None
    paste: tuple[int, int] | None = None

    def overrides(self) -> list[str]:
        """As ``--set`` overrides (synthetic defects also set ``data.lr_patch`` = α: the
        α×α tiles are the training patches)."""
        items = []
        if self.geometric is not None:
            items.append(f'data.augment=["{self.geometric}"]')
        if self.defects is not None:
            alpha, beta = self.defects
            items += [f"data.defects.alpha={alpha}", f"data.defects.beta={beta}",
                      f"data.lr_patch={alpha}"]
        if self.paste is not None:
            items += [f"data.paste.n1={self.paste[0]}", f"data.paste.n2={self.paste[1]}"]
        return items


def load_training_pairs(data_dir: str | PathLike, choice: DataChoice) -> Any:
    """The included pairs of the wizard's data folder as the datasets see them
    (:class:`~semsr_core.data.datasets.TrainingPairs`, [0, 1]); for HR-only data the LR
    images are made by the chosen degradation (seeded)."""
    from semsr_core.data.datasets import TrainingPairs
    from semsr_core.data.degrade import degrade
    from semsr_core.data.pairs import find_pairs, pairs_from_hr
    from semsr_core.io.intensity import to_unit_range

    data_dir = Path(data_dir)
    if choice.hr_only:
        arrays = []
        s = choice.scale
        for index, pair in enumerate(pairs_from_hr(data_dir / "hr", choice.degradation, s)):
            hr = to_unit_range(read_first(pair.hr_path)[0], pair.hr_path)
            hr = hr[: hr.shape[0] // s * s, : hr.shape[1] // s * s]
            lr = degrade(choice.degradation, hr, s, rng=np.random.default_rng((0, index)))
            arrays.append((np.clip(lr, 0, 1).astype(np.float32), hr))
        return TrainingPairs.from_arrays(arrays, scale=s, mapped=True)
    arrays = []
    for pair in find_pairs(data_dir / "lr", data_dir / "hr"):
        arrays.append((to_unit_range(read_first(pair.lr_path)[0], pair.lr_path),
                       to_unit_range(read_first(pair.hr_path)[0], pair.hr_path)))
    return TrainingPairs.from_arrays(arrays, mapped=True)


def augmentation_previews(pairs: Any, choice: AugmentationChoice, *, patch: int = 32,
                          n: int = 3, seed: int = 0, degradation: str = "bicubic"
                          ) -> list[tuple[str, np.ndarray]]:
    """Preview grids (LR enlarged | HR | HR with pasted content outlined) of each chosen
    augmentation, as ``(title, RGB image)``; with nothing chosen, plain patches."""
    from semsr_core.data.preview import preview, preview_grid

    smallest = min(min(lr.shape) for lr in pairs.lr)
    patch = max(4, min(patch, smallest))
    grids = []
    geometric = choice.geometric
    if geometric is not None or (choice.defects is None and choice.paste is None):
        name = geometric or "none"
        options = {"alpha": patch} if name == "rot16" else {"patch": patch}
        title = (f"geometric: {name}" if geometric else
                 "plain patches (the recipe's own augmentation applies)")
        grids.append((title, preview_grid(preview(name, pairs, n=n, seed=seed, **options))))
    if choice.defects is not None:
        alpha, beta = choice.defects
        alpha = max(8, min(alpha, smallest))
        samples = preview("defects", pairs, n=n, seed=seed, alpha=alpha, beta=beta,
                          degradation=degradation)
        grids.append((f"synthetic defects: α={alpha}, β={beta}", preview_grid(samples)))
    if choice.paste is not None:
        n1, n2 = choice.paste
        samples = preview("zssr_paste", pairs, n=n, seed=seed, n1=n1, n2=n2, patch=patch,
                          degradation=degradation)
        grids.append((f"ZSSR patch pasting: n1={n1}, n2={n2}", preview_grid(samples)))
    return grids
