"""Aligning two folders of scans: :func:`align_folder` (what ``semsr align`` runs).

Pairs are matched by stem, each is aligned (:func:`~semsr_core.data.align.align_pair`,
a stack slice by slice), the kept pairs are written by the one aligned-pair writer
(:mod:`~semsr_core.data.align.writer`), and every pair, kept or not, is listed in the
report with its overlay (:mod:`~semsr_core.data.align.report`).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

from semsr_core.data.align.pair import align_pair, check_settings
from semsr_core.data.align.report import write_overlay, write_report
from semsr_core.data.align.result import (
    ALIGNED,
    DEFAULT_FAIL_THRESHOLD,
    DEFAULT_MIN_PEAK_RATIO,
    DEFAULT_THRESHOLD,
    FAILED,
    SUSPICIOUS,
    UNPAIRED,
)
from semsr_core.data.align.writer import write_aligned_pair
from semsr_core.data.masks import MASKS_FOLDER, find_mask, read_mask_stack
from semsr_core.errors import InputError, OutputError
from semsr_core.events import (
    CancelToken,
    EventCallback,
    Finished,
    Message,
    Progress,
    check_cancel,
    emit,
)


def _check_out_dir(out_dir: Path, inputs: list[Path], overwrite: bool) -> None:
    resolved = out_dir.resolve()
    for folder in inputs:
        if resolved == folder.resolve():
            raise OutputError("the output folder is an input folder", path=out_dir,
                              hint="choose a new folder for the aligned pairs")
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError("the output path exists and is not a folder", path=out_dir,
                          hint="choose a folder name")
    if (out_dir / "report.json").exists() and not overwrite:
        raise OutputError("the output folder already holds an alignment report",
                          path=out_dir, hint="choose another folder or allow overwriting "
                                             "(--overwrite)")


def align_folder(
    lr_dir: str | PathLike,
    hr_dir: str | PathLike,
    out_dir: str | PathLike,
    *,
    rule: str | None = None,
    scale: int | None = None,
    max_shift: float | None = None,
    max_rotation: float = 0.0,
    scale_search: float = 0.0,
    threshold: float = DEFAULT_THRESHOLD,
    fail_threshold: float = DEFAULT_FAIL_THRESHOLD,
    min_peak_ratio: float = DEFAULT_MIN_PEAK_RATIO,
    contrast_degree: int = 3,
    keep_suspicious: bool = True,
    overwrite: bool = False,
    masks_dir: str | PathLike | None = None,
    on_event: EventCallback | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Align every LR/HR pair of two folders and write the aligned pairs and a report.

    Pairs are matched by stem (or ``rule``, see :func:`semsr_core.data.pairs.find_pairs`);
    a file holding a stack of Z slices is aligned slice by slice with its partner
    (``<stem>_z0003``). The scale of each pair is inferred from the image sizes and
    checked against the pixel sizes in the files (and against ``scale`` when given).

    Writes into ``out_dir``:

    * ``lr/<stem>.tif`` and ``hr/<stem>.tif``: the cropped pairs (OME-TIFF, input dtype,
      LR pixel size kept, HR pixel size = LR pixel size / scale), for pairs whose verdict
      is "aligned", and "suspicious" too when ``keep_suspicious``;
    * ``masks/<stem>.tif``: a written pair's annotated defects (``masks_dir/<stem>.*``,
      drawn on HR; by default the ``masks`` folder next to ``hr_dir`` when there is one)
      carried through the same crop and geometry as HR, 0/1 uint8;
    * ``overlays/<stem>.png``: upscaled LR (magenta) over HR (green), before | after;
    * ``report.csv`` and ``report.json``: one row per pair (verdict, reason, shift,
      rotation, scale factor, NCC before/after, …), files without a partner as
      ``unpaired`` rows. Excluded pairs are listed with their reason, never dropped.

    The other arguments are those of :func:`align_pair`. Emits PROGRESS events (stage
    "aligning"), a warning MESSAGE per excluded pair, and FINISHED with the counts.
    Returns the report (the content of ``report.json``).

    Raises:
        ConfigError: a setting is out of range (before anything is written).
        InputError: a folder is missing or holds no pairs.
        OutputError: ``out_dir`` is an input folder or already holds a report (unless
            ``overwrite``).
        Cancelled: ``cancel`` was set; files already written stay, the report is not.
    """
    from semsr_core.data.pairs import find_pairs

    check_settings(threshold, fail_threshold, min_peak_ratio, contrast_degree, max_shift,
                    max_rotation, scale_search)
    out = Path(out_dir)
    if masks_dir is None and (Path(hr_dir).parent / MASKS_FOLDER).is_dir():
        masks_dir = Path(hr_dir).parent / MASKS_FOLDER
    if masks_dir is not None and not Path(masks_dir).is_dir():
        raise InputError("no such masks folder", path=masks_dir,
                         hint="Give the folder that holds <stem>.tif defect masks.")
    _check_out_dir(out, [Path(lr_dir), Path(hr_dir)], overwrite)
    pairing = find_pairs(lr_dir, hr_dir, rule=rule)
    for folder in ("lr", "hr", "overlays") + ((MASKS_FOLDER,) if masks_dir else ()):
        (out / folder).mkdir(parents=True, exist_ok=True)
    settings = {
        "lr_dir": str(lr_dir), "hr_dir": str(hr_dir), "rule": rule, "scale": scale,
        "masks_dir": None if masks_dir is None else str(masks_dir),
        "max_shift": max_shift, "max_rotation": max_rotation, "scale_search": scale_search,
        "threshold": threshold, "fail_threshold": fail_threshold,
        "min_peak_ratio": min_peak_ratio, "contrast_degree": contrast_degree,
        "keep_suspicious": keep_suspicious,
    }
    options = {k: settings[k] for k in ("max_shift", "max_rotation", "scale_search",
                                        "threshold", "fail_threshold", "min_peak_ratio",
                                        "contrast_degree")}
    rows: list[dict[str, Any]] = []
    total = len(pairing.pairs)
    emit(on_event, Progress(done=0, total=total, stage="aligning", unit="pair"))
    for done, pair in enumerate(pairing.pairs, start=1):
        check_cancel(cancel)
        for row in _align_file_pair(pair, out, scale, options, keep_suspicious, overwrite,
                                    cancel, masks_dir):
            rows.append(row)
            if not row["written"]:
                emit(on_event, Message(f"{row['stem']}: {row['verdict']}, not used: "
                                       f"{row['reason']}", level="warning"))
        emit(on_event, Progress(done=done, total=total, stage="aligning", unit="pair"))
    for item in pairing.unmatched:
        emit(on_event, Message(f"{item.path}: not paired: {item.reason}", level="warning"))
        rows.append({"stem": item.path.stem, "verdict": UNPAIRED, "reason": item.reason,
                     "written": False, "lr_file": "", "hr_file": "", "overlay": "",
                     "unpaired_file": str(item.path)})
    counts = {v: sum(r["verdict"] == v for r in rows)
              for v in (ALIGNED, SUSPICIOUS, FAILED, UNPAIRED)}
    counts["written"] = sum(bool(r["written"]) for r in rows)
    if masks_dir is not None:
        counts["masks"] = sum(bool(r.get("mask")) for r in rows)
    report = {"settings": settings, "counts": counts, "pairs": rows}
    write_report(out, report)
    emit(on_event, Finished(outputs={"path": str(out / "report.csv"), **counts}))
    return report


