"""``semsr simulate``, ``train``, ``runs`` and ``augment-preview``: data and training."""

from __future__ import annotations

import argparse

from semsr_core.cli.progress import ProgressPrinter
from semsr_core.errors import SemsrError


def add_simulate(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("--style-gap", nargs="?", const="per-pair", default=False,
                   choices=("per-pair", "shared"),
                   help="give the LR a different contrast/brightness than the HR: each pair "
                        "its own (per-pair, the default) or one for all pairs (shared: a "
                        "lab's scans of one specimen with one setting each)")
    p.add_argument("--degradation", default="sem-noise",
                   help="how LR is made: bicubic, crappify, area or sem-noise (default)")
    p.add_argument("--pixel-size", type=float, default=2.0, metavar="NM",
                   help="HR pixel size in nm (default 2)")
    p.add_argument("--stack", action="store_true",
                   help="also write hr_stack.tif and lr_stack.tif (all pairs, multi-page)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run_simulate(args: argparse.Namespace) -> int:
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


def add_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", nargs="?", help="recipe name (see `semsr runs recipes`) or a "
                   "TOML config file; not needed with --resume")
    p.add_argument("--data", help="data folder: lr/ and hr/ subfolders (or hr/ only)")
    p.add_argument("--val", help="validation folder (same layout); default: split off by pair")
    p.add_argument("--run", "--run-dir", dest="run",
                   help="run folder to create (default: <runs folder>/<recipe>-<time>); under "
                        "torchrun write --run-dir, as torchrun takes --run for its own "
                        "--run-path")
    p.add_argument("--runs", metavar="DIR",
                   help="the folder new runs go into (default: the user's runs folder, "
                        "shared with the app; see `semsr runs list`)")
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


def run_train(args: argparse.Namespace) -> int:
    from semsr_core.events import CancelToken
    from semsr_core.train import resume, train
    from semsr_core.train.run_folder import RunFolder

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
            run = args.run or RunFolder.new(args.recipe, args.runs).path
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
    _print_verdict(result.verdict)
    if result.model_path is not None:
        print(f"model: {result.model_path}")


def _print_verdict(verdict) -> None:
    """The verdict against bicubic, shouted when the model is worse, with what to try."""
    print(("VERDICT: " if verdict.worse else "verdict: ") + verdict.text())
    for tip in verdict.advice:
        print(f"  try: {tip}")


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
            ["--run"] if args.run else []) + (["--runs"] if args.runs else []) + (
            ["--val"] if args.val else [])
        if ignored:
            raise ConfigError(
                f"--resume continues {args.resume} with its own config.toml, so "
                f"{' and '.join(ignored)} cannot be applied",
                hint="Drop them to continue the run as it was (a new --max-minutes, --data "
                     "or --device is fine), or start a new run with the changed settings "
                     "(e.g. generator.init set to the run's model.semsr)")


def add_runs(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = sub.add_parser("list", help="list the runs in a folder (default: the user's runs "
                                     "folder, where semsr train and the app put new runs)")
    ls.add_argument("folder", nargs="?", default=None)
    ls.add_argument("--runs", metavar="DIR", help="the runs folder to list (as FOLDER)")
    show = sub.add_parser("show", help="summarise one run folder")
    show.add_argument("run_dir")
    sub.add_parser("recipes", help="list the bundled recipes")


def run_runs(args: argparse.Namespace) -> int:
    from semsr_core.train import load_config, recipe_names
    from semsr_core.train.run_folder import RunFolder, default_runs_dir, find_runs

    if args.action == "recipes":
        for name in recipe_names():
            cfg = load_config(name)
            print(f"{name:16s} {cfg.recipe.source:24s} {cfg.recipe.description}")
        return 0
    if args.action == "list":
        if args.folder and args.runs and args.folder != args.runs:
            raise SemsrError(f"give the runs folder once: {args.folder} or --runs {args.runs}")
        folder = args.folder or args.runs or default_runs_dir()
        runs = find_runs(folder)
        if not runs:
            print(f"no runs in {folder}")
        for run in runs:
            s = RunFolder(run).summary()
            last = s["metrics"][-1] if s["metrics"] else {}
            psnr = f"PSNR {last['psnr']:.2f} dB" if "psnr" in last else ""
            verdict = RunFolder(run).read_verdict()
            judged = "" if verdict is None else f"  {verdict.status}" + (
                f" ({verdict.gain_db:+.2f} dB)" if verdict.gain_db is not None else "")
            print(f"{run}  {s['recipe']}  {s['status']}  step {s['step']}  {psnr}{judged}")
        return 0
    folder = RunFolder(args.run_dir)
    s = folder.summary()
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
    verdict = folder.read_verdict()
    if verdict is None:
        print("verdict: none yet (the run has not finished, or was stopped before export)")
    else:
        _print_verdict(verdict)
    return 0


def add_augment_preview(p: argparse.ArgumentParser) -> None:
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


def run_augment_preview(args: argparse.Namespace) -> int:
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
