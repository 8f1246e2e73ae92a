"""Atomic training checkpoints in a run folder, keep-last-k plus best.

A checkpoint holds only tensors, numbers, strings and containers of them, so it
is read back with ``torch.load(..., weights_only=True)`` like any file we did not
write ourselves. Writes go to a temporary file in the same folder, are fsynced and
renamed: a run killed at any moment leaves the previous checkpoints intact.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

from semsr_core.errors import InputError
from semsr_core.io.write import atomic_destination

_NAME = re.compile(r"^step_(\d{8})\.pt$")


def atomic_torch_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_destination(path) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())


class CheckpointStore:
    """``RUN/checkpoints/step_XXXXXXXX.pt`` files plus ``best.pt``."""

    def __init__(self, run_dir: Path, keep_last: int = 3):
        self.folder = Path(run_dir) / "checkpoints"
        self.keep_last = keep_last

    def save(self, state: dict[str, Any], step: int) -> Path:
        path = self.folder / f"step_{step:08d}.pt"
        atomic_torch_save(state, path)
        for old in self.all()[: -self.keep_last]:
            old.unlink(missing_ok=True)
        return path

    def save_best(self, state: dict[str, Any]) -> Path:
        path = self.folder / "best.pt"
        atomic_torch_save(state, path)
        return path

    def all(self) -> list[Path]:
        if not self.folder.is_dir():
            return []
        found = [p for p in self.folder.iterdir() if _NAME.match(p.name)]
        return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))

    def latest(self) -> Path | None:
        items = self.all()
        return items[-1] if items else None

    def load(self, path: Path) -> dict[str, Any]:
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a damaged file is reported, never half-used
            raise InputError(f"cannot read checkpoint ({exc})", path=path,
                             hint="Delete this file to resume from the one before it.") from exc

    def clean_partials(self) -> None:
        """Remove temporary files left by a run that was killed while saving."""
        if self.folder.is_dir():
            for p in self.folder.glob(".*.partial"):
                p.unlink(missing_ok=True)
