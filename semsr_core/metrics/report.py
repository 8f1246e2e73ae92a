"""The report folder of ``semsr evaluate``: JSON, tables and PNG figures.

Layout of the folder::

    report.json            everything: settings, models, per pair per method all metrics,
                           means per method, which pairs were aligned / no-reference / skipped
    report.md              the table (one row per method) and the per-pair notes
    report.csv             the same table, for spreadsheets
    pairs.csv              one row per pair and method
    figures/<stem>_crops.png     the same crop of LR↑ (baseline) | each model | HR, with the
                                 gradient maps below (defect outlines in cyan on HR)
    figures/<stem>_spectrum.png  radially averaged power spectra of each method and HR,
                                 and each one's ratio to HR's
    figures/summary.png          per-pair PSNR and SSIM, defect vs background PSNR,
                                 spectrum score and sharpness per method

Every file is written atomically (temporary file, then rename). Infinite or undefined
values (PSNR of identical images, a defect metric of a pair without defects) are
``null`` in JSON and empty in the tables. Plots use matplotlib's object interface
(no pyplot state), so they can be made from worker threads.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from semsr_core.errors import OutputError
from semsr_core.io.write import check_output_folder, make_folder, write_bytes_atomic
from semsr_core.metrics.no_reference import gradient_map
from semsr_core.metrics.spectrum import common_centre, radial_power_spectrum

# An ``Evaluation`` or ``PairEvaluation`` of semsr_core.metrics.evaluation; not imported
# here, so that the two modules do not import each other.
Evaluation = PairEvaluation = Any

#: Side of the crops in the per-pair figure, in HR pixels.
CROP_SIDE = 160

#: Columns of ``report.csv`` / ``report.md``: (key in the aggregate, heading).
TABLE_COLUMNS = (
    ("pairs_full_reference", "full-ref pairs"),
    ("psnr", "PSNR dB"),
    ("ssim", "SSIM"),
    ("defect_psnr", "defect PSNR"),
    ("background_psnr", "background PSNR"),
    ("defect_ssim", "defect SSIM"),
    ("psnr_gain", "ΔPSNR"),
    ("defect_psnr_gain", "Δdefect PSNR"),
    ("background_psnr_gain", "Δbackground PSNR"),
    ("ssim_gain", "ΔSSIM"),
    ("spectrum_score", "spectrum s"),
    ("disagreement", "disagreement"),
    ("grad_mean", "grad mean"),
    ("grad_p95", "grad p95"),
    ("sharpness_ratio", "sharpness"),
    ("niqe", "NIQE"),
    ("recognition_accuracy", "defects recognised"),
    ("recognition_recall", "defect-tile recall"),
)

#: Columns of ``pairs.csv`` after stem, mode and method.
PAIR_COLUMNS = (
    "psnr", "ssim", "mse", "defect_psnr", "defect_ssim", "defect_mse", "background_psnr",
    "background_ssim", "background_mse", "psnr_gain", "ssim_gain", "defect_psnr_gain",
    "background_psnr_gain", "spectrum_score", "disagreement", "grad_mean", "grad_std",
    "grad_p95", "sharpness_ratio", "niqe", "recognition_accuracy", "recognition_recall",
)

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
            "#17becf")


# ----------------------------------------------------------------------- files


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse a report folder that is a file, or holds a report unless ``overwrite``."""
    check_output_folder(out)  # "afile/report": afile is a file, not a folder
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder", path=out,
                          hint="Choose a folder name for the report.")
    if (out / "report.json").exists() and not overwrite:
        raise OutputError("already holds an evaluation report", path=out,
                          hint="Choose another folder, or pass --overwrite to replace it.")


def prepare_out_dir(out: Path) -> None:
    """Create the report folder and ``figures/``; remove an earlier ``report.json`` so
    that an interrupted run leaves no report that does not match its figures."""
    (out / "report.json").unlink(missing_ok=True)
    make_folder(out / "figures")  # OutputError: under a file, permission, disk full


def _write_atomic(path: Path, data: bytes) -> None:
    write_bytes_atomic(path, data)  # a write error: OutputError naming the file


