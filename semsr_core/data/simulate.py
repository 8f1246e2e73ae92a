"""Procedural SEM simulator: aligned LR/HR pairs with ground-truth defect masks (SPEC §3.5).

There is no public lab dataset to ship, so semsr simulates one. A scene is a
semiconductor-like layout (:mod:`sem_layouts`: hexagonal ball mesh, vias, line
gratings, particles, or a mix) with a few defects (:mod:`sem_defects`: bridges, breaks,
missing and merged contacts, particles), imaged the way an SEM does
(:mod:`sem_imaging`: bright edges, detector shadowing, shading, grain, beam blur). The
microscope's slow high-dose scan gives the HR image (mildly noisy); its fast low-dose
scan, or any degradation of :mod:`degrade`, gives the LR image at 1/scale of the size.
Everything is drawn from one seed: the same seed gives bit-identical arrays.

:func:`simulate_pair` makes one pair in memory; :func:`simulate_dataset` writes a
dataset of pairs as OME-TIFF files (what ``semsr simulate`` runs).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.data import degrade as degradations
from semsr_core.data.sem_defects import (
    DEFECT_LABELS,
    MASK_TOLERANCE,
    Defect,
    check_kinds,
    defect_mask,
    place_defects,
    window,
)
from semsr_core.data.sem_imaging import Contrast, Style, render, scene_fields
from semsr_core.data.sem_layouts import (
    FAR,
    LAYOUTS,
    apply_particle_defect,
    grid,
    make_layout,
)
from semsr_core.errors import ConfigError, OutputError
from semsr_core.events import CancelToken, EventCallback, Finished, Progress, check_cancel, emit
from semsr_core.io.write import atomic_destination

#: Default side of a simulated HR image, in pixels.
HR_PIXELS = 256
#: Default HR pixel size in nanometres (LR pixel size = HR × scale).
HR_PIXEL_SIZE_NM = 2.0
#: Scales ``simulate_dataset`` / ``semsr simulate`` make (those semsr's models use).
DATASET_SCALES = (2, 4)
#: Noise of the slow, high-dose HR scan (HR pixels); its dose is ``hr_dose``.
HR_SCAN = {"read_noise": 0.005, "line_offset": 0.004, "line_jitter": 0.1, "drift": 0.5}
#: How the files of a dataset store intensities: [0, 1] is mapped to 0..65535.
FILE_DTYPE = np.uint16


@dataclass(frozen=True, eq=False)
class SimulatedPair:
    """One simulated field of view: its HR and LR scans and the ground truth behind them.

    Arrays are float32 in [0, 1] except ``mask``:

    - ``hr``: the slow high-dose scan (HR, mild shot noise, tiny drift), as a lab's HR;
    - ``lr``: the LR scan, ``hr.shape // scale``, made by ``degradation``;
    - ``mask``: uint8 at HR size, each pixel the label of the defect that changed it
      (0 = none; labels in :data:`~semsr_core.data.sem_defects.DEFECT_LABELS`);
    - ``clean_hr``: the same scene without its defects, noise-free;
    - ``ideal_hr``: the scene with its defects, noise-free (what ``hr`` is a scan of);
    - ``ideal_lr``: the LR without noise (``degradation`` without its random part).

    Pixel sizes are in ``unit`` (nm); the LR pixel is ``scale`` times the HR pixel.
    """

    hr: np.ndarray
    lr: np.ndarray
    mask: np.ndarray
    clean_hr: np.ndarray
    ideal_hr: np.ndarray
    ideal_lr: np.ndarray
    seed: int
    scale: int
    layout: str
    degradation: str
    hr_pixel_size: float
    defects: list[Defect] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    unit: str = "nm"

    @property
    def lr_pixel_size(self) -> float:
        return self.hr_pixel_size * self.scale

    def summary(self) -> dict[str, Any]:
        """JSON-friendly description: seed, layout, pixel sizes, defects, look."""
        return {"seed": self.seed, "layout": self.layout, "scale": self.scale,
                "degradation": self.degradation, "hr_shape": list(self.hr.shape),
                "lr_shape": list(self.lr.shape), "hr_pixel_size": self.hr_pixel_size,
                "lr_pixel_size": self.lr_pixel_size, "unit": self.unit,
                "defects": [d.summary() for d in self.defects], **self.settings}


def _check_int(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{key} must be an integer of at least {minimum}, got {value!r}")
    return int(value)


def _check_positive(key: str, value: Any, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    if not ok or not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{key} must be a number {bound}, got {value!r}")
    return float(value)


def check_geometry(size: int, scale: int) -> None:
    """Refuse an HR size and scale that cannot make an exact LR image."""
    scale = _check_int("scale", scale, 2)
    size = _check_int("size", size, 16 * scale)
    if size % scale:
        lower = size - size % scale
        raise ConfigError(f"size {size} is not divisible by the scale {scale}",
                          hint=f"Use a multiple of {scale}, e.g. {lower} or {lower + scale}.")


def check_options(*, size: int, scale: int, layout: str, degradation: str,
                  defect_rate: float, pixel_size: float) -> None:
    """Refuse simulator options that cannot work, naming the option and the fix."""
    check_geometry(size, scale)
    if degradation not in degradations.DEGRADATIONS:
        raise ConfigError(f"unknown degradation {degradation!r}",
                          hint=f"Choose one of: {', '.join(degradations.DEGRADATIONS)}.")
    if layout not in LAYOUTS:
        raise ConfigError(f"unknown layout {layout!r}",
                          hint=f"Choose one of: {', '.join(LAYOUTS)}.")
    _check_positive("defect_rate", defect_rate, allow_zero=True)
    _check_positive("pixel_size", pixel_size)


def simulate_pair(seed: int, *, size: int = HR_PIXELS, scale: int = 4, layout: str = "mixed",
                  defect_rate: float = 1.0, defect_kinds: tuple[str, ...] | None = None,
                  defect_count: int | None = None, style_gap: bool = False,
                  style: Style | None = None, degradation: str = "sem-noise",
                  pixel_size: float = HR_PIXEL_SIZE_NM,
                  hr_dose: float = 400.0, lr_dose: float = 40.0, read_noise: float = 0.01,
                  line_offset: float = 0.01, line_jitter: float = 0.15,
                  drift: float = 0.2) -> SimulatedPair:
    """Simulate one aligned LR/HR pair of an SEM field of view from ``seed``.

    ``size`` is the HR side in pixels (a multiple of ``scale``); ``layout`` is one of
    :data:`~semsr_core.data.sem_layouts.LAYOUTS`. ``defect_rate`` is the mean number of
    defects per 256×256 HR pixels (Poisson; ``defect_count`` fixes the number instead),
    restricted to ``defect_kinds`` if given. ``style_gap`` gives the LR a different
    contrast, gamma and brightness than the HR, as in [S0] dataset-2, drawn for this pair;
    ``style`` gives it this given look instead (one microscope setting shared by the
    pairs of a dataset).

    ``degradation`` makes the LR: ``"sem-noise"`` scans the noise-free scene at
    ``lr_dose`` electrons per LR pixel with ``read_noise``, ``line_offset``,
    ``line_jitter`` and ``drift`` (LR pixels); ``"bicubic"``, ``"crappify"`` and
    ``"area"`` degrade the noisy HR scan, as when a lab has only HR images. The HR scan
    is taken at ``hr_dose`` electrons per HR pixel.
    """
    check_options(size=size, scale=scale, layout=layout, degradation=degradation,
                  defect_rate=defect_rate, pixel_size=pixel_size)
    hr_dose = _check_positive("hr_dose", hr_dose)
    if defect_count is not None:
        defect_count = _check_int("defect_count", defect_count, 0)
    seed = _check_int("seed", seed, 0)

    rng = np.random.default_rng(seed)
    shape = (size, size)
    scene = make_layout(layout, shape, rng)
    kinds = check_kinds(defect_kinds, scene)
    contrast = Contrast.random(rng)
    fields = scene_fields(shape, contrast, rng)
    reach = contrast.reach()
    defects = place_defects(scene, shape, rng, rate=defect_rate, kinds=kinds, pad=reach,
                            count=defect_count)

    yy, xx = grid(shape)
    clean_sdf = scene.base_sdf(yy, xx)
    sdf = clean_sdf.copy()
    foreign = None  # SDF of stray particles, drawn brighter than the layout's material
    # layout defects first (they may re-draw their window), stray particles on top
    for defect in sorted(defects, key=lambda d: d.kind == "particle"):
        win = window(defect.bbox, shape)
        if win is None:
            continue
        if defect.kind == "particle":
            sdf[win] = apply_particle_defect(defect, sdf[win], yy[win], xx[win])
            if foreign is None:
                foreign = np.full(shape, FAR, dtype=np.float32)
            foreign[win] = apply_particle_defect(defect, foreign[win], yy[win], xx[win])
        else:
            sdf[win] = scene.apply_defect(defect, sdf[win], yy[win], xx[win])
    clean_hr = render(clean_sdf, contrast, fields)
    ideal_hr = render(sdf, contrast, fields, foreign) if defects else clean_hr.copy()
    mask = defect_mask(ideal_hr, clean_hr, defects, pad=reach)

    hr = degradations.observe(ideal_hr, dose=hr_dose, rng=rng, **HR_SCAN)
    # the pair's own look is drawn whenever there is a gap, so that a given (shared) look
    # leaves the rest of the pair — noise, drift — as it would otherwise be
    drawn = Style.random(rng) if style_gap else Style()
    if style is None:
        style = drawn
    style_gap = style_gap or style != Style()
    if degradation == "sem-noise":
        lr = degradations.degrade("sem-noise", style.apply(ideal_hr), scale, rng=rng,
                                  dose=lr_dose, read_noise=read_noise,
                                  line_offset=line_offset, line_jitter=line_jitter, drift=drift)
        ideal_lr = degradations.area(style.apply(ideal_hr), scale)
    else:
        lr = degradations.degrade(degradation, style.apply(hr), scale)
        ideal_lr = degradations.degrade(degradation, style.apply(ideal_hr), scale)

    settings = {"layout_parts": [part.name for part in getattr(scene, "parts", [scene])],
                "contrast": contrast.as_dict(), "style": style.as_dict() if style_gap else None,
                "hr_dose": hr_dose,
                "lr_noise": ({"dose": lr_dose, "read_noise": read_noise,
                              "line_offset": line_offset, "line_jitter": line_jitter,
                              "drift": drift} if degradation == "sem-noise" else None),
                "mask_tolerance": MASK_TOLERANCE}
    return SimulatedPair(hr=hr, lr=lr, mask=mask, clean_hr=clean_hr, ideal_hr=ideal_hr,
                         ideal_lr=ideal_lr, seed=seed, scale=scale, layout=scene.name,
                         degradation=degradation, hr_pixel_size=pixel_size, defects=defects,
                         settings=settings)


# ------------------------------------------------------------------ datasets on disk


def pair_seeds(seed: int, pairs: int) -> list[int]:
    """The seed of each pair of a dataset: pair i's seed depends only on (seed, i)."""
    return [int(np.random.SeedSequence([seed, i]).generate_state(1)[0]) for i in range(pairs)]


