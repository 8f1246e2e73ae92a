"""The ``semsr`` command line: parses arguments, calls the API, shows progress.

Each sub-command is a pair of functions, ``_add_<name>(parser)`` and
``_run_<name>(args)``, listed in :data:`COMMANDS`. Imports of the engine happen
inside the ``_run_`` functions so that ``semsr --help`` starts instantly.
Errors a user can act on (:class:`~semsr_core.errors.SemsrError`) are printed on
one line and exit with status 2; Ctrl-C exits with status 130 and SIGTERM with 143,
both after the same clean-up (no ``.partial`` file is left behind).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from semsr_core.errors import Cancelled, SemsrError
from semsr_core.events import Event, EventKind

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as the shell reports a process ended by it


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every ``except BaseException`` clean-up runs
    (temporary ``.partial`` files removed, the run folder's lock released)."""


class ProgressPrinter:
    """Renders engine events on the terminal: a tqdm bar per stage, messages above it.

    A stage's bar is made from its first PROGRESS event (the engine sends ``done`` 0
    when a stage starts, so the bar's clock and rate start with the work) and is kept
    while the stage goes on, even when its ``total`` grows (training counts the whole
    run). A stage that starts again (``done`` going back) gets a new bar. Progress is
    added with ``update`` so that tqdm measures a real rate; a first event that already
    has ``done`` > 0 becomes the bar's ``initial`` and is left out of the rate.
    """

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self._bar = None
        self._stage = None

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        if event.kind is EventKind.PROGRESS:
            self._progress(event.data)
        elif event.kind is EventKind.MESSAGE:
            text = event.data.get("text", "")
            level = event.data.get("level", "info")
            line = f"semsr: {level}: {text}" if level != "info" else f"semsr: {text}"
            if self._bar is not None:
                self._bar.write(line, file=sys.stderr)
            else:
                print(line, file=sys.stderr)

    def _progress(self, data: dict) -> None:
        from tqdm import tqdm

        stage = data.get("stage", "")
        total = data.get("total")
        done = int(data.get("done", 0))
        if self._bar is None or stage != self._stage or done < self._bar.n:
            self.close()
            self._stage = stage
            self._bar = tqdm(total=total, initial=done, desc=stage,
                             unit=data.get("unit", "it"), dynamic_ncols=True, file=sys.stderr)
        bar = self._bar
        if total != bar.total:
            bar.total = total
        postfix = data.get("postfix")
        if postfix:
            bar.set_postfix_str(str(postfix), refresh=False)
        if done > bar.n:
            bar.update(done - bar.n)
        else:
            bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
            self._stage = None


# --------------------------------------------------------------------- commands


def _add_info(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", help="image or stack files to describe")


def _run_info(args: argparse.Namespace) -> int:
    from semsr_core.io import read_stack

    for path in args.paths:
        stack = read_stack(path)
        size = "unknown pixel size" if stack.pixel_size is None else (
            f"pixel size {stack.pixel_size:g} {stack.unit}")
        print(f"{path}: {len(stack)} slice(s) of {stack.shape[-2]}×{stack.shape[-1]} "
              f"{stack.dtype}, {size}")
    return 0


def _add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default="out", help="folder for the result (default: out)")
    p.add_argument("--model", default="default-x4", help="model name or file")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--gui", dest="gui", action="store_true", default=None,
                   help="open the app with LR, SR and HR layers (default: when a display is "
                        "available and napari is installed)")
    p.add_argument("--no-gui", dest="gui", action="store_false", help="never open the app")


