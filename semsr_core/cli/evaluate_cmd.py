"""``semsr evaluate``: scoring models and the bicubic baseline on a dataset."""

from __future__ import annotations

import argparse
import sys

from semsr_core.cli.progress import ProgressPrinter
from semsr_core.events import Event, EventKind


def add_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="DIR",
                   help="dataset folder with lr/ and hr/ (files paired by name) and optional "
                        "masks/ (defect labels at HR size)")
    p.add_argument("--model", dest="models", action="append", default=[], metavar="NAME|PATH",
                   help="model name or file to evaluate (repeatable; default: the bundled "
                        "model of the data's scale, default-x4 or default-x2)")
    p.add_argument("--baseline-only", action="store_true",
                   help="evaluate the baseline upscaling alone, no model")
    p.add_argument("--baseline", default="bicubic", choices=["bicubic", "nearest"],
                   help="upscaling the models are compared with (default bicubic)")
    p.add_argument("-o", "--output", required=True, metavar="REPORT_DIR",
                   help="folder for report.json, report.md, report.csv, pairs.csv, figures/")
    p.add_argument("--device", default="auto", help="auto (CUDA → MPS → CPU), cpu, cuda, "
                   "cuda:<i> or mps")
    p.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _bundled_model_for(args: argparse.Namespace) -> tuple[list[str], str]:
    """Without --model: the bundled model of the data's scale, and a note that says so."""
    from semsr_core.metrics.evaluation import dataset_scale
    from semsr_core.models import MODEL_SUFFIX, bundled_models_dir
    from semsr_core.train.init_model import bundled_model_name

    scale = dataset_scale(args.data)
    path = bundled_models_dir() / f"{bundled_model_name(scale)}{MODEL_SUFFIX}"
    if not path.is_file():
        return [], (f"no --model given and no bundled ×{scale} model: evaluating "
                    f"{args.baseline} only")
    return [str(path)], (f"no --model given: evaluating the bundled ×{scale} model "
                         f"'{path.stem}' and {args.baseline} (choose others with --model)")


def run_evaluate(args: argparse.Namespace) -> int:
    from semsr_core.metrics import evaluate
    from semsr_core.metrics.report import markdown_table

    chosen, note = ((args.models, "") if args.models or args.baseline_only
                    else _bundled_model_for(args))
    progress = ProgressPrinter(quiet=args.quiet)

    def on_event(event: Event) -> None:
        nonlocal note
        if note and event.kind is EventKind.PROGRESS:  # when the work starts: not before
            print(f"semsr: {note}", file=sys.stderr)  # an error such as a refused folder
            note = ""
        progress(event)

    try:
        result = evaluate(args.data, args.output, chosen, baseline=args.baseline,
                          device=args.device, overwrite=args.overwrite,
                          figures=not args.no_figures, on_event=on_event)
    finally:
        progress.close()
    print(markdown_table(result))
    hr_niqe = result.hr.get("niqe")
    print("HR itself: NIQE " + ("— (images under two 96×96 patches)" if hr_niqe is None
                                else f"{hr_niqe:.2f}") + " (NIQE: lower = more natural)")
    if result.hr.get("recognition_accuracy") is not None:  # data with labelled masks
        recall = result.hr.get("recognition_recall")
        print(f"HR itself: defects recognised {result.hr['recognition_accuracy']:.3f}, "
              f"defect-tile recall {'—' if recall is None else f'{recall:.3f}'} "
              "(the defect classifier's ceiling)")
    counts = ", ".join(f"{result.count(mode)} {mode}" for mode in
                       ("reference", "aligned", "no-reference", "skipped") if result.count(mode))
    print(f"{len(result.pairs)} pair(s) ({counts}), ×{result.scale}; report: "
          f"{result.files['json']} (table: report.md, report.csv)")
    return 0