def to_file_dtype(image: np.ndarray) -> np.ndarray:
    """[0, 1] floats as the dataset's uint16 (0..65535)."""
    return np.round(np.clip(image, 0.0, 1.0) * 65535.0).astype(FILE_DTYPE)


def _write_json(path: Path, data: dict) -> None:
    """Write ``data`` as JSON atomically (temporary file, then rename)."""
    with atomic_destination(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def _slices_of(paths: list[Path]):
    """Each file's single slice, read one at a time (bounded memory for big datasets)."""
    from semsr_core.io import read_stack

    for path in paths:
        with read_stack(path) as stack:
            yield stack[0]


def simulate_dataset(out_dir: str | os.PathLike, *, pairs: int = 8, scale: int = 4,
                     size: int = HR_PIXELS, seed: int = 0, layout: str = "mixed",
                     defect_rate: float = 1.0, style_gap: bool | str = False,
                     degradation: str = "sem-noise", stack: bool = False,
                     pixel_size: float = HR_PIXEL_SIZE_NM, compression: str | None = "zlib",
                     on_event: EventCallback | None = None,
                     cancel: CancelToken | None = None) -> list[Path]:
    """Write a simulated paired dataset to ``out_dir`` and return the files written.

    Layout of ``out_dir`` (stems match across folders)::

        hr/pair_000.tif     HR scan, uint16 (0..65535 = intensity 0..1), HR pixel size
        lr/pair_000.tif     LR scan, uint16, pixel size = HR pixel size × scale
        masks/pair_000.tif  uint8 defect labels at HR size (see sem_defects.DEFECT_LABELS)
        hr_stack.tif        with ``stack=True``: all HR images as one multi-page stack
        lr_stack.tif        with ``stack=True``: all LR images as one multi-page stack
        simulation.json     the options, each pair's seed, layout, defects and look

    Every file is an OME-TIFF with its pixel size (nm) and the pair's seed in the
    provenance metadata. Existing files are never overwritten; after an error or a
    cancellation the files of this run are removed again. Options are those of
    :func:`simulate_pair`; ``scale`` must be one of :data:`DATASET_SCALES`.
    ``style_gap`` is ``False``, ``True``/``"per-pair"`` (each pair its own look) or
    ``"shared"``: one look, drawn from ``seed``, for every pair — a lab's LR and HR
    scans of one specimen taken with one setting each.
    """
    from semsr_core.io import write_stack

    pairs = _check_int("pairs", pairs, 1)
    if isinstance(scale, bool) or scale not in DATASET_SCALES:
        raise ConfigError(f"scale {scale!r} is not supported",
                          hint=f"Use one of: {', '.join(map(str, DATASET_SCALES))}.")
    check_options(size=size, scale=scale, layout=layout, degradation=degradation,
                  defect_rate=defect_rate, pixel_size=pixel_size)
    seed = _check_int("seed", seed, 0)
    if style_gap not in (False, True, "per-pair", "shared"):
        raise ConfigError(f"style gap {style_gap!r} is not known",
                          hint="Use per-pair or shared.")
    shared = Style.random(np.random.default_rng([seed, 7])) if style_gap == "shared" else None

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder", path=out,
                          hint="Choose a folder name for the dataset")
    width = max(3, len(str(pairs - 1)))
    stems = [f"pair_{i:0{width}d}" for i in range(pairs)]
    targets = [out / sub / f"{stem}.tif" for stem in stems for sub in ("hr", "lr", "masks")]
    targets.append(out / "simulation.json")
    if stack:
        targets += [out / "hr_stack.tif", out / "lr_stack.tif"]
    for target in targets:
        if target.exists():
            raise OutputError("already exists", path=target,
                              hint="Choose an empty output folder or delete the old dataset")

    seeds = pair_seeds(seed, pairs)
    written: list[Path] = []
    created: list[Path] = []
    for folder in (out, out / "hr", out / "lr", out / "masks"):
        if not folder.exists():
            folder.mkdir(parents=True)
            created.append(folder)
    options = {"pairs": pairs, "scale": scale, "size": size, "seed": seed, "layout": layout,
               "defect_rate": defect_rate,
               "style_gap": ("per-pair" if style_gap is True else style_gap),
               **({"shared_style": shared.as_dict()} if shared is not None else {}),
               "degradation": degradation,
               "stack": stack, "hr_pixel_size": pixel_size,
               "lr_pixel_size": pixel_size * scale, "unit": "nm"}
    records = []
    try:
        emit(on_event, Progress(done=0, total=pairs, stage="simulating", unit="pair"))
        for i, (stem, pair_seed) in enumerate(zip(stems, seeds, strict=True)):
            check_cancel(cancel)
            pair = simulate_pair(pair_seed, size=size, scale=scale, layout=layout,
                                 defect_rate=defect_rate, style_gap=bool(style_gap),
                                 style=shared, degradation=degradation,
                                 pixel_size=pixel_size)
            provenance = {"source": "semsr simulate", "seed": pair_seed, "pair": stem,
                          "layout": pair.layout, "scale": scale}
            for sub, image, px in (("hr", to_file_dtype(pair.hr), pair.hr_pixel_size),
                                   ("lr", to_file_dtype(pair.lr), pair.lr_pixel_size),
                                   ("masks", pair.mask, pair.hr_pixel_size)):
                path = out / sub / f"{stem}.tif"
                written.append(write_stack(path, image, pixel_size=px, unit="nm",
                                           metadata={**provenance, "role": sub},
                                           compression=compression))
            records.append({"stem": stem, **pair.summary()})
            emit(on_event, Progress(done=i + 1, total=pairs, stage="simulating", unit="pair"))
        if stack:
            for role, px in (("hr", pixel_size), ("lr", pixel_size * scale)):
                check_cancel(cancel)
                sources = [out / role / f"{stem}.tif" for stem in stems]
                written.append(write_stack(
                    out / f"{role}_stack.tif", _slices_of(sources), pixel_size=px, unit="nm",
                    metadata={"source": "semsr simulate", "role": f"{role}_stack",
                              "pairs": stems, "seed": seed},
                    compression=compression, on_event=on_event, cancel=cancel))
        summary = {"simulator": "semsr simulate", "options": options,
                   "intensity": "uint16 0..65535 stands for intensity 0..1",
                   "mask_labels": {"none": 0, **DEFECT_LABELS},
                   "mask_tolerance": MASK_TOLERANCE, "pairs": records}
        _write_json(out / "simulation.json", summary)
        written.append(out / "simulation.json")
    except BaseException:
        for path in written:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    emit(on_event, Finished(outputs={"path": str(out), "files": len(written)}))
    return written
