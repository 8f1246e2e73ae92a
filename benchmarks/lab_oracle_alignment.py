"""Does `semsr align` limit the lab's fine-tune? An oracle-aligned copy of a lab case.

Copies a case kept by ``lab_workflow.py --keep DIR`` (four lab pairs) and replaces each
aligned HR with the simulator's own HR cut at the true offset (known from the
benchmark's seed) over the same field of view as align's crop; the LR files stay
align's. ``lab_variants.py`` then trains and scores the copy like the original.

    .venv/bin/python benchmarks/lab_oracle_alignment.py /work/exp16/lab4 /work/exp17/oracle
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/lab_variants.py oracle 10 \\
        --case /work/exp17/oracle --out /work/exp17/var
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import lab_workflow
import numpy as np


def main(source: Path, target: Path) -> None:
    from semsr_core.io import read_stack, write_stack

    src, dst = source / "uint16", target / "uint16"
    shutil.copytree(src / "aligned", dst / "aligned")
    shutil.copytree(src / "held", dst / "held")
    with open(src / "aligned" / "report.csv", encoding="utf-8") as f:
        crops = {row["stem"]: row["lr_crop"] for row in csv.DictReader(f)}
    rng = np.random.default_rng(lab_workflow.SEED)  # as make_lab_case draws the offsets
    scale = lab_workflow.SCALE
    for index in range(lab_workflow.TRAIN_PAIRS):
        ly, lx = rng.integers(0, lab_workflow.MAX_OFFSET + 1, size=2)
        hy, hx = rng.integers(0, scale * lab_workflow.MAX_OFFSET + 1, size=2)
        stem = f"pair_{index:03d}"
        y0, y1, x0, x1 = map(int, crops[stem].split())
        with read_stack(src / "sim" / "hr" / f"{stem}.tif") as stack:
            hr = np.asarray(stack[0])
        aligned_hr = dst / "aligned" / "hr" / f"{stem}.tif"
        with read_stack(aligned_hr) as stack:
            found, pixel_size = np.asarray(stack[0]), stack.pixel_size
        truth = hr[scale * (ly + y0):scale * (ly + y1), scale * (lx + x0):scale * (lx + x1)]
        shift = (int(scale * ly - hy), int(scale * lx - hx))
        rms = np.sqrt(np.mean((truth.astype(float) - found) ** 2)) / 65535
        print(f"{stem}: true shift {shift} HR px; align's HR differs by {rms:.4f} rms")
        write_stack(aligned_hr, truth, pixel_size=pixel_size, overwrite=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
