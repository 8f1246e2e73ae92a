"""Evaluating models against the bicubic baseline on a paired dataset: :func:`evaluate`.

The dataset folder holds ``lr/`` and ``hr/`` (files matched by name stem) and, on
simulated or annotated data, ``masks/`` (defect labels at HR size, 0 = background).
Of a multi-page file only the first slice is evaluated. Every image is mapped to
[0, 1] by its dtype range (uint8 ÷ 255, uint16 ÷ 65535; float images must already be
in [0, 1]). Each model enlarges each LR image
(:func:`semsr_core.super_resolve`, float output clipped to [0, 1]); the baseline is
:func:`semsr_core.data.resample.upscale`. Then, per pair:

* **reference** — HR is exactly ``scale`` × LR in size: the pair is taken as aligned
  (simulated data, or pairs written by ``semsr align``) and all metrics are computed;
  a same-size pair that is in fact shifted is not detected here — align it first;
* **aligned** — the sizes differ: the pair is registered with
  :func:`semsr_core.data.align.align_pair` and, if the verdict is "aligned", cropped
  to the common field of view (the mask is moved with HR) and all metrics computed;
* **no-reference** — alignment was suspicious or failed: only the metrics that need no
  pixel alignment are computed (gradient statistics against HR's, spectrum score on
  the common centre), and the report says why;
* **skipped** — the sizes give no integer scale, or another scale than the rest.

Metrics per pair and method: PSNR, SSIM, MSE (whole image, inside defects, background;
:mod:`~semsr_core.metrics.full_reference`), gains over the baseline, gradient
statistics (:mod:`~semsr_core.metrics.no_reference`), the spectrum score
(:mod:`~semsr_core.metrics.spectrum`), NIQE (:mod:`~semsr_core.metrics.niqe`, also
of HR; ``None`` for an image under two 96×96 patches) and, on pairs of matching sizes
with labelled masks (labels are not carried through an alignment), how often the
bundled defect classifier recognises each 64² tile's defect
(:mod:`~semsr_core.metrics.defect_recognition`, also of HR; pooled over the tiles of all
pairs). The report folder is written by :mod:`~semsr_core.metrics.report`.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.errors import ConfigError, InputError, ModelError
from semsr_core.events import (
    CancelToken,
    Event,
    EventCallback,
    Finished,
    Message,
    Progress,
    check_cancel,
    emit,
)
from semsr_core.io.intensity import check_pixels, choose_mapping, to_unit_range
from semsr_core.metrics.aggregate import aggregate, finite_mean, pool_recognition
from semsr_core.metrics.defect_recognition import figures as recognition_figures
from semsr_core.metrics.defect_recognition import recognition
from semsr_core.metrics.full_reference import PSNR_CEILING_DB, region_metrics
from semsr_core.metrics.modes import ALIGNED, NO_REFERENCE, REFERENCE, SKIPPED
from semsr_core.metrics.niqe import niqe
from semsr_core.metrics.no_reference import gradient_stats
from semsr_core.metrics.noisy_reference import noisy_reference_note
from semsr_core.metrics.spectrum import spectrum_score

#: Upscaling methods accepted as the baseline (those of ``upscale``).
BASELINES = ("bicubic", "nearest")

#: Metrics whose gain over the baseline is reported (method − baseline).
GAIN_KEYS = ("psnr", "ssim", "defect_psnr", "background_psnr", "defect_ssim",
             "background_ssim")

@dataclass
class PairEvaluation:
    """The evaluation of one LR/HR pair.

    ``mode`` is one of ``reference``, ``aligned``, ``no-reference``, ``skipped``;
    ``reason`` says why a pair is not full-reference. ``metrics`` maps each method to
    its metrics (see :func:`evaluate`); ``hr`` holds HR's own gradient statistics.
    ``images`` (not written to the report) keeps the arrays for the figures: ``lr``,
    ``hr``, ``mask`` and one per method, all in [0, 1].
    """

    stem: str
    lr_file: str
    hr_file: str
    mask_file: str | None
    mode: str
    reason: str = ""
    scale: int | None = None
    alignment: dict[str, Any] | None = None
    defect_pixels: int | None = None
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)
    hr: dict[str, float | None] = field(default_factory=dict)
    images: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    recognition: dict[str, dict[str, int]] = field(default_factory=dict)  # tile counts

    @property
    def full_reference(self) -> bool:
        return self.mode in (REFERENCE, ALIGNED)

    def summary(self) -> dict[str, Any]:
        """The pair's entry in ``report.json`` (no arrays)."""
        return {
            "stem": self.stem, "lr_file": self.lr_file, "hr_file": self.hr_file,
            "mask_file": self.mask_file, "mode": self.mode, "reason": self.reason,
            "scale": self.scale, "alignment": self.alignment,
            "defect_pixels": self.defect_pixels, "hr": self.hr, "metrics": self.metrics,
            "recognition_tiles": self.recognition,
        }