def _run_demo(args: argparse.Namespace) -> int:
    import importlib.util

    from semsr_core.demo import run_demo, sample_stacks

    printer = ProgressPrinter()
    try:
        result = run_demo(args.output, model=args.model, device=args.device, on_event=printer)
    finally:
        printer.close()
    print(f"super-resolved {sample_stacks()[0]} with model '{result.model}'")
    print(f"result: {result.output}")
    print("slice  PSNR SR / bicubic (dB)   SSIM SR / bicubic")
    for r in result.rows:
        print(f"{r['slice']:5d}  {r['psnr']:7.2f} / {r['psnr_bicubic']:6.2f}"
              f"        {r['ssim']:.4f} / {r['ssim_bicubic']:.4f}")
    print(f" mean  {result.mean('psnr'):7.2f} / {result.mean('psnr_bicubic'):6.2f}"
          f"        {result.mean('ssim'):.4f} / {result.mean('ssim_bicubic'):.4f}")
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    gui = args.gui if args.gui is not None else (
        has_display and importlib.util.find_spec("napari") is not None)
    if gui:
        _require_napari()
        from semsr_app.launch import launch

        lr, hr = sample_stacks()
        return launch([str(lr), str(result.output), str(hr)], grid=True)
    return 0


def _add_gui(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="SEM images or stacks to open (TIFF, OME-TIFF, PNG, JPEG)")


def _require_napari() -> None:
    import importlib.util

    if importlib.util.find_spec("napari") is None:
        raise SemsrError("napari is not installed, so the app cannot start",
                         hint="Install it with `pip install 'semsr[gui]'` (scripts/setup.sh "
                              "does this).")


def _run_gui(args: argparse.Namespace) -> int:
    _require_napari()
    from semsr_app.launch import launch

    return launch(args.files)


def _add_models(p: argparse.ArgumentParser) -> None:
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    actions.add_parser("list", help="list installed models (user folder, then bundled)")
    info = actions.add_parser("info", help="show a model's card and parameter count")
    info.add_argument("model", help="model name or file (.semsr, .safetensors, .pth)")
    info.add_argument("--json", action="store_true", help="print the whole model card as JSON")
    imp = actions.add_parser("import", help="import ESRGAN/Real-ESRGAN/BasicSR weights "
                             "(.pth or .safetensors) into the user models folder")
    imp.add_argument("file", help="weights file to import")
    imp.add_argument("--name", default="", help="model name (default: the file name)")
    imp.add_argument("--scale", type=int, default=None,
                     help="upscaling factor, only if detection from the weights is ambiguous")
    imp.add_argument("--replace", "--force", dest="replace", action="store_true",
                     help="replace a user model of the same name, or hide a bundled one "
                          "(refused without it)")
    exp = actions.add_parser("export", help="write a model to a .semsr file for sharing")
    exp.add_argument("model", help="model name or file")
    exp.add_argument("dest", help="destination .semsr file or folder")
    exp.add_argument("--force", action="store_true", help="replace an existing file")


def _run_models(args: argparse.Namespace) -> int:
    from semsr_core import models

    if args.action == "list":
        entries = models.list_models(hidden=True)
        if not entries:
            print(f"no models installed; import one with `semsr models import FILE.pth` "
                  f"(user folder: {models.user_models_dir()})")
            return 0
        print(_models_table(entries, models.preferred_model(
            [e for e in entries if not e.hidden_by])))
    elif args.action == "info":
        path = models.resolve_model(args.model)
        model = models.load_model(path)
        if args.json:
            print(model.card.to_json())
        else:
            print("\n".join(_card_lines(model, path)))
    elif args.action == "import":
        model, dest = models.import_model(args.file, name=args.name, scale=args.scale,
                                          overwrite=args.replace)
        c = model.card
        print(f"imported {args.file} as '{c.name}': {c.arch} ×{c.scale}, "
              f"{c.in_channels}→{c.out_channels} channels, {model.parameter_count:,} "
              f"parameters → {dest}")
    elif args.action == "export":
        dest = models.export_model(args.model, args.dest, overwrite=args.force)
        print(f"exported {args.model} → {dest}")
    return 0


