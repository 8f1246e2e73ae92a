"""Streaming a stack bigger than the memory budget keeps resident memory bounded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "io_memory.py"


def _measure(gigabytes, folder):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(BENCHMARK), "--gigabytes", str(gigabytes), "--folder",
         str(folder), "--json"], capture_output=True, text=True, env=env, timeout=600)
    assert done.stdout, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_streamed_write_and_read_of_a_1_gb_stack_stays_under_500_mb(tmp_path):
    small = _measure(0.25, tmp_path)
    large = _measure(1.0, tmp_path)
    assert large["data_intact"] and small["data_intact"]
    assert large["file_bytes"] > 0.9e9
    peak = max(large["write_peak_rss_mb"], large["read_peak_rss_mb"])
    assert peak < 500
    # bounded, not growing with the stack: 4× the slices costs (almost) no more memory
    small_peak = max(small["write_peak_rss_mb"], small["read_peak_rss_mb"])
    assert peak - small_peak < 50
    assert list(tmp_path.iterdir()) == []  # the benchmark deleted its stacks
