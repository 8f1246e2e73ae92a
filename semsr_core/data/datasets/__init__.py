"""Training datasets: aligned LR/HR pairs turned into augmented samples, lazily.

Every dataset here is a ``torch.utils.data.Dataset`` whose item is a dict of float32
tensors shaped ``1 × h × w``:

* ``"lr"`` — the LR input (``h × w``),
* ``"hr"`` — the HR target (``scale·h × scale·w``),
* ``"mask"`` — 1 where foreign content was pasted into the HR target, else 0.

The real stream for a PatchGAN (:class:`CleanHR`) has ``"hr"`` only. The training
engine draws the items itself, in the main process, and stacks them with torch's
``default_collate``.

Samples are made on the fly, never stored: the synthetic-defect set of [S0] holds
``N·⌊W/α⌋·⌊H/α⌋·β`` samples (20 images × 16 tiles × 128 = 40,960) but costs only the
memory of the N pairs. Every random draw of sample ``index`` comes from
``numpy.random.default_rng((seed, epoch, index))``, so a sample is the same whatever
the order of access or the worker that makes it, and new random content is drawn each
epoch: call :meth:`set_epoch` before each epoch (like ``DistributedSampler``); a
``DataLoader`` with workers sees the new epoch only with ``persistent_workers=False``.

Choosing a dataset by augmentation name (previews, the CLI): :func:`training_dataset`;
the sets of a recipe's ``data`` section (the training engine): :func:`recipe_datasets`,
which makes each with :func:`training_dataset`.

One module per job: :mod:`.training_pairs` (the images), :mod:`.base`
(:class:`SeededDataset`), :mod:`.patches` (random patch crops), :mod:`.tiles` (turned
tiles, the clean real stream), :mod:`.pasted` (synthetic defects, ZSSR patch pasting)
and :mod:`.factory` (every dataset is made there); each name is importable from
``semsr_core.data.datasets`` as well.
"""

from __future__ import annotations

from semsr_core.data.datasets.base import SeededDataset
from semsr_core.data.datasets.factory import (
    AUGMENTATIONS,
    defect_source,
    recipe_augmentations,
    recipe_datasets,
    training_dataset,
)
from semsr_core.data.datasets.pasted import SyntheticDefects, ZssrPasted
from semsr_core.data.datasets.patches import GEOMETRIC, PairedPatches
from semsr_core.data.datasets.tiles import CleanHR, RotatedTiles
from semsr_core.data.datasets.training_pairs import TrainingPairs

__all__ = [
    "AUGMENTATIONS",
    "GEOMETRIC",
    "CleanHR",
    "PairedPatches",
    "RotatedTiles",
    "SeededDataset",
    "SyntheticDefects",
    "TrainingPairs",
    "ZssrPasted",
    "defect_source",
    "recipe_augmentations",
    "recipe_datasets",
    "training_dataset",
]
