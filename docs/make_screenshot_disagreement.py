"""Screenshot of the Super-resolve panel's disagreement map, for the README tour.

A real SEM image (``benchmarks/ood_images/sem_retic_b.tif``, from the skan package) is
reduced ×4 by block mean and saved with its pixel size; the panel super-resolves it
with ``MODEL`` (default: the bundled default-x4) and adds the result and the
disagreement map. Two runs are shown side by side in napari's grid: the guard as it
is by default, and (``--also MODEL2``) another model with the guard off, so that a
model that changes what was measured can be seen on the map.

``--lattice`` takes instead a noisy lattice of atom columns like atomic-resolution STEM
(``benchmarks/stem_lattice.py``: 12 HR pixels apart, block mean ×4, 50 e⁻/pixel), with
the guard on and off for the same model: the network erases the lattice, the map shows
where, and the guard puts it back (``screenshot_disagreement_lattice.png``).

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshot_disagreement.py \
        [--model default-x4] [--also OTHER.semsr | --lattice]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

DOCS = Path(__file__).parent
SOURCE = DOCS.parent / "benchmarks" / "ood_images" / "sem_retic_b.tif"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="default-x4")
    ap.add_argument("--also", help="a second model, run with the guard off")
    ap.add_argument("--lattice", action="store_true",
                    help="a noisy atom-column lattice, the model with the guard on and off")
    args = ap.parse_args()
    import tifffile
    from qtpy.QtWidgets import QApplication

    from semsr_app.launch import fit_window, open_viewer, prefer_semsr_reader
    from semsr_core.data.degrade import area
    from semsr_core.io import write_stack
    from semsr_core.io.intensity import choose_mapping
    from semsr_core.models import resolve_model

    sys.path.insert(0, str(DOCS))
    from make_screenshot_first_hour import settle

    folder = Path(tempfile.mkdtemp())
    if args.lattice:
        sys.path.insert(0, str(DOCS.parent / "benchmarks"))
        from stem_lattice import DOSE, atom_lattice

        rng = np.random.default_rng(3)
        signal = area(atom_lattice(rng, 12.0, 2.0, side=512), 4)
        unit = np.clip(rng.poisson(signal * DOSE) / DOSE, 0, 1)
        name, pixel_nm, shot = "stem_lattice_lr", 0.05 * 4, "screenshot_disagreement_lattice"
        lr = np.round(unit * 65535).astype(np.uint16)
    else:
        raw = tifffile.imread(SOURCE).astype(np.float32)
        unit = np.clip(choose_mapping(raw).to_unit(raw), 0, 1)
        lr = np.round(area(unit, 4) * 65535).astype(np.uint16)
        name, pixel_nm, shot = "sem_retic_lr", 1.079 * 4, "screenshot_disagreement"
    scan = folder / f"{name}.tif"
    write_stack(scan, lr, pixel_size=pixel_nm, unit="nm")

    prefer_semsr_reader()
    viewer, panel = open_viewer([scan])
    fit_window(viewer)
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    runs = [(str(resolve_model(args.model)), "model")]
    if args.also or args.lattice:
        runs.append((args.also or runs[0][0], "off"))
    for model, guard in runs:
        panel.add_model_file(model)
        panel.guard_combo.setCurrentIndex(panel.guard_combo.findData(guard))
        viewer.layers.selection.active = viewer.layers[name]
        panel.run_button.click()
        settle(0.5, until=lambda: panel.worker is None, timeout=900)
    maps = [layer for layer in viewer.layers if "disagreement" in layer.name]
    if args.lattice:  # one model: both runs map its own output, the same map twice
        viewer.layers.remove(maps.pop())
    for layer in maps:
        layer.contrast_limits = (0.0, 0.2)
    viewer.grid.enabled = True
    viewer.grid.stride = 1
    if args.lattice:  # LR, map / guard on, guard off; zoomed in where the four meet
        viewer.grid.shape = (2, 2)
    viewer.reset_view()
    if args.lattice:
        viewer.camera.zoom *= 2.5
    settle(1.5)
    viewer.window._qt_window.grab().save(str(DOCS / f"{shot}.png"))
    print(panel.status.text())
    for layer in maps:
        print(layer.name, layer.metadata["consistency"]["disagreeing_fraction_max"])
    viewer.close()
    QApplication.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