@dataclass
class Evaluation:
    """The result of :func:`evaluate`: per-pair and aggregate metrics, and the files written.

    ``aggregate`` maps each method to the mean of each metric over the pairs that have
    it (full-reference metrics over reference/aligned pairs, defect metrics over pairs
    with defects, gradient and spectrum numbers over all evaluated pairs), with
    ``pairs_full_reference``, ``pairs_with_defects`` and ``pairs_evaluated`` counts.
    ``hr`` holds the same means of HR's own no-reference numbers (gradients, NIQE).
    """

    data: Path
    scale: int
    baseline: str
    methods: list[str]
    models: dict[str, dict[str, Any]]
    pairs: list[PairEvaluation]
    unmatched: list[dict[str, str]]
    aggregate: dict[str, dict[str, float | int | None]]
    files: dict[str, Path] = field(default_factory=dict)
    hr: dict[str, float | None] = field(default_factory=dict)

    def count(self, mode: str) -> int:
        return sum(p.mode == mode for p in self.pairs)


# ------------------------------------------------------------------ reading data


def _first_slice(path: Path) -> np.ndarray:
    from semsr_core.io import read_stack

    with read_stack(path) as stack:
        return np.asarray(stack[0])


def _shape_and_pixel_size(path: Path) -> tuple[tuple[int, int], float | None]:
    from semsr_core.io import read_stack

    with read_stack(path) as stack:
        return (stack.shape[-2], stack.shape[-1]), stack.pixel_size


# -------------------------------------------------------------------- the models


def _model_name(model: Any, given: Any, taken: set[str]) -> str:
    name = model.name or (Path(os.fspath(given)).stem if isinstance(given, str | os.PathLike)
                          else model.card.arch)
    base, k = name, 2
    while name in taken:
        name, k = f"{base}-{k}", k + 1
    taken.add(name)
    return name


def _load_models(models: Sequence[Any], baseline: str) -> dict[str, Any]:
    from semsr_core.models import Model, load_model

    loaded: dict[str, Any] = {}
    taken = {baseline, "hr"}
    for given in models:
        model = given if isinstance(given, Model) else load_model(given)
        loaded[_model_name(model, given, taken)] = model
    return loaded


def _forward_messages(on_event: EventCallback | None) -> Callable[[Event], None] | None:
    """Pass the model's warnings on, but not its per-tile progress (one bar: the pairs)."""
    if on_event is None:
        return None

    def forward(event: Event) -> None:
        if isinstance(event.payload, Message):
            on_event(event)

    return forward


# ------------------------------------------------------------------ per pair


def _dataset_scale(pairing: Any, on_event: EventCallback | None
                   ) -> tuple[int, dict[str, int], dict[str, str]]:
    """The dataset's scale (most common over pairs), each pair's, and why others are skipped."""
    from semsr_core.data.pairs import infer_scale

    scales: dict[str, int] = {}
    skipped: dict[str, str] = {}
    for pair in pairing:
        (lr_shape, lr_px), (hr_shape, hr_px) = (_shape_and_pixel_size(pair.lr_path),
                                                _shape_and_pixel_size(pair.hr_path))
        try:
            scales[pair.stem] = infer_scale(lr_shape, hr_shape, lr_px, hr_px,
                                            lr_path=pair.lr_path.name,
                                            hr_path=pair.hr_path.name)
        except InputError as exc:
            skipped[pair.stem] = str(exc)
            emit(on_event, Message(f"pair {pair.stem} skipped: {exc}", level="warning"))
    if not scales:
        raise InputError("no pair has LR and HR sizes of one integer scale", path=pairing[0]
                         .lr_path.parent.parent, hint="Check the lr/ and hr/ folders.")
    scale = Counter(scales.values()).most_common(1)[0][0]
    for stem, s in scales.items():
        if s != scale:
            skipped[stem] = (f"its sizes give scale {s}, the dataset's other pairs {scale}")
            emit(on_event, Message(f"pair {stem} skipped: {skipped[stem]}", level="warning"))
    return scale, scales, skipped


