"""A training run as the app starts it, free of Qt so it runs in any thread.

The training wizard fills in a :class:`TrainingRequest`; the training monitor runs it
with :func:`run_training` in a worker thread (napari ``thread_worker``), passing the
engine's events to its plots and a :class:`~semsr_core.events.CancelToken` for
Pause/Resume (``pause()``/``resume()``) and Stop (``cancel()``: the engine checkpoints,
validates and exports the model before it returns).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TrainingRequest:
    """What to train: ``recipe`` is a recipe name or a TOML file, ``data`` a folder with
    ``lr/`` and ``hr/`` (or ``hr/`` only), ``overrides`` ``key=value`` strings as for
    ``semsr train --set``. ``resume`` continues the run in ``run_dir`` instead."""

    recipe: str
    data: Path
    run_dir: Path
    val: Path | None = None
    overrides: list[str] = field(default_factory=list)
    device: str = "auto"
    max_minutes: float | None = None
    resume: bool = False

    def describe(self) -> str:
        """One line for the monitor's title and notifications."""
        what = "resume" if self.resume else f"recipe {self.recipe}"
        return f"{what} → {self.run_dir}"


def run_training(request: TrainingRequest, *, on_event: Any = None, cancel: Any = None
                 ) -> Any:
    """Run (or resume) the request with the engine; returns its ``TrainResult``."""
    from semsr_core.train import resume, train

    if request.resume:
        return resume(request.run_dir, device=request.device,
                      max_minutes=request.max_minutes, on_event=on_event, cancel=cancel)
    return train(request.recipe, request.data, request.run_dir, val=request.val,
                 overrides=list(request.overrides), device=request.device,
                 max_minutes=request.max_minutes, on_event=on_event, cancel=cancel)
