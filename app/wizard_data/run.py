"""The wizard's run page, free of Qt: a new run folder in the runs folder shared with the
CLI (:func:`new_run_folder`) and the staged data moved into it (:func:`move_data_into_run`)."""

from __future__ import annotations

import shutil
from os import PathLike
from pathlib import Path

from semsr_core.errors import OutputError


def new_run_folder(recipe: str, parent: str | PathLike | None = None) -> Path:
    """A new, not yet existing folder ``<runs>/<recipe>-<date>-<time>`` (``<runs>`` is
    the runs folder shared with the CLI, ``semsr_core.train.run_folder.default_runs_dir``)."""
    from semsr_core.train.run_folder import RunFolder

    return RunFolder.new(recipe, parent).path


def move_data_into_run(staged: str | PathLike, run_dir: str | PathLike) -> Path:
    """Move the wizard's staged data folder to ``run_dir/data`` and return it.

    Raises:
        OutputError: ``run_dir`` already holds a run or a data folder.
    """
    run_dir = Path(run_dir)
    target = run_dir / "data"
    if (run_dir / "config.toml").exists():
        raise OutputError("this folder already holds a training run", path=run_dir,
                          hint="Choose a new run folder.")
    if target.exists():
        raise OutputError("the run folder already has a data folder", path=target,
                          hint="Choose a new run folder.")
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.move(str(staged), str(target))
    return target
