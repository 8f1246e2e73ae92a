"""Screenshot of `semsr demo` with a display, for the README: the sample stack
super-resolved by the bundled default-x4, then LR, SR and HR opened side by side as the
demo opens them. Run under a display, e.g.

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshot_demo.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from make_screenshot import grid_screenshot

from semsr_app.launch import open_viewer, prefer_semsr_reader
from semsr_core.demo import run_demo, sample_stacks

OUT = Path(__file__).with_name("screenshot_demo.png")


def main() -> int:
    result = run_demo(tempfile.mkdtemp(prefix="semsr_demo_"), device="cpu")
    print(f"demo: PSNR {result.mean('psnr'):.2f} dB, bicubic {result.mean('psnr_bicubic'):.2f}")
    lr, hr = sample_stacks()
    prefer_semsr_reader()
    viewer, _panel = open_viewer([str(lr), str(result.output), str(hr)])
    viewer.window._qt_window.resize(1500, 950)
    grid_screenshot(viewer, OUT)
    return 0


if __name__ == "__main__":
    sys.exit(main())