def _remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def _save_figure(fig: Any, path: Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    _write_atomic(path, buffer.getvalue())


def jsonable(value: Any) -> Any:
    """``value`` with numpy numbers as Python numbers and inf/nan as ``None``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def _text(value: Any, key: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    if isinstance(value, int):
        return str(value)
    if "ssim" in key or "score" in key or "ratio" in key or "sharp" in key \
            or key.startswith("recognition"):
        return f"{value:.4f}"
    if "grad" in key:
        return f"{value:.4f}"
    return f"{value:.2f}"


# ------------------------------------------------------------------- the tables


def table_rows(evaluation: Evaluation) -> list[dict[str, str]]:
    """One row per method: the method name and the :data:`TABLE_COLUMNS` as text."""
    rows = []
    for method in evaluation.methods:
        values = evaluation.aggregate.get(method, {})
        row = {"method": method}
        for key, _heading in TABLE_COLUMNS:
            row[key] = _text(values.get(key), key)
        rows.append(row)
    return rows


def markdown_table(evaluation: Evaluation) -> str:
    """The per-method table in Markdown (empty cells shown as —)."""
    headings = ["method", *(h for _k, h in TABLE_COLUMNS)]
    lines = ["| " + " | ".join(headings) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headings))) + "|"]
    for row in table_rows(evaluation):
        cells = [row["method"], *(row[k] or "—" for k, _h in TABLE_COLUMNS)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _csv_text(header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def _markdown(evaluation: Evaluation, figures: bool) -> str:
    from semsr_core.metrics.modes import ALIGNED, NO_REFERENCE, REFERENCE, SKIPPED

    e = evaluation
    counts = {m: e.count(m) for m in (REFERENCE, ALIGNED, NO_REFERENCE, SKIPPED)}
    lines = [
        f"# semsr evaluation of {e.data}",
        "",
        f"×{e.scale}; {len(e.pairs)} pair(s): {counts[REFERENCE]} full-reference (sizes "
        f"match), {counts[ALIGNED]} aligned first, {counts[NO_REFERENCE]} no-reference only, "
        f"{counts[SKIPPED]} skipped. Baseline: {e.baseline}. Models: "
        + (", ".join(f"{n} ({m['arch']})" for n, m in e.models.items()) or "none") + ".",
        "",
        markdown_table(e),
        "",
        f"HR itself: NIQE {_text(e.hr.get('niqe')) or '—'}, grad p95 "
        f"{_text(e.hr.get('grad_p95'), 'grad') or '—'} (means over the evaluated pairs); "
        f"defects recognised {_text(e.hr.get('recognition_accuracy'), 'recognition') or '—'}, "
        f"defect-tile recall {_text(e.hr.get('recognition_recall'), 'recognition') or '—'}.",
        "",
        "Means over pairs: PSNR/SSIM over full-reference pairs, defect values over pairs "
        "with defects (inside the masks; SSIM over the masks dilated by 3 px), background "
        "= outside the masks; Δ = method − " + e.baseline + " (dB for PSNR). Spectrum s = "
        "1 − MSE(log P_hr, log P_sr) / MSE(log P_hr, log P_bicubic) ([S3] eq. 5.1 on log "
        "spectra): 1 = HR's spectrum, 0 = no better than bicubic. Gradient statistics are "
        "of the Sobel magnitude; sharpness = its 95th percentile ÷ HR's. NIQE (Mittal et "
        "al. 2013; lower = closer to pristine natural images) with semsr's pristine model "
        "fitted on scikit-image's photographs; undefined (—) for images under two 96×96 "
        "patches. [S3]'s perceptual index is not reported: it needs Ma et al.'s score. "
        "Do defects stay recognisable? The bundled defect classifier labels each 64×64 "
        "tile (none, bridge, break, missing, merged, particle) of HR and of each method's "
        "image on pairs of matching sizes with labelled masks (not on pairs aligned "
        "here: the labels are not carried); 'defects recognised' = share "
        "of all tiles whose class it gets right (most hold no defect), 'defect-tile "
        "recall' = the same over the tiles holding a defect; pooled over all tiles. HR's "
        "values are the ceiling.",
        "",
        "## Pairs",
        "",
    ]
    for p in e.pairs:
        psnrs = ", ".join(f"{m} {_text(p.metrics[m].get('psnr'))}" for m in e.methods
                          if m in p.metrics and p.metrics[m].get("psnr") is not None)
        text = f"- **{p.stem}** — {p.mode}"
        if p.reason:
            text += f": {p.reason}"
        if psnrs:
            text += f". PSNR dB: {psnrs}"
        if p.defect_pixels:
            text += f"; {p.defect_pixels} defect pixels"
        lines.append(text)
        if figures and p.mode != SKIPPED:
            lines.append(f"  ![{p.stem} crops](figures/{p.stem}_crops.png) "
                         f"![{p.stem} spectrum](figures/{p.stem}_spectrum.png)")
    for u in e.unmatched:
        lines.append(f"- not paired: {u['file']} ({u['reason']})")
    if figures:
        lines += ["", "![summary](figures/summary.png)"]
    return "\n".join(lines) + "\n"


def write_report(out: Path, evaluation: Evaluation, figures: bool = True) -> None:
    """Write ``report.json``, ``report.md``, ``report.csv``, ``pairs.csv`` (and summary.png)."""
    e = evaluation
    document = {
        "data": str(e.data), "scale": e.scale, "baseline": e.baseline, "methods": e.methods,
        "models": e.models,
        "counts": {mode: e.count(mode) for mode in
                   ("reference", "aligned", "no-reference", "skipped")},
        "aggregate": e.aggregate,
        "hr": e.hr,
        "pairs": [p.summary() for p in e.pairs],
        "unmatched": e.unmatched,
        "definitions": {
            "psnr": "10·log10(1/MSE), images in [0, 1]; null when identical (infinite)",
            "ssim": "scikit-image structural_similarity, 7×7 uniform window, data range 1",
            "defect_*": "inside the defect masks (SSIM: mean SSIM map over the masks dilated "
                        "by 3 px)",
            "background_*": "outside the masks (SSIM: outside the dilated masks)",
            "*_gain": f"method − {e.baseline}",
            "spectrum_score": "1 − MSE(log10 P_hr, log10 P_method) / MSE(log10 P_hr, "
                              "log10 P_bicubic), radially averaged Hann-windowed power "
                              "spectra ([S3] eq. 5.1 on log spectra)",
            "disagreement": "share of LR pixels where the network's own output, degraded "
                            "as the scan was made, departs from the scan beyond its noise "
                            "(semsr_core.infer.consistency; the result itself is projected "
                            "back by default)",
            "grad_*": "Sobel gradient magnitude (skimage.filters.sobel): mean, std, 95th "
                      "percentile",
            "sharpness_ratio": "grad_p95 of the method ÷ grad_p95 of HR",
            "niqe": "NIQE (Mittal et al. 2013) against semsr's pristine model "
                    "(resources/metrics/niqe_pristine.npz, fitted by benchmarks/fit_niqe.py "
                    "on scikit-image's natural photographs); lower = more natural; null for "
                    "an image under two 96×96 patches or a flat one. Values compare with "
                    "each other, not with published NIQE figures",
            "recognition_*": "the bundled defect classifier (resources/models/"
                             "defect-classifier.semsr) on the image's 64×64 tiles against "
                             "each tile's class from the labelled mask (dominant defect by "
                             "area, 'none' under 24 defect pixels): accuracy over all tiles, "
                             "recall over the tiles holding a defect; pooled over the tiles "
                             "of the pairs of matching sizes with masks; HR's in 'hr'",
        },
    }
    files = {
        "json": out / "report.json", "markdown": out / "report.md",
        "csv": out / "report.csv", "pairs_csv": out / "pairs.csv",
    }
    pair_rows = [[p.stem, p.mode, m, *(_text(p.metrics[m].get(k), k) for k in PAIR_COLUMNS)]
                 for p in e.pairs for m in e.methods if m in p.metrics]
    written: list[Path] = []
    try:  # report.json last: its presence means the whole report is there
        _write_atomic(files["markdown"], _markdown(e, figures).encode("utf-8"))
        written.append(files["markdown"])
        _write_atomic(files["csv"], _csv_text(
            ["method", *(k for k, _h in TABLE_COLUMNS)],
            [[r["method"], *(r[k] for k, _h in TABLE_COLUMNS)] for r in table_rows(e)]))
        written.append(files["csv"])
        _write_atomic(files["pairs_csv"], _csv_text(["stem", "mode", "method", *PAIR_COLUMNS],
                                                    pair_rows))
        written.append(files["pairs_csv"])
        if figures:
            files["summary"] = out / "figures" / "summary.png"
            _save_figure(summary_figure(e), files["summary"])
            written.append(files["summary"])
        _write_atomic(files["json"], (json.dumps(jsonable(document), indent=1,
                                                 ensure_ascii=False) + "\n").encode("utf-8"))
    except BaseException:  # a full disk half-way: no part of this report stays behind
        _remove(written)
        raise
    e.files = files


# ------------------------------------------------------------------- the figures


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
    lo, hi = np.percentile(hr_crop, [0.5, 99.5])
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


def write_pair_figures(out: Path, result: PairEvaluation, methods: list[str]) -> list[Path]:
    """Write ``figures/<stem>_crops.png`` and ``figures/<stem>_spectrum.png``; return them."""
    crops = out / "figures" / f"{result.stem}_crops.png"
    spectrum = out / "figures" / f"{result.stem}_spectrum.png"
    _save_figure(crops_figure(result, methods), crops)
    try:
        _save_figure(spectrum_figure(result, methods), spectrum)
    except BaseException:  # the pair's figures come as two or not at all
        _remove([crops])
        raise
    return [crops, spectrum]


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
