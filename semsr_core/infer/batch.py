"""Super-resolve many stacks on a ``dask.distributed`` cluster, one task per slice.

    >>> from semsr_core.infer.batch import super_resolve_batch
    >>> super_resolve_batch(["a.tif", "b.tif"], "out", "default-x4", cluster="local",
    ...                     workers=4, on_progress=lambda done, total, text: print(done))

Each slice is a task: the worker reads that slice from the file (nothing else of it),
loads the model once per worker process (a cache keyed by the model file) and enlarges
it with :func:`~semsr_core.infer.api.super_resolve` under the intensity mapping of the
whole stack, computed here once per file exactly as the single-process path computes
it, so the result equals ``semsr super-resolve``'s within float tolerance (the tile
size a worker chooses from its free memory may differ; tiling does not change the
output). Tasks have ``retries`` set, so a slice whose task fails is tried again, and a
worker that dies mid-run has its tasks rescheduled by the scheduler. A file is written
when all its slices are back: OME-TIFF through :func:`semsr_core.io.write_stack`
(atomic, the pixel size ÷ the scale, the provenance), or OME-Zarr
(:mod:`semsr_core.infer.batch_zarr`). The cluster is ``"local"`` (a ``LocalCluster``
of ``workers`` processes with one thread each, made and closed here), a scheduler
address (``tcp://host:8786``) or a ``distributed.Client`` already connected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.errors import ConfigError, ModelError, SemsrError

OUTPUT_FORMATS = ("tiff", "zarr")
RETRIES = 3
"""Further attempts of a failed slice task before the run gives up on it."""

ProgressCallback = Callable[[int, int, str], None]
"""``(slices done, slices in all, what was just finished)``."""

_MODELS: dict[str, Any] = {}
"""The models this worker process has loaded, by model file: each is loaded once."""


def require_distributed() -> None:
    """A clear :class:`SemsrError` when ``dask.distributed`` is not installed."""
    import importlib.util

    if importlib.util.find_spec("distributed") is None:
        raise SemsrError(
            "dask.distributed is not installed, so batches cannot run on a cluster",
            hint="Install it with `pip install 'semsr[cluster]'`.",
        )


def worker_model(model_path: str) -> Any:
    """The model of ``model_path``, loaded once per process and then reused."""
    from semsr_core.models import load_model

    model = _MODELS.get(model_path)
    if model is None:
        model = _MODELS[model_path] = load_model(model_path)
    return model


def resolve_slice_task(
    model_path: str,
    source: str,
    index: int,
    mapping: Any,
    options: dict[str, Any],
    hook: Callable | None = None,
) -> np.ndarray:
    """One task: slice ``index`` of ``source`` enlarged (runs on a worker)."""
    from semsr_core.infer.api import super_resolve
    from semsr_core.io import read_stack

    if hook is not None:
        hook(source, index)
    with read_stack(source) as stack:
        image = np.asarray(stack[index])
    return super_resolve(image, worker_model(model_path), intensity=mapping, **options)


@contextmanager
def connect(cluster: Any = "local", workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client``: of a LocalCluster made (and closed) here for ``"local"``,
    of the scheduler at an address, or ``cluster`` itself when it is a Client."""
    require_distributed()
    from distributed import Client, LocalCluster

    if isinstance(cluster, Client):
        yield cluster
        return
    if cluster in (None, "local"):
        n = workers or max(1, (os.cpu_count() or 1))
        with (
            LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
            ) as local,
            Client(local) as client,
        ):
            yield client
        return
    if not isinstance(cluster, str) or ":" not in cluster:
        raise ConfigError(
            f"cluster {cluster!r} is neither 'local' nor a scheduler address",
            hint="Use --cluster local or --cluster tcp://scheduler:8786.",
        )
    try:
        client = Client(cluster, timeout="20s")
    except OSError as exc:
        raise ConfigError(
            f"cannot reach the Dask scheduler at {cluster}: {exc}",
            hint="Check that the scheduler runs and the address is right.",
        ) from exc
    with client:
        yield client


def output_pairs(
    inputs: list[str | os.PathLike], out: str | os.PathLike, scale: int, output_format: str
) -> list[tuple[Path, Path]]:
    """(input, output) pairs in the folder ``out`` (made when missing), named as
    :func:`~semsr_core.infer.files.output_paths` names them: ``<stem>_sr<scale>x.ome.tif``
    (``.ome.zarr`` for zarr); earlier results in input folders are left out."""
    from semsr_core.infer.files import output_paths
    from semsr_core.io.write import make_folder

    folder = make_folder(out)  # a folder even for one input file
    pairs = output_paths(list(inputs), folder, scale)
    if output_format == "tiff":
        return pairs
    return [(s, d.with_name(d.name[: -len(".ome.tif")] + ".ome.zarr")) for s, d in pairs]


