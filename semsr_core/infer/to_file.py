"""``super_resolve_file``: a file in, an OME-TIFF out — the run of
:mod:`semsr_core.infer.api` slice by slice, written atomically with its pixel size,
provenance and the guard's record (and, on request, its disagreement map).

    >>> super_resolve_file("scan.tif", "scan_sr.ome.tif", model)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.events import CancelToken, EventCallback, Finished, Message, emit
from semsr_core.infer.api import DEFAULT_OVERLAP, _as_model, _iterate, _Run
from semsr_core.infer.consistency import ConsistencyLog
from semsr_core.infer.provenance import output_pixel_size, provenance


def super_resolve_file(input_path: str | os.PathLike, output_path: str | os.PathLike,
                       model: Any, *, overwrite: bool = False, device: str = "auto",
                       tile: int | None = None, overlap: int = DEFAULT_OVERLAP,
                       batch: int | None = None, precision: str = "auto",
                       output_dtype: str = "input", scale: int | None = None,
                       zssr_settings: Any = None, on_event: EventCallback | None = None,
                       cancel: CancelToken | None = None,
                       consistency: str | ConsistencyLog = "model",
                       disagreement_map: str | os.PathLike | None = None,
                       adapt_seconds: float = 0.0, reference: Any = None,
                       clean_variant: str = "auto", self_ensemble: bool = False) -> Path:
    """Super-resolve an image/stack file into an OME-TIFF, slice by slice.

    The output appears under ``output_path`` only when complete (atomic write); its
    pixel size is the input's ÷ the scale, and its metadata records the model, the
    settings, the semsr version, the source file, the intensity mapping and what the
    measurement-consistency guard found. The input is never overwritten.
    ``disagreement_map``: also write the guard's disagreement map there (OME-TIFF on the
    input's grid and pixel size: how far the network departed from the measurement
    beyond the noise, in network units). ``adapt_seconds``, ``reference``,
    ``clean_variant``, ``self_ensemble``: see
    :func:`~semsr_core.infer.api.super_resolve`.
    Returns the output path.
    """
    from semsr_core.infer.files import remove_stale_partials
    from semsr_core.io import read_stack, write_stack

    model = _as_model(model)
    for stale in remove_stale_partials(output_path):
        emit(on_event, Message(f"removed {stale.name}, left behind by an interrupted "
                               "earlier run"))
    if disagreement_map is not None:
        if not isinstance(consistency, ConsistencyLog):
            consistency = ConsistencyLog(consistency)
        consistency.keep_maps = True
    with read_stack(input_path) as stack:
        z, height, width = stack.shape
        run = _Run.start(model, height=height, width=width, slices=z, device=device,
                         adapt_seconds=adapt_seconds, reference=reference,
                         tile=tile, overlap=overlap, batch=batch, precision=precision,
                         output_dtype=output_dtype, scale=scale,
                         zssr_settings=zssr_settings, on_event=on_event, cancel=cancel,
                         values=stack, source=input_path, consistency=consistency,
                         clean_variant=clean_variant, self_ensemble=self_ensemble)
        model = run.model  # the clean variant, where it was chosen
        meta = provenance(model, run.settings(), input_path, output_dtype, stack.dtype,
                          run.mapping)
        meta["consistency"] = run.consistency.record  # filled in as the slices are made
        written = write_stack(output_path, _iterate(run, stack, meta["settings"]),
                              pixel_size=output_pixel_size(stack.pixel_size, model.scale),
                              unit=stack.unit or "nm", metadata=meta,
                              protect=[input_path], overwrite=overwrite)
        if disagreement_map is not None:
            write_stack(disagreement_map, np.stack(run.consistency.maps),
                        pixel_size=stack.pixel_size, unit=stack.unit or "nm",
                        metadata={**meta, "operation": "disagreement map"},
                        protect=[input_path, output_path], overwrite=overwrite)
    path = Path(written) if written is not None else Path(output_path)
    emit(on_event, Finished(outputs={
        "output": str(path), "slices": z, "clipped_low": run.clipped.low,
        "clipped_high": run.clipped.high,
        "disagreeing_fraction": run.consistency.record["disagreeing_fraction_max"]}))
    return path