def _models_table(entries: list, preferred) -> str:
    """``semsr models list``: a header, one aligned row per model, ``*`` on the one the
    Super-resolve panel selects until the user chooses (:func:`models.preferred_model`)."""
    rows = [("", "NAME", "FROM", "MODEL", "SIZE", "FILE")]
    for e in entries:
        what = f"{e.arch} ×{e.scale}" if not e.problem else f"unreadable: {e.problem}"
        mark = "*" if preferred is not None and e.path == preferred.path else ""
        origin = f"{e.origin} (hidden)" if e.hidden_by else e.origin
        rows.append((mark, e.name, origin, what, f"{e.size_mb:.1f} MB", str(e.path)))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + "  " + r[-1]
             for r in rows]
    if preferred is not None:
        lines.append(f"* '{preferred.name}': the model the Super-resolve panel selects first "
                     "(your own models before the bundled default)")
    for e in entries:
        if e.hidden_by:
            lines.append(f"(hidden) '{e.name}': the name means your model {e.hidden_by}, "
                         "not the bundled one; delete or rename yours to use the bundled model")
    return "\n".join(line.rstrip() for line in lines)


def _number(value) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}" \
        if isinstance(value, float) else str(value)


def _training_text(training: dict) -> str:
    """One line: how long a model was trained (no paths of temporary files)."""
    parts = []
    if training.get("epochs") is not None:
        parts.append(f"{_number(training['epochs'])} epochs")
    if training.get("steps") is not None:
        parts.append(f"{_number(training['steps'])} steps")
    if training.get("seconds"):
        parts.append(f"{training['seconds'] / 60:.0f} min")
    return ", ".join(parts)


def _data_text(training: dict) -> str:
    """One line: what a model was trained on."""
    parts = []
    data = training.get("data") or {}
    if isinstance(data, dict):
        if "train_pairs" in data:
            parts.append(f"{len(data['train_pairs'])} training + "
                         f"{len(data.get('val_pairs', []))} validation pairs")
        elif isinstance(data.get("simulated_train"), dict):
            sim = data["simulated_train"]
            parts.append(f"{sim.get('pairs', '?')} simulated pairs of "
                         f"{sim.get('hr_size', '?')} px HR")
        if data.get("defect_masks"):
            parts.append(f"{data['defect_masks']} defect masks")
        if data.get("variation"):
            parts.append(f"varied: {data['variation']}")
    return ", ".join(parts)


def _lineage_text(training: dict) -> str:
    """The chain of models a model was fine-tuned from, summarised in one line."""
    stages = []
    parent = training.get("initialised_from")
    while isinstance(parent, dict):
        stages.append(parent)
        parent = (parent.get("training") or {}).get("initialised_from")
    if not stages:
        return ""
    steps = sum(int((s.get("training") or {}).get("steps") or 0) for s in stages)
    seconds = sum(float((s.get("training") or {}).get("seconds") or 0) for s in stages)
    recipes = " → ".join(s.get("recipe") or s.get("name") or "?" for s in reversed(stages))
    return (f"fine-tuned from {len(stages)} earlier stage(s) ({recipes}), "
            f"{steps:,} steps and {seconds / 3600:.1f} h before this one")


def _normalization_text(card) -> str:
    norm = dict(card.normalization)
    mode = norm.pop("mode", "auto")
    what = {"auto": "the intensity policy (integers by their dtype's range, floats and "
                    "narrow integers by robust percentiles)",
            "dtype": "by the dtype's range (an older card; read as the intensity policy)",
            "percentile": "by percentiles"}.get(mode, mode)
    extra = ", ".join(f"{k} {_number(v)}" for k, v in norm.items())
    low, high = card.value_range
    return f"{what}{f' ({extra})' if extra else ''}; network range {low:g}…{high:g}"


def _metrics_text(metrics: dict) -> str:
    """``psnr 22.22 dB (bicubic 20.07)``: each metric with its baseline beside it."""
    parts = []
    for key, value in metrics.items():
        if key.endswith("_bicubic") and key[: -len("_bicubic")] in metrics:
            continue
        unit = " dB" if "psnr" in key else ""
        text = f"{key} {_number(value)}{unit}"
        if f"{key}_bicubic" in metrics:
            text += f" (bicubic {_number(metrics[key + '_bicubic'])})"
        parts.append(text)
    return ", ".join(parts)


