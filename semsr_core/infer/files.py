"""Which files a super-resolve run reads and writes.

``output_paths`` pairs each input (files, or the images in a folder) with its output:
one input and an output named as a file (with an extension, e.g. ``.ome.tif``) → that
file; otherwise the output is a folder — a name without an extension included, so
``-o results`` never makes a file called ``results`` — and each result is named
``<input stem>_sr<scale>x.ome.tif``. In a folder given as input, files named like such
a result (``*_sr<k>x.ome.tif``, ``.tif``, ``.png``, ``.jpg``) are earlier outputs and
are not inputs, so a run with ``-o`` the input folder never enlarges its own results
again; and no output of a run may be one of its inputs.
``check_output_format`` refuses, before any work, a result that the output name's format
cannot hold (a stack or a float image named ``.png``).
``remove_stale_partials`` deletes what a killed earlier run left behind: the hidden
``.<name>.<random>.partial`` files that :func:`semsr_core.io.write_stack` writes before
renaming (a run killed with SIGKILL cannot remove its own).
"""

from __future__ import annotations

import glob
import os
import re
import time
from pathlib import Path

from semsr_core.errors import InputError, OutputError
from semsr_core.io.stack import special_file_kind
from semsr_core.io.write import make_folder

IMAGE_SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")

_EARLIER_OUTPUT = re.compile(r"_sr\d+x(\.disagreement)?(\.ome)?\.(tiff?|png|jpe?g)$",
                             re.IGNORECASE)
"""The name of a super-resolve result: ``<stem>_sr<scale>x.ome.tif`` (or .tif/.png/.jpg),
or of its disagreement map ``<stem>_sr<scale>x.disagreement.ome.tif``."""

STALE_AFTER_S = 600.0
"""A partial file untouched this long belongs to a run that no longer writes it."""


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".ome.tiff", ".ome.tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def disagreement_path(output: str | os.PathLike) -> Path:
    """Where the disagreement map of ``output`` goes: ``a_sr4x.ome.tif`` →
    ``a_sr4x.disagreement.ome.tif`` (always OME-TIFF: the map is float)."""
    output = Path(output)
    name = output.name
    for suffix in (".ome.tiff", ".ome.tif", *IMAGE_SUFFIXES):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return output.with_name(f"{name}.disagreement.ome.tif")


def is_earlier_output(path: str | os.PathLike) -> bool:
    """Whether a file's name is that of a super-resolve result (``*_sr4x.ome.tif``)."""
    return bool(_EARLIER_OUTPUT.search(Path(path).name))


def find_inputs(inputs: list[str | os.PathLike],
                skipped: list[Path] | None = None) -> list[Path]:
    """The image files named, with folders replaced by the images they hold (sorted).

    Files of a folder named like a super-resolve result are left out (and appended to
    ``skipped`` when given); a file named explicitly is always an input.
    """
    found: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            images = sorted(p for p in path.iterdir() if p.is_file()
                            and p.suffix.lower() in IMAGE_SUFFIXES
                            and not p.name.startswith("."))
            earlier = [p for p in images if is_earlier_output(p)]
            images = [p for p in images if not is_earlier_output(p)]
            if skipped is not None:
                skipped.extend(earlier)
            if not images:
                what = (f"only earlier super-resolve results ({earlier[0].name}"
                        + (f" and {len(earlier) - 1} more)" if len(earlier) > 1 else ")")
                        if earlier else "no TIFF, PNG or JPEG images")
                raise InputError(f"the folder holds {what}", path=path,
                                 hint="Give image files or a folder of them (results named "
                                      "*_sr<N>x.* are not taken as inputs).")
            found.extend(images)
        elif path.is_file():
            found.append(path)
        elif path.exists():  # a FIFO, socket or device: never opened (a FIFO would block)
            raise InputError("{path} is " + f"{special_file_kind(path)}, not an image file",
                             path=path,
                             hint="Give a TIFF, PNG or JPEG file or a folder of them.")
        else:
            raise InputError("no such file or folder", path=path, hint="Check the path.")
    return found


def output_paths(inputs: list[str | os.PathLike], output: str | os.PathLike,
                 scale: int, skipped: list[Path] | None = None) -> list[tuple[Path, Path]]:
    """(input, output) pairs for a run; creates the output folder when one is needed.

    No output may be one of the run's inputs (an :class:`OutputError` names both);
    ``skipped`` collects earlier results left out of input folders (:func:`find_inputs`).
    """
    files = find_inputs(inputs, skipped)
    out = Path(output)
    single = len(files) == 1 and not Path(inputs[0]).is_dir()
    if single and _names_a_file(out, output):
        return _not_onto_inputs([(files[0], out)], files)
    if out.exists() and not out.is_dir():
        why = ("an output name without an extension is a folder" if single
               else "several inputs need an output folder")
        raise OutputError(f"{why}, but this is a file", path=out,
                          hint="Give a folder for -o, or name the output file .ome.tif "
                               "(or .tif), .png or .jpg.")
    make_folder(out)  # OutputError when under a file, not writable or the disk is full
    pairs = [(f, out / f"{_stem(f)}_sr{scale}x.ome.tif") for f in files]
    names = [p[1].name for p in pairs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"several inputs would be written as {duplicates[0]}",
                         hint="Rename the inputs or run them separately.")
    return _not_onto_inputs(pairs, files)


def _names_a_file(out: Path, given: str | os.PathLike) -> bool:
    """Whether the output of a single input is that file: not a folder, not written
    as one (a trailing slash), and a name with an extension."""
    return (not out.is_dir() and not str(given).endswith(("/", os.sep))
            and out.suffix != "")


def _identity(path: Path) -> tuple:
    """What makes two names the same file: device and inode when it exists."""
    try:
        info = path.stat()
        return ("inode", info.st_dev, info.st_ino)
    except OSError:
        return ("name", os.path.normcase(path.resolve()))


def _not_onto_inputs(pairs: list[tuple[Path, Path]],
                     files: list[Path]) -> list[tuple[Path, Path]]:
    inputs = {_identity(f): f for f in files}
    for source, dest in pairs:
        other = inputs.get(_identity(dest))
        if other is not None:
            raise OutputError(
                f"the result of {source} would be written onto {other}, which is an "
                "input of this run", path=dest,
                hint="Inputs are never overwritten; choose another output (-o).")
    return pairs


def check_output_format(source: str | os.PathLike, dest: str | os.PathLike,
                        output_dtype: str) -> None:
    """Refuse before any work a result that the format of ``dest``'s name cannot hold:
    a stack, or a pixel type other than 8/16-bit (PNG) or 8-bit (JPEG)."""
    import numpy as np

    from semsr_core.io import read_stack
    from semsr_core.io.picture import check_format_name, check_picture, picture_format

    check_format_name(dest)
    if picture_format(dest) is None:
        return
    with read_stack(source) as stack:
        slices, dtype = len(stack), stack.dtype
    check_picture(dest, slices, np.float32 if output_dtype == "float32" else dtype)


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
