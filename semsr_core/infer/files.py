"""Which files a super-resolve run reads and writes.

``output_paths`` pairs each input (files, or the images in a folder) with its output:
one input and an output that is not a folder → that file; otherwise the output is a
folder and each result is named ``<input stem>_sr<scale>x.ome.tif``.
``remove_stale_partials`` deletes what a killed earlier run left behind: the hidden
``.<name>.<random>.partial`` files that :func:`semsr_core.io.write_stack` writes before
renaming (a run killed with SIGKILL cannot remove its own).
"""

from __future__ import annotations

import glob
import os
import time
from pathlib import Path

from semsr_core.errors import InputError, OutputError

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")

STALE_AFTER_S = 600.0
"""A partial file untouched this long belongs to a run that no longer writes it."""


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def find_inputs(inputs: list[str | os.PathLike]) -> list[Path]:
    """The image files named, with folders replaced by the images they hold (sorted)."""
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            images = sorted(p for p in path.iterdir() if p.is_file()
                            and p.suffix.lower() in IMAGE_SUFFIXES
                            and not p.name.startswith("."))
            if not images:
                raise InputError("the folder holds no TIFF, PNG or JPEG images", path=path,
                                 hint="Give image files or a folder of them.")
            found.extend(images)
        elif path.is_file():
            found.append(path)
        else:
            raise InputError("no such file or folder", path=path, hint="Check the path.")
    return found


def output_paths(inputs: list[str | os.PathLike], output: str | os.PathLike,
                 scale: int) -> list[tuple[Path, Path]]:
    """(input, output) pairs for a run; creates the output folder when one is needed."""
    files = find_inputs(inputs)
    out = Path(output)
    single = len(files) == 1 and not Path(inputs[0]).is_dir()
    if single and not out.is_dir() and not str(output).endswith(("/", os.sep)):
        return [(files[0], out)]
    if out.exists() and not out.is_dir():
        raise OutputError("several inputs need an output folder, but this is a file",
                          path=out, hint="Give a folder for -o.")
    out.mkdir(parents=True, exist_ok=True)
    pairs = [(f, out / f"{_stem(f)}_sr{scale}x.ome.tif") for f in files]
    names = [p[1].name for p in pairs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"several inputs would be written as {duplicates[0]}",
                         hint="Rename the inputs or run them separately.")
    return pairs


def remove_stale_partials(output: str | os.PathLike, *, older_than_s: float = STALE_AFTER_S,
                          now: float | None = None) -> list[Path]:
    """Delete ``.<output name>.*.partial`` files beside ``output`` left by killed runs.

    Only files not modified for ``older_than_s`` seconds are removed, so a run still
    writing the same output is left alone. Returns the files removed.
    """
    out = Path(output)
    if not out.parent.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for candidate in out.parent.glob(f".{glob.escape(out.name)}.*.partial"):
        try:
            if now - candidate.stat().st_mtime >= older_than_s:
                candidate.unlink()
                removed.append(candidate)
        except FileNotFoundError:
            continue
    return removed
