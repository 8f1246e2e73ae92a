"""Reference images for reference-based recipes (MASA-SR; [S1] §3.3).

A reference-based generator takes, with each LR image, an HR image of similar content
whose texture it transfers. Where a training sample's reference comes from:

1. ``DATA/ref/<stem>.*`` (matched to the pair by file stem, any size at least the HR
   patch): a random crop of it of the HR patch's size, drawn anew each epoch;
2. otherwise a random HR-patch-sized crop of another pair's HR image (a random other
   pair each time; the pair's own HR image only when the set has a single pair).
   This is [S1]'s second choice: the reference equal to the ground truth made the
   matching trivial, and a random patch of another HR image was used instead.

A validation pair's reference is ``ref/<stem>.*`` of its folder (``--val`` or the
data folder) when there is one, else a whole training HR image (pair i uses the
training pair i modulo their count, not its own HR). Inference takes the reference
the user gives (``semsr super-resolve --reference FILE``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from semsr_core.errors import InputError

REFERENCE_FOLDER = "ref"
"""The data folder's subfolder of per-pair references, matched by stem."""


def read_reference(path: str | Path) -> np.ndarray:
    """A reference image file as float32 in [0, 1] (its first slice, mapped by the
    intensity policy as a training image is)."""
    from semsr_core.io import read_stack
    from semsr_core.io.intensity import choose_mapping

    with read_stack(path) as stack:
        return np.asarray(choose_mapping(stack, path=path).to_unit(stack[0]), np.float32)


def find_reference(folder: Path, stem: str) -> Path | None:
    """``folder/ref/<stem>.<image suffix>`` if it exists."""
    from semsr_core.data.pairs import IMAGE_SUFFIXES

    ref_dir = Path(folder) / REFERENCE_FOLDER
    if not ref_dir.is_dir():
        return None
    found = sorted(p for p in ref_dir.iterdir()
                   if p.stem == stem and p.suffix.lower() in IMAGE_SUFFIXES)
    return found[0] if found else None


class WithReferences(Dataset):
    """``base``'s samples with a ``"ref"`` crop of ``patch × patch`` HR pixels each.

    ``hr`` are the training pairs' HR images (index = pair), ``own`` maps the pair index
    to its ``ref/`` image (absent: none). The pair of a sample is ``base.locate(i)[0]``
    where the base dataset can say it; otherwise every HR image may serve.
    """

    def __init__(self, base: Dataset, hr: list[np.ndarray], patch: int,
                 own: dict[int, np.ndarray] | None = None, seed: int = 0):
        self.base, self.hr, self.patch = base, hr, int(patch)
        self.own = dict(own or {})
        self.seed, self.epoch = int(seed), 0
        for image in [*self.hr, *self.own.values()]:
            if min(image.shape) < self.patch:
                raise InputError(f"a reference image of {image.shape[0]}×{image.shape[1]} "
                                 f"pixels is smaller than the {self.patch}-pixel HR patch",
                                 hint="Use larger reference images (ref/) or lower "
                                      "data.lr_patch.")

    def __len__(self) -> int:
        return len(self.base)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        if hasattr(self.base, "set_epoch"):
            self.base.set_epoch(epoch)

    def _pair_of(self, index: int) -> int | None:
        locate = getattr(self.base, "locate", None)
        return int(locate(index)[0]) if callable(locate) else None

    def reference(self, index: int) -> np.ndarray:
        """The reference crop of sample ``index`` in this epoch."""
        rng = np.random.default_rng((self.seed, self.epoch, int(index), 17))
        pair = self._pair_of(index)
        if pair is not None and pair in self.own:
            image = self.own[pair]
        else:
            choices = [i for i in range(len(self.hr)) if i != pair] or [0]
            image = self.hr[choices[int(rng.integers(len(choices)))]]
        top = int(rng.integers(0, image.shape[0] - self.patch + 1))
        left = int(rng.integers(0, image.shape[1] - self.patch + 1))
        return image[top:top + self.patch, left:left + self.patch]

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = dict(self.base[index])
        crop = np.array(self.reference(index), dtype=np.float32)
        item["ref"] = torch.from_numpy(crop)[None]
        return item


def attach_references(train_set: Dataset, names: list[str], hr: list[np.ndarray],
                      patch: int, data_dir: Path, seed: int) -> WithReferences:
    """``train_set`` with a reference per sample (see the module docstring)."""
    own = {}
    for index, name in enumerate(names):
        path = find_reference(data_dir, name)
        if path is not None:
            own[index] = read_reference(path)
    return WithReferences(train_set, hr, patch, own, seed)


def validation_reference(name: str, index: int, folder: Path,
                         train_hr: list[np.ndarray]) -> np.ndarray:
    """The reference of validation pair ``name`` (the ``index``-th): ``folder/ref/<name>``
    or training HR image ``index`` modulo their count."""
    path = find_reference(folder, name)
    if path is not None:
        return read_reference(path)
    return train_hr[index % len(train_hr)]


def with_references(cfg, train_set: Dataset, train: list[tuple[str, np.ndarray, np.ndarray]],
                    val: list[tuple[str, np.ndarray, np.ndarray]], data_dir: Path,
                    val_dir: str | Path | None) -> tuple[Dataset, list[np.ndarray | None]]:
    """For a recipe whose generator takes a reference (``ArchSpec.reference_input``):
    the training set with references and each validation pair's reference; otherwise
    the set unchanged and no references. ``train``/``val`` are (stem, LR, HR) triples."""
    from semsr_core import archs

    if not archs.spec(cfg.generator.arch).reference_input:
        return train_set, [None] * len(val)
    hr = [h for _, _, h in train]
    patch = cfg.data.lr_patch * cfg.data.scale
    train_set = attach_references(train_set, [n for n, _, _ in train], hr, patch, data_dir,
                                  cfg.train.seed)
    folder = Path(val_dir) if val_dir is not None else data_dir
    return train_set, [validation_reference(n, i, folder, hr) for i, (n, _, _) in
                       enumerate(val)]
