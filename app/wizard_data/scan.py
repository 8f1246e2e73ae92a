"""The wizard's data page, free of Qt: pair the LR and HR folders (or list the HR images
when LR is to be made by a degradation) and name the files that cannot be paired or
opened (:func:`scan_data`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.errors import ConfigError, InputError

#: Degradations that make an LR image from an HR one (HR-only data, SPEC §3.3).
DEGRADATIONS = ("bicubic", "crappify", "area", "sem-noise")


@dataclass(frozen=True)
class DataChoice:
    """Where the images are: ``lr_dir`` and ``hr_dir`` matched by stem (or ``rule``), or
    ``hr_dir`` only (``lr_dir`` None) with LR made by ``degradation`` at ``scale``."""

    hr_dir: Path
    lr_dir: Path | None = None
    rule: str | None = None
    degradation: str = "bicubic"
    scale: int = 4

    @property
    def hr_only(self) -> bool:
        return self.lr_dir is None


@dataclass
class DataScan:
    """The pairs found, and the files left out with the reason (unmatched, unreadable)."""

    choice: DataChoice
    pairs: list[Any]  # semsr_core.data.pairs.Pair
    left_out: list[tuple[Path, str]] = field(default_factory=list)

    def describe(self) -> str:
        what = "HR images" if self.choice.hr_only else "LR/HR pairs"
        text = f"{len(self.pairs)} {what} found"
        if self.left_out:
            text += f"; {len(self.left_out)} file(s) left out (listed below)"
        return text + "."



def read_first(path: Path) -> tuple[np.ndarray, float | None]:
    """The first slice of the image stack at ``path`` and its pixel size (nm, or None)."""
    from semsr_core.io import read_stack

    with read_stack(path) as stack:
        return np.asarray(stack[0]), stack.pixel_size


def _unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be opened as an image stack, or None when it can."""
    from semsr_core.io import read_stack

    try:
        with read_stack(path) as stack:
            if len(stack) < 1:
                return "the file holds no image"
    except InputError as exc:
        return str(exc)
    return None


def scan_data(choice: DataChoice) -> DataScan:
    """Pair the chosen folders and open every file's header.

    Pairs with a file that cannot be opened are left out and listed, as are files
    without a partner.

    Raises:
        InputError: a folder is missing, two files share a stem, or nothing usable
            is left.
        ConfigError: the naming rule is not a valid regular expression, the scale or
            the degradation is not one semsr knows.
    """
    from semsr_core.data.pairs import find_pairs, pairs_from_hr

    if choice.hr_only:
        if choice.degradation not in DEGRADATIONS:
            raise ConfigError(f"unknown degradation {choice.degradation!r}",
                              hint=f"Choose one of: {', '.join(DEGRADATIONS)}.")
        if choice.scale not in (2, 4, 8):
            raise ConfigError(f"scale {choice.scale!r} is not one training supports",
                              hint="Choose 2, 4 or 8.")
        pairing = pairs_from_hr(choice.hr_dir, choice.degradation, choice.scale)
    else:
        pairing = find_pairs(choice.lr_dir, choice.hr_dir, rule=choice.rule or None)
    left_out = [(item.path, item.reason) for item in pairing.unmatched]
    pairs = []
    for pair in pairing.pairs:
        problems = [(path, reason) for path in (pair.lr_path, pair.hr_path)
                    if path is not None and (reason := _unreadable(path))]
        if problems:
            left_out += [(path, f"cannot be read: {reason}") for path, reason in problems]
        else:
            pairs.append(pair)
    if not pairs:
        where = choice.hr_dir if choice.hr_only else choice.lr_dir
        raise InputError("none of the images found can be used (see the files left out)",
                         path=where, hint="Fix or remove the broken files, or choose "
                                          "another folder.")
    return DataScan(choice, pairs, left_out)