def _align_file_pair(pair, out: Path, scale, options, keep_suspicious: bool,
                     overwrite: bool, cancel: CancelToken | None, masks_dir=None
                     ) -> list[dict[str, Any]]:
    """Align one pair of files (every slice of a stack); the report rows."""
    from semsr_core.data.pairs import infer_scale
    from semsr_core.io import read_stack

    base = {"lr_file": str(pair.lr_path), "hr_file": str(pair.hr_path), "written": False,
            "overlay": ""}
    try:
        lr_stack, hr_stack = read_stack(pair.lr_path), read_stack(pair.hr_path)
    except InputError as exc:  # an unreadable file excludes its pair, visibly
        return [{**base, "stem": pair.stem, "verdict": FAILED, "reason": str(exc)}]
    with lr_stack, hr_stack:
        if len(lr_stack) != len(hr_stack):
            return [{**base, "stem": pair.stem, "verdict": FAILED,
                     "reason": f"the LR file has {len(lr_stack)} slices but the HR file "
                               f"{len(hr_stack)}"}]
        try:
            mask_path = find_mask(masks_dir, pair.stem)
            masks = (None if mask_path is None else
                     read_mask_stack(mask_path, len(hr_stack), hr_stack.shape[-2:]))
        except InputError as exc:  # a bad mask excludes its pair, visibly
            return [{**base, "stem": pair.stem, "verdict": FAILED, "reason": str(exc)}]
        rows = []
        for z in range(len(lr_stack)):
            check_cancel(cancel)
            stem = pair.stem if len(lr_stack) == 1 else f"{pair.stem}_z{z:04d}"
            row = {**base, "stem": stem}
            lr, hr = lr_stack[z], hr_stack[z]
            try:
                inferred = infer_scale(lr.shape, hr.shape, lr_stack.pixel_size,
                                       hr_stack.pixel_size, lr_path=pair.lr_path,
                                       hr_path=pair.hr_path)
                if scale is not None and inferred != scale:
                    raise InputError(f"the image sizes give a scale of {inferred}, not the "
                                     f"requested {scale}", path=pair.hr_path,
                                     hint="check the pair or the requested scale")
                result = align_pair(lr, hr, inferred, **options)
            except InputError as exc:  # this pair is excluded, with the reason in the report
                rows.append({**row, "verdict": FAILED, "reason": str(exc)})
                continue
            row.update(result.summary())
            overlay_path = out / "overlays" / f"{stem}.png"
            write_overlay(overlay_path, lr, hr, result)
            row["overlay"] = str(overlay_path.relative_to(out))
            keep = result.verdict == ALIGNED or (result.verdict == SUSPICIOUS
                                                and keep_suspicious)
            lr_out, hr_out = out / "lr" / f"{stem}.tif", out / "hr" / f"{stem}.tif"
            if keep:
                write_aligned_pair(
                    out, stem, result, lr_source=pair.lr_path, hr_source=pair.hr_path,
                    lr_pixel_size=lr_stack.pixel_size, hr_pixel_size=hr_stack.pixel_size,
                    mask=None if masks is None else masks[z], mask_source=mask_path,
                    overwrite=overwrite)
                if masks is not None:
                    row["mask"] = str(mask_path)
                row["written"] = True
            else:
                for stale in (lr_out, hr_out, out / MASKS_FOLDER / f"{stem}.tif"):
                    stale.unlink(missing_ok=True)  # from an earlier run with other settings
            rows.append(row)
        return rows


