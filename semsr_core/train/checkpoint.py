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
from semsr_core.io.write import atomic_destination, make_folder

_NAME = re.compile(r"^step_(\d{8})\.pt$")


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` through a temporary file; any write error (torch's "enforce fail at
    inline_container.cc" on a full disk included) is one OutputError naming the file
    and the space it needs."""
    path = Path(path)
    make_folder(path.parent)
    with atomic_destination(path, needed=_tensor_bytes(obj)) as tmp, open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())


def _tensor_bytes(obj: Any) -> int:
    """About the size of ``obj`` on disk: the bytes of the tensors it holds."""
    if torch.is_tensor(obj):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(_tensor_bytes(v) for v in obj)
    return 64


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
            if "Weights only load failed" in str(exc):  # holds code or Python objects
                raise InputError("the checkpoint holds Python objects, not only tensors, "
                                 "and is refused for safety", path=path,
                                 hint="Delete it to resume from the one before it.") from None
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise InputError(f"cannot read the checkpoint ({first or type(exc).__name__})",
                             path=path,
                             hint="Delete this file to resume from the one before it.") from None

    def clean_partials(self) -> None:
        """Remove temporary files left by a run that was killed while saving."""
        if self.folder.is_dir():
            for p in self.folder.glob(".*.partial"):
                p.unlink(missing_ok=True)
