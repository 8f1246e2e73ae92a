"""Training as library calls (used by ``semsr train``, ``semsr runs`` and the app).

``train`` starts a run in a run folder; ``resume`` continues one from its last
checkpoint with the run's own ``config.toml`` and data folders (``run.json``);
``run_summary`` reads a run folder back for monitors and listings.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from semsr_core.errors import ConfigError, InputError
from semsr_core.events import CancelToken, EventCallback
from semsr_core.io.write import write_bytes_atomic
from semsr_core.train.config import TrainConfig, load_config, validate_config
from semsr_core.train.engine import Trainer, TrainResult
from semsr_core.train.lock import is_main_rank, run_lock
from semsr_core.train.runlog import read_events

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


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
    run_dir = Path(run_dir)
    with run_lock(run_dir, "train", on_event):  # one process per run folder
        if (run_dir / "checkpoints").is_dir() and any((run_dir / "checkpoints").iterdir()):
            raise ConfigError("this run folder already holds a run", path=run_dir,
                              hint="Continue it with --resume, or choose a new --run folder.")
        if is_main_rank():  # under torchrun, one writer of the run folder
            write_bytes_atomic(run_dir / "run.json", json.dumps({
                "data": str(Path(data).resolve()),
                "val": None if val is None else str(Path(val).resolve()),
                "device": device}, indent=2).encode("utf-8"))
        return _run(config, run_dir, Path(data), val, device, max_minutes, on_event, cancel,
                    resume=False)


def resume(run_dir: str | Path, *, data: str | Path | None = None,
           device: str | None = None, max_minutes: float | None = None,
           on_event: EventCallback | None = None,
           cancel: CancelToken | None = None) -> TrainResult:
    """Continue a run from its last checkpoint, with the same config and schedule."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.toml"
    if not config_path.is_file():
        raise InputError("not a run folder (no config.toml)", path=run_dir,
                         hint="Give the folder that `semsr train --run` created.")
    config = validate_config(tomllib.loads(config_path.read_text(encoding="utf-8")),
                             origin=str(config_path))
    info = _run_info(run_dir)
    data_dir = Path(data) if data is not None else Path(info["data"])
    val = info.get("val")
    check_schedule(None, max_minutes)
    with run_lock(run_dir, "train --resume", on_event):  # not while another process trains
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
    from semsr_core.train.config import BUNDLED, apply_overrides, load_raw

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
    return [f"data.scale={scale}"]


def _run_info(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        raise InputError("the run folder has no readable run.json", path=run_dir,
                         hint="Give the data folder again with --data.") from None


def run_summary(run_dir: str | Path) -> dict[str, Any]:
    """What a run did, from its folder: recipe, status, steps, last losses and metrics."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.toml").is_file():
        raise InputError("not a run folder (no config.toml)", path=run_dir)
    events = read_events(run_dir)
    config = tomllib.loads((run_dir / "config.toml").read_text(encoding="utf-8"))
    steps = [e for e in events if e["kind"] == "step"]
    metrics = [e for e in events if e["kind"] == "metrics"]
    finished = [e for e in events if e["kind"] == "finished"]
    status = finished[-1]["status"] if finished else ("running or killed" if steps else "new")
    return {
        "run": str(run_dir),
        "recipe": config.get("recipe", {}).get("name", "?"),
        "status": status,
        "step": steps[-1]["step"] if steps else 0,
        "epoch": steps[-1]["epoch"] if steps else 0,
        "losses": steps[-1]["losses"] if steps else {},
        "metrics": [{k: m[k] for k in ("epoch", "step", "psnr", "ssim", "psnr_bicubic",
                                       "ssim_bicubic") if k in m} for m in metrics],
        "model": str(run_dir / "model.semsr") if (run_dir / "model.semsr").is_file() else None,
        "verdict": finished[-1].get("verdict") if finished else None,
    }


def find_runs(folder: str | Path) -> list[Path]:
    """Run folders (with a config.toml) directly inside ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / "config.toml").is_file())
