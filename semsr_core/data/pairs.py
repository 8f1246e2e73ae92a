"""Finding LR/HR training pairs, their scale factor, and the train/validation split.

A paired dataset is given as (SPEC §3.2):

* two folders, LR and HR, whose files are matched by file-name stem
  (``lr/scan01.tif`` ↔ ``hr/scan01.tif``);
* two folders, or one, with a *naming rule*: a regular expression with a named group
  ``stem`` (and, for a single folder, a group ``role`` whose text is ``lr`` or ``hr``),
  e.g. ``(?P<stem>.+)_(?P<role>lr|hr)\\.tif`` for ``scan01_lr.tif`` / ``scan01_hr.tif``;
* HR only: the LR image is made from HR by a degradation (SPEC §3.3), see
  :func:`pairs_from_hr` and :func:`load_pair`.

Files that cannot be paired are returned in :attr:`Pairing.unmatched` with the reason,
never dropped silently. The split into training and validation sets is by pair, so
tiles of one image never land in both.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from semsr_core.errors import ConfigError, InputError

#: File name endings that are considered images when pairing folders.
IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")

#: Relative tolerance between the size ratio and the integer scale (fields of view of
#: unaligned scans differ a little).
SIZE_TOLERANCE = 0.15
#: Relative tolerance between the pixel-size ratio and the integer scale.
PIXEL_SIZE_TOLERANCE = 0.05


@dataclass(frozen=True)
class Pair:
    """One LR/HR pair of files.

    ``lr_path`` is ``None`` when the LR image is made from HR by ``degradation`` (with
    ``scale``); see :func:`load_pair`.
    """

    stem: str
    hr_path: Path
    lr_path: Path | None = None
    degradation: str | None = None
    scale: int | None = None


@dataclass(frozen=True)
class Unmatched:
    """A file that could not be paired, and why."""

    path: Path
    reason: str


@dataclass
class Pairing:
    """The pairs found in a dataset, and the files that could not be paired."""

    pairs: list[Pair]
    unmatched: list[Unmatched] = field(default_factory=list)

    def __iter__(self) -> Iterator[Pair]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> Pair:
        return self.pairs[index]


def _image_files(folder: Path, what: str) -> list[Path]:
    if not folder.exists():
        raise InputError(f"the {what} folder does not exist", path=folder,
                         hint="check the path")
    if not folder.is_dir():
        raise InputError(f"the {what} path is not a folder", path=folder,
                         hint="give the folder that holds the images")
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in IMAGE_SUFFIXES)


def _compile_rule(rule: str, *, need_role: bool) -> re.Pattern:
    try:
        pattern = re.compile(rule)
    except re.error as exc:
        raise ConfigError(f"the naming rule {rule!r} is not a valid regular expression ({exc})",
                          hint="fix the rule (Python regular expression syntax)") from exc
    needed = ["stem", "role"] if need_role else ["stem"]
    missing = [g for g in needed if g not in pattern.groupindex]
    if missing:
        example = r"(?P<stem>.+)_(?P<role>lr|hr)\.tif" if need_role else r"(?P<stem>.+)_\d+px"
        raise ConfigError(
            f"the naming rule {rule!r} has no named group {' or '.join(missing)!r}",
            hint=f"write it like {example}")
    return pattern


def _stems(files: list[Path], pattern: re.Pattern | None, what: str,
           unmatched: list[Unmatched]) -> dict[str, Path]:
    """Map stem → file; files the rule does not match go to ``unmatched``."""
    found: dict[str, Path] = {}
    for path in files:
        if pattern is None:
            stem = path.stem
        else:
            m = pattern.search(path.name)
            if m is None:
                unmatched.append(Unmatched(path, f"{what} file name does not match the "
                                                 f"naming rule {pattern.pattern!r}"))
                continue
            stem = m.group("stem")
        if stem in found:
            raise InputError(f"two {what} files have the same stem {stem!r}: "
                             f"{found[stem].name} and {path.name}", path=path,
                             hint="rename or remove one of them")
        found[stem] = path
    return found


def find_pairs(lr_dir: str | PathLike | None, hr_dir: str | PathLike, *,
               rule: str | None = None) -> Pairing:
    """Match LR and HR images into pairs.

    Args:
        lr_dir: the LR folder, or ``None`` when LR and HR files share ``hr_dir`` (then
            ``rule`` is required and must have the groups ``stem`` and ``role``).
        hr_dir: the HR folder.
        rule: optional regular expression with a named group ``stem`` (searched in each
            file name); without it the stem is the file name without its ending.

    Returns:
        A :class:`Pairing`: pairs sorted by stem, and the files without a partner.

    Raises:
        InputError: a folder is missing, two files share a stem, or no pair was found.
        ConfigError: the rule is not a valid regular expression or lacks a group.
    """
    hr_dir = Path(hr_dir)
    unmatched: list[Unmatched] = []
    if lr_dir is None or Path(lr_dir) == hr_dir:
        if rule is None:
            raise ConfigError("LR and HR files are in one folder but no naming rule was given",
                              hint=r"give a rule like (?P<stem>.+)_(?P<role>lr|hr)\.tif")
        pattern = _compile_rule(rule, need_role=True)
        lr_files, hr_files = [], []
        for path in _image_files(hr_dir, "image"):
            m = pattern.search(path.name)
            if m is None:
                unmatched.append(Unmatched(path, f"file name does not match the naming "
                                                 f"rule {rule!r}"))
                continue
            role = m.group("role").lower()
            if role == "lr":
                lr_files.append(path)
            elif role == "hr":
                hr_files.append(path)
            else:
                unmatched.append(Unmatched(path, f"the rule's role is {role!r}, not 'lr' or "
                                                 "'hr'"))
        where = hr_dir
    else:
        pattern = None if rule is None else _compile_rule(rule, need_role=False)
        lr_files = _image_files(Path(lr_dir), "LR")
        hr_files = _image_files(hr_dir, "HR")
        where = Path(lr_dir)
    lr_stems = _stems(lr_files, pattern, "LR", unmatched)
    hr_stems = _stems(hr_files, pattern, "HR", unmatched)
    pairs = [Pair(stem=stem, hr_path=hr_stems[stem], lr_path=lr_stems[stem])
             for stem in sorted(lr_stems.keys() & hr_stems.keys())]
    for stem in sorted(lr_stems.keys() - hr_stems.keys()):
        unmatched.append(Unmatched(lr_stems[stem], f"no HR file with the stem {stem!r}"))
    for stem in sorted(hr_stems.keys() - lr_stems.keys()):
        unmatched.append(Unmatched(hr_stems[stem], f"no LR file with the stem {stem!r}"))
    if not pairs:
        seen = ""
        if lr_stems and hr_stems:
            seen = (f"; LR names such as {min(lr_stems)!r}, HR names such as "
                    f"{min(hr_stems)!r}")
        raise InputError(
            f"no LR/HR pairs were found ({len(lr_files)} LR and {len(hr_files)} HR "
            f"images{seen})", path=where,
            hint="An LR file and its HR file must have the same name (stem), e.g. "
                 "lr/scan1.tif and hr/scan1.tif: rename them, or let `semsr align` pair "
                 "them by a naming rule (--rule with a (?P<stem>...) group)")
    return Pairing(pairs=pairs, unmatched=unmatched)


def pairs_from_hr(hr_dir: str | PathLike, degradation: str, scale: int) -> Pairing:
    """Pairs whose LR image is made from each HR image by ``degradation`` (SPEC §3.3).

    The degradation name is checked when the pairs are loaded (:func:`load_pair`).
    """
    scale = _check_scale_value(scale)
    files = _image_files(Path(hr_dir), "HR")
    if not files:
        raise InputError("the HR folder holds no images (.tif, .tiff, .png, .jpg)",
                         path=hr_dir, hint="check the path")
    stems = _stems(files, None, "HR", [])
    pairs = [Pair(stem=stem, hr_path=path, degradation=degradation, scale=scale)
             for stem, path in sorted(stems.items())]
    return Pairing(pairs=pairs)


def load_pair(pair: Pair, rng: np.random.Generator | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
    """Read a pair's first slices as ``(lr, hr)`` arrays.

    For a pair made by :func:`pairs_from_hr`, HR is cropped to a multiple of the scale
    and LR is made from it by the pair's degradation (random parts drawn from ``rng``).
    """
    from semsr_core.io import read_stack

    with read_stack(pair.hr_path) as stack:
        hr = np.asarray(stack[0])
    if pair.lr_path is not None:
        with read_stack(pair.lr_path) as stack:
            return np.asarray(stack[0]), hr
    from semsr_core.data.degrade import degrade

    s = pair.scale
    hr = hr[: hr.shape[0] // s * s, : hr.shape[1] // s * s]
    rng = np.random.default_rng() if rng is None else rng
    return degrade(pair.degradation, hr, s, rng=rng), hr


def _check_scale_value(scale) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 2:
        raise ConfigError(f"scale must be an integer of at least 2, not {scale!r}",
                          hint="use e.g. 2, 3 or 4")
    return int(scale)


def infer_scale(
    lr_shape: Sequence[int],
    hr_shape: Sequence[int],
    lr_pixel_size: float | None = None,
    hr_pixel_size: float | None = None,
    *,
    lr_path: str | PathLike | None = None,
    hr_path: str | PathLike | None = None,
) -> int:
    """The integer scale factor ``s`` between an LR and an HR scan of the same place.

    ``s`` is the ratio of the image sizes rounded to an integer; both axes must agree
    with it within 15% (unaligned scans cover slightly different fields of view). When
    both pixel sizes are known their ratio ``lr_pixel_size / hr_pixel_size`` must be
    ``s`` within 5%.

    Raises:
        InputError: naming both files, when HR is not at least twice LR, the axes
            disagree, or the pixel sizes contradict the sizes.
    """
    names = f"LR {lr_path or 'image'} ({lr_shape[-2]}×{lr_shape[-1]}) and HR " \
            f"{hr_path or 'image'} ({hr_shape[-2]}×{hr_shape[-1]})"
    ratios = [hr_shape[-2] / lr_shape[-2], hr_shape[-1] / lr_shape[-1]]
    scale = round(math.sqrt(ratios[0] * ratios[1]))
    if scale < 2:
        raise InputError(f"{names}: HR is not at least twice as large as LR",
                         hint="check that the LR and HR folders are not swapped")
    if any(abs(r / scale - 1) > SIZE_TOLERANCE for r in ratios):
        raise InputError(f"{names}: the size ratios {ratios[0]:.3g} (rows) and {ratios[1]:.3g} "
                         f"(columns) do not give one integer scale",
                         hint="pair scans of the same place taken at an integer zoom ratio")
    if lr_pixel_size and hr_pixel_size:
        pixel_ratio = lr_pixel_size / hr_pixel_size
        if abs(pixel_ratio / scale - 1) > PIXEL_SIZE_TOLERANCE:
            raise InputError(
                f"{names}: the pixel sizes ({lr_pixel_size:g} and {hr_pixel_size:g}) give a "
                f"scale of {pixel_ratio:.3g}, but the image sizes give {scale}",
                hint="check that the files show the same place at the expected zoom, "
                     "or correct the pixel size metadata")
    return scale


def split_pairs(pairs: Sequence[Pair] | Pairing, val_fraction: float, seed: int = 0
                ) -> tuple[list[Pair], list[Pair]]:
    """Split pairs into ``(train, validation)`` by pair, reproducibly for a seed.

    At least one pair goes to validation when ``val_fraction > 0`` and there are two or
    more pairs; training always keeps at least one.
    """
    if not 0 <= val_fraction < 1:
        raise ConfigError(f"val_fraction must be in [0, 1), not {val_fraction!r}",
                          hint="use e.g. 0.1 for a 10% validation set")
    items = list(pairs)
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_val = round(val_fraction * len(items))
    if val_fraction > 0 and len(items) >= 2:
        n_val = min(max(n_val, 1), len(items) - 1)
    val_idx = set(order[:n_val])
    train = [p for i, p in enumerate(items) if i not in val_idx]
    val = [p for i, p in enumerate(items) if i in val_idx]
    return train, val
