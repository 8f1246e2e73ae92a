"""From a lab's data folder to the datasets a recipe trains on.

Layout of ``--data DIR`` (the output of ``semsr simulate`` and ``semsr align``):

- ``DIR/lr/*.tif`` and ``DIR/hr/*.tif``, matched by file stem, aligned (HR exactly
  ``scale`` × LR) — the paired recipes;
- ``DIR/hr/*.tif`` only (or images directly in ``DIR``) — LR is made from HR by the
  recipe's ``data.degradation``;
- for ``pairing = "unpaired"`` recipes, ``DIR/lr`` and ``DIR/hr`` need not correspond;
- optional ``DIR/masks/<stem>.tif``: the pair's annotated defects at HR size (nonzero =
  defect), as ``semsr simulate`` writes them. Samples carry them in ``"mask"``, where
  ``l1``/``l2`` with ``mask_weight`` > 1 weight them more.

Validation pairs come from ``--val DIR`` (same layout) or are split off by pair
(``data.val_fraction``). Images are mapped to [0, 1] by their dtype range, as the
exported model card records, so training and inference see the same intensities.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.data import ConcatDataset, Dataset

from semsr_core.data.masks import MASKS_FOLDER
from semsr_core.data.pairs import Pair, find_pairs, pairs_from_hr, split_pairs
from semsr_core.errors import InputError
from semsr_core.io.intensity import IntensityMapping, choose_mapping
from semsr_core.train.config import TrainConfig
from semsr_core.train.engine import ValidationPair


@dataclass
class PreparedData:
    train_set: Dataset
    real_set: Dataset | None
    val_pairs: list[ValidationPair]
    summary: dict[str, Any] = field(default_factory=dict)


class Concat(ConcatDataset):
    """torch's :class:`~torch.utils.data.ConcatDataset` whose ``set_epoch`` reaches every
    part (each draws its epoch's random content from it)."""

    def set_epoch(self, epoch: int) -> None:
        for part in self.datasets:
            part.set_epoch(epoch)


def _read_mapped(path: Path) -> tuple[np.ndarray, IntensityMapping]:
    from semsr_core.io import read_stack

    with read_stack(path) as stack:  # the first slice, mapped as its whole stack is
        mapping = choose_mapping(stack, path=path)
        return mapping.to_unit(stack[0]), mapping


def _read(path: Path) -> np.ndarray:
    return _read_mapped(path)[0]


def mixed_rules(stem: str, lr: IntensityMapping, hr: IntensityMapping) -> str | None:
    """A warning when a pair's LR and HR are read by different rules of the intensity
    policy (one by its type's range, the other by its own percentiles): the model then
    also learns that difference in contrast, which no other scan shares."""
    if lr.mode == hr.mode:
        return None
    return (f"{stem}: its LR is read {lr.describe()} but its HR {hr.describe()}, so the "
            "model also learns that difference in contrast; save both the same way "
            "(e.g. both uint16 over their range, or floats in [0, 1]) if it is not meant")


def _load_pairs(pairs: list[Pair], scale: int, seed: int,
                warnings: list[str] | None = None) -> list[tuple[str, np.ndarray,
                                                                np.ndarray]]:
    """The pairs in network units; ``warnings`` collects :func:`mixed_rules`."""
    from semsr_core.data.degrade import degrade

    loaded = []
    for index, pair in enumerate(pairs):
        hr, hr_mapping = _read_mapped(pair.hr_path)
        if pair.lr_path is None:
            hr = hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale]
            lr = degrade(pair.degradation, hr, scale, rng=np.random.default_rng((seed, index)))
            lr = np.clip(lr, 0.0, 1.0).astype(np.float32)
        else:
            lr, lr_mapping = _read_mapped(pair.lr_path)
            warning = mixed_rules(pair.stem, lr_mapping, hr_mapping)
            if warning and warnings is not None:
                warnings.append(warning)
            if hr.shape != (lr.shape[0] * scale, lr.shape[1] * scale):
                raise InputError(
                    f"HR {pair.hr_path.name} is {hr.shape[0]}×{hr.shape[1]} but LR "
                    f"{pair.lr_path.name} is {lr.shape[0]}×{lr.shape[1]}; at scale {scale} HR "
                    f"must be exactly {lr.shape[0] * scale}×{lr.shape[1] * scale}",
                    path=pair.hr_path.parent, hint=_scale_hint(lr.shape, hr.shape, scale))
        loaded.append((pair.stem, lr, hr))
    return loaded


def _scale_hint(lr_shape: tuple[int, ...], hr_shape: tuple[int, ...], scale: int) -> str:
    """What to do about a pair whose sizes do not fit ``data.scale``: another exact scale
    is set with ``--set data.scale``; other sizes need aligning."""
    other = hr_shape[0] // lr_shape[0] if lr_shape[0] else 0
    if other >= 1 and other != scale and hr_shape == (lr_shape[0] * other, lr_shape[1] * other):
        return (f"This pair is ×{other}: train ×{other} data with --set data.scale={other}, "
                "and keep the pairs of each scale in a separate folder (semsr align --scale "
                "N -o OUT_xN writes one scale)")
    return "Align the pairs first: semsr align LR_DIR HR_DIR -o ALIGNED"


