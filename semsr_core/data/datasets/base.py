"""The base of the lazy training datasets (:class:`SeededDataset`): bounds checks,
random generators per (seed, epoch, index), arrays to tensors; and the option checks
the datasets share."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from semsr_core.data.defects import LabDegradation, LrMaker
from semsr_core.errors import ConfigError


def _check_positive(key: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"augmentation.{key} must be a positive integer, not {value!r}")
    return int(value)


def _lr_maker(degradation: str | LrMaker | None, scale: int,
              params: dict | None) -> LrMaker | None:
    if degradation is None or callable(degradation):
        return degradation
    return LabDegradation(degradation, scale, dict(params or {}))



class SeededDataset(Dataset):
    """Base of the lazy datasets: bounds checks, per-(seed, epoch, index) random
    generators, and conversion of :meth:`sample` arrays to tensors."""

    def __init__(self, seed: int = 0):
        self.seed = int(seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw new random content for epoch ``epoch`` (same epoch → same samples)."""
        self.epoch = int(epoch)

    def rng(self, index: int) -> np.random.Generator:
        """The random generator of sample ``index`` in the current epoch."""
        return np.random.default_rng((self.seed, self.epoch, index))

    def _index(self, index: int) -> int:
        n = len(self)
        index = int(index)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"sample {index} out of range for {n} samples")
        return index

    def sample(self, index: int) -> dict[str, np.ndarray]:
        """Sample ``index`` as 2-D float32 arrays (the mask as bool)."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        arrays = self.sample(self._index(index))
        # np.array copies: a tensor never shares memory with the training images
        return {key: torch.from_numpy(np.array(value, dtype=np.float32)[None])
                for key, value in arrays.items()}