def _card_lines(model, path) -> list[str]:
    """``semsr models info``: the model card, one readable line per subject."""
    card = model.card
    sizes = ", ".join(f"{k} {v}" for k, v in card.config.items()
                      if k not in ("scale", "in_channels", "out_channels"))
    rows = [
        ("name", card.name or path.stem),
        ("file", str(path)),
        ("description", card.description),
        ("architecture", f"{card.arch}" + (f" ({sizes})" if sizes else "")),
        ("parameters", f"{model.parameter_count:,}"),
        ("scale", f"×{card.scale}, {card.in_channels} channel(s) in, "
                  f"{card.out_channels} out"),
        ("normalisation", _normalization_text(card)),
        ("recipe", card.recipe),
        ("training", _training_text(card.training)),
        ("data", _data_text(card.training)),
        ("lineage", _lineage_text(card.training)),
        ("metrics", _metrics_text(card.metrics)),
        ("created", " ".join(filter(None, [card.created, card.semsr_version
                                           and f"with semsr {card.semsr_version}"]))),
        ("source", ", ".join(f"{k} {v}" for k, v in card.source.items())),
    ]
    width = max(len(key) for key, _ in rows) + 1
    lines = [f"{key + ':':<{width}} {value}" for key, value in rows if value]
    lines.append(f"(the whole card: semsr models info {path.stem} --json)")
    return lines


def _add_simulate(p: argparse.ArgumentParser) -> None:
    p.add_argument("out_dir", metavar="OUT_DIR",
                   help="folder to write hr/, lr/, masks/ and simulation.json into")
    p.add_argument("--pairs", type=int, default=8, help="number of LR/HR pairs (default 8)")
    p.add_argument("--scale", type=int, default=4, help="LR pixel = scale × HR pixel: 2 or 4")
    p.add_argument("--size", type=int, default=256,
                   help="HR image side in pixels, a multiple of the scale (default 256)")
    p.add_argument("--seed", type=int, default=0, help="random seed; same seed, same files")
    p.add_argument("--layout", default="mixed",
                   help="hexmesh, lines, vias, particles or mixed (default mixed)")
    p.add_argument("--defects", type=float, default=1.0, metavar="RATE",
                   help="mean number of defects per 256×256 HR pixels (default 1; 0: none)")
    p.add_argument("--style-gap", action="store_true",
                   help="give the LR a different contrast/brightness than the HR")
    p.add_argument("--degradation", default="sem-noise",
                   help="how LR is made: bicubic, crappify, area or sem-noise (default)")
    p.add_argument("--pixel-size", type=float, default=2.0, metavar="NM",
                   help="HR pixel size in nm (default 2)")
    p.add_argument("--stack", action="store_true",
                   help="also write hr_stack.tif and lr_stack.tif (all pairs, multi-page)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _run_simulate(args: argparse.Namespace) -> int:
    from semsr_core.data.simulate import simulate_dataset

    progress = ProgressPrinter(quiet=args.quiet)
    try:
        written = simulate_dataset(
            args.out_dir, pairs=args.pairs, scale=args.scale, size=args.size, seed=args.seed,
            layout=args.layout, defect_rate=args.defects, style_gap=args.style_gap,
            degradation=args.degradation, stack=args.stack, pixel_size=args.pixel_size,
            on_event=progress)
    finally:
        progress.close()
    print(f"wrote {args.pairs} simulated pair(s) ({len(written)} files) to {args.out_dir}")
    return 0


def _add_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", nargs="?", help="recipe name (see `semsr runs recipes`) or a "
                   "TOML config file; not needed with --resume")
    p.add_argument("--data", help="data folder: lr/ and hr/ subfolders (or hr/ only)")
    p.add_argument("--val", help="validation folder (same layout); default: split off by pair")
    p.add_argument("--run", "--run-dir", dest="run",
                   help="run folder to create (default: runs/<recipe>-<time>); under torchrun "
                        "write --run-dir, as torchrun takes --run for its own --run-path")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set generator.blocks=2 (repeatable)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue a run from its last checkpoint with its own config.toml; "
                        "--max-minutes (a new time limit), --data and --device apply, a "
                        "recipe or --set is refused")
    p.add_argument("--max-minutes", type=float, metavar="M",
                   help="train for M minutes: the schedule is fitted to use them in full "
                        "(the plan is printed after the first steps); checkpoint and export "
                        "at the end")


