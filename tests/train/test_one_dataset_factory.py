"""One dataset factory: the preview of an augmentation shows the samples that training
with it draws, because both are made by semsr_core.data.datasets.factory."""

from __future__ import annotations

import numpy as np
import pytest
from torch.utils.data import ConcatDataset

from semsr_core.data.datasets import recipe_augmentations
from semsr_core.data.preview import preview, preview_samples
from semsr_core.train.config import load_config
from semsr_core.train.data import prepare_data

CASES = {
    "rot16": ("en1", ["data.lr_patch=16"]),
    "rot90flip": ("n1", ["data.lr_patch=16"]),
    "defects": ("en1_defects", ["data.lr_patch=16", "data.defects.alpha=16",
                                "data.defects.beta=8"]),
    "rot90flip+zssr_paste": ("pix2pix_unet", ["data.lr_patch=8"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_preview_of_a_recipes_augmentation_is_what_training_draws(sim_data, case):
    recipe, sets = CASES[case]
    cfg = load_config(recipe, sets)
    train_set = prepare_data(cfg, sim_data).train_set
    parts = train_set.datasets if isinstance(train_set, ConcatDataset) else [train_set]
    pairs = parts[0].pairs  # the training images, as the engine loaded them
    chosen = recipe_augmentations(cfg.data, pairs)
    assert "+".join(name for name, _ in chosen) == case
    seed = cfg.train.seed
    for part, (name, options) in zip(parts, chosen, strict=True):
        shown = preview(name, pairs, n=3, seed=seed, dataset_options=options)
        trained = preview_samples(part, n=3, seed=seed)
        assert len(shown) == len(trained) == 3
        for (lr, hr, mask), (lr_t, hr_t, mask_t) in zip(shown, trained, strict=True):
            assert np.array_equal(lr, lr_t) and np.array_equal(hr, hr_t)
            assert np.array_equal(mask, mask_t)
        # not equal by accident: another seed draws other samples
        other = preview(name, pairs, n=3, seed=seed + 1, dataset_options=options)
        assert not all(np.array_equal(a[1], b[1]) for a, b in zip(other, trained, strict=True))
    if case == "defects":
        assert any(mask.any() for _, _, mask in preview_samples(parts[0], n=3, seed=seed))


def test_a_recipe_with_an_unknown_augmentation_names_the_key(sim_data):
    from semsr_core.errors import ConfigError

    cfg = load_config("n1", ["data.lr_patch=16", 'data.augment=["rot45"]'])
    with pytest.raises(ConfigError, match="data.augment: unknown augmentation 'rot45'"):
        prepare_data(cfg, sim_data)