def super_resolve_batch(
    inputs: list[str | os.PathLike],
    out: str | os.PathLike,
    model: str | os.PathLike = "default-x4",
    *,
    cluster: Any = "local",
    workers: int | None = None,
    output_format: str = "tiff",
    scale: int | None = None,
    device: str = "cpu",
    tile: int | None = None,
    overlap: int | None = None,
    batch: int | None = None,
    precision: str = "auto",
    output_dtype: str = "input",
    consistency: str = "model",
    clean_variant: str = "auto",
    self_ensemble: bool = False,
    overwrite: bool = False,
    retries: int = RETRIES,
    on_progress: ProgressCallback | None = None,
    task_hook: Callable | None = None,
) -> list[Path]:
    """Super-resolve image files (or folders of them) into ``out`` on a Dask cluster.

    ``model`` is a model name or file; every worker loads it from the file it resolves
    to, so on a real cluster that path must be readable by the workers (a shared file
    system). ``output_format``: ``tiff`` (OME-TIFF, the default) or ``zarr``
    (OME-Zarr, for results too large for one file). ``on_progress`` is called after
    each slice comes back; ``task_hook(source, index)`` runs on the worker before each
    slice (instrumentation, fault injection in tests). ``clean_variant``: see
    :func:`~semsr_core.infer.api.super_resolve`; chosen once per file, on its first
    slice, so that every slice of a file comes from one model. ``self_ensemble``: see
    :func:`~semsr_core.infer.api.super_resolve`. Returns the files written.
    """
    from semsr_core.infer.api import DEFAULT_OVERLAP
    from semsr_core.models import load_model, resolve_model

    if output_format not in OUTPUT_FORMATS:
        raise ConfigError(
            f"output format '{output_format}' is not known",
            hint="Use tiff (OME-TIFF) or zarr (OME-Zarr).",
        )
    require_distributed()
    model_path = str(resolve_model(model).resolve())
    loaded = load_model(model_path)
    if scale is not None and scale != loaded.scale:
        raise ModelError(
            f"model '{loaded.name or model}' enlarges ×{loaded.scale}, but ×{scale} was asked",
            hint=f"Choose a ×{scale} model or drop the scale.",
        )
    pairs = output_pairs(inputs, out, loaded.scale, output_format)
    options = dict(
        device=device,
        tile=tile,
        batch=batch,
        precision=precision,
        overlap=DEFAULT_OVERLAP if overlap is None else overlap,
        output_dtype=output_dtype,
        consistency=consistency,
        clean_variant="off",  # chosen per file below, not per slice
        self_ensemble=bool(self_ensemble),
    )
    jobs = [_FileJob.plan(source, dest, loaded, overwrite, clean_variant)
            for source, dest in pairs]
    total = sum(job.slices for job in jobs)
    written: list[Path] = []
    with connect(cluster, workers) as client:
        from distributed import as_completed

        futures = {}
        for job in jobs:
            for index in range(job.slices):
                future = client.submit(
                    resolve_slice_task,
                    job.model_path,
                    str(job.source),
                    index,
                    job.mapping,
                    options,
                    task_hook,
                    retries=retries,
                    pure=False,
                    key=f"semsr-{job.source.name}-{index}-{id(job)}",
                )
                futures[future] = (job, index)
        done = 0
        for future in as_completed(list(futures)):
            job, index = futures.pop(future)
            job.results[index] = future.result()
            done += 1
            if on_progress is not None:
                on_progress(done, total, f"{job.source.name} slice {index + 1}/{job.slices}")
            if len(job.results) == job.slices:
                written.append(job.write(options, output_format, overwrite))
    return written


class _FileJob:
    """One input file: its intensity mapping, the slices back so far, its output."""

    def __init__(
        self,
        source: Path,
        dest: Path,
        slices: int,
        mapping: Any,
        pixel_size: float | None,
        unit: str,
        dtype: np.dtype,
        model: Any,
        variant: dict[str, Any] | None,
    ):
        self.source, self.dest, self.slices, self.mapping = source, dest, slices, mapping
        self.pixel_size, self.unit, self.dtype = pixel_size, unit, dtype
        self.model, self.variant = model, variant  # the model this file is enlarged by
        self.model_path = str(Path(model.path).resolve())
        self.results: dict[int, np.ndarray] = {}

    @classmethod
    def plan(cls, source: Path, dest: Path, model: Any, overwrite: bool,
             clean_variant: str = "auto") -> _FileJob:
        from semsr_core.infer import normalize, variants
        from semsr_core.io import read_stack
        from semsr_core.io.write import _check_destination

        if dest.suffix == ".tif":  # refused before any work, as write_stack would refuse
            _check_destination(dest, dest.parent, [source], overwrite)
        elif dest.exists() and not overwrite:
            raise ConfigError(f"{dest} exists", hint="Use --overwrite to replace it.")
        with read_stack(source) as stack:
            mapping = normalize.mapping_for(stack, model.card.normalization, path=source)
            chosen, variant = variants.choose(model, stack, mapping, clean_variant)
            return cls(
                source, dest, len(stack), mapping, stack.pixel_size, stack.unit or "nm",
                stack.dtype, chosen, variant,
            )

    def write(self, options: dict[str, Any], output_format: str, overwrite: bool) -> Path:
        from semsr_core.infer.provenance import output_pixel_size, provenance
        from semsr_core.io import write_stack

        model = self.model
        settings = {**options, "executor": "dask.distributed", "tasks": "one per slice"}
        settings.pop("clean_variant")
        if self.variant is not None:
            settings["clean_variant"] = self.variant
        meta = provenance(
            model, settings, self.source, options["output_dtype"], self.dtype, self.mapping
        )
        pixel_size = output_pixel_size(self.pixel_size, model.scale)
        slices = (self.results.pop(i) for i in range(self.slices))
        if output_format == "zarr":
            from semsr_core.infer.batch_zarr import write_ome_zarr

            return write_ome_zarr(
                self.dest,
                slices,
                self.slices,
                pixel_size=pixel_size,
                unit=self.unit,
                metadata=meta,
                overwrite=overwrite,
            )
        return write_stack(
            self.dest,
            slices,
            pixel_size=pixel_size,
            unit=self.unit,
            metadata=meta,
            protect=[self.source],
            overwrite=overwrite,
        )