def _run_train(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from semsr_core.events import CancelToken
    from semsr_core.train import resume, train

    _check_train_options(args)
    printer = ProgressPrinter()
    cancel = CancelToken()
    try:
        if args.resume:
            result = resume(args.resume, data=args.data, device=None if args.device == "auto"
                            else args.device, max_minutes=args.max_minutes,
                            on_event=printer, cancel=cancel)
        else:
            if not args.recipe or not args.data:
                raise SemsrError("give a RECIPE and --data DIR (or --resume RUN_DIR)")
            run = args.run or f"runs/{Path(args.recipe).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
            result = train(args.recipe, args.data, run, val=args.val, overrides=args.overrides,
                           device=args.device, max_minutes=args.max_minutes,
                           on_event=printer, cancel=cancel)
    finally:
        printer.close()
    if result.verdict is None:  # another rank of a torchrun job: rank 0 reports
        return 0
    _print_train_result(result)
    return 0


def _print_train_result(result) -> None:
    """The last lines of `semsr train`: what ran, where the time went, the verdict."""
    use = result.time
    line = (f"{result.status}: {result.step:,} steps, {result.epoch} epochs in "
            f"{use.get('total_s', 0) / 60:.1f} min")
    if "training_share_of_budget" in use:
        line += (f" (training steps {use['training_share_of_budget']:.0%} of the "
                 f"{use['budget_s'] / 60:g}-minute limit, validation "
                 f"{use['validation_s']:.0f} s)")
    print(line)
    verdict = result.verdict
    print(("VERDICT: " if verdict.worse else "verdict: ") + verdict.text())
    for tip in verdict.advice:
        print(f"  try: {tip}")
    if result.model_path is not None:
        print(f"model: {result.model_path}")


def _check_train_options(args: argparse.Namespace) -> None:
    """Refuse option combinations `semsr train` would otherwise ignore or misuse."""
    import math

    from semsr_core.errors import ConfigError

    if args.max_minutes is not None and not (math.isfinite(args.max_minutes)
                                             and args.max_minutes > 0):
        raise ConfigError(f"--max-minutes {args.max_minutes:g}: give a positive number of "
                          "minutes", hint="Leave it out to train the recipe's full schedule.")
    if args.resume:
        ignored = ([f"the recipe '{args.recipe}'"] if args.recipe else []) + (
            [f"--set {' --set '.join(args.overrides)}"] if args.overrides else []) + (
            ["--run"] if args.run else []) + (["--val"] if args.val else [])
        if ignored:
            raise ConfigError(
                f"--resume continues {args.resume} with its own config.toml, so "
                f"{' and '.join(ignored)} cannot be applied",
                hint="Drop them to continue the run as it was (a new --max-minutes, --data "
                     "or --device is fine), or start a new run with the changed settings "
                     "(e.g. generator.init set to the run's model.semsr)")


def _add_runs(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = sub.add_parser("list", help="list the runs in a folder")
    ls.add_argument("folder", nargs="?", default="runs")
    show = sub.add_parser("show", help="summarise one run folder")
    show.add_argument("run_dir")
    sub.add_parser("recipes", help="list the bundled recipes")


def _run_runs(args: argparse.Namespace) -> int:
    from semsr_core.train import find_runs, load_config, recipe_names, run_summary

    if args.action == "recipes":
        for name in recipe_names():
            cfg = load_config(name)
            print(f"{name:16s} {cfg.recipe.source:24s} {cfg.recipe.description}")
        return 0
    if args.action == "list":
        runs = find_runs(args.folder)
        if not runs:
            print(f"no runs in {args.folder}")
        for run in runs:
            s = run_summary(run)
            last = s["metrics"][-1] if s["metrics"] else {}
            psnr = f"PSNR {last['psnr']:.2f} dB" if "psnr" in last else ""
            print(f"{run}  {s['recipe']}  {s['status']}  step {s['step']}  {psnr}")
        return 0
    s = run_summary(args.run_dir)
    print(f"run {s['run']}: recipe {s['recipe']}, {s['status']}, step {s['step']}, "
          f"epoch {s['epoch']}")
    if s["losses"]:
        print("last losses: " + ", ".join(f"{k} {v:.4g}" for k, v in s["losses"].items()))
    for m in s["metrics"]:
        print(f"  epoch {m.get('epoch', '?')}: PSNR {m.get('psnr', float('nan')):.2f} dB "
              f"(bicubic {m.get('psnr_bicubic', float('nan')):.2f}), SSIM "
              f"{m.get('ssim', float('nan')):.4f}")
    if s["model"]:
        print(f"model: {s['model']}")
    return 0


def _add_super_resolve(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image or stack files (TIFF, OME-TIFF, PNG, JPEG) or folders of them")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file (one input): .ome.tif, or .png/.jpg for one 2-D image; "
                        "or a folder (several inputs or a folder), where results are named "
                        "<name>_sr<N>x.ome.tif and never taken as inputs by a later run")
    p.add_argument("--model", default="default-x4", metavar="NAME|PATH",
                   help="model name (`semsr models list`) or model file (default: the bundled "
                        "'default-x4')")
    p.add_argument("--scale", type=int, help="expected enlargement; refuses a model of another")
    p.add_argument("--device", default="auto", help="auto (CUDA → MPS → CPU), cpu, cuda, "
                   "cuda:<i> or mps")
    p.add_argument("--tile", type=int, help="tile side in input pixels (default: from free "
                   "memory)")
    p.add_argument("--overlap", type=int, default=32, help="pixels shared by neighbouring "
                   "tiles (default 32)")
    p.add_argument("--batch", type=int, help="tiles per forward pass (default: from memory)")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "fp16", "bf16"],
                   help="auto: bf16/fp16 on CUDA, bf16 on CPUs with native bf16 (checked "
                        "against fp32 on the first tile), fp32 elsewhere")
    p.add_argument("--float32", action="store_true",
                   help="write float32 (unrounded, unclipped) instead of the input's type")
    p.add_argument("--consistency", default="model",
                   choices=["model", "auto", "area", "bicubic", "crappify", "off"],
                   help="measurement-consistency guard: project the result back onto what "
                        "the scan measured, within its noise (model: the model card's "
                        "setting, else auto; off: only measure and warn)")
    p.add_argument("--disagreement-map", action="store_true",
                   help="also write <name>.disagreement.ome.tif: where the network departed "
                        "from the measurement beyond the noise (input grid)")
    p.add_argument("--adapt", type=float, default=0.0, metavar="SECONDS",
                   help="adapt to this image: fine-tune the model on the image's own "
                        "downscaled copies for SECONDS (per slice) before enlarging it")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _run_super_resolve(args: argparse.Namespace) -> int:
    from semsr_core.errors import ModelError
    from semsr_core.infer import super_resolve_file
    from semsr_core.infer.files import check_output_format, disagreement_path, output_paths
    from semsr_core.models import load_model

    model = load_model(args.model)
    if args.scale is not None and args.scale != model.scale:
        raise ModelError(f"model '{model.name or args.model}' enlarges ×{model.scale}, but "
                         f"--scale {args.scale} was asked",
                         hint=f"Choose a ×{args.scale} model (`semsr models list`) or drop "
                              "--scale.")
    skipped: list = []
    pairs = output_paths(args.inputs, args.output, model.scale, skipped)
    output_dtype = "float32" if args.float32 else "input"
    for source, dest in pairs:  # a result the output's format cannot hold: before any work
        check_output_format(source, dest, output_dtype)
    if skipped:
        print(f"semsr: left out {len(skipped)} earlier result(s) such as {skipped[0].name} "
              "(files named *_sr<N>x.* are outputs, not inputs)", file=sys.stderr)
    printer = ProgressPrinter(quiet=args.quiet)
    try:
        for source, dest in pairs:
            super_resolve_file(source, dest, model, overwrite=args.overwrite,
                               device=args.device, tile=args.tile, overlap=args.overlap,
                               batch=args.batch, precision=args.precision,
                               output_dtype=output_dtype, scale=args.scale, on_event=printer,
                               consistency=args.consistency, adapt_seconds=args.adapt,
                               disagreement_map=disagreement_path(dest)
                               if args.disagreement_map else None)
            printer.close()
            print(f"{source} → {dest} (×{model.scale})")
    finally:
        printer.close()
    return 0


