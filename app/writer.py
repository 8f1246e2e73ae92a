"""napari writers: image layers to OME-TIFF with their pixel size and semsr provenance.

- :func:`write_image` saves one image layer to one ``.ome.tif`` file (File ▸ Save
  Selected Layer(s) with one layer selected).
- :func:`write_images` saves several image layers into a folder, one
  ``<layer name>.ome.tif`` each.

The pixel size comes from the layer's X ``scale`` and ``units`` (a layer in pixels is
written without one); the layer's ``metadata["provenance"]`` (model, settings, source
of a super-resolved layer) goes into the file, where ``semsr info`` and
:func:`semsr_core.io.read_stack` find it again. Writes are atomic, and the file a layer
was read from is never overwritten.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from semsr_app.layers import pixel_size_nm

OME_SUFFIX = ".ome.tif"


def write_image(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Write one image layer (``data`` and napari's layer ``meta``) to ``path`` as OME-TIFF."""
    return [str(_write_layer(Path(path), data, meta))]


def write_images(path: str, layer_data: list[tuple[Any, dict[str, Any], str]]) -> list[str]:
    """Write each image layer into the folder ``path`` as ``<layer name>.ome.tif``."""
    from semsr_core.errors import OutputError

    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise OutputError("several layers are saved into a folder, but this is a file",
                          path=folder, hint="Choose a folder name without an extension.")
    folder.mkdir(parents=True, exist_ok=True)
    names = [file_name(meta.get("name", "layer")) for _data, meta, _kind in layer_data]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise OutputError(f"several selected layers would be saved as {duplicates[0]}",
                          path=folder, hint="Rename the layers so their names differ.")
    return [str(_write_layer(folder / name, data, meta))
            for name, (data, meta, _kind) in zip(names, layer_data, strict=True)]


def file_name(layer_name: str) -> str:
    """A safe ``.ome.tif`` file name for a layer name (path separators and the like → _)."""
    stem = re.sub(r"[^\w\-. ×\[\]()+]", "_", str(layer_name)).strip(" .") or "layer"
    return f"{stem}{OME_SUFFIX}"


def _write_layer(path: Path, data: Any, meta: dict[str, Any]) -> Path:
    from semsr_core.io import write_stack

    if meta.get("rgb"):
        from semsr_core.errors import InputError

        raise InputError(f"layer '{meta.get('name')}' is RGB; semsr writes grayscale images",
                         hint="Convert it to grayscale first.")
    if isinstance(data, list):  # multiscale: the full-resolution level
        data = data[0]
    layer_meta = meta.get("metadata") or {}
    provenance = layer_meta.get("provenance")
    provenance = dict(provenance) if isinstance(provenance, dict) else {}
    provenance.setdefault("napari_layer", meta.get("name", ""))
    sources = (layer_meta.get("source"), provenance.get("source"))
    protect = [s for s in sources if isinstance(s, str) and os.path.isfile(s)]
    size = pixel_size_nm(meta.get("scale", ()), meta.get("units"))
    image = np.asarray(data) if data.ndim == 2 else _Slices(data)
    return write_stack(path, image, pixel_size=size, unit="nm", metadata=provenance,
                       protect=protect, overwrite=True)


class _Slices:
    """The slices of a (Z, Y, X) array-like, read one at a time (for streamed writing)."""

    def __init__(self, data: Any):
        if data.ndim != 3:
            from semsr_core.errors import InputError

            raise InputError(f"a {data.ndim}-D layer cannot be saved as an image stack",
                             hint="Save a 2-D image or a (Z, Y, X) stack.")
        self.data = data
        self.shape = tuple(data.shape)
        self.dtype = np.dtype(data.dtype)

    def __len__(self) -> int:
        return self.shape[0]

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(self.shape[0]):
            yield np.asarray(self.data[index])
