"""The work behind the Super-resolve panel, free of Qt so it runs in any thread.

- :func:`super_resolve_layer` enlarges the data of an image layer (a 2-D image, one
  slice of a stack or the whole stack, read lazily slice by slice) and returns the
  new layer: ``"<source> [SR ×s]"``, scale ÷ s, translated so pixel centres align,
  with the model and settings in ``metadata["provenance"]``.
- :func:`super_resolve_files` enlarges files or the images of folders into OME-TIFF
  files in an output folder, yielding each file as it is written.

Both call the engine (:func:`semsr_core.super_resolve`,
:func:`semsr_core.super_resolve_file`); progress arrives through ``on_event`` and
``cancel`` stops them between tiles.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semsr_app.layers import contrast_limits, sr_layer_name, sr_scale_translate

DEFAULT_OVERLAP = 32  # the engine's default (semsr_core.infer.DEFAULT_OVERLAP), without torch


@dataclass(frozen=True)
class SuperResolveSettings:
    """What the user chose: ``device`` ("auto", "cpu", "cuda:0", "mps"), ``tile`` side in
    input pixels (None: from free memory), ``precision``, ``output_dtype``, the
    measurement-consistency guard (``consistency``: "model", "auto", "off", …; see
    :mod:`semsr_core.infer.consistency`) and "adapt to this image" (``adapt_seconds``
    of fine-tuning on the image itself, 0 = off); ``clean_variant`` "auto" enlarges a
    scan that reads clean with the model's clean variant (:mod:`semsr_core.infer.variants`);
    ``self_ensemble``: the mean of the 8 rotations/mirrors (8× the time)."""

    device: str = "auto"
    tile: int | None = None
    precision: str = "auto"
    output_dtype: str = "input"
    overlap: int = DEFAULT_OVERLAP
    consistency: str = "model"
    adapt_seconds: float = 0.0
    clean_variant: str = "auto"
    self_ensemble: bool = False

    def engine_kwargs(self) -> dict[str, Any]:
        return {"device": self.device, "tile": self.tile, "precision": self.precision,
                "output_dtype": self.output_dtype, "overlap": self.overlap,
                "consistency": self.consistency, "adapt_seconds": self.adapt_seconds,
                "clean_variant": self.clean_variant, "self_ensemble": self.self_ensemble}

    def as_dict(self) -> dict[str, Any]:
        """For provenance: ``tile`` None is recorded as "auto"."""
        data = self.engine_kwargs()
        data["tile"] = "auto" if self.tile is None else self.tile
        return data


@dataclass
class LayerSource:
    """An image layer as the job needs it (copied on the main thread)."""

    name: str
    data: Any  # 2-D or (Z, Y, X) array-like (numpy, Dask, semsr Stack)
    scale: tuple[float, ...]
    translate: tuple[float, ...]
    units: tuple[Any, ...] | None = None
    axis_labels: tuple[str, ...] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    slice_index: int | None = None  # only this slice of a stack


LayerData = tuple[Any, dict[str, Any], str]


def super_resolve_layer(source: LayerSource, model: Any, settings: SuperResolveSettings, *,
                        on_event: Any = None, cancel: Any = None,
                        disagreement: list[LayerData] | None = None,
                        reference: Any = None) -> LayerData:
    """Super-resolve a layer's data with ``model`` (a Model, name or file) → new layer data.
    ``reference``: the HR reference image (2-D array) a reference-based model (MASA-SR)
    takes; refused for other models (:mod:`semsr_core.infer.reference`).

    One slice of a stack is mapped to intensities as its whole stack is (the engine's
    policy), so slices enlarged one by one agree. With a ``disagreement`` list, the
    guard's disagreement map is appended to it as a second layer (:func:`disagreement_layer_data`).
    """
    from semsr_core import super_resolve
    from semsr_core.errors import InputError
    from semsr_core.infer.consistency import ConsistencyLog
    from semsr_core.infer.normalize import mapping_for
    from semsr_core.infer.variants import choose
    from semsr_core.models import Model, load_model

    model = model if isinstance(model, Model) else load_model(model)
    data = source.data
    if getattr(data, "ndim", 0) not in (2, 3):
        raise InputError(f"layer '{source.name}' has {getattr(data, 'ndim', 0)} dimensions; "
                         "semsr enlarges 2-D images and (Z, Y, X) stacks",
                         hint="Choose a grayscale image or stack layer.")
    one_slice = source.slice_index is not None and data.ndim == 3
    check_result_fits_in_memory(source.name, 1 if one_slice or data.ndim == 2 else data.shape[0],
                                data.shape[-2:], model.scale, np.dtype(data.dtype),
                                settings.output_dtype)
    intensity = None
    if one_slice:
        image = np.asarray(data[source.slice_index])
        intensity = mapping_for(data, model.card.normalization)  # the whole stack's
    elif data.ndim == 2:
        image = np.asarray(data)
    else:
        image = data  # a lazy stack is read and enlarged slice by slice
    kwargs = settings.engine_kwargs()
    log = ConsistencyLog(kwargs.pop("consistency"), keep_maps=disagreement is not None)
    # the clean variant is chosen here, so that the layer names the model that made it
    model, variant = choose(model, image, intensity, kwargs.pop("clean_variant"))
    result = super_resolve(image, model, **kwargs, consistency=log, intensity=intensity,
                           on_event=on_event, cancel=cancel, reference=reference,
                           clean_variant="off")
    if not isinstance(result, np.ndarray):
        result = _collect(result, data.shape[0])
    if disagreement is not None:
        disagreement.append(disagreement_layer_data(source, log, model))
    layer = sr_layer_data(source, result, model, settings, np.dtype(data.dtype))
    layer[1]["metadata"]["provenance"]["consistency"] = log.record  # as output files have it
    if variant is not None:
        layer[1]["metadata"]["provenance"]["settings"]["clean_variant"] = variant
    return layer


def disagreement_layer_data(source: LayerSource, log: Any, model: Any) -> LayerData:
    """The guard's disagreement map as a napari layer over the source (its pixel grid):
    how far the network departed from the measurement beyond the noise, in the
    network's [0, 1] units; the summary and its regions in ``metadata``."""
    maps = np.stack(log.maps) if len(log.maps) > 1 or (
        source.slice_index is None and np.ndim(source.data) == 3) else log.maps[0]
    translate = tuple(source.translate)
    if maps.ndim == 2 and len(source.scale) == 3:  # one slice: at its depth
        maps = maps[None]
        translate = (translate[0] + (source.slice_index or 0) * source.scale[0],
                     *translate[1:])
    top = float(maps.max()) if maps.size else 0.0
    kwargs: dict[str, Any] = {
        "name": f"{source.name} [disagreement ×{model.scale}]", "scale": tuple(source.scale),
        "translate": translate, "colormap": "magma", "blending": "additive",
        "contrast_limits": [0.0, max(top, 0.05)],
        "metadata": {"consistency": log.record, "model": model.card.name,
                     "what": "departure of the network's output from the measured scan "
                             "beyond its noise (0: agrees); 1 = the full intensity range"}}
    if source.units is not None:
        kwargs["units"] = source.units
    return maps, kwargs, "image"


