"""Screenshot of the Super-resolve panel for the docs: `semsr gui` on the sample stack,
Run clicked, result shown. Run under a display, e.g.

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshot.py

There is no trained default model yet, so a small ×4 RRDBNet trained here for a few
minutes (L1 on the bundled sample pairs) stands in: the picture shows the panel, the
layer placement and the contrast, not the quality a properly trained model reaches.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from qtpy.QtWidgets import QApplication

from semsr_app.launch import open_viewer
from semsr_core.models import Model
from semsr_core.resources import resource_path

OUT = Path(__file__).with_name("screenshot_super_resolve.png")


def demo_model(steps: int = 200) -> Model:
    """A small ×4 RRDBNet fitted briefly (L1) to the bundled simulated training pairs."""
    import numpy as np
    import torch

    from semsr_core.io import read_stack

    torch.manual_seed(0)
    folder = resource_path("sample", "pairs")
    lr = np.stack([read_stack(p)[0] for p in sorted((folder / "lr").glob("*.tif"))])
    hr = np.stack([read_stack(p)[0] for p in sorted((folder / "hr").glob("*.tif"))])
    lr_t = torch.from_numpy(lr.astype(np.float32) / 65535)[:, None]
    hr_t = torch.from_numpy(hr.astype(np.float32) / 65535)[:, None]
    model = Model.create("rrdbnet", scale=4, blocks=1, features=16, growth=8,
                         name="demo-quick")
    net = model.generator.train()
    optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)
    rng = np.random.default_rng(0)
    for _ in range(steps):
        picks = rng.integers(0, len(lr), 8)
        y0, x0 = rng.integers(0, 64 - 32, 2)
        x = lr_t[picks, :, y0:y0 + 32, x0:x0 + 32]
        y = hr_t[picks, :, 4 * y0:4 * y0 + 128, 4 * x0:4 * x0 + 128]
        loss = torch.nn.functional.l1_loss(net(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    net.eval()
    print(f"demo model: L1 {loss.item():.4f} after {steps} steps")
    return model


def main() -> int:
    lr = resource_path("sample", "sem_stack_lr.tif")
    viewer, panel = open_viewer([lr])
    viewer.window._qt_window.resize(1500, 950)
    with tempfile.TemporaryDirectory() as folder:
        model = demo_model()
        path = model.save(Path(folder) / "demo-quick.semsr")
        panel.add_model_file(path)
        panel.run_button.click()
        while panel.worker is not None:
            QApplication.processEvents()
        viewer.canvas.grid.enabled = True  # LR and SR side by side, same physical size
        viewer.dims.set_point(0, 1)
        viewer.reset_view()
        for _ in range(20):
            QApplication.processEvents()
        viewer.screenshot(str(OUT), canvas_only=False)
    print(f"wrote {OUT}")
    viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
