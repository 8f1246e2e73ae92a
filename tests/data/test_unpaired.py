"""Unpaired patches: independent LR- and HR-domain crops, the same for the same
(seed, epoch, index), new content each epoch, and sizes that fit are checked first."""

from __future__ import annotations

import numpy as np
import pytest

from semsr_core.data.unpaired import UnpairedPatches
from semsr_core.errors import ConfigError


def images(seed: int, n: int, side: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random((side, side + 4)).astype(np.float32) for _ in range(n)]


def test_samples_have_the_patch_sizes_and_repeat_for_the_same_seed_and_epoch():
    x, y = images(0, 2, 20), images(1, 3, 64)
    data = UnpairedPatches(x, y, scale=2, patch=8, samples_per_image=4, seed=3)
    assert len(data) == 8
    item = data[5]
    assert tuple(item["lr"].shape) == (1, 8, 8) and tuple(item["hr"].shape) == (1, 16, 16)
    again = UnpairedPatches(x, y, scale=2, patch=8, samples_per_image=4, seed=3)[5]
    assert all(np.array_equal(item[k], again[k]) for k in ("lr", "hr"))
    data.set_epoch(1)
    assert not np.array_equal(data[5]["hr"], item["hr"])


def test_the_lr_crop_comes_from_its_own_x_image():
    x = [np.zeros((16, 16), np.float32), np.ones((16, 16), np.float32)]
    data = UnpairedPatches(x, images(1, 1, 40), scale=2, patch=8, samples_per_image=2)
    assert [float(data[i]["lr"].mean()) for i in range(4)] == [0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize(("x", "y", "words"), [
    ([], [np.zeros((32, 32))], "both domains"),
    ([np.zeros((6, 6))], [np.zeros((64, 64))], "data.lr_patch 8 is too large"),
    ([np.zeros((32, 32))], [np.zeros((12, 12))], "data.lr_patch 8 is too large"),
])
def test_missing_domains_and_patches_larger_than_the_images_are_config_errors(x, y, words):
    with pytest.raises(ConfigError, match=words):
        UnpairedPatches(x, y, scale=2, patch=8)
