"""A lab case whose HR differs from its LR by more than a tone curve (session 17).

Copies a case kept by ``lab_workflow.py --keep DIR`` and gives every HR (the aligned
training pairs and the held-out scans) a local-contrast halo a few LR pixels wide,
HR' = HR + beta (HR - G_sigma * HR), as a detector with another edge response would.
``lab_variants.py`` then trains and scores the copy like the original.

    .venv/bin/python benchmarks/lab_halo_case.py /work/exp16/lab4 /work/exp17/halo 0.6 12
"""

import shutil
import sys
from pathlib import Path

import numpy as np
from scipy import ndimage


def main(source: Path, target: Path, beta: float, sigma: float) -> None:
    from semsr_core.io import read_stack, write_stack

    src, dst = source / "uint16", target / "uint16"
    shutil.copytree(src / "aligned", dst / "aligned")
    shutil.copytree(src / "held", dst / "held")
    for path in [*(dst / "aligned" / "hr").glob("*.tif"), *(dst / "held" / "hr").glob("*.tif")]:
        with read_stack(path) as stack:
            hr, pixel_size = np.asarray(stack[0]).astype(np.float64) / 65535, stack.pixel_size
        halo = hr + beta * (hr - ndimage.gaussian_filter(hr, sigma, mode="reflect"))
        write_stack(path, np.round(np.clip(halo, 0, 1) * 65535).astype(np.uint16),
                    pixel_size=pixel_size, overwrite=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]))