def _geometry(lr: np.ndarray, hr: np.ndarray, mask: np.ndarray | None, scale: int
              ) -> tuple[str, str, np.ndarray, np.ndarray, np.ndarray | None, dict | None]:
    """Decide how a pair is compared; returns (mode, reason, lr, hr, mask, alignment)."""
    if hr.shape == (lr.shape[0] * scale, lr.shape[1] * scale):
        return REFERENCE, "", lr, hr, mask, None
    from semsr_core.data.align import ALIGNED as VERDICT_ALIGNED
    from semsr_core.data.align import align_pair
    from semsr_core.data.masks import carry_mask

    try:
        result = align_pair(lr, hr, scale)
    except InputError as exc:
        return NO_REFERENCE, f"alignment impossible: {exc}", lr, hr, mask, None
    summary = result.summary()
    if result.verdict != VERDICT_ALIGNED:
        return (NO_REFERENCE, f"alignment {result.verdict}: {result.reason}", lr, hr, mask,
                summary)
    moved = None if mask is None else carry_mask(mask, result)
    reason = (f"sizes differ ({lr.shape[0]}×{lr.shape[1]} LR, {hr.shape[0]}×{hr.shape[1]} "
              f"HR); aligned (shift {summary['shift_y']}, {summary['shift_x']} HR px, NCC "
              f"{summary['ncc_after']}) and cropped to {result.lr.shape[0]}×"
              f"{result.lr.shape[1]} LR px")
    return (ALIGNED, reason, result.lr.astype(np.float32), result.hr.astype(np.float32),
            moved, summary)


def _in_shared_units(lr: np.ndarray, lr_path: Path, hr: np.ndarray, hr_path: Path
                     ) -> tuple[np.ndarray, np.ndarray]:
    """LR and HR in network units. Files of one pixel type share the HR's mapping, so a
    scan and its enlargement compare in the same units (an SR output is written in its
    input's units); files of different types are mapped each by its own."""
    units = choose_mapping(hr, path=hr_path)
    if lr.dtype == hr.dtype:
        return units.to_unit(check_pixels(lr, lr_path)), units.to_unit(hr)
    return to_unit_range(lr, lr_path), units.to_unit(hr)