def _read_mask(folder: Path, stem: str, hr_shape: tuple[int, int], scale: int
               ) -> np.ndarray | None:
    """The defect mask ``folder/<stem>.*`` of a pair at HR size, or ``None``."""
    from semsr_core.data.masks import find_mask, read_mask

    path = find_mask(folder, stem)
    return None if path is None else read_mask(path, hr_shape, slack=scale - 1)


def _find(data_dir: Path, cfg: TrainConfig):
    lr_dir, hr_dir = data_dir / "lr", data_dir / "hr"
    if not data_dir.is_dir():
        raise InputError("no such data folder", path=data_dir,
                         hint="Give a folder with lr/ and hr/ subfolders (or hr/ only).")
    if lr_dir.is_dir() and hr_dir.is_dir() and cfg.data.pairing == "paired":
        pairing = find_pairs(lr_dir, hr_dir)
    else:
        pairing = pairs_from_hr(hr_dir if hr_dir.is_dir() else data_dir,
                                cfg.data.degradation, cfg.data.scale)
    if len(pairing) == 0:
        raise InputError("no LR/HR pairs found", path=data_dir,
                         hint="LR and HR files are matched by name: lr/a.tif ↔ hr/a.tif.")
    return pairing


def prepare_data(cfg: TrainConfig, data_dir: str | Path, *,
                 val_dir: str | Path | None = None) -> PreparedData:
    """Read, check and split the data, and build the recipe's datasets."""
    from semsr_core.data.datasets import TrainingPairs, recipe_datasets

    data_dir = Path(data_dir)
    d, seed = cfg.data, cfg.train.seed
    if d.pairing == "unpaired":
        return _prepare_unpaired(cfg, data_dir)
    pairing = _find(data_dir, cfg)
    if val_dir is not None:
        train_pairs, val_list = list(pairing), list(_find(Path(val_dir), cfg))
    else:
        train_pairs, val_list = split_pairs(pairing, d.val_fraction, seed=seed)
    warnings: list[str] = []
    train = _load_pairs(train_pairs, d.scale, seed, warnings)
    val = _load_pairs(val_list, d.scale, seed + 1, warnings)
    scale = d.scale
    if d.generator_input == "zssr":  # [S1] §3.2: pix2pix learns from ZSSR-upscaled LR
        train = [(n, _zssr_upscale(lr, d.scale, d.zssr), hr) for n, lr, hr in train]
        scale = 1
    masks = [_read_mask(data_dir / MASKS_FOLDER, n, hr.shape, d.scale) for n, _, hr in train]
    pairs = TrainingPairs.from_arrays([(lr, hr) for _, lr, hr in train], scale=scale,
                                      names=[n for n, _, _ in train], masks=masks,
                                      mapped=True)
    sets, real_set = recipe_datasets(d, pairs, seed)  # the one dataset factory
    train_set = sets[0] if len(sets) == 1 else Concat(sets)
    from semsr_core.data.references import with_references  # MASA-SR: a reference each

    train_set, val_refs = with_references(cfg, train_set, train, val, data_dir, val_dir)
    summary = {"folder": str(data_dir), "train_pairs": [n for n, _, _ in train],
               "val_pairs": [n for n, _, _ in val], "samples_per_epoch": len(train_set),
               "scale": d.scale, "unmatched": [str(u.path) for u in pairing.unmatched],
               "defect_masks": sum(m is not None for m in masks), "warnings": warnings}
    return PreparedData(train_set, real_set,
                        [ValidationPair(n, lr, hr, ref) for (n, lr, hr), ref in
                         zip(val, val_refs, strict=True)], summary)


def _zssr_upscale(lr: np.ndarray, scale: int, settings: dict[str, Any]) -> np.ndarray:
    """``lr`` enlarged by a ZSSR network trained on ``lr`` alone."""
    from semsr_core.infer import super_resolve
    from semsr_core.models import Model

    up = super_resolve(lr, Model.create("zssr", scale=scale), precision="fp32",
                       output_dtype="float32", zssr_settings=settings or None,
                       intensity=IntensityMapping.identity())
    return np.clip(up, 0.0, 1.0).astype(np.float32)


def _prepare_unpaired(cfg: TrainConfig, data_dir: Path) -> PreparedData:
    from semsr_core.data.pairs import IMAGE_SUFFIXES
    from semsr_core.data.unpaired import UnpairedPatches

    def images(folder: Path) -> list[np.ndarray]:
        if not folder.is_dir():
            raise InputError("unpaired recipes need this folder", path=folder,
                             hint="Put LR-domain images in lr/ and HR-domain images in hr/.")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise InputError("no images (.tif, .png, .jpg) here", path=folder)
        return [_read(p) for p in files]

    x, y = images(data_dir / "lr"), images(data_dir / "hr")
    scale = cfg.data.scale
    if cfg.data.generator_input == "bicubic" and scale > 1:
        from semsr_core.data.resample import upscale

        x = [upscale(img, scale) for img in x]
        scale = 1
    smallest = min(min(img.shape) for img in x)
    per_image = max(1, (smallest // cfg.data.lr_patch) ** 2)
    patch = cfg.data.lr_patch * (cfg.data.scale if scale == 1 and cfg.data.scale > 1 else 1)
    ds = UnpairedPatches(x, y, scale=scale, patch=patch, samples_per_image=per_image,
                         seed=cfg.train.seed)
    return PreparedData(ds, None, [], {"folder": str(data_dir), "x_images": len(x),
                                       "y_images": len(y), "samples_per_epoch": len(ds)})
