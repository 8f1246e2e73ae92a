"""Batch super-resolution on a Dask LocalCluster: 1 worker against 2 on the same folder.

Writes a folder of ``--stacks`` uint16 stacks of ``--slices``×``--side``×``--side``
(8 of 4×128×128 by default) and runs :func:`semsr_core.infer.batch.super_resolve_batch`
on it with the bundled default model, once on a LocalCluster of 1 worker and once of
2 (processes, one thread each, ``OMP_NUM_THREADS=1`` in every worker). The cluster's
start-up is left out of the time: each run is timed from the first task submitted to
the last file written, with the model already loaded on the workers by a warm-up run
on one stack (its slices go to every worker). Reports seconds and the 1-worker ÷
2-worker ratio (at most about the number of cores), and writes
``benchmarks/batch_dask.json`` (``--json`` elsewhere).

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/batch_dask.py [--stacks 8]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def _folder(root: Path, stacks: int, slices: int, side: int) -> Path:
    from semsr_core.io import write_stack

    folder = root / "stacks"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(stacks):
        data = rng.integers(2000, 60000, size=(slices, side, side)).astype(np.uint16)
        write_stack(folder / f"stack{i:02d}.ome.tif", data, pixel_size=4.0, unit="nm")
    return folder


def _timed(folder: Path, out: Path, model: str, workers: int) -> float:
    from distributed import Client, LocalCluster

    from semsr_core.infer.batch import super_resolve_batch

    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the worker processes
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        warm = sorted(folder.iterdir())[0]  # its slices load the model on every worker
        super_resolve_batch([warm], out / f"warm{workers}", model, cluster=client)
        started = time.perf_counter()
        super_resolve_batch([folder], out / f"w{workers}", model, cluster=client)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stacks", type=int, default=8)
    parser.add_argument("--slices", type=int, default=4)
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--model", default="default-x4")
    parser.add_argument("--json", default=str(Path(__file__).with_name("batch_dask.json")))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        folder = _folder(root, args.stacks, args.slices, args.side)
        one = _timed(folder, root / "out", args.model, 1)
        two = _timed(folder, root / "out", args.model, 2)
    results = {
        "benchmark": "batch_dask",
        "model": args.model,
        "folder": f"{args.stacks} stacks of {args.slices}×{args.side}×{args.side} uint16",
        "seconds_1_worker": round(one, 2),
        "seconds_2_workers": round(two, 2),
        "ratio_1_over_2": round(one / two, 3),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
        "settings": "LocalCluster processes, threads_per_worker=1, OMP_NUM_THREADS=1, cpu",
    }
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