def _evaluate_pair(pair: Any, mask_path: Path | None, scale: int, models: dict[str, Any],
                   baseline: str, device: str, on_event: EventCallback | None,
                   cancel: CancelToken | None, classifier: Any = None) -> PairEvaluation:
    from semsr_core.data.masks import read_mask
    from semsr_core.data.resample import upscale
    from semsr_core.infer import super_resolve
    from semsr_core.infer.consistency import ConsistencyLog, noise_sigma

    lr, hr = _in_shared_units(_first_slice(pair.lr_path), pair.lr_path,
                              _first_slice(pair.hr_path), pair.hr_path)
    mask = None if mask_path is None else read_mask(mask_path, hr.shape)
    mode, reason, lr, hr, mask, alignment = _geometry(lr, hr, mask, scale)
    result = PairEvaluation(
        stem=pair.stem, lr_file=str(pair.lr_path), hr_file=str(pair.hr_path),
        mask_file=None if mask_path is None else str(mask_path), mode=mode, reason=reason,
        scale=scale, alignment=alignment,
        defect_pixels=None if mask is None or mode not in (REFERENCE, ALIGNED)
        else int(mask.sum()))

    lr_up = upscale(lr, scale)  # LR↑ of the spectrum score: always bicubic
    outputs = {baseline: lr_up if baseline == "bicubic" else upscale(lr, scale, method=baseline)}
    disagreement = {}  # share of LR pixels where the network departed from the scan
    for name, model in models.items():
        check_cancel(cancel)
        log = ConsistencyLog()
        sr = super_resolve(lr, model, device=device, output_dtype="float32",
                           on_event=_forward_messages(on_event), cancel=cancel,
                           consistency=log)
        outputs[name] = np.asarray(sr, dtype=np.float32)
        disagreement[name] = log.record["disagreeing_fraction_max"]

    result.hr = {**gradient_stats(hr), "niqe": _niqe_or_none(hr),
                 "noise_sigma": noise_sigma(hr)}
    for name, image in outputs.items():
        values: dict[str, float | None] = {}
        if result.full_reference:
            values.update(region_metrics(hr, image, mask))
        values.update(gradient_stats(image, hr))
        values["niqe"] = _niqe_or_none(image)
        score = spectrum_score(hr, image, lr_up)
        values["spectrum_score"] = None if math.isnan(score) else score
        if name in disagreement:
            values["disagreement"] = disagreement[name]
        result.metrics[name] = values
    base = result.metrics[baseline]
    for name, values in result.metrics.items():
        if name == baseline:
            continue
        for key in GAIN_KEYS:
            a, b = values.get(key), base.get(key)
            if a is not None and b is not None:
                if key.endswith("psnr"):  # an exact pair (inf) counts as the ceiling
                    a, b = min(a, PSNR_CEILING_DB), min(b, PSNR_CEILING_DB)
                values[f"{key}_gain"] = a - b
    if classifier is not None and mask_path is not None and mode == REFERENCE:
        from semsr_core.data.tile_labels import read_labels

        result.recognition = recognition(classifier, read_labels(mask_path, hr.shape),
                                         {"hr": hr, **outputs})
        result.hr.update(recognition_figures(result.recognition["hr"]))
        for name, values in result.metrics.items():
            values.update(recognition_figures(result.recognition[name]))
    result.images = {"lr": lr, "hr": hr, **outputs}
    if mask is not None:
        result.images["mask"] = mask
    return result


def _niqe_or_none(image: np.ndarray) -> float | None:
    """NIQE of an image, or None where it is undefined (too small, or flat)."""
    try:
        return niqe(image)
    except InputError:
        return None


def _defect_classifier(on_event: EventCallback | None) -> Any:
    """The bundled defect classifier, or None (with a warning) when it cannot be read."""
    from semsr_core.models.classifier import load_classifier

    try:
        return load_classifier()
    except ModelError as exc:
        emit(on_event, Message(f"defect recognition not measured: {exc}", level="warning"))
        return None


# ---------------------------------------------------------------------- public


def dataset_scale(data: str | os.PathLike) -> int:
    """The scale of a dataset folder's LR/HR pairs (the most common), as :func:`evaluate`
    finds it; used to choose the bundled model of that scale."""
    from semsr_core.data.pairs import find_pairs

    data = Path(data)
    if not data.is_dir():
        raise InputError("the dataset folder does not exist", path=data,
                         hint="Give a folder with lr/ and hr/ subfolders.")
    return _dataset_scale(find_pairs(data / "lr", data / "hr"), None)[0]


