"""Peak memory of streaming a large stack through semsr's I/O.

Writes a multi-page uint16 OME-TIFF of about ``--gigabytes`` GB slice by slice with
:func:`semsr_core.io.write_stack` (the slices come from a generator, so the stack is
never in memory), then reads it back slice by slice with
:func:`semsr_core.io.read_stack`, computing per-slice statistics and checking them
against the values written. Resident memory (RSS) is sampled every 5 ms in a thread
with psutil, and the process's ``ru_maxrss`` is reported as a cross-check. The file is
deleted afterwards (unless ``--keep``).

Run:  .venv/bin/python benchmarks/io_memory.py [--gigabytes 2] [--folder /tmp] [--json]
Results are recorded in ``benchmarks/io_memory.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil

from semsr_core.io import read_stack, write_stack

SLICE_SHAPE = (4096, 4096)  # 32 MiB per uint16 slice
RSS_LIMIT_MB = 500.0


class PeakRSS:
    """Samples this process's resident set size in a background thread."""

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.peak = 0
        self._process = psutil.Process()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRSS:
        self.peak = self._process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


def _slice(index: int) -> np.ndarray:
    """Deterministic, incompressible-looking test slice ``index``."""
    return np.random.default_rng(index).integers(0, 65536, SLICE_SHAPE, dtype=np.uint16)


def run(gigabytes: float, folder: Path, keep: bool = False) -> dict:
    depth = max(1, round(gigabytes * 1e9 / (SLICE_SHAPE[0] * SLICE_SHAPE[1] * 2)))
    path = Path(tempfile.mkdtemp(prefix="semsr_io_memory_", dir=folder)) / "stack.ome.tif"
    baseline = psutil.Process().memory_info().rss
    written_sums: list[int] = []

    def slices():
        for index in range(depth):
            image = _slice(index)
            written_sums.append(int(image.sum(dtype=np.uint64)))
            yield image

    try:
        with PeakRSS() as write_peak:
            start = time.perf_counter()
            write_stack(path, slices(), pixel_size=2.5, metadata={"benchmark": "io_memory"})
            write_seconds = time.perf_counter() - start
        size = path.stat().st_size

        read_sums: list[int] = []
        means: list[float] = []
        with PeakRSS() as read_peak, read_stack(path) as stack:
            start = time.perf_counter()
            for image in stack:
                read_sums.append(int(image.sum(dtype=np.uint64)))
                means.append(float(image.mean()))
            read_seconds = time.perf_counter() - start
            slices_read = len(stack)
    finally:
        if not keep:
            path.unlink(missing_ok=True)
            path.parent.rmdir()

    mb = 1e6
    return {
        "machine": f"{platform.machine()} {platform.system()} {platform.release()}, "
                   f"{os.cpu_count()} CPU, {psutil.virtual_memory().total / 1e9:.1f} GB RAM",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "tifffile": __import__("tifffile").__version__,
        "slices": depth,
        "slice_shape": list(SLICE_SHAPE),
        "file_bytes": size,
        "file_gb": round(size / 1e9, 3),
        "baseline_rss_mb": round(baseline / mb, 1),
        "write_peak_rss_mb": round(write_peak.peak / mb, 1),
        "read_peak_rss_mb": round(read_peak.peak / mb, 1),
        "ru_maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / mb, 1),
        "write_seconds": round(write_seconds, 2),
        "read_seconds": round(read_seconds, 2),
        "write_mb_per_s": round(size / mb / write_seconds, 1),
        "read_mb_per_s": round(size / mb / read_seconds, 1),
        "data_intact": read_sums == written_sums and slices_read == depth,
        "mean_of_means": round(float(np.mean(means)), 2),
        "kept": str(path) if keep else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=2.0, help="stack size (default 2)")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()),
                        help="where to write the temporary stack (default: the temp folder)")
    parser.add_argument("--keep", action="store_true", help="do not delete the stack")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    result = run(args.gigabytes, args.folder, args.keep)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>20}: {value}")
    peak = max(result["write_peak_rss_mb"], result["read_peak_rss_mb"])
    ok = result["data_intact"] and peak < RSS_LIMIT_MB
    if not args.json:
        print(f"{'verdict':>20}: {'OK' if ok else 'FAIL'} "
              f"(peak RSS {peak} MB, limit {RSS_LIMIT_MB:g} MB)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
