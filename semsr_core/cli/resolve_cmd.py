"""``semsr info``, ``demo``, ``gui`` and ``super-resolve``: looking at and enlarging images."""

from __future__ import annotations

import argparse
import os
import sys

from semsr_core.cli.progress import ProgressPrinter
from semsr_core.errors import SemsrError


def add_info(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", help="image or stack files to describe")


def run_info(args: argparse.Namespace) -> int:
    from semsr_core.io import read_stack

    for path in args.paths:
        stack = read_stack(path)
        size = "unknown pixel size" if stack.pixel_size is None else (
            f"pixel size {stack.pixel_size:g} {stack.unit}")
        print(f"{path}: {len(stack)} slice(s) of {stack.shape[-2]}×{stack.shape[-1]} "
              f"{stack.dtype}, {size}")
    return 0


def add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", default="out", help="folder for the result (default: out)")
    p.add_argument("--model", default="default-x4", help="model name or file")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--gui", dest="gui", action="store_true", default=None,
                   help="open the app with LR, SR and HR layers (default: when a display is "
                        "available and napari is installed)")
    p.add_argument("--no-gui", dest="gui", action="store_false", help="never open the app")


def run_demo(args: argparse.Namespace) -> int:
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


def add_gui(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="SEM images or stacks to open (TIFF, OME-TIFF, PNG, JPEG)")


def _require_napari() -> None:
    import importlib.util

    if importlib.util.find_spec("napari") is None:
        raise SemsrError("napari is not installed, so the app cannot start",
                         hint="Install it with `pip install 'semsr[gui]'` (scripts/setup.sh "
                              "does this).")


def run_gui(args: argparse.Namespace) -> int:
    _require_napari()
    from semsr_app.launch import launch

    return launch(args.files)


def add_super_resolve(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="image or stack files (TIFF, OME-TIFF, PNG, JPEG) or folders of them")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file (one input): .ome.tif, or .png/.jpg for one 2-D image; "
                        "or a folder (a name without an extension, several inputs or a "
                        "folder), where results are named <name>_sr<N>x.ome.tif and never "
                        "taken as inputs by a later run")
    p.add_argument("--model", default="default-x4", metavar="NAME|PATH",
                   help="model name (`semsr models list`) or model file (default: the bundled "
                        "'default-x4'); 'zssr': ZSSR, a small network trained on each image "
                        "(each slice) itself before enlarging it, with the --zssr-* options")
    p.add_argument("--scale", type=int, help="expected enlargement; refuses a model of another "
                   "(with --model zssr: the enlargement to train for, default 4)")
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
    p.add_argument("--clean-variant", default="auto", choices=["auto", "off"],
                   help="auto: a scan that reads clean (low noise) is enlarged by the "
                        "model's clean variant where its card names one (default-x4: "
                        "default-x4-clean); off: always the model given")
    p.add_argument("--disagreement-map", action="store_true",
                   help="also write <name>.disagreement.ome.tif: where the network departed "
                        "from the measurement beyond the noise (input grid)")
    p.add_argument("--adapt", type=float, default=0.0, metavar="SECONDS",
                   help="adapt to this image: fine-tune the model on the image's own "
                        "downscaled copies for SECONDS (per slice) before enlarging it")
    p.add_argument("--self-ensemble", action="store_true",
                   help="enlarge the 8 rotations/mirrors of each image and average them "
                        "(8× the time; on semsr's benchmarks 0.0–0.2 dB closer to the truth)")
    p.add_argument("--reference", metavar="FILE",
                   help="reference-based models (MASA-SR) only, and needed by them: an HR "
                        "image of similar content whose texture is transferred")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    zssr = p.add_argument_group("ZSSR (--model zssr)")
    zssr.add_argument("--zssr-seconds", type=float, metavar="SECONDS",
                      help=f"training time per image or slice (default {ZSSR_SECONDS:g}; 0: "
                           "until the learning rate has fallen below its minimum or "
                           "--zssr-iterations are done, which takes long on a CPU)")
    zssr.add_argument("--zssr-iterations", type=int, metavar="N",
                      help="most training iterations per image (default 3000)")
    zssr.add_argument("--zssr-crop", type=int, metavar="PIXELS",
                      help="side of the training crops of the image (default 128)")
    zssr.add_argument("--zssr-lr", type=float, metavar="RATE",
                      help="Adam's starting learning rate (default 1e-3)")
    zssr.add_argument("--zssr-seed", type=int, metavar="N",
                      help="seed of the network, the crops and the updates (default 0)")
    zssr.add_argument("--zssr-no-ensemble", action="store_true",
                      help="enlarge once instead of taking the median of the 8 rotations/"
                           "mirrors (8× faster enlarging)")


