"""Peak memory of super-resolving a 16-bit stack file slice by slice.

Writes a uint16 stack of Z slices (and one of 2·Z slices) slice by slice, then runs
:func:`semsr_core.infer.super_resolve_file` on each in a fresh child process with a
tiny ×2 ``rrdbnet`` on the CPU (tile 512, overlap 32), so that each measurement starts
from the same empty process. The child samples its resident memory (RSS) every 5 ms
in a thread and reports it with ``ru_maxrss`` as a cross-check. If streaming works,
the peak does not grow with the number of slices: the stack in and the stack out are
never in memory, only one input slice, its float32 output canvas and the tiles.

Run:  .venv/bin/python benchmarks/infer_memory.py [--slices 4] [--side 2048] [--json]
      .venv/bin/python benchmarks/infer_memory.py --side 4096 --counts 2 64 --features 4
      (the second: 2 GiB of 16-bit input, 8 GiB of output, against a 64 MiB stack)
Results are recorded in ``benchmarks/infer_memory.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def _child(source: str, dest: str, model_path: str) -> dict:
    """Runs in the child process: super-resolve ``source`` and report memory and time."""
    import psutil

    from semsr_core.infer import super_resolve_file

    process = psutil.Process()
    peak = [process.memory_info().rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.005)

    baseline = process.memory_info().rss
    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    started = time.perf_counter()
    super_resolve_file(source, dest, model_path, device="cpu", tile=512, overlap=32, batch=1)
    seconds = time.perf_counter() - started
    stop.set()
    thread.join()
    return {"seconds": seconds, "baseline_rss_mb": baseline / 2**20,
            "peak_rss_mb": max(peak[0], process.memory_info().rss) / 2**20,
            "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _write_stack(path: Path, slices: int, side: int) -> None:
    from semsr_core.io import write_stack

    rng = np.random.default_rng(0)
    base = (rng.random((side, side)) * 60000).astype(np.uint16)

    def generate():
        for index in range(slices):
            yield np.roll(base, index * 7, axis=1)

    write_stack(path, generate(), pixel_size=4.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=4, help="Z; the second run uses 2·Z")
    parser.add_argument("--side", type=int, default=2048, help="slice side in pixels")
    parser.add_argument("--counts", type=int, nargs="+", default=None,
                        help="stack sizes to measure (default: Z and 2·Z)")
    parser.add_argument("--features", type=int, default=8,
                        help="width of the tiny ×2 rrdbnet (fewer: faster)")
    parser.add_argument("--folder", default=None, help="where to write the temporary files")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--child", nargs=3, metavar=("SOURCE", "DEST", "MODEL"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child)))
        return 0

    from semsr_core.models import Model

    results = []
    with tempfile.TemporaryDirectory(dir=args.folder) as folder_name:
        folder = Path(folder_name)
        model_path = Model.create("rrdbnet", scale=2, blocks=1, features=args.features,
                                  growth=4, name="bench-tiny").save(folder / "tiny.semsr")
        for slices in args.counts or (args.slices, 2 * args.slices):
            source = folder / f"in_{slices}.tif"
            dest = folder / f"out_{slices}.ome.tif"
            _write_stack(source, slices, args.side)
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(source), str(dest), str(model_path)],
                capture_output=True, text=True, check=True,
                env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2")})
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row.update(slices=slices, input_mb=source.stat().st_size / 2**20,
                       output_mb=dest.stat().st_size / 2**20)
            results.append(row)
            source.unlink()
            dest.unlink()
    machine = {"python": platform.python_version(), "cpu_count": os.cpu_count(),
               "platform": platform.platform(), "side": args.side,
               "threads": os.environ.get("OMP_NUM_THREADS", "2")}
    if args.json:
        print(json.dumps({"machine": machine, "results": results}, indent=1))
        return 0
    print(f"{args.side}×{args.side} uint16 slices, ×2 rrdbnet(blocks=1, features="
          f"{args.features}) on the "
          f"CPU, tile 512, overlap 32 — {machine['platform']}, {machine['cpu_count']} CPUs")
    print("| slices | input MB | output MB | seconds | output MPix/s | baseline RSS MB "
          "| peak RSS MB | ru_maxrss MB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        mpix = r["slices"] * (2 * args.side) ** 2 / 1e6 / r["seconds"]
        print(f"| {r['slices']} | {r['input_mb']:.0f} | {r['output_mb']:.0f} | "
              f"{r['seconds']:.1f} | {mpix:.2f} | {r['baseline_rss_mb']:.0f} | "
              f"{r['peak_rss_mb']:.0f} | {r['ru_maxrss_mb']:.0f} |")
    growth = results[-1]["peak_rss_mb"] - results[0]["peak_rss_mb"]
    print(f"\npeak RSS change from {results[0]['slices']} to {results[-1]['slices']} slices: "
          f"{growth:+.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
