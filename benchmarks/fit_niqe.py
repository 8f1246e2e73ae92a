"""Fit NIQE's pristine model on the natural photographs bundled with scikit-image.

The authors of NIQE (Mittal et al. 2013) fitted it on 125 pristine photographs that
are not available here. This script fits the same model (:func:`semsr_core.metrics.
niqe.fit_pristine`: 36 features of the sharpest 96×96 patches of each image) on the
natural photographs that scikit-image installs with itself (``skimage.data``, no
download), converted to grayscale with :func:`skimage.color.rgb2gray`:

    astronaut, brick, chelsea, clock, coffee, coins, grass, gravel, rocket,
    stereo_motorcycle (left view)

``camera`` is held out: the tests judge NIQE on it. Synthetic images (colorwheel,
logo, checkerboard, phantoms), text, binary images, astronomy and microscopy images
are not "pristine natural images" and are left out.

Writes ``resources/metrics/niqe_pristine.npz`` (mean, covariance and the provenance
as JSON: images, shapes, patches kept) — or ``--out``.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fit_niqe.py
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

IMAGES = ("astronaut", "brick", "chelsea", "clock", "coffee", "coins", "grass", "gravel",
          "rocket", "stereo_motorcycle")
HELD_OUT = ("camera",)


def natural_images() -> list[tuple[str, np.ndarray]]:
    """The pristine set as named [0, 1] grayscale float images."""
    import skimage
    from skimage import data
    from skimage.color import rgb2gray
    from skimage.util import img_as_float

    images = []
    for name in IMAGES:
        image = getattr(data, name)()
        if isinstance(image, tuple):  # stereo_motorcycle: (left, right, disparity)
            image = image[0]
        image = rgb2gray(image) if image.ndim == 3 else img_as_float(image)
        images.append((f"skimage.data.{name} (scikit-image {skimage.__version__})",
                       np.asarray(image, dtype=np.float64)))
    return images


def main() -> None:
    from semsr_core.metrics.niqe import fit_pristine, niqe

    root = Path(__file__).resolve().parents[1]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path,
                        default=root / "resources" / "metrics" / "niqe_pristine.npz")
    args = parser.parse_args()
    started = time.perf_counter()
    model = fit_pristine(natural_images())
    model.provenance.update(
        fitted_by="benchmarks/fit_niqe.py", held_out=[f"skimage.data.{n}" for n in HELD_OUT],
        grayscale="skimage.color.rgb2gray for colour images",
        note="not the authors' 125 images: NIQE values are comparable with each other, "
             "not with published figures")
    path = model.save(args.out)
    print(f"fitted on {model.provenance['patches']} patches of {len(IMAGES)} images in "
          f"{time.perf_counter() - started:.1f} s → {path}")
    from skimage import data

    camera = data.camera() / 255.0
    print(f"NIQE of the held-out camera image: {niqe(camera, model):.3f}")


if __name__ == "__main__":
    main()