ZSSR_SECONDS = 120.0
"""``--zssr-seconds`` when not given: a bound a CPU user can wait for, per slice."""


def _zssr_options(args: argparse.Namespace) -> dict:
    """The --zssr-* options given, as ZSSRSettings keys."""
    given = {"max_seconds": args.zssr_seconds, "max_iterations": args.zssr_iterations,
             "crop": args.zssr_crop, "learning_rate": args.zssr_lr, "seed": args.zssr_seed}
    options = {key: value for key, value in given.items() if value is not None}
    if args.zssr_no_ensemble:
        options["self_ensemble"] = False
    if options.get("max_seconds") is not None and options["max_seconds"] < 0:
        from semsr_core.errors import ConfigError

        raise ConfigError(f"--zssr-seconds {options['max_seconds']:g} is negative",
                          hint="Give a number of seconds, or 0 for no time bound.")
    return options


def _resolve_model(args: argparse.Namespace):
    """The model asked for and the ZSSR settings to pass (None: the card's, or no ZSSR)."""
    from pathlib import Path

    from semsr_core.errors import ConfigError
    from semsr_core.infer import zssr
    from semsr_core.models import load_model

    options = _zssr_options(args)
    per_image = args.model == zssr.PER_IMAGE_NAME and not Path(args.model).is_file()
    if per_image:
        options.setdefault("max_seconds", ZSSR_SECONDS)
        if options["max_seconds"] == 0:
            del options["max_seconds"]  # no time bound: ZSSRSettings' default
        model = zssr.per_image_model(4 if args.scale is None else args.scale, options)
    else:
        model = load_model(args.model)
    if args.adapt and zssr.is_per_image(model.card):
        raise ConfigError("--adapt does not apply to ZSSR, which trains on each image anyway",
                          hint="Give its training time with --zssr-seconds instead.")
    if not options or per_image:
        return model, None
    if not zssr.is_per_image(model.card):
        names = ", ".join(f"--zssr-{k}" for k in ("seconds", "iterations", "crop", "lr", "seed"))
        raise ConfigError(f"{names} and --zssr-no-ensemble apply only to --model zssr, "
                          f"not to '{model.name or args.model}'",
                          hint="Drop them, or use --model zssr.")
    if options.get("max_seconds") == 0:
        del options["max_seconds"]
    return model, {**(model.card.training.get("zssr") or {}), **options}


def _check_reference(model, args: argparse.Namespace) -> None:
    """Before any work: a reference-based model needs --reference, others refuse it."""
    from pathlib import Path

    from semsr_core.errors import InputError
    from semsr_core.infer.reference import bind_reference

    if args.reference is not None and not Path(args.reference).is_file():
        raise InputError("no such reference image", path=args.reference,
                         hint="Give an image file (TIFF, OME-TIFF, PNG, JPEG).")
    if args.reference is None or not _takes_reference(model):
        bind_reference(model, args.reference, args.adapt)  # raises where it does not fit


def _takes_reference(model) -> bool:
    from semsr_core.infer.reference import takes_reference

    return takes_reference(model.card.arch)


def run_super_resolve(args: argparse.Namespace) -> int:
    from semsr_core.errors import ModelError
    from semsr_core.infer import super_resolve_file
    from semsr_core.infer.files import check_output_format, disagreement_path, output_paths

    model, zssr_settings = _resolve_model(args)
    _check_reference(model, args)
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
                               clean_variant=args.clean_variant,
                               self_ensemble=args.self_ensemble,
                               zssr_settings=zssr_settings, reference=args.reference,
                               disagreement_map=disagreement_path(dest)
                               if args.disagreement_map else None)
            printer.close()
            print(f"{source} → {dest} (×{model.scale})")
    finally:
        printer.close()
    return 0
