"""The work behind the training wizard's pages, free of Qt so it runs in any thread.

One module per job; every name is importable from ``semsr_app.wizard_data`` as well:

- :mod:`.scan` (data page): :func:`scan_data` pairs the LR and HR folders (or lists the
  HR images when LR is to be made by a degradation) and names the files that cannot be
  paired or opened.
- :mod:`.checks` (alignment page): :func:`check_pairs` aligns every pair
  (:func:`semsr_core.data.align.align_pair`) or, for HR-only data, reads every HR image;
  :func:`overlay_views` gives the pictures to judge a pair by eye;
  :func:`write_training_data` writes the included pairs into ``<data folder>/lr`` and
  ``hr`` so the run trains on exactly them; :func:`data_overrides`.
- :mod:`.augment` (augmentation page): :func:`augmentation_previews` shows training
  samples of the chosen augmentations (:func:`semsr_core.data.preview.preview`).
- :mod:`.recipe` (recipe page): :func:`hyperparameters` lists a recipe's main values
  with their defaults, :func:`overrides_for` turns edits into ``--set`` overrides,
  :func:`validate` checks them with the engine's own validation.
- :mod:`.run` (run page): :func:`new_run_folder` and :func:`move_data_into_run`.
"""

from __future__ import annotations

from semsr_app.wizard_data.augment import (
    GEOMETRIC,
    AugmentationChoice,
    augmentation_previews,
    load_training_pairs,
)
from semsr_app.wizard_data.checks import (
    READABLE,
    OverlayViews,
    PairCheck,
    check_pair,
    check_pairs,
    data_overrides,
    overlay_views,
    suspicious_note,
    write_training_data,
)
from semsr_app.wizard_data.recipe import (
    FEW_PAIRS,
    SMALL_DATASET_PAIRS,
    HyperParameter,
    default_recipe,
    hyperparameters,
    overrides_for,
    pairs_hint,
    recipe_info,
    validate,
)
from semsr_app.wizard_data.run import move_data_into_run, new_run_folder
from semsr_app.wizard_data.scan import DEGRADATIONS, DataChoice, DataScan, read_first, scan_data

__all__ = [
    "DEGRADATIONS",
    "FEW_PAIRS",
    "GEOMETRIC",
    "READABLE",
    "SMALL_DATASET_PAIRS",
    "AugmentationChoice",
    "DataChoice",
    "DataScan",
    "HyperParameter",
    "OverlayViews",
    "PairCheck",
    "augmentation_previews",
    "check_pair",
    "check_pairs",
    "data_overrides",
    "default_recipe",
    "hyperparameters",
    "load_training_pairs",
    "move_data_into_run",
    "new_run_folder",
    "overlay_views",
    "overrides_for",
    "pairs_hint",
    "read_first",
    "recipe_info",
    "scan_data",
    "suspicious_note",
    "validate",
    "write_training_data",
]