def _add_augment_preview(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", metavar="RECIPE|AUGMENTATION",
                   help="a recipe (name or .toml: its training set exactly as `semsr train` "
                        "builds it) or an augmentation: defects, rot16, rot90flip, "
                        "stretch_shear, zssr_paste or none")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe value, as for semsr train")
    p.add_argument("--data", required=True, metavar="DIR",
                   help="dataset folder with lr/ and hr/ subfolders (files paired by name)")
    p.add_argument("-o", "--output", required=True, metavar="PNG",
                   help="preview grid to write: one row per sample, LR (enlarged) | HR | "
                        "HR with pasted content outlined in red")
    p.add_argument("-n", type=int, default=6, help="number of samples (default 6)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--scale", type=int, help="LR→HR factor (default: from the image sizes)")
    p.add_argument("--source", metavar="DIR",
                   help="defect-source images (default: scikit-image's natural images)")
    p.add_argument("--degradation", default="bicubic",
                   help="how LR versions of pasted patches are made: bicubic, crappify, "
                        "area or sem-noise (default bicubic)")


def _run_augment_preview(args: argparse.Namespace) -> int:
    from semsr_core.data.datasets import TrainingPairs
    from semsr_core.data.defects import DefectSource
    from semsr_core.data.preview import preview, preview_grid, preview_samples, write_png
    from semsr_core.train.config import load_config, recipe_names

    if args.recipe in recipe_names() or args.recipe.endswith(".toml"):
        from semsr_core.train.data import prepare_data

        config = load_config(args.recipe, args.overrides)
        prepared = prepare_data(config, args.data)
        samples = preview_samples(prepared.train_set, n=args.n, seed=args.seed)
        path = write_png(preview_grid(samples), args.output)
        print(f"{path}: {len(samples)} training samples of recipe '{config.recipe.name}' "
              f"({len(prepared.train_set)} per epoch; LR enlarged | HR | pasted content "
              "outlined)")
        return 0
    printer = ProgressPrinter()
    pairs = TrainingPairs.from_folder(args.data, scale=args.scale, on_event=printer)
    options = {}
    if args.recipe in ("defects", "zssr_paste"):
        options["degradation"] = args.degradation
        if args.source:
            options["source"] = DefectSource.from_folder(args.source)
    samples = preview(args.recipe, pairs, n=args.n, seed=args.seed, **options)
    path = write_png(preview_grid(samples), args.output)
    print(f"{path}: {len(samples)} {args.recipe} samples from {len(pairs)} pair(s), ×"
          f"{pairs.scale} (LR enlarged | HR | HR with pasted content outlined)")
    return 0