def check_result_fits_in_memory(name: str, slices: int, shape: Sequence[int], factor: int,
                                input_dtype: np.dtype, output_dtype: str) -> None:
    """Refuse a layer result larger than half the free memory, before any work is done
    (the Files mode streams to disk instead)."""
    import psutil

    from semsr_core.errors import OutputError

    itemsize = 4 if output_dtype == "float32" else input_dtype.itemsize
    needed = slices * shape[0] * factor * shape[1] * factor * itemsize
    available = psutil.virtual_memory().available
    if needed > available / 2:
        raise OutputError(
            f"the ×{factor} result of layer '{name}' would need {needed / 2**30:.1f} GiB of "
            f"memory, more than half of the {available / 2**30:.1f} GiB free",
            hint="Use 'Files or folder', which writes the result to disk slice by slice, or "
                 "'Only the slice on screen'.")


def _collect(slices: Iterator[np.ndarray], count: int) -> np.ndarray:
    """The enlarged slices in one (Z, Y, X) array, filled as they arrive."""
    out = None
    for index, image in enumerate(slices):
        if out is None:
            out = np.empty((count, *image.shape), dtype=image.dtype)
        out[index] = image
    return out


def sr_layer_data(source: LayerSource, result: np.ndarray, model: Any,
                  settings: SuperResolveSettings, input_dtype: np.dtype) -> LayerData:
    """The napari layer of a super-resolved result, placed over its source layer."""
    from semsr_core.infer.device import resolve_device
    from semsr_core.infer.provenance import provenance

    factor = model.scale
    scale, translate = sr_scale_translate(source.scale, source.translate, factor)
    ndim = len(source.scale)
    if ndim == 3 and result.ndim == 2:  # one slice of a stack: keep it at its depth
        result = result[None]
        translate = (translate[0] + source.slice_index * scale[0], *translate[1:])
    source_file = source.metadata.get("source")
    source_file = source_file if isinstance(source_file, str) else None
    record = provenance(model, settings.as_dict(), source_file, settings.output_dtype,
                        input_dtype)
    record["settings"]["device_used"] = str(resolve_device(settings.device))
    record["source_layer"] = source.name
    if source.slice_index is not None and ndim == 3:
        record["slice"] = int(source.slice_index)
    pixel = source.metadata.get("pixel_size_nm")
    metadata = {"provenance": record, "source": source_file,
                "pixel_size_nm": None if pixel is None else pixel / factor}
    kwargs: dict[str, Any] = {"name": sr_layer_name(source.name, factor), "scale": scale,
                              "translate": translate, "metadata": metadata}
    if source.units is not None:
        kwargs["units"] = source.units
    if source.axis_labels is not None:
        kwargs["axis_labels"] = source.axis_labels
    kwargs["contrast_limits"] = list(contrast_limits(result))
    return result, kwargs, "image"


