"""Training as library calls (used by ``semsr train``, ``semsr runs`` and the app).

``train`` starts a run in a run folder; ``resume`` continues one from its last
checkpoint with the run's own ``config.toml`` and data folders (``run.json``);
``run_summary`` reads a run folder back for monitors and listings. The files of a run
are read and written by :class:`~semsr_core.train.run_folder.RunFolder`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from semsr_core.errors import ConfigError
from semsr_core.events import CancelToken, EventCallback
from semsr_core.train.config import TrainConfig, load_config
from semsr_core.train.engine import Trainer, TrainResult
from semsr_core.train.lock import is_main_rank
from semsr_core.train.run_folder import RunFolder, find_runs

__all__ = ["check_schedule", "find_runs", "resume", "run_summary", "train"]


def train(recipe: str | Path | TrainConfig, data: str | Path, run_dir: str | Path, *,
          val: str | Path | None = None, overrides: list[str] | None = None,
          device: str = "auto", max_minutes: float | None = None,
          on_event: EventCallback | None = None,
          cancel: CancelToken | None = None) -> TrainResult:
    """Train ``recipe`` (name, TOML path or config) on ``data`` into a new run folder.

    A recipe that starts from the bundled model (``generator.init = "bundled"``, as
    ``finetune``) takes the scale of the data unless an override sets ``data.scale``."""
    if not isinstance(recipe, TrainConfig):
        overrides = list(overrides or []) + _scale_of_data(recipe, overrides or [], data)
    config = recipe if isinstance(recipe, TrainConfig) else load_config(recipe, overrides)
    check_schedule(config, max_minutes)
    folder = RunFolder(run_dir)
    run_dir = folder.path
    with folder.lock("train", on_event):  # one process per run folder
        if folder.has_checkpoints():
            raise ConfigError("this run folder already holds a run", path=run_dir,
                              hint="Continue it with --resume, or choose a new --run folder.")
        if is_main_rank():  # under torchrun, one writer of the run folder
            folder.write_info(data, val, device)
        return _run(config, run_dir, Path(data), val, device, max_minutes, on_event, cancel,
                    resume=False)


def resume(run_dir: str | Path, *, data: str | Path | None = None,
           device: str | None = None, max_minutes: float | None = None,
           on_event: EventCallback | None = None,
           cancel: CancelToken | None = None) -> TrainResult:
    """Continue a run from its last checkpoint, with the same config and schedule."""
    folder = RunFolder(run_dir).require()
    run_dir = folder.path
    config = folder.load_config()
    info = folder.read_info()
    data_dir = Path(data) if data is not None else Path(info["data"])
    val = info.get("val")
    check_schedule(None, max_minutes)
    with folder.lock("train --resume", on_event):  # not while another process trains
        return _run(config, run_dir, data_dir, val, device or info.get("device", "auto"),
                    max_minutes, on_event, cancel, resume=True)


def check_schedule(config: TrainConfig | None, max_minutes: float | None) -> None:
    """Refuse a run that would train nothing: a time limit that is not a positive number
    of minutes, or phases of 0 epochs each (the model exported would be untrained)."""
    import math

    if max_minutes is not None and not (isinstance(max_minutes, int | float)
                                        and math.isfinite(max_minutes) and max_minutes > 0):
        raise ConfigError(f"--max-minutes {max_minutes}: give a positive number of minutes",
                          hint="Leave it out to train the recipe's full schedule.")
    if config is not None and not any(phase.epochs > 0 for phase in config.phases):
        names = ", ".join(f"phases.{p.name}.epochs" for p in config.phases)
        raise ConfigError(f"{names}: every phase has 0 epochs, so nothing would be trained",
                          hint=f"Give at least one phase 1 epoch or more, e.g. --set "
                               f"phases.{config.phases[-1].name}.epochs=1.")


def _run(config: TrainConfig, run_dir: Path, data: Path, val, device: str,
         max_minutes: float | None, on_event, cancel, *, resume: bool) -> TrainResult:
    from semsr_core.train.data import prepare_data

    prepared = prepare_data(config, data, val_dir=val)
    trainer = Trainer(config, run_dir, train_set=prepared.train_set,
                      real_set=prepared.real_set, val_pairs=prepared.val_pairs,
                      device=device, on_event=on_event, cancel=cancel,
                      max_minutes=max_minutes, data_summary=prepared.summary)
    return trainer.run(resume=resume)


def _scale_of_data(recipe: str | Path, overrides: list[str], data: str | Path) -> list[str]:
    """``["data.scale=<s>"]`` for a recipe that fine-tunes the bundled model of the data's
    scale (and whose scale no override sets), read from the LR/HR sizes; else ``[]``."""
    from semsr_core.data.pairs import find_pairs, infer_scale
    from semsr_core.io import read_stack
    from semsr_core.train.config import apply_overrides, load_raw
    from semsr_core.train.init_model import BUNDLED

    raw = apply_overrides(load_raw(recipe)[0], overrides)
    if raw.get("generator", {}).get("init") != BUNDLED:
        return []
    if any(item.split("=", 1)[0].strip() == "data.scale" for item in overrides):
        return []
    data = Path(data)
    if not (data / "lr").is_dir() or not (data / "hr").is_dir():
        return []  # HR-only data: the recipe's (or --set data.scale) scale makes the LR
    pairing = find_pairs(data / "lr", data / "hr")
    if len(pairing) == 0:
        return []  # the data step reports it
    pair = pairing[0]
    with read_stack(pair.lr_path) as lr, read_stack(pair.hr_path) as hr:
        scale = infer_scale(lr.shape, hr.shape, lr_path=pair.lr_path, hr_path=pair.hr_path)
        sizes = f"LR {lr.shape[-2]}×{lr.shape[-1]}, HR {hr.shape[-2]}×{hr.shape[-1]}"
    _require_bundled_start(scale, data, f"{pair.lr_path.name}: {sizes}")
    return [f"data.scale={scale}"]


def _require_bundled_start(scale: int, data: Path, sizes: str) -> None:
    """Refuse, naming the data, a fine-tune of ×``scale`` pairs when no bundled model of
    that scale exists (the error would otherwise blame an override the user never gave)."""
    from semsr_core.errors import ModelError
    from semsr_core.models import resolve_model
    from semsr_core.train.init_model import bundled_model_name

    try:
        resolve_model(bundled_model_name(scale))
    except ModelError:
        raise ConfigError(
            f"the pairs in {{path}} are ×{scale} ({sizes}), and no bundled model enlarges "
            f"×{scale} to start a fine-tune from (`semsr models list`)", path=data,
            hint="Choose a recipe that trains from scratch (`semsr runs recipes`), or start "
                 f"from a ×{scale} model file: --set generator.init=\"FILE.semsr\"."
        ) from None


def run_summary(run_dir: str | Path) -> dict[str, Any]:
    """What a run did, from its folder: recipe, status, steps, last losses and metrics
    (:meth:`RunFolder.summary`)."""
    return RunFolder(run_dir).summary()
