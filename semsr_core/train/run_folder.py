"""The run folder: the one reader and writer of a training run's files.

A run folder holds

- ``config.toml``: the run's full configuration (what ``--resume`` continues with);
- ``run.json``: its data and validation folders and device;
- ``events.jsonl``: the events log (:mod:`~semsr_core.train.runlog`), read back as typed
  :class:`~semsr_core.events.Event` objects;
- ``checkpoints/`` (:class:`~semsr_core.train.checkpoint.CheckpointStore`), ``samples/``
  (the validation sample PNGs the log refers to), ``verdict.json`` and the exported
  ``model.semsr``;
- ``.lock`` while a process trains in it (:mod:`~semsr_core.train.lock`).

The trainer, ``semsr train``/``semsr runs`` and the app all go through
:class:`RunFolder`. New runs go into one default runs folder for the command line and
the app alike, :func:`default_runs_dir`: the per-user data folder
(``semsr_core.resources.user_dir("runs")``, relocated by ``SEMSR_HOME``). The app is
started from a menu with no meaningful working directory, so ``./runs`` could not be
its default; with the user data folder ``semsr runs list`` sees the app's runs.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from semsr_core.errors import InputError
from semsr_core.events import Event, Finished, Metrics, RunStatus, Step

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def default_runs_dir() -> Path:
    """Where new runs go unless a folder is given: the user's runs folder."""
    from semsr_core.resources import user_dir

    return user_dir("runs")


def find_runs(folder: str | Path | None = None) -> list[Path]:
    """Run folders (with a config.toml) directly inside ``folder`` (default: the
    default runs folder), sorted by name."""
    folder = Path(folder) if folder is not None else default_runs_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if RunFolder(p).is_run())


