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

The tables and files are here; the figures are drawn by
:mod:`semsr_core.metrics.figures`.
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
from semsr_core.metrics.figures import (  # drawn there, saved here
    CROP_SIDE,  # noqa: F401 (importable from here as before)
    crops_figure,
    spectrum_figure,
    summary_figure,
)
from semsr_core.metrics.noisy_reference import NOISY_REFERENCE_SIGMA, noisy_reference_note

# An ``Evaluation`` or ``PairEvaluation`` of semsr_core.metrics.evaluation; not imported
# here, so that the two modules do not import each other.
Evaluation = PairEvaluation = Any


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
    note = noisy_reference_note(e.pairs)
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
        *([f"**Noisy references.** {note}", ""] if note else []),
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
            "psnr": "10·log10(1/MSE), images in [0, 1]; per pair null when identical "
                    "(infinite); in the means and gains each pair counts at most 60 dB",
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
            "noise_sigma": "HR's noise estimate (semsr_core.archs.noise_level, [0, 1] "
                           f"units); above {NOISY_REFERENCE_SIGMA} the reference is a noisy "
                           "scan, against which removing noise loses PSNR",
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