def _add_align(p: argparse.ArgumentParser) -> None:
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
                   help="how much worse any clearly different shift must match; below it a "
                        "pair is suspicious (periodic patterns). Default 1.5; 1 disables")
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


def _run_align(args: argparse.Namespace) -> int:
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


def _add_evaluate(p: argparse.ArgumentParser) -> None:
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
    from semsr_core.train.config import bundled_model_name

    scale = dataset_scale(args.data)
    path = bundled_models_dir() / f"{bundled_model_name(scale)}{MODEL_SUFFIX}"
    if not path.is_file():
        return [], (f"no --model given and no bundled ×{scale} model: evaluating "
                    f"{args.baseline} only")
    return [str(path)], (f"no --model given: evaluating the bundled ×{scale} model "
                         f"'{path.stem}' and {args.baseline} (choose others with --model)")


def _run_evaluate(args: argparse.Namespace) -> int:
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
    counts = ", ".join(f"{result.count(mode)} {mode}" for mode in
                       ("reference", "aligned", "no-reference", "skipped") if result.count(mode))
    print(f"{len(result.pairs)} pair(s) ({counts}), ×{result.scale}; report: "
          f"{result.files['json']} (table: report.md, report.csv)")
    return 0


# name -> (help, add_arguments, run)
COMMANDS: dict[str, tuple[str, Callable, Callable]] = {
    "demo": ("super-resolve the bundled sample stack with the default model and compare "
             "with bicubic", _add_demo, _run_demo),
    "super-resolve": ("enlarge SEM images and stacks with a model (OME-TIFF out)",
                      _add_super_resolve, _run_super_resolve),
    "gui": ("open the napari app with the semsr panels (and FILEs)", _add_gui, _run_gui),
    "train": ("train a model with a recipe on a lab dataset", _add_train, _run_train),
    "runs": ("list and summarise training runs; list recipes", _add_runs, _run_runs),
    "align": ("align unaligned LR/HR scan pairs and crop them to the common field of view",
              _add_align, _run_align),
    "augment-preview": ("write a PNG grid of training samples of an augmentation",
                        _add_augment_preview, _run_augment_preview),
    "evaluate": ("compare models and the bicubic baseline on a dataset (report with figures)",
                 _add_evaluate, _run_evaluate),
    "simulate": ("write a simulated SEM dataset: LR/HR pairs with defect masks",
                 _add_simulate, _run_simulate),
    "models": ("list, inspect, import and export model files", _add_models, _run_models),
    "info": ("describe image stacks: shape, dtype, pixel size", _add_info, _run_info),
}


