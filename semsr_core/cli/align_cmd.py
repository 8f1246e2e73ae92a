"""``semsr align``: pairing unaligned lab scans and cropping them to a common field of view."""

from __future__ import annotations

import argparse
import os

from semsr_core.cli.progress import ProgressPrinter
from semsr_core.errors import Cancelled, SemsrError


def add_align(p: argparse.ArgumentParser) -> None:
    p.add_argument("lr_dir", metavar="LR_DIR", help="folder of low-resolution scans")
    p.add_argument("hr_dir", metavar="HR_DIR",
                   help="folder of high-resolution scans (files matched to LR by name stem)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="folder to write lr/, hr/, overlays/, report.csv and report.json into")
    p.add_argument("--rule", metavar="REGEX",
                   help="naming rule: a regular expression with a group (?P<stem>...) that "
                        "gives the common name of LR and HR files")
    p.add_argument("--scale", type=int,
                   help="expected scale factor; pairs whose sizes give another are excluded")
    p.add_argument("--max-shift", type=float, metavar="PX",
                   help="largest shift searched, in HR pixels (default: a quarter of the image)")
    p.add_argument("--max-rotation", type=float, default=0.0, metavar="DEG",
                   help="also search rotations within ± this many degrees (default 0)")
    p.add_argument("--scale-search", type=float, default=0.0, metavar="FRACTION",
                   help="also search scale factors within 1 ± this, e.g. 0.02 (default 0)")
    p.add_argument("--threshold", type=float, default=None, metavar="NCC",
                   help="NCC after alignment below which a pair is suspicious (default 0.6)")
    p.add_argument("--fail-threshold", type=float, default=None, metavar="NCC",
                   help="NCC after alignment below which a pair is failed (default 0.35)")
    p.add_argument("--min-peak-ratio", type=float, default=1.5, metavar="RATIO",
                   help="how much worse any clearly different shift must explain HR where the "
                        "two differ; below it a pair is suspicious (periodic patterns "
                        "without a defect or an edge). Default 1.5; 1 disables")
    p.add_argument("--exclude-suspicious", action="store_true",
                   help="write only pairs judged aligned (default: suspicious ones too)")
    p.add_argument("--linear-contrast", action="store_true",
                   help="score with plain NCC instead of allowing a contrast/gamma gap")
    p.add_argument("--masks", metavar="MASK_DIR",
                   help="annotated defect masks drawn on the HR scans (<stem>.tif, nonzero = "
                        "defect), carried through the same crop into OUT/masks/ (default: "
                        "the masks folder next to HR_DIR, if there is one)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results of an earlier run in OUT")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run_align(args: argparse.Namespace) -> int:
    from semsr_core.data import align

    threshold = align.DEFAULT_THRESHOLD if args.threshold is None else args.threshold
    fail = align.DEFAULT_FAIL_THRESHOLD if args.fail_threshold is None else args.fail_threshold
    if args.threshold is not None and args.fail_threshold is None:
        fail = min(fail, threshold)
    from semsr_core.io.write import check_output_folder

    check_output_folder(os.path.join(args.output, "lr"))
    if args.scale is None:
        _refuse_mixed_scales(args)
    progress = ProgressPrinter(quiet=args.quiet)
    try:
        report = align.align_folder(
            args.lr_dir, args.hr_dir, args.output, rule=args.rule, scale=args.scale,
            max_shift=args.max_shift, max_rotation=args.max_rotation,
            scale_search=args.scale_search, threshold=threshold, fail_threshold=fail,
            min_peak_ratio=args.min_peak_ratio,
            contrast_degree=1 if args.linear_contrast else 3,
            keep_suspicious=not args.exclude_suspicious, overwrite=args.overwrite,
            masks_dir=args.masks, on_event=progress)
    except SemsrError as exc:
        raise _in_cli_words(exc, _ALIGN_FLAGS) from None
    finally:
        progress.close()
    c = report["counts"]
    print(f"{c['aligned']} aligned, {c['suspicious']} suspicious, {c['failed']} failed, "
          f"{c['unpaired']} unpaired; {c['written']} pair(s) written to {args.output} "
          + (f"with {c['masks']} defect mask(s) " if "masks" in c else "")
          + "(see report.csv and overlays/)")
    return 0


# align's API names → its flags, longest first (an error message names what to change)
_ALIGN_FLAGS = (
    ("(overwrite=True, --overwrite)", "(--overwrite)"), ("overwrite=True", "--overwrite"),
    ("min_peak_ratio", "--min-peak-ratio"), ("max_rotation", "--max-rotation"),
    ("scale_search", "--scale-search"), ("max_shift", "--max-shift"),
    ("contrast_degree", "the contrast model (--linear-contrast)"),
    ("fail threshold (", "--fail-threshold ("), ("≤ threshold (", "≤ --threshold ("),
    ("masks_dir", "--masks"),
)


def _in_cli_words(exc: SemsrError, words: tuple[tuple[str, str], ...]) -> SemsrError:
    """The same error with the API's argument names replaced by the CLI's flags."""
    text = str(exc)
    for api, flag in words:
        text = text.replace(api, flag)
    if text == str(exc) or isinstance(exc, Cancelled):
        return exc
    try:
        return type(exc)(text)
    except TypeError:  # a subclass with its own arguments
        return SemsrError(text)


def _refuse_mixed_scales(args: argparse.Namespace) -> None:
    """A folder that mixes ×4 and ×2 pairs would give a dataset no training can use:
    refuse it, naming the pairs of each scale and how to split them."""
    from semsr_core.data.pairs import find_pairs, infer_scale
    from semsr_core.errors import InputError
    from semsr_core.io import read_stack

    by_scale: dict[int, list[str]] = {}
    for pair in find_pairs(args.lr_dir, args.hr_dir, rule=args.rule).pairs:
        try:
            with read_stack(pair.lr_path) as lr, read_stack(pair.hr_path) as hr:
                scale = infer_scale(lr.shape[-2:], hr.shape[-2:], lr.pixel_size,
                                    hr.pixel_size, lr_path=pair.lr_path, hr_path=pair.hr_path)
        except SemsrError:
            continue  # align reports this pair as failed, with its reason
        by_scale.setdefault(scale, []).append(pair.stem)
    if len(by_scale) < 2:
        return
    listing = "; ".join(f"×{s}: {_names(stems)}" for s, stems in sorted(by_scale.items()))
    first, *others = sorted(by_scale)
    raise InputError(
        f"{args.lr_dir} and {args.hr_dir} mix pairs of {len(by_scale)} scales ({listing}), "
        "and one dataset must have one scale",
        hint=f"Align each scale into its own folder: --scale {first} -o OUT_x{first}, then "
             + ", ".join(f"--scale {s} -o OUT_x{s}" for s in others)
             + " (pairs of the other scales are listed as failed, not written)")


def _names(stems: list[str], n: int = 5) -> str:
    shown = ", ".join(stems[:n])
    return shown + (f" and {len(stems) - n} more" if len(stems) > n else "")
