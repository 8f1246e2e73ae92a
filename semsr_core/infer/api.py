"""``super_resolve``: the one call that enlarges an image or a stack with a model
(a file: :func:`semsr_core.infer.to_file.super_resolve_file`, built on the same run).

    >>> from semsr_core import super_resolve
    >>> sr = super_resolve(image, "my-model")                 # 2-D array -> 2-D array
    >>> for sr_slice in super_resolve(stack, model): ...      # lazy Stack -> lazy slices

Everything a call needs is resolved once at its start (device, precision, tile and
batch size, normalisation); nothing is kept between calls. Progress arrives as
:class:`~semsr_core.events.Event` objects through ``on_event`` (stage
``"super-resolve"``, one event per tile; ZSSR models add stage ``"zssr training"``),
and a :class:`~semsr_core.events.CancelToken` stops the work before the next batch of
tiles. Output intensities follow the input's dtype (uint16 in, uint16 out) unless
``output_dtype="float32"``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from semsr_core.data.augment import DIHEDRAL_COUNT, dihedral, undo_dihedral
from semsr_core.data.resample import upscale
from semsr_core.errors import ConfigError, InputError, ModelError
from semsr_core.events import (
    CancelToken,
    EventCallback,
    Message,
    Progress,
    check_cancel,
    emit,
)
from semsr_core.infer import device as devices
from semsr_core.infer import network, normalize, self_check, tiling, variants, zssr
from semsr_core.infer.consistency import ConsistencyLog, SelfCheckFn
from semsr_core.infer.output_check import check_slice
from semsr_core.io.intensity import ClipCount, IntensityMapping

DEFAULT_OVERLAP = 32
"""Input pixels shared by neighbouring tiles (a quarter is cross-faded, the rest is context)."""

STAGE = "super-resolve"


def _as_model(model: Any):
    from semsr_core.models import Model, load_model

    if isinstance(model, Model):
        return model
    if isinstance(model, str | os.PathLike):
        return load_model(model)
    raise TypeError(f"model must be a semsr Model or a model name/path, not {type(model)!r}")


@dataclass
class _Run:
    """Everything resolved for one call: the prepared network and the tiling settings."""

    model: Any
    facts: network.ArchFacts
    net: network.PreparedNetwork
    is_zssr: bool
    zssr_settings: zssr.ZSSRSettings | None
    tile: int
    overlap: int
    batch: int
    precision: str
    output_dtype: str
    mapping: IntensityMapping
    consistency: ConsistencyLog
    slices: int
    height: int
    width: int
    on_event: EventCallback | None
    cancel: CancelToken | None
    progress: tiling.TileProgress = field(default_factory=tiling.TileProgress)
    clipped: ClipCount = field(default_factory=ClipCount)
    slice_index: int = 0
    source: Any = None
    reference: str | None = None  # the reference image of a reference-based model
    variant: dict[str, Any] | None = None  # the clean-variant choice (variants.choose)
    self_ensemble: bool = False  # mean of the 8 rotations/mirrors (ZSSR: its own median)

    # ------------------------------------------------------------------ set-up
    @classmethod
    def start(cls, model: Any, *, height: int, width: int, slices: int, device: str,
              tile: int | None, overlap: int, batch: int | None, precision: str,
              output_dtype: str, scale: int | None, zssr_settings: Any,
              on_event: EventCallback | None, cancel: CancelToken | None,
              values: Any = None, mapping: IntensityMapping | None = None,
              source: Any = None, consistency: str | ConsistencyLog = "model",
              adapt_seconds: float = 0.0, reference: Any = None,
              clean_variant: str = "auto", self_ensemble: bool = False) -> _Run:
        """``values`` (the image, array or lazy stack) gives the intensity mapping,
        computed once for the whole stack, unless ``mapping`` is given, and the noise
        that picks the model's clean variant (``run.model`` is the model used)."""
        card = model.card
        name = card.name or card.arch
        if scale is not None and int(scale) != card.scale:
            raise ModelError(f"model '{name}' enlarges ×{card.scale}, but ×{scale} was asked",
                             hint=f"Choose a ×{scale} model (`semsr models list`) or "
                                  f"drop the scale option to use ×{card.scale}.")
        normalize.check_output_dtype(output_dtype)
        if mapping is None:
            mapping = normalize.mapping_for(values, card.normalization, path=source)
        model, variant = variants.choose(model, values, mapping, clean_variant)
        card = model.card
        if not isinstance(consistency, ConsistencyLog):
            consistency = ConsistencyLog(consistency)
        consistency.resolve(card.training.get("measurement"))
        facts = network.arch_facts(card.arch)
        # ZSSR trains on each image, unless the net was already trained on a dataset
        # (`semsr train zssr` records zssr_per_image = False in the card).
        is_zssr = card.arch == "zssr" and card.training.get("zssr_per_image", True)
        minimum = facts.min_size  # in the network's input pixels
        if facts.input_at_output_size:
            minimum = -(-minimum // card.scale)
        if is_zssr:
            minimum = max(minimum, zssr.minimum_side(card.scale))
        if min(height, width) < minimum:
            raise InputError(f"the image is {height}×{width} pixels, smaller than the "
                             f"{minimum}-pixel minimum of the '{card.arch}' network",
                             hint="Use a larger image (or crop less), or another model.")
        if overlap < 0:
            raise ConfigError(f"overlap {overlap} is negative", hint="Use --overlap 0 or more.")
        if tile is not None and tile < 1:
            raise ConfigError(f"tile size {tile} is not positive",
                              hint="Use --tile 64 or more, or leave it out to choose from memory.")
        if batch is not None and batch < 1:
            raise ConfigError(f"batch size {batch} is not positive",
                              hint="Use --batch 1 or more, or leave it out.")
        torch_device = devices.resolve_device(device)
        dtype = devices.choose_precision(precision, torch_device)
        if torch_device.type == "cpu":
            devices.set_cpu_threads()
        net_scale = 1 if facts.input_at_output_size else card.scale
        from semsr_core.infer.reference import bind_reference

        module, reference_name = bind_reference(model, reference, adapt_seconds)
        net = network.prepare_network(module, device=torch_device, dtype=dtype,
                                      scale=net_scale, in_channels=card.in_channels,
                                      out_channels=card.out_channels,
                                      size_multiple=facts.size_multiple,
                                      check_first_tile=devices.is_auto(precision),
                                      value_range=card.value_range)
        if tile is None or batch is None:
            per_pixel = _probe_bytes_per_pixel(net)
            free = devices.free_memory(torch_device)
        else:
            per_pixel, free = 1.0, 0
        tile, batch = network.choose_tile_and_batch(
            per_pixel=per_pixel, free=free, device_type=torch_device.type, tile=tile,
            batch=batch, overlap=overlap, multiple=facts.size_multiple)
        settings = None
        if is_zssr:
            settings = zssr_settings if isinstance(zssr_settings, zssr.ZSSRSettings) else \
                zssr.ZSSRSettings.from_dict(zssr_settings or card.training.get("zssr"))
        elif adapt_seconds:
            if adapt_seconds < 0 or facts.input_at_output_size:
                raise ConfigError(f"cannot adapt '{card.arch}' models for {adapt_seconds:g} s",
                                  hint="Give --adapt a positive number of seconds, for a "
                                       "model that enlarges the LR itself.")
            if not zssr.adaptable(card.arch, card.training.get("measurement")):
                emit(on_event, Message(zssr.NOT_ADAPTABLE.format(name=name), level="warning"))
            else:
                settings = zssr.adaptation_settings(adapt_seconds)
        run = cls(model, facts, net, is_zssr, settings, tile, overlap, batch,
                  devices.precision_name(dtype),
                  output_dtype, mapping, consistency, slices, height, width, on_event,
                  cancel)
        run.source = source
        run.reference = reference_name
        run.variant = variant
        run.self_ensemble = bool(self_ensemble) or bool(is_zssr and settings.self_ensemble)
        if variant is not None and variant["used"]:
            emit(on_event, Message(variant["reason"], level="info"))
        run.progress.report = run._report
        run._plan_remaining(slices)
        return run

    # ---------------------------------------------------------------- progress
    def _tiles_per_slice(self) -> int:
        s = self.model.card.scale if self.facts.input_at_output_size else 1
        plan = tiling.plan_tiles(self.height * s, self.width * s, self.tile, self.overlap)
        return len(plan) * (DIHEDRAL_COUNT if self.self_ensemble else 1)

    def _plan_remaining(self, remaining_slices: int) -> None:
        self.progress.planned = self.progress.done + self._tiles_per_slice() * remaining_slices

    def _report(self, done: int, planned: int) -> None:
        emit(self.on_event, Progress(stage=STAGE, done=done, total=planned, unit="tile",
                                    postfix=f"slice {self.slice_index + 1}/{self.slices}"))

    def _shrunk(self, tile: int) -> None:
        self.tile = tile
        emit(self.on_event, Message(f"out of memory on {self.net.device}; continuing with "
                                   f"{tile}-pixel tiles", level="warning"))

    # ------------------------------------------------------------------- work
    def settings(self) -> dict[str, Any]:
        """The settings used, for provenance."""
        data = {"device": str(self.net.device), **self.net.precision_settings(),
                "tile": self.tile, "overlap": self.overlap, "batch": self.batch,
                "output_dtype": self.output_dtype}
        if self.zssr_settings is not None:
            data["zssr"] = self.zssr_settings.to_dict()
        if self.reference is not None:
            data["reference"] = self.reference
        if self.variant is not None:
            data["clean_variant"] = self.variant
        if self.self_ensemble:  # ZSSR: the median of the 8, else their mean
            data["self_ensemble"] = True
        return data

    def resolve_slice(self, image: np.ndarray, index: int) -> np.ndarray:
        """Super-resolve one 2-D slice; counts clipped pixels in ``self.clipped``."""
        if image.ndim != 2:
            raise InputError(f"slice {index} has shape {image.shape}, not a 2-D image",
                             hint="Give a 2-D image or a (Z, Y, X) stack.")
        if image.shape != (self.height, self.width):
            raise InputError(f"slice {index} is {image.shape[0]}×{image.shape[1]} pixels but "
                             f"the first is {self.height}×{self.width}",
                             hint="All slices of a stack must have the same size.")
        check_cancel(self.cancel)
        self.slice_index = index
        self._plan_remaining(self.slices - index)
        card = self.model.card
        lr = unit = self.mapping.to_unit(image)
        if self.facts.input_at_output_size:
            unit = self._pre_upscale(unit)
        x = normalize.to_network_range(unit, card.value_range)
        net = self.net
        if self.zssr_settings is not None:  # ZSSR, or a model adapted to this image
            trained = zssr.train_zssr(x, self.model.generator, scale=card.scale,
                                      device=self.net.device, settings=self.zssr_settings,
                                      on_event=self.on_event, cancel=self.cancel)
            net = network.prepare_network(trained, device=self.net.device,
                                          dtype=self.net.dtype, scale=self.net.scale,
                                          in_channels=card.in_channels,
                                          out_channels=card.out_channels)
        y = self._ensembled(x, net) if self.self_ensemble else self._tiled(x, net)
        sr, warning = self.consistency.apply(
            lr, normalize.from_network_range(y, card.value_range), card.scale, index,
            self.slices, self_check=self._self_check(net))
        if warning:
            emit(self.on_event, Message(warning, level="warning"))
        out, clipped = self.mapping.from_unit(sr, self.output_dtype)
        check_slice(out, image, index=index, path=self.source, model=card.name or card.arch)
        self.clipped.add(clipped)
        return out

    def _ensembled(self, x: np.ndarray, net: network.PreparedNetwork) -> np.ndarray:
        """The geometric self-ensemble: the network's output for each of the 8
        rotations/mirrors of ``x``, turned back and averaged (ZSSR takes their median,
        as its paper does, holding the 8). The mean holds one sum, not eight outputs."""
        if self.is_zssr:
            outputs = [undo_dihedral(self._tiled(dihedral(x, k), net), k)
                       for k in range(DIHEDRAL_COUNT)]
            return np.median(np.stack(outputs), axis=0).astype(np.float32)
        total = None  # float32, added in place: one output's memory besides the pass's
        for k in range(DIHEDRAL_COUNT):
            y = undo_dihedral(self._tiled(dihedral(x, k), net), k).astype(np.float32)
            if total is None:
                total = y
            else:
                total += y
        total /= DIHEDRAL_COUNT
        return total

    def _self_check(self, net: network.PreparedNetwork) -> SelfCheckFn | None:
        """:mod:`self_check` with this network, where it applies: a network that enlarges
        the LR itself (not one given a pre-enlarged image, nor ZSSR: its own training
        judges it). Its extra pass counts in no progress bar, and is one pass also when the
        result is a self-ensemble (it judges the network, the cheaper way)."""
        if self.facts.input_at_output_size or self.is_zssr:
            return None
        value_range = self.model.card.value_range

        def enlarge(unit: np.ndarray) -> np.ndarray:
            x = normalize.to_network_range(unit, value_range)
            y = self._tiled(x, net, progress=tiling.TileProgress())
            return normalize.from_network_range(y, value_range)

        def note(text: str) -> None:
            where = f"slice {self.slice_index}: " if self.slices > 1 else ""
            emit(self.on_event, Message(where + text, level="info"))

        return self_check.for_network(enlarge, self.model.card.scale, note)

    def _pre_upscale(self, unit: np.ndarray) -> np.ndarray:
        """The LR image on the output grid for networks that work at the output size:
        bicubic, or ZSSR trained on this image when the card says so (zssr_pix2pix)."""
        card = self.model.card
        if card.training.get("pre_upscale") == "zssr":
            from semsr_core.models import Model

            upscaler = Model.create("zssr", scale=card.scale)
            return np.clip(super_resolve(unit, upscaler, device=str(self.net.device),
                                         precision="fp32", output_dtype="float32",
                                         intensity=IntensityMapping.identity(),
                                         zssr_settings=card.training.get("zssr"),
                                         on_event=self.on_event, cancel=self.cancel), 0, 1)
        return upscale(unit, card.scale, clip=False)

    def _tiled(self, x: np.ndarray, net: network.PreparedNetwork,
               progress: tiling.TileProgress | None = None) -> np.ndarray:
        result = tiling.run_tiled(
            x[None], partial(network.run_network, net), scale=net.scale, out_channels=1,
            tile=self.tile, overlap=self.overlap, batch=self.batch,
            size_multiple=net.size_multiple, progress=progress or self.progress,
            cancel=self.cancel,
            is_out_of_memory=devices.is_out_of_memory,
            release_memory=partial(devices.release_cached_memory, net.device),
            on_tile_shrink=self._shrunk)
        return result[0]

    def warn_if_clipped(self) -> None:
        if self.clipped.total:
            emit(self.on_event, Message(self.clipped.note(), level="warning"))


def _probe_bytes_per_pixel(net: network.PreparedNetwork) -> float:
    """Memory per input pixel, or a clear error when not even the probe tile fits."""
    try:
        return network.bytes_per_pixel(net)
    except Exception as error:
        if not devices.is_out_of_memory(error):
            raise
    # out of memory: the traceback has let go of the probe's tensors by now
    devices.release_cached_memory(net.device)
    raise ModelError(f"out of memory on {net.device} even for a small probe tile",
                     hint="Close other programs using the device, give --tile and --batch "
                          "explicitly, use a lower --precision, or --device cpu.")


def _stack_shape(images: Any) -> tuple[int, int, int]:
    shape = tuple(getattr(images, "shape", ()))
    if len(shape) != 3:
        raise InputError(f"expected a 2-D image or a (Z, Y, X) stack, got shape {shape}",
                         hint="Give one grayscale image or a stack of them.")
    if min(shape) < 1:
        raise InputError(f"the stack of shape {shape} is empty", hint="Give a non-empty image.")
    return shape  # type: ignore[return-value]


def super_resolve(image_or_stack: Any, model: Any, *, device: str = "auto",
                  tile: int | None = None, overlap: int = DEFAULT_OVERLAP,
                  batch: int | None = None, precision: str = "auto",
                  output_dtype: str = "input", scale: int | None = None,
                  zssr_settings: Any = None, on_event: EventCallback | None = None,
                  cancel: CancelToken | None = None,
                  intensity: IntensityMapping | None = None,
                  consistency: str | ConsistencyLog = "model",
                  adapt_seconds: float = 0.0, reference: Any = None,
                  clean_variant: str = "auto", self_ensemble: bool = False) -> Any:
    """Super-resolve an image or a stack with ``model``.

    image_or_stack: a 2-D array (returns a 2-D array), a (Z, Y, X) array (returns a
        3-D array), or a lazily-read :class:`~semsr_core.io.Stack` (returns an iterator
        that reads, enlarges and yields one slice at a time: bounded memory).
    model: a :class:`~semsr_core.models.Model`, or a model name or file path.
    device: ``auto`` (CUDA → MPS → CPU), ``cpu``, ``cuda``, ``cuda:<i>`` or ``mps``.
    tile, batch: tile side in input pixels and tiles per forward pass; chosen from the
        free device memory when not given. A tile-size change does not change the
        output (within float tolerance, for networks whose receptive field fits the
        overlap's context margin).
    overlap: input pixels shared by neighbouring tiles.
    precision: ``auto`` (bf16 on CUDA where supported, else fp16; bf16 on CPUs with
        native bf16 (AMX/AVX-512-BF16), checked against fp32 on the first tile; fp32
        elsewhere), ``fp32``, ``fp16`` or ``bf16``.
    output_dtype: ``input`` (the input's dtype and range; integers rounded and clipped,
        clipping reported as a warning event) or ``float32`` (unrounded, unclipped,
        in the input's intensity units).
    scale: the enlargement the caller expects; a model of another scale is an error.
    zssr_settings: :class:`~semsr_core.infer.zssr.ZSSRSettings` or a dict, for ZSSR
        models (default: the card's ``training["zssr"]``, else the defaults).
    intensity: the intensity mapping to use (e.g. the whole stack's when one slice of
        it is enlarged); by default the policy's mapping of ``image_or_stack`` as a whole.
    consistency: the measurement-consistency guard
        (:mod:`semsr_core.infer.consistency`): ``model`` (the card's
        ``training.measurement``, as the bundled models have; else ``off`` without
        warnings), ``auto``, ``area``, ``bicubic``, ``crappify`` or ``off`` (no
        projection; the disagreement is still measured and warned about); or a
        :class:`~semsr_core.infer.consistency.ConsistencyLog` to get the per-slice
        summaries and disagreement maps back.
    adapt_seconds: "adapt to this image": before enlarging each slice, fine-tune a copy
        of the model for this long on the slice's own downscaled copies (ZSSR's
        training, :func:`~semsr_core.infer.zssr.adaptation_settings`); 0 = off.
    reference: for reference-based models (MASA-SR) only, and needed by them: an HR
        image of similar content (a file path or a 2-D array) whose texture the model
        transfers (:mod:`semsr_core.infer.reference`).
    clean_variant: ``auto`` enlarges a scan that reads clean with the model's clean
        variant where its card names one (:mod:`semsr_core.infer.variants`; the choice
        is in the settings); ``off`` uses ``model`` as given.
    self_ensemble: enlarge each of the 8 rotations/mirrors of the image and average the
        8 results turned back (8× the time; the guard then applies to the mean). ZSSR
        models take the median of the 8 instead, as its paper does (their own
        ``self_ensemble`` setting turns it on too).
    """
    model = _as_model(model)
    kwargs = dict(device=device, tile=tile, overlap=overlap, batch=batch, precision=precision,
                  output_dtype=output_dtype, scale=scale, zssr_settings=zssr_settings,
                  on_event=on_event, cancel=cancel, values=image_or_stack, mapping=intensity,
                  consistency=consistency, adapt_seconds=adapt_seconds, reference=reference,
                  clean_variant=clean_variant, self_ensemble=self_ensemble)
    if isinstance(image_or_stack, np.ndarray):
        array = image_or_stack
        if array.ndim == 2:
            run = _Run.start(model, height=array.shape[0], width=array.shape[1], slices=1,
                             **kwargs)
            out = run.resolve_slice(array, 0)
            run.warn_if_clipped()
            return out
        z, height, width = _stack_shape(array)
        run = _Run.start(model, height=height, width=width, slices=z, **kwargs)
        first = run.resolve_slice(array[0], 0)
        out = np.empty((z, *first.shape), dtype=first.dtype)
        out[0] = first
        for index in range(1, z):
            out[index] = run.resolve_slice(array[index], index)
        run.warn_if_clipped()
        return out
    z, height, width = _stack_shape(image_or_stack)
    run = _Run.start(model, height=height, width=width, slices=z, **kwargs)
    return _iterate(run, image_or_stack)


def _iterate(run: _Run, stack: Any, settings: dict[str, Any] | None = None
             ) -> Iterator[np.ndarray]:
    """The slices of ``stack`` enlarged; ``settings`` (a file's metadata) is updated after
    each, so that what the first tile decided (the precision check) is recorded."""
    for index in range(len(stack)):
        out = run.resolve_slice(np.asarray(stack[index]), index)
        if settings is not None:
            settings.update(run.settings())
        yield out
    run.warn_if_clipped()
