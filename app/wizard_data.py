"""The work behind the training wizard's pages, free of Qt so it runs in any thread.

- Data: :func:`scan_data` pairs the LR and HR folders (or lists the HR images when LR
  is to be made by a degradation) and names the files that cannot be paired or opened.
- Alignment: :func:`check_pairs` aligns every pair (:func:`semsr_core.data.align.align_pair`)
  or, for HR-only data, reads every HR image; :func:`overlay_views` gives the pictures
  to judge a pair by eye; :func:`write_training_data` writes the included pairs into
  ``<data folder>/lr`` and ``hr`` so the run trains on exactly them.
- Augmentation: :func:`augmentation_previews` shows training samples of the chosen
  augmentations (:func:`semsr_core.data.preview.preview`).
- Recipe: :func:`hyperparameters` lists a recipe's main values with their defaults,
  :func:`overrides_for` turns edits into ``--set`` overrides, :func:`validate` checks
  them with the engine's own validation.
- Run: :func:`new_run_folder` and :func:`move_data_into_run`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.errors import ConfigError, InputError, OutputError

#: Degradations that make an LR image from an HR one (HR-only data, SPEC §3.3).
DEGRADATIONS = ("bicubic", "crappify", "area", "sem-noise")
#: Geometric augmentations a recipe's ``data.augment`` may name.
GEOMETRIC = ("rot90flip", "rot16", "stretch_shear", "none")
#: Verdict of an HR image that was read (HR-only data needs no alignment).
READABLE = "readable"


# ------------------------------------------------------------------------ data


@dataclass(frozen=True)
class DataChoice:
    """Where the images are: ``lr_dir`` and ``hr_dir`` matched by stem (or ``rule``), or
    ``hr_dir`` only (``lr_dir`` None) with LR made by ``degradation`` at ``scale``."""

    hr_dir: Path
    lr_dir: Path | None = None
    rule: str | None = None
    degradation: str = "bicubic"
    scale: int = 4

    @property
    def hr_only(self) -> bool:
        return self.lr_dir is None


@dataclass
class DataScan:
    """The pairs found, and the files left out with the reason (unmatched, unreadable)."""

    choice: DataChoice
    pairs: list[Any]  # semsr_core.data.pairs.Pair
    left_out: list[tuple[Path, str]] = field(default_factory=list)

    def describe(self) -> str:
        what = "HR images" if self.choice.hr_only else "LR/HR pairs"
        text = f"{len(self.pairs)} {what} found"
        if self.left_out:
            text += f"; {len(self.left_out)} file(s) left out (listed below)"
        return text + "."


def _unreadable(path: Path) -> str | None:
    """Why ``path`` cannot be opened as an image stack, or None when it can."""
    from semsr_core.io import read_stack

    try:
        with read_stack(path) as stack:
            if len(stack) < 1:
                return "the file holds no image"
    except InputError as exc:
        return str(exc)
    return None


def scan_data(choice: DataChoice) -> DataScan:
    """Pair the chosen folders and open every file's header.

    Pairs with a file that cannot be opened are left out and listed, as are files
    without a partner.

    Raises:
        InputError: a folder is missing, two files share a stem, or nothing usable
            is left.
        ConfigError: the naming rule is not a valid regular expression, the scale or
            the degradation is not one semsr knows.
    """
    from semsr_core.data.pairs import find_pairs, pairs_from_hr

    if choice.hr_only:
        if choice.degradation not in DEGRADATIONS:
            raise ConfigError(f"unknown degradation {choice.degradation!r}",
                              hint=f"Choose one of: {', '.join(DEGRADATIONS)}.")
        if choice.scale not in (2, 4, 8):
            raise ConfigError(f"scale {choice.scale!r} is not one training supports",
                              hint="Choose 2, 4 or 8.")
        pairing = pairs_from_hr(choice.hr_dir, choice.degradation, choice.scale)
    else:
        pairing = find_pairs(choice.lr_dir, choice.hr_dir, rule=choice.rule or None)
    left_out = [(item.path, item.reason) for item in pairing.unmatched]
    pairs = []
    for pair in pairing.pairs:
        problems = [(path, reason) for path in (pair.lr_path, pair.hr_path)
                    if path is not None and (reason := _unreadable(path))]
        if problems:
            left_out += [(path, f"cannot be read: {reason}") for path, reason in problems]
        else:
            pairs.append(pair)
    if not pairs:
        where = choice.hr_dir if choice.hr_only else choice.lr_dir
        raise InputError("none of the images found can be used (see the files left out)",
                         path=where, hint="Fix or remove the broken files, or choose "
                                          "another folder.")
    return DataScan(choice, pairs, left_out)


# -------------------------------------------------------------------- alignment


@dataclass
class PairCheck:
    """One pair as the alignment page shows it.

    ``verdict`` is the alignment's ("aligned", "suspicious", "failed") or, for HR-only
    data, "readable"/"failed"; ``result`` is the :class:`AlignmentResult` (None for
    HR-only data and failures). ``included`` starts true for "aligned" and "readable".
    """

    stem: str
    pair: Any
    verdict: str
    reason: str = ""
    scale: int | None = None
    ncc_before: float | None = None
    ncc_after: float | None = None
    shift: tuple[float, float] | None = None
    result: Any = None
    lr_pixel_size: float | None = None
    hr_pixel_size: float | None = None
    size: tuple[int, int] | None = None
    included: bool = False
    mask_path: Path | None = None  # annotated defects: masks/<stem>.* next to hr/


def _read_first(path: Path) -> tuple[np.ndarray, float | None]:
    from semsr_core.io import read_stack

    with read_stack(path) as stack:
        return np.asarray(stack[0]), stack.pixel_size


def check_pair(pair: Any, *, scale: int | None = None) -> PairCheck:
    """Align one pair (or read one HR image of HR-only data); a problem with the files
    becomes a "failed" check with the reason, never an exception."""
    from semsr_core.data.align import ALIGNED, FAILED, align_pair
    from semsr_core.data.masks import MASKS_FOLDER, find_mask, read_mask
    from semsr_core.data.pairs import infer_scale

    try:
        hr, hr_px = _read_first(pair.hr_path)
        mask_path = find_mask(pair.hr_path.parent.parent / MASKS_FOLDER, pair.stem)
        if mask_path is not None:
            read_mask(mask_path, hr.shape)  # a mask of another size fails the pair here
        if pair.lr_path is None:
            smallest = 16 * pair.scale
            if hr.ndim != 2 or min(hr.shape) < smallest:
                raise InputError(f"the image is {'×'.join(map(str, hr.shape))} pixels; "
                                 f"training at ×{pair.scale} needs at least "
                                 f"{smallest}×{smallest}", path=pair.hr_path,
                                 hint="Leave it out or use larger images.")
            return PairCheck(pair.stem, pair, READABLE, "LR is made by the degradation",
                             scale=pair.scale, hr_pixel_size=hr_px, size=hr.shape,
                             included=True, mask_path=mask_path)
        lr, lr_px = _read_first(pair.lr_path)
        inferred = infer_scale(lr.shape, hr.shape, lr_px, hr_px, lr_path=pair.lr_path,
                               hr_path=pair.hr_path)
        if scale is not None and inferred != scale:
            raise InputError(f"the image sizes give a scale of {inferred}, not {scale} "
                             "like the other pairs", path=pair.hr_path,
                             hint="Leave this pair out or check the files.")
        result = align_pair(lr, hr, inferred)
    except InputError as exc:
        return PairCheck(pair.stem, pair, FAILED, str(exc))
    return PairCheck(pair.stem, pair, result.verdict, result.reason, scale=result.scale,
                     ncc_before=result.ncc_before, ncc_after=result.ncc_after,
                     shift=result.shift, result=result, lr_pixel_size=lr_px,
                     hr_pixel_size=hr_px, size=result.lr.shape,
                     included=result.verdict == ALIGNED, mask_path=mask_path)


def check_pairs(pairs: list[Any], *, on_event: Any = None, cancel: Any = None
                ) -> Iterator[PairCheck]:
    """:func:`check_pair` for every pair, yielding each as it is done (PROGRESS events,
    stage "aligning"; ``cancel`` stops between pairs)."""
    from semsr_core.events import EventKind, check_cancel, emit

    total = len(pairs)
    emit(on_event, EventKind.PROGRESS, done=0, total=total, stage="aligning", unit="pair")
    for done, pair in enumerate(pairs, start=1):
        check_cancel(cancel)
        yield check_pair(pair)
        emit(on_event, EventKind.PROGRESS, done=done, total=total, stage="aligning",
             unit="pair")


def _stretch_u8(image: np.ndarray) -> np.ndarray:
    values = np.asarray(image, dtype=np.float64)
    low, high = np.percentile(values, (1, 99))
    scaled = np.clip((values - low) / (high - low if high > low else 1.0), 0, 1)
    return np.rint(scaled * 255).astype(np.uint8)


@dataclass
class OverlayViews:
    """Pictures to judge a pair: ``overlay`` (RGB, before | after: LR↑ magenta over HR
    green), and the two images to flicker between, both on the HR grid (uint8)."""

    overlay: np.ndarray
    flicker_lr: np.ndarray
    flicker_hr: np.ndarray


def overlay_views(check: PairCheck) -> OverlayViews:
    """The overlay and flicker pictures of an aligned (or failed) pair.

    Raises:
        InputError: the files cannot be read any more.
    """
    from semsr_core.data.align import overlay_image, upscale
    from semsr_core.data.pairs import infer_scale

    hr, _ = _read_first(check.pair.hr_path)
    hr = np.asarray(hr, dtype=np.float64)
    if check.pair.lr_path is None:  # HR-only: the degraded LR against its HR
        from semsr_core.data.pairs import load_pair

        lr, hr_cropped = load_pair(check.pair, rng=np.random.default_rng(0))
        lr_up = upscale(np.asarray(lr, dtype=np.float64), check.pair.scale)
        hr = np.asarray(hr_cropped, dtype=np.float64)
        return OverlayViews(overlay_image(lr_up, hr, None, None), _stretch_u8(lr_up),
                            _stretch_u8(hr))
    lr, _ = _read_first(check.pair.lr_path)
    scale = check.scale or infer_scale(lr.shape, hr.shape)
    lr_up = upscale(np.asarray(lr, dtype=np.float64), scale)
    result = check.result
    if result is not None and result.lr.size:
        after_lr = upscale(np.asarray(result.lr, dtype=np.float64), scale)
        after_hr = np.asarray(result.hr, dtype=np.float64)
        overlay = overlay_image(lr_up, hr, after_lr, after_hr)
        return OverlayViews(overlay, _stretch_u8(after_lr), _stretch_u8(after_hr))
    h, w = min(lr_up.shape[0], hr.shape[0]), min(lr_up.shape[1], hr.shape[1])
    return OverlayViews(overlay_image(lr_up, hr, None, None), _stretch_u8(lr_up[:h, :w]),
                        _stretch_u8(hr[:h, :w]))


def write_training_data(checks: list[PairCheck], out_dir: str | PathLike, *,
                        replace: bool = False) -> Path:
    """Write the included pairs into ``out_dir/lr`` and ``out_dir/hr`` (OME-TIFF; the
    aligned crops, LR pixels never resampled) — or, for HR-only data, copy the included
    HR files into ``out_dir/hr`` — plus ``checks.json`` listing every pair, its verdict
    and whether it was included. A pair's annotated defects (``masks/<stem>.tif`` next
    to its HR folder) go to ``out_dir/masks`` on the same grid as its HR. Returns
    ``out_dir``.

    ``replace`` empties ``lr/``, ``hr/``, ``masks/`` and ``checks.json`` of an earlier
    call first.

    Raises:
        InputError: no pair is included.
        OutputError: ``out_dir`` already holds data and ``replace`` is false.
    """
    from semsr_core.data.align import write_aligned_pair
    from semsr_core.data.masks import MASKS_FOLDER, read_mask
    from semsr_core.io.write import write_bytes_atomic

    out = Path(out_dir)
    chosen = [c for c in checks if c.included]
    if not chosen:
        raise InputError("no pair is included", hint="Tick at least one pair to train on.")
    for folder in ("lr", "hr", MASKS_FOLDER):
        if (out / folder).exists():
            if not replace:
                raise OutputError("the folder already holds training data", path=out / folder,
                                  hint="Choose a new folder.")
            shutil.rmtree(out / folder)
    (out / "hr").mkdir(parents=True)
    rows = []
    for check in checks:
        row = {"stem": check.stem, "verdict": check.verdict, "reason": check.reason,
               "included": check.included, "hr_file": str(check.pair.hr_path),
               "lr_file": None if check.pair.lr_path is None else str(check.pair.lr_path)}
        if check.result is not None:
            row.update(check.result.summary())
        rows.append(row)
        if not check.included:
            continue
        mask_path = check.mask_path
        if mask_path is not None:
            (out / MASKS_FOLDER).mkdir(exist_ok=True)
            row["mask_file"] = str(mask_path)
        if check.pair.lr_path is None:
            shutil.copy2(check.pair.hr_path, out / "hr" / check.pair.hr_path.name)
            if mask_path is not None:
                shutil.copy2(mask_path, out / MASKS_FOLDER / mask_path.name)
            continue
        if check.result is None:
            raise InputError(f"pair {check.stem!r} is included but was not aligned",
                             path=check.pair.hr_path, hint="Leave it out.")
        write_aligned_pair(  # the pair's first slice, and the mask's
            out, check.stem, check.result, lr_source=check.pair.lr_path,
            hr_source=check.pair.hr_path, lr_pixel_size=check.lr_pixel_size,
            hr_pixel_size=check.hr_pixel_size, mask_source=mask_path,
            mask=None if mask_path is None else read_mask(mask_path, check.result.hr_shape))
    write_bytes_atomic(out / "checks.json",
                       json.dumps({"pairs": rows}, indent=2, default=str).encode("utf-8"))
    return out


def data_overrides(choice: DataChoice, checks: list[PairCheck]) -> list[str]:
    """The ``--set`` overrides the data decides: the scale (from the included pairs, or
    the chosen one for HR-only data) and, for HR-only data, the degradation."""
    if choice.hr_only:
        return [f"data.scale={choice.scale}", f'data.degradation="{choice.degradation}"']
    scales = sorted({c.scale for c in checks if c.included and c.scale})
    if len(scales) > 1:
        raise InputError(f"the included pairs have different scales ({scales})",
                         hint="Include only pairs of one scale.")
    return [f"data.scale={scales[0]}"] if scales else []


# ------------------------------------------------------------------ augmentation


@dataclass(frozen=True)
class AugmentationChoice:
    """Augmentations chosen in the wizard; ``None`` keeps the recipe's own choice.

    ``geometric`` is one of :data:`GEOMETRIC`; ``defects`` is (α, β) of [S0]'s synthetic
    defects; ``paste`` is (n1, n2) of [S1]'s ZSSR patch pasting.
    """

    geometric: str | None = None
    defects: tuple[int, int] | None = None
    paste: tuple[int, int] | None = None

    def overrides(self) -> list[str]:
        """As ``--set`` overrides (synthetic defects also set ``data.lr_patch`` = α: the
        α×α tiles are the training patches)."""
        items = []
        if self.geometric is not None:
            items.append(f'data.augment=["{self.geometric}"]')
        if self.defects is not None:
            alpha, beta = self.defects
            items += [f"data.defects.alpha={alpha}", f"data.defects.beta={beta}",
                      f"data.lr_patch={alpha}"]
        if self.paste is not None:
            items += [f"data.paste.n1={self.paste[0]}", f"data.paste.n2={self.paste[1]}"]
        return items


def load_training_pairs(data_dir: str | PathLike, choice: DataChoice) -> Any:
    """The included pairs of the wizard's data folder as the datasets see them
    (:class:`~semsr_core.data.datasets.TrainingPairs`, [0, 1]); for HR-only data the LR
    images are made by the chosen degradation (seeded)."""
    from semsr_core.data.datasets import TrainingPairs
    from semsr_core.data.degrade import degrade
    from semsr_core.data.pairs import find_pairs, pairs_from_hr
    from semsr_core.io.intensity import to_unit_range

    data_dir = Path(data_dir)
    if choice.hr_only:
        arrays = []
        s = choice.scale
        for index, pair in enumerate(pairs_from_hr(data_dir / "hr", choice.degradation, s)):
            hr = to_unit_range(_read_first(pair.hr_path)[0], pair.hr_path)
            hr = hr[: hr.shape[0] // s * s, : hr.shape[1] // s * s]
            lr = degrade(choice.degradation, hr, s, rng=np.random.default_rng((0, index)))
            arrays.append((np.clip(lr, 0, 1).astype(np.float32), hr))
        return TrainingPairs.from_arrays(arrays, scale=s, mapped=True)
    arrays = []
    for pair in find_pairs(data_dir / "lr", data_dir / "hr"):
        arrays.append((to_unit_range(_read_first(pair.lr_path)[0], pair.lr_path),
                       to_unit_range(_read_first(pair.hr_path)[0], pair.hr_path)))
    return TrainingPairs.from_arrays(arrays, mapped=True)


def augmentation_previews(pairs: Any, choice: AugmentationChoice, *, patch: int = 32,
                          n: int = 3, seed: int = 0, degradation: str = "bicubic"
                          ) -> list[tuple[str, np.ndarray]]:
    """Preview grids (LR enlarged | HR | HR with pasted content outlined) of each chosen
    augmentation, as ``(title, RGB image)``; with nothing chosen, plain patches."""
    from semsr_core.data.preview import preview, preview_grid

    smallest = min(min(lr.shape) for lr in pairs.lr)
    patch = max(4, min(patch, smallest))
    grids = []
    geometric = choice.geometric
    if geometric is not None or (choice.defects is None and choice.paste is None):
        name = geometric or "none"
        options = {"alpha": patch} if name == "rot16" else {"patch": patch}
        title = (f"geometric: {name}" if geometric else
                 "plain patches (the recipe's own augmentation applies)")
        grids.append((title, preview_grid(preview(name, pairs, n=n, seed=seed, **options))))
    if choice.defects is not None:
        alpha, beta = choice.defects
        alpha = max(8, min(alpha, smallest))
        samples = preview("defects", pairs, n=n, seed=seed, alpha=alpha, beta=beta,
                          degradation=degradation)
        grids.append((f"synthetic defects: α={alpha}, β={beta}", preview_grid(samples)))
    if choice.paste is not None:
        n1, n2 = choice.paste
        samples = preview("zssr_paste", pairs, n=n, seed=seed, n1=n1, n2=n2, patch=patch,
                          degradation=degradation)
        grids.append((f"ZSSR patch pasting: n1={n1}, n2={n2}", preview_grid(samples)))
    return grids


# ------------------------------------------------------------------------ recipe


@dataclass(frozen=True)
class HyperParameter:
    """One editable recipe value: its ``--set`` key, a label, and the recipe's default
    written as TOML (what an override's value is parsed as)."""

    key: str
    label: str
    default: str
    group: str


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


#: Up to this many pairs a dataset is small: fine-tuning the bundled model beats
#: training from scratch (issue 15: from scratch, 4 pairs gave a model 14 dB worse
#: than bicubic; fine-tuning gained +3 dB in the same ten minutes).
SMALL_DATASET_PAIRS = 16


def default_recipe(pairs: int, device: str = "auto") -> tuple[str, str]:
    """The recipe the wizard starts from for ``pairs`` pairs on ``device``, and one
    sentence that says why: ``finetune`` for small datasets and on a CPU (where
    recipes that train from scratch need hours), else ``n1_reduced``."""
    from semsr_core.infer.device import resolve_device

    on_cpu = resolve_device(device).type == "cpu"
    if pairs <= SMALL_DATASET_PAIRS or on_cpu:
        why = (f"{pairs} pair(s) are few to learn from scratch" if pairs <= SMALL_DATASET_PAIRS
               else "training from scratch on a CPU takes hours")
        return "finetune", (f"Recommended: finetune — {why}, so it adapts the bundled model "
                            "of your data's scale to your scans in minutes; the recipes "
                            "of the papers stay in the list.")
    return "n1_reduced", ("Recommended: n1_reduced — with this many pairs and a GPU, a "
                          "model trained from scratch on your scans can do better than "
                          "adapting the bundled one (finetune, also in the list).")


def recipe_info(recipe: str) -> dict[str, str]:
    """The ``[recipe]`` table of a bundled recipe or TOML file: name, source, description."""
    from semsr_core.train.config import load_raw

    raw, _ = load_raw(recipe)
    info = raw.get("recipe", {})
    return {k: str(info.get(k, "")) for k in ("name", "source", "description")}


def hyperparameters(recipe: str) -> list[HyperParameter]:
    """The main values of a recipe, as present in it: generator sizes, LR patch,
    batch, epochs (and steps per epoch) of each phase, learning rates, loss weights."""
    from semsr_core.train.config import load_raw

    raw, _ = load_raw(recipe)
    found: list[HyperParameter] = []

    def add(key: str, label: str, value: Any, group: str) -> None:
        if value is None:  # absent from the recipe: an empty field keeps the engine's way
            found.append(HyperParameter(key, label, "", group))
        elif isinstance(value, int | float | str) and not isinstance(value, bool):
            found.append(HyperParameter(key, label, _toml_value(value), group))

    generator = raw.get("generator", {})
    for name, value in generator.items():
        if name not in ("arch", "init") and isinstance(value, int | float):
            add(f"generator.{name}", f"generator {name}", value, "Generator")
    data = raw.get("data", {})  # the scale comes from the data (see data_overrides)
    add("data.lr_patch", "LR patch (px)", data.get("lr_patch", 32), "Data")
    add("data.batch", "batch", data.get("batch", 16), "Data")
    add("optimizer.lr", "generator learning rate", raw.get("optimizer", {}).get("lr", 1e-4),
        "Optimiser")
    for name, disc in raw.get("discriminators", {}).items():
        add(f"discriminators.{name}.optimizer.lr", f"discriminator '{name}' learning rate",
            disc.get("optimizer", {}).get("lr", 1e-4), "Optimiser")
    for phase in raw.get("phases", []):
        pname = phase.get("name", "?")
        group = f"Phase '{pname}'"
        add(f"phases.{pname}.epochs", "epochs", phase.get("epochs", 1), group)
        add(f"phases.{pname}.steps_per_epoch", "steps per epoch (empty: all)",
            phase.get("steps_per_epoch"), group)
        if "l1_weight" in phase:
            add(f"phases.{pname}.l1_weight", "δ (L1 weight; VGG gets 1−δ)",
                phase["l1_weight"], group)
        for loss, term in phase.get("losses", {}).items():
            if "l1_weight" in phase and loss in ("l1", "vgg"):
                continue
            if isinstance(term, int | float):
                add(f"phases.{pname}.losses.{loss}", f"{loss} weight", term, group)
            elif isinstance(term, dict):
                add(f"phases.{pname}.losses.{loss}.weight", f"{loss} weight",
                    term.get("weight", 1.0), group)
    return found


def overrides_for(fields: list[HyperParameter], values: dict[str, str]) -> list[str]:
    """``key=value`` overrides for the values that differ from the recipe's defaults
    (an empty value keeps the default)."""
    items = []
    for item in fields:
        text = values.get(item.key, "").strip()
        if text and text != item.default:
            items.append(f"{item.key}={text}")
    return items


def validate(recipe: str, overrides: list[str]) -> Any:
    """The validated :class:`~semsr_core.train.config.TrainConfig` (ConfigError names the
    bad key)."""
    from semsr_core.train.config import load_config

    return load_config(recipe, overrides)


# --------------------------------------------------------------------------- run


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