def super_resolve_files(inputs: Sequence[str | os.PathLike], output_folder: str | os.PathLike,
                        model: Any, settings: SuperResolveSettings, *, overwrite: bool = False,
                        on_event: Any = None, cancel: Any = None,
                        reference: Any = None) -> Iterator[Path]:
    """Enlarge each input file (folders: their images) into ``output_folder``
    (``reference``: as for :func:`super_resolve_layer`, the same for every file).

    Outputs are named ``<input stem>_sr<scale>x.ome.tif``; each path is yielded once its
    file is complete, so a cancelled batch still reports what it wrote.
    """
    from semsr_core import super_resolve_file
    from semsr_core.events import Message, emit
    from semsr_core.infer.files import output_paths
    from semsr_core.models import Model, load_model

    model = model if isinstance(model, Model) else load_model(model)
    folder = Path(output_folder)
    folder.mkdir(parents=True, exist_ok=True)
    pairs = output_paths(list(inputs), f"{folder}{os.sep}", model.scale)
    for number, (source, dest) in enumerate(pairs, start=1):
        emit(on_event, Message(text=f"file {number}/{len(pairs)}: {source.name}", level="info"))
        yield super_resolve_file(source, dest, model, overwrite=overwrite,
                                 **settings.engine_kwargs(), on_event=on_event, cancel=cancel,
                                 reference=reference)


def super_resolve_files_on_cluster(inputs: Sequence[str | os.PathLike],
                                   output_folder: str | os.PathLike, model: Any,
                                   settings: SuperResolveSettings, cluster: str, *,
                                   overwrite: bool = False, on_event: Any = None,
                                   cancel: Any = None, reference: Any = None) -> list[Path]:
    """Enlarge each input file on a Dask cluster (``cluster``: ``local`` for a cluster of
    this machine's cores, or a scheduler's address such as ``tcp://host:8786``), one task
    per slice (:func:`semsr_core.infer.batch.super_resolve_batch`). Outputs are named as
    :func:`super_resolve_files` names them; a file is written only when all its slices are
    back, so a cancelled batch keeps the files finished before and leaves no partial one.
    Adapting to each image and reference-based models run only in this process."""
    from semsr_core.errors import Cancelled, ConfigError
    from semsr_core.events import Progress, emit
    from semsr_core.infer.batch import super_resolve_batch
    from semsr_core.models import Model

    if settings.adapt_seconds:
        raise ConfigError("'Adapt to image' does not run on a cluster",
                          hint="Leave the Cluster field empty to adapt in this process.")
    if reference is not None:
        raise ConfigError("a reference-based model does not run on a cluster yet",
                          hint="Leave the Cluster field empty to run it in this process.")
    if isinstance(model, Model):  # ZSSR, made for this run: nothing a worker can load
        raise ConfigError(f"'{model.name}' trains on each image and does not run on a cluster",
                          hint="Leave the Cluster field empty, or choose a model file.")

    def progress(done: int, total: int, what: str) -> None:
        emit(on_event, Progress(done=done, total=total, stage="cluster", unit="slice",
                                postfix=what))
        if cancel is not None and cancel.cancelled:
            raise Cancelled()

    folder = Path(output_folder)
    folder.mkdir(parents=True, exist_ok=True)
    return super_resolve_batch([Path(p) for p in inputs], folder, model, cluster=cluster,
                               device=settings.device, tile=settings.tile,
                               overlap=settings.overlap, precision=settings.precision,
                               output_dtype=settings.output_dtype,
                               consistency=settings.consistency,
                               clean_variant=settings.clean_variant,
                               self_ensemble=settings.self_ensemble, overwrite=overwrite,
                               on_progress=progress)
