"""The figures of ``semsr evaluate``'s report, drawn, not written: the per-pair crops
with their gradient maps (:func:`crops_figure`), the power spectra
(:func:`spectrum_figure`) and the summary over pairs (:func:`summary_figure`).
:mod:`semsr_core.metrics.report` saves them as PNG. Plots use matplotlib's object
interface (no pyplot state), so they can be made from worker threads.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from semsr_core.io.display import display_limits
from semsr_core.metrics.no_reference import gradient_map
from semsr_core.metrics.spectrum import common_centre, radial_power_spectrum

# An ``Evaluation`` or ``PairEvaluation`` of semsr_core.metrics.evaluation; not imported
# here, so that the two modules do not import each other.
Evaluation = PairEvaluation = Any

#: Side of the crops in the per-pair figure, in HR pixels.
CROP_SIDE = 160

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
            "#17becf")


def _crop_centre(result: PairEvaluation, shape: tuple[int, int], side: int) -> tuple[int, int]:
    """Centre of the crop: the largest defect, else where the HR (or LR↑) has most edges."""
    from scipy import ndimage

    mask = result.images.get("mask")
    if mask is not None and mask.any() and mask.shape == shape:
        labels, n = ndimage.label(mask)
        sizes = ndimage.sum(mask, labels, index=range(1, n + 1))
        cy, cx = ndimage.center_of_mass(mask, labels, int(np.argmax(sizes)) + 1)
        return round(cy), round(cx)
    source = result.images["hr"] if result.full_reference else next(
        img for key, img in result.images.items() if key not in ("lr", "hr", "mask"))
    energy = ndimage.uniform_filter(gradient_map(source), size=max(3, side // 2))
    cy, cx = np.unravel_index(int(np.argmax(energy)), energy.shape)
    return int(cy), int(cx)


def _box(centre: tuple[int, int], shape: tuple[int, int], side: int) -> tuple[slice, slice]:
    out = []
    for c, n in zip(centre, shape, strict=True):
        size = min(side, n)
        start = min(max(c - size // 2, 0), n - size)
        out.append(slice(start, start + size))
    return out[0], out[1]


def crops_figure(result: PairEvaluation, methods: list[str], side: int = CROP_SIDE) -> Any:
    """The same crop of each method and HR (top) and their gradient maps (bottom)."""
    from matplotlib.figure import Figure

    images = result.images
    grid_shape = images[methods[0]].shape
    centre = _crop_centre(result, grid_shape, side)
    box = _box(centre, grid_shape, side)
    hr = images["hr"]
    if result.full_reference:
        hr_box = box
    else:  # not aligned: the same relative place in HR
        rel = [(s.start + s.stop) / 2 / n for s, n in zip(box, grid_shape, strict=True)]
        hr_box = _box((int(rel[0] * hr.shape[0]), int(rel[1] * hr.shape[1])), hr.shape, side)
    panels = [(m, images[m], box) for m in methods] + [("HR", hr, hr_box)]
    hr_crop = hr[hr_box]
    lo, hi = display_limits(hr_crop, (0.5, 99.5))  # every crop shown on HR's scale
    if hi <= lo:
        lo, hi = 0.0, 1.0
    hr_grad = gradient_map(hr)[hr_box]
    g_hi = float(np.percentile(hr_grad, 99.5)) or 1.0

    ncol = len(panels)
    fig = Figure(figsize=(max(2.7 * ncol, 6.0), 6.2))
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=0.84, wspace=0.04,
                        hspace=0.16)
    axes = fig.subplots(2, ncol, squeeze=False)
    for col, (name, image, crop_box) in enumerate(panels):
        top, bottom = axes[0, col], axes[1, col]
        top.imshow(image[crop_box], cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        bottom.imshow(gradient_map(image)[crop_box], cmap="magma", vmin=0, vmax=g_hi,
                      interpolation="nearest")
        values = result.metrics.get(name, {}) if name != "HR" else result.hr
        if name == "HR":
            title = "HR" if result.full_reference else "HR (not aligned)"
        elif values.get("psnr") is not None:
            title = f"{name}\nPSNR {values['psnr']:.2f} dB, SSIM {values['ssim']:.3f}"
        else:
            title = f"{name}\nsharpness {values.get('sharpness_ratio') or float('nan'):.2f}"
        top.set_title(title, fontsize=9)
        bottom.set_title(f"gradient, p95 {values.get('grad_p95', float('nan')):.3f}",
                         fontsize=9)
        if name == "HR" and "mask" in images and result.full_reference:
            mask_crop = images["mask"][crop_box]
            if mask_crop.any() and not mask_crop.all():
                top.contour(mask_crop.astype(float), levels=[0.5], colors="cyan",
                            linewidths=0.8)
        for ax in (top, bottom):
            ax.set_xticks([])
            ax.set_yticks([])
    rows, cols = box
    fig.suptitle(f"{result.stem} ({result.mode}), LR↑ = {methods[0]}\ncrop: rows "
                 f"{rows.start}–{rows.stop}, columns {cols.start}–{cols.stop} of the "
                 f"×{result.scale} grid", fontsize=10)
    return fig


def spectrum_figure(result: PairEvaluation, methods: list[str]) -> Any:
    """Power spectra of each method and HR (log–log), and each one's ratio to HR's."""
    from matplotlib.figure import Figure

    names = [*methods, "HR"]
    crops = common_centre(*(result.images[m] for m in methods), result.images["hr"])
    spectra = {name: radial_power_spectrum(crop) for name, crop in zip(names, crops,
                                                                        strict=True)}
    k, p_hr = spectra["HR"]
    fig = Figure(figsize=(10, 4.2))
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13, top=0.86, wspace=0.25)
    left, right = fig.subplots(1, 2)
    floor = max(float(p_hr[p_hr > 0].min()) if (p_hr > 0).any() else 1e-20, 1e-20) * 1e-3
    for i, name in enumerate(names):
        _, p = spectra[name]
        if name == "HR":
            style = {"color": "black", "linewidth": 2.0}
            label = "HR"
        else:
            style = {"color": _COLOURS[i % len(_COLOURS)], "linewidth": 1.2}
            score = result.metrics[name].get("spectrum_score")
            label = f"{name} (s = {score:.3f})" if score is not None else name
        left.loglog(k, np.maximum(p, floor), label=label, **style)
        right.semilogx(k, np.log10(np.maximum(p, floor) / np.maximum(p_hr, floor)),
                       label=label, **style)
    left.set_xlabel("spatial frequency (cycles per pixel)")
    left.set_ylabel("power")
    left.set_title("radially averaged power spectrum")
    left.legend(fontsize=8)
    right.axhline(0.0, color="grey", linewidth=0.8)
    right.set_xlabel("spatial frequency (cycles per pixel)")
    right.set_ylabel("log10(P / P_HR)")
    right.set_title("relative to HR (0 = HR's power)")
    fig.suptitle(f"{result.stem} ({result.mode})", fontsize=10)
    return fig


def _bars(ax: Any, methods: list[str], groups: dict[str, list[float | None]], title: str,
          unit: str, floor: float | None = None) -> None:
    """Grouped bars, one group per method, labelled with their values; cut at ``floor``."""
    width = 0.8 / max(len(groups), 1)
    x = np.arange(len(methods))
    cut = False
    for j, (label, values) in enumerate(groups.items()):
        heights = np.array([np.nan if v is None else v for v in values], dtype=float)
        shown = heights
        if floor is not None and np.nanmin(np.append(heights, 0.0)) < floor:
            shown, cut = np.maximum(heights, floor), True
        bars = ax.bar(x + (j - (len(groups) - 1) / 2) * width, shown, width, label=label)
        ax.bar_label(bars, labels=["" if np.isnan(h) else f"{h:.3g}" for h in heights],
                     fontsize=7)
    if cut:
        ax.set_ylim(bottom=floor)
        title += f"\n(bars cut at {floor:g}; the labels give the values)"
    ax.set_xticks(x, methods, fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(unit)
    ax.legend(fontsize=8)


def summary_figure(evaluation: Evaluation) -> Any:
    """Per-pair PSNR and SSIM of each method; defect vs background PSNR; spectrum and sharpness."""
    from matplotlib.figure import Figure

    e = evaluation
    fig = Figure(figsize=(12, 8.5))
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.05, top=0.91, wspace=0.18,
                        hspace=0.42)
    axes = fig.subplots(2, 2)
    full = [p for p in e.pairs if p.full_reference]
    for ax, key, unit in ((axes[0, 0], "psnr", "dB"), (axes[0, 1], "ssim", "")):
        if not full:
            ax.text(0.5, 0.5, "no full-reference pairs", ha="center", va="center")
        for i, method in enumerate(e.methods):
            values = [p.metrics[method].get(key) for p in full]
            ax.plot(range(len(full)), [np.nan if v is None else v for v in values], "o-",
                    color=_COLOURS[i % len(_COLOURS)], label=method, markersize=4)
        ax.set_title(f"{key.upper()} per pair", fontsize=10)
        ax.set_ylabel(unit)
        if full and len(full) <= 24:
            ax.set_xticks(range(len(full)), [p.stem for p in full], rotation=45, ha="right",
                          fontsize=7)
        elif full:
            ax.set_xlabel("pair")
        ax.legend(fontsize=8)
    agg = e.aggregate
    _bars(axes[1, 0], e.methods, {
        "whole image": [agg[m].get("psnr") for m in e.methods],
        "inside defects": [agg[m].get("defect_psnr") for m in e.methods],
        "background": [agg[m].get("background_psnr") for m in e.methods],
    }, "mean PSNR: whole image, inside defects, background", "dB")
    _bars(axes[1, 1], e.methods, {
        "spectrum score s": [agg[m].get("spectrum_score") for m in e.methods],
        "sharpness (p95 gradient ÷ HR)": [agg[m].get("sharpness_ratio") for m in e.methods],
    }, "spectrum score and sharpness (1 = like HR)", "", floor=-2.0)
    axes[1, 1].axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
    axes[1, 1].axhline(0.0, color="grey", linewidth=0.8)
    fig.suptitle(f"semsr evaluate: {e.data} (×{e.scale}, {len(full)} full-reference of "
                 f"{len(e.pairs)} pairs)", fontsize=11)
    return fig