def evaluate(data: str | os.PathLike, out_dir: str | os.PathLike, models: Sequence[Any] = (),
             *, baseline: str = "bicubic", device: str = "auto", overwrite: bool = False,
             figures: bool = True, on_event: EventCallback | None = None,
             cancel: CancelToken | None = None) -> Evaluation:
    """Compare models and the baseline on every pair of a dataset; write a report folder.

    Args:
        data: dataset folder with ``lr/``, ``hr/`` and optionally ``masks/``.
        out_dir: report folder: ``report.json``, ``report.md``, ``report.csv`` (one row
            per method), ``pairs.csv`` (one row per pair and method) and ``figures/``
            (``<stem>_crops.png``, ``<stem>_spectrum.png``, ``summary.png``).
        models: model names, files or :class:`~semsr_core.models.Model` objects.
        baseline: ``bicubic`` (default) or ``nearest``: the upscaling that gains are
            measured against.
        device: where the models run (``auto``, ``cpu``, ``cuda``, ...).
        overwrite: replace the report of an earlier run in ``out_dir``.
        figures: write the PNG figures.

    Events: a PROGRESS event per pair (stage ``evaluate``), warnings for skipped and
    no-reference pairs, FINISHED with the report path. ``cancel`` is checked between
    pairs and inside inference; after a cancellation or an error the figures of this
    run are removed again and no report is written (with ``overwrite`` the earlier
    report is removed at the start).

    Raises:
        InputError: the folders are missing or hold no pairs, or an image is unusable.
        ModelError: a model's scale is not the dataset's.
        ConfigError: an unknown baseline.
        OutputError: ``out_dir`` holds a report and ``overwrite`` is false.
    """
    from semsr_core.data.masks import MASKS_FOLDER, find_mask
    from semsr_core.data.pairs import find_pairs
    from semsr_core.metrics import report

    if baseline not in BASELINES:
        raise ConfigError(f"baseline '{baseline}' is not known",
                          hint=f"Use one of: {', '.join(BASELINES)}.")
    data = Path(data)
    if not data.is_dir():
        raise InputError("the dataset folder does not exist", path=data,
                         hint="Give a folder with lr/ and hr/ subfolders.")
    out = Path(out_dir)
    report.check_out_dir(out, overwrite)
    loaded = _load_models(models, baseline)
    pairing = find_pairs(data / "lr", data / "hr")
    scale, _, skipped = _dataset_scale(pairing, on_event)
    for name, model in loaded.items():
        if model.scale != scale:
            raise ModelError(f"model '{name}' enlarges ×{model.scale}, but the pairs in "
                             f"{data} are ×{scale}",
                             hint=f"Evaluate a ×{scale} model on this dataset.")
    methods = [baseline, *loaded]
    classifier = _defect_classifier(on_event)
    report.prepare_out_dir(out)

    results: list[PairEvaluation] = []
    written: list[Path] = []
    emit(on_event, Progress(done=0, total=len(pairing), stage="evaluate", unit="pair"))
    try:
        for index, pair in enumerate(pairing):
            check_cancel(cancel)
            if pair.stem in skipped:
                results.append(PairEvaluation(
                    stem=pair.stem, lr_file=str(pair.lr_path), hr_file=str(pair.hr_path),
                    mask_file=None, mode=SKIPPED, reason=skipped[pair.stem]))
            else:
                result = _evaluate_pair(pair, find_mask(data / MASKS_FOLDER, pair.stem), scale,
                                        loaded, baseline, device, on_event, cancel, classifier)
                if result.mode == NO_REFERENCE:
                    emit(on_event, Message(f"pair {pair.stem}: no-reference metrics only "
                                           f"({result.reason})", level="warning"))
                results.append(result)
                if figures:
                    check_cancel(cancel)
                    written += report.write_pair_figures(out, result, methods)
                result.images.clear()  # keep one pair's images in memory at a time
            emit(on_event, Progress(done=index + 1, total=len(pairing), stage="evaluate",
                                    unit="pair"))
        table = aggregate(results, methods)
        hr_means = {key: finite_mean([p.hr.get(key) for p in results if p.mode != SKIPPED])
                    for key in ("grad_mean", "grad_p95", "niqe", "noise_sigma")}
        note = noisy_reference_note(results)
        if note:
            emit(on_event, Message(note, level="warning"))
        pool_recognition(results, methods, table, hr_means)
        evaluation = Evaluation(
            data=data, scale=scale, baseline=baseline, methods=methods,
            models={name: {"arch": m.card.arch, "scale": m.scale,
                           "file": None if m.path is None else str(m.path)}
                    for name, m in loaded.items()},
            pairs=results,
            unmatched=[{"file": str(u.path), "reason": u.reason} for u in pairing.unmatched],
            aggregate=table, hr=hr_means)
        report.write_report(out, evaluation, figures=figures)
    except BaseException:  # cancelled or failed: leave no half report behind
        for path in written:
            path.unlink(missing_ok=True)
        raise
    emit(on_event, Finished(outputs={"report": str(out / "report.json")}))
    return evaluation