class RunFolder:
    """The files of one training run in ``path`` (the folder need not exist yet)."""

    CONFIG = "config.toml"
    INFO = "run.json"
    EVENTS = "events.jsonl"
    CHECKPOINTS = "checkpoints"
    SAMPLES = "samples"
    MODEL = "model.semsr"
    VERDICT = "verdict.json"
    LOCK = ".lock"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @classmethod
    def new(cls, recipe: str | Path, parent: str | Path | None = None) -> RunFolder:
        """A new, not yet existing ``<parent>/<recipe>-<date>-<time>`` (``-2``, ``-3``
        ... when taken); ``parent`` defaults to :func:`default_runs_dir`."""
        parent = Path(parent) if parent is not None else default_runs_dir()
        base = f"{Path(recipe).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
        path, index = parent / base, 1
        while path.exists():
            index += 1
            path = parent / f"{base}-{index}"
        return cls(path)

    # ------------------------------------------------------------------ paths
    @property
    def config_path(self) -> Path:
        return self.path / self.CONFIG

    @property
    def info_path(self) -> Path:
        return self.path / self.INFO

    @property
    def events_path(self) -> Path:
        return self.path / self.EVENTS

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def samples_dir(self) -> Path:
        return self.path / self.SAMPLES

    @property
    def model_path(self) -> Path:
        return self.path / self.MODEL

    @property
    def lock_path(self) -> Path:
        return self.path / self.LOCK

    # ------------------------------------------------------------------ state
    def is_run(self) -> bool:
        """True when the folder holds a run (its config.toml)."""
        return self.config_path.is_file()

    def require(self) -> RunFolder:
        """Self, or an InputError when the folder holds no run."""
        if not self.is_run():
            raise InputError("not a run folder (no config.toml)", path=self.path,
                             hint="Give the folder that `semsr train --run` created.")
        return self

    def has_checkpoints(self) -> bool:
        return self.checkpoints_dir.is_dir() and any(self.checkpoints_dir.iterdir())

    def model(self) -> Path | None:
        """The exported model, if the run wrote one."""
        return self.model_path if self.model_path.is_file() else None

    # ----------------------------------------------------------- config/info
    def write_config(self, config: Any) -> Path:
        """Write the run's TrainConfig as config.toml (atomically)."""
        from semsr_core.io.write import write_bytes_atomic
        from semsr_core.train.config import dump_config

        write_bytes_atomic(self.config_path, dump_config(config).encode())
        return self.config_path

    def read_config_dict(self) -> dict[str, Any]:
        """config.toml as a plain dict."""
        self.require()
        return tomllib.loads(self.config_path.read_text(encoding="utf-8"))

    def load_config(self) -> Any:
        """config.toml as a validated TrainConfig."""
        from semsr_core.train.config import validate_config

        return validate_config(self.read_config_dict(), origin=str(self.config_path))

    def recipe(self) -> str:
        return self.read_config_dict().get("recipe", {}).get("name", "?")

    def write_info(self, data: str | Path, val: str | Path | None, device: str) -> Path:
        """Write run.json: the data and validation folders (absolute) and the device."""
        from semsr_core.io.write import write_bytes_atomic

        write_bytes_atomic(self.info_path, json.dumps({
            "data": str(Path(data).resolve()),
            "val": None if val is None else str(Path(val).resolve()),
            "device": device}, indent=2).encode("utf-8"))
        return self.info_path

    def read_info(self) -> dict[str, Any]:
        try:
            return json.loads(self.info_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            raise InputError("the run folder has no readable run.json", path=self.path,
                             hint="Give the data folder again with --data.") from None

    # ----------------------------------------------------------------- events
    def events_log(self):
        """The events log, opened for appending (a :class:`RunLog`)."""
        from semsr_core.train.runlog import RunLog

        return RunLog(self.path)

    def read_events(self) -> list[Event]:
        """The run's events, typed (a line cut off by a kill is skipped)."""
        from semsr_core.train.runlog import read_events

        return [Event.from_record(record) for record in read_events(self.path)]

    # ---------------------------------------------------------- other parts
    def checkpoints(self, keep_last: int = 3):
        """The run's :class:`CheckpointStore`."""
        from semsr_core.train.checkpoint import CheckpointStore

        return CheckpointStore(self.path, keep_last=keep_last)

    def lock(self, command: str = "train", on_event: Any = None):
        """Hold the run's lock for a ``with`` block (see :func:`run_lock`)."""
        from semsr_core.train.lock import run_lock

        return run_lock(self.path, command, on_event)

    def write_verdict(self, verdict: Any) -> Path:
        from semsr_core.train.verdict import write_verdict

        return write_verdict(self.path, verdict)

    def read_verdict(self) -> Any:
        from semsr_core.train.verdict import read_verdict

        return read_verdict(self.path)

    # ---------------------------------------------------------------- summary
    def summary(self) -> dict[str, Any]:
        """What the run did: recipe, status, step and epoch, last losses, the
        validations, the exported model and the verdict (``semsr runs``, the app)."""
        recipe = self.recipe()  # refuses a folder without config.toml
        payloads = [e.payload for e in self.read_events()]
        steps = [p for p in payloads if isinstance(p, Step)]
        metrics = [p for p in payloads if isinstance(p, Metrics)]
        finished = [p for p in payloads if isinstance(p, Finished)]
        if finished:
            status = (finished[-1].status or RunStatus.FINISHED).value
        else:
            status = "running or killed" if steps else "new"
        keys = ("epoch", "step", "psnr", "ssim", "psnr_bicubic", "ssim_bicubic")
        return {
            "run": str(self.path),
            "recipe": recipe,
            "status": status,
            "step": steps[-1].step if steps else 0,
            "epoch": steps[-1].epoch if steps else 0,
            "losses": dict(steps[-1].losses) if steps else {},
            "metrics": [{k: getattr(m, k) for k in keys if getattr(m, k) is not None}
                        for m in metrics],
            "model": str(self.model_path) if self.model() else None,
            "verdict": dict(finished[-1].verdict) if finished and finished[-1].verdict
            else None,
        }