def build_parser() -> argparse.ArgumentParser:
    from semsr_core import __version__

    parser = argparse.ArgumentParser(
        prog="semsr",
        description="Super-resolution of SEM images with GAN models.",
    )
    parser.add_argument("--version", action="version", version=f"semsr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, add, _run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add(p)
    return parser


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    parser = build_parser()
    args = parser.parse_args(argv)
    run = COMMANDS[args.command][2]
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return int(run(args) or 0)
    except Cancelled as exc:
        print(f"semsr: {exc}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        print("\nsemsr: terminated; nothing partial was written", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("\nsemsr: interrupted; nothing partial was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `semsr models list | head`: the reader left, not an error
        with _suppressed_stdout():
            return 0
    except SemsrError as exc:
        print(f"semsr: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except MemoryError:
        print("semsr: error: out of memory; use a smaller --tile or close other programs",
              file=sys.stderr)
        return EXIT_USER_ERROR
    except OSError as exc:  # disk full, permissions, ... reported, not hidden
        print(f"semsr: error: {_os_error_text(exc)}", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as exc:
        if os.environ.get("SEMSR_DEBUG"):
            raise
        print(f"semsr: internal error: {type(exc).__name__}: {exc} "
              "(set SEMSR_DEBUG=1 to see the traceback, and please report it)",
              file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _os_error_text(exc: OSError) -> str:
    """One line for an OSError no command turned into a SemsrError: the file and why,
    in the same words as the writers' errors (disk full with the space free)."""
    import errno
    from pathlib import Path

    from semsr_core.io.write import write_failure

    if exc.filename and exc.errno in (errno.ENOSPC, errno.ENOTDIR, errno.EACCES,
                                      getattr(errno, "EDQUOT", errno.ENOSPC)):
        return str(write_failure(exc, Path(exc.filename)))
    if exc.errno == errno.ENOSPC:
        return f"not enough disk space ({exc.strerror}). Free some space and try again."
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


class _suppressed_stdout:
    """Point stdout at devnull so Python's exit flush does not fail on a closed pipe."""

    def __enter__(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())

    def __exit__(self, *exc) -> None:
        return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
