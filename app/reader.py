"""napari reader for SEM images: TIFF/OME-TIFF stacks (and PNG/JPEG) through semsr's I/O.

Each file becomes one image layer whose data is a Dask array over the lazily-read
:class:`~semsr_core.io.Stack` (slices are read when napari shows them, so a stack
larger than memory opens), with the file's pixel size as ``scale`` in nanometres,
``units``, ``axis_labels``, contrast limits from percentiles and the engine's
metadata (vendor, pixel-size source, provenance) in ``metadata``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from semsr_app.layers import contrast_limits, image_layer_kwargs

SUFFIXES = (".tif", ".tiff", ".png", ".jpg", ".jpeg")

LayerData = tuple[Any, dict[str, Any], str]


def get_reader(path: str | list[str]) -> Callable[[Any], list[LayerData]] | None:
    """The napari reader hook: :func:`read_sem` for image files semsr reads, else None."""
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    if not paths or not all(str(p).lower().endswith(SUFFIXES) for p in paths):
        return None
    return read_sem


def read_sem(path: str | os.PathLike | list[str]) -> list[LayerData]:
    """One image layer per file (see the module docstring); raises InputError for bad files."""
    paths = [path] if isinstance(path, str | os.PathLike) else list(path)
    return [stack_layer_data(p) for p in paths]


def layer_name(path: str | os.PathLike) -> str:
    """A layer name from a file name: ``scan.ome.tif`` → ``scan``."""
    name = Path(path).name
    for suffix in (".ome.tiff", ".ome.tif"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return Path(name).stem


def stack_layer_data(path: str | os.PathLike, name: str | None = None) -> LayerData:
    """The (data, kwargs, "image") layer of one file, read lazily."""
    from semsr_core.io import read_stack

    stack = read_stack(path)
    data = lazy_array(stack)
    if stack.shape[0] == 1:
        data = data[0]
    metadata = {**stack.metadata, "pixel_size_nm": stack.pixel_size}
    kwargs = image_layer_kwargs(data.shape, stack.pixel_size, name=name or layer_name(path),
                                metadata=metadata, limits=contrast_limits(stack))
    return data, kwargs, "image"


def lazy_array(stack: Any) -> Any:
    """A Dask array of a :class:`~semsr_core.io.Stack`, one chunk per slice."""
    import dask.array as da
    import numpy as np

    try:
        stamp = os.stat(stack.path).st_mtime_ns
    except OSError:
        stamp = 0
    return da.from_array(stack, chunks=(1, *stack.shape[1:]), name=f"semsr-{stack.path}-{stamp}",
                         meta=np.empty((0, 0, 0), dtype=stack.dtype), asarray=True,
                         lock=False)
