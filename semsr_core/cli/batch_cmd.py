"""``semsr batch``: super-resolve many stacks on a Dask cluster (one task per slice)."""

from __future__ import annotations

import argparse

from semsr_core.cli.progress import ProgressPrinter


def add_batch(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="image or stack files (TIFF, OME-TIFF) or folders of them",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="output folder; results are named <name>_sr<N>x.ome.tif (or .ome.zarr)",
    )
    p.add_argument(
        "--model",
        default="default-x4",
        metavar="NAME|PATH",
        help="model name (`semsr models list`) or model file, readable by every "
        "worker (default: the bundled 'default-x4')",
    )
    p.add_argument(
        "--cluster",
        default="local",
        metavar="local|ADDRESS",
        help="'local': a LocalCluster of --workers processes on this machine, "
        "made and closed by this command; or the address of a running "
        "Dask scheduler such as tcp://scheduler:8786 (default: local)",
    )
    p.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes of the local cluster (default: one per CPU)",
    )
    p.add_argument(
        "--output-format",
        default="tiff",
        choices=["tiff", "zarr"],
        help="tiff: one OME-TIFF per input; zarr: one OME-Zarr (NGFF 0.4) per "
        "input, for results too large for one file (default: tiff)",
    )
    p.add_argument("--scale", type=int, help="expected enlargement; refuses a model of another")
    p.add_argument(
        "--device",
        default="cpu",
        help="device on the workers: cpu, cuda (one worker per GPU) or auto (default: cpu)",
    )
    p.add_argument(
        "--tile",
        type=int,
        help="tile side in input pixels (default: from the worker's free memory)",
    )
    p.add_argument(
        "--overlap", type=int, default=32, help="pixels shared by neighbouring tiles (default 32)"
    )
    p.add_argument(
        "--float32",
        action="store_true",
        help="write float32 (unrounded, unclipped) instead of the input's type",
    )
    p.add_argument(
        "--clean-variant",
        default="auto",
        choices=["auto", "off"],
        help="auto: a file that reads clean (low noise) is enlarged by the model's clean "
        "variant where its card names one; off: always the model given",
    )
    p.add_argument(
        "--self-ensemble",
        action="store_true",
        help="enlarge the 8 rotations/mirrors of each slice and average them (8× the time)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run_batch(args: argparse.Namespace) -> int:
    from semsr_core.events import Progress, emit
    from semsr_core.infer.batch import require_distributed, super_resolve_batch

    require_distributed()
    printer = ProgressPrinter(quiet=args.quiet)

    def progress(done: int, total: int, text: str) -> None:
        emit(printer, Progress(stage="batch", done=done, total=total, unit="slice",
                               postfix=text))

    try:
        written = super_resolve_batch(
            args.inputs,
            args.out,
            args.model,
            cluster=args.cluster,
            workers=args.workers,
            output_format=args.output_format,
            scale=args.scale,
            device=args.device,
            tile=args.tile,
            overlap=args.overlap,
            output_dtype="float32" if args.float32 else "input",
            clean_variant=args.clean_variant,
            self_ensemble=args.self_ensemble,
            overwrite=args.overwrite,
            on_progress=progress,
        )
    finally:
        printer.close()
    for path in written:
        print(f"wrote {path}")
    sources = ", ".join(sorted({p.name.rsplit("_sr", 1)[0] for p in written}))
    print(f"super-resolved {len(written)} file(s) on the cluster: {sources}")
    return 0
