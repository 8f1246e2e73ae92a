"""Entry point of the desktop bundle: the ``semsr`` executable that PyInstaller builds.

It is the ``semsr`` command line (``semsr --version``, ``semsr gui``, ``semsr demo``,
``semsr super-resolve`` …), plus one option only the bundle has:

``semsr --bundle-smoke-test [SCREENSHOT.png]`` opens the app window (napari with
semsr's panels, as ``semsr gui`` does) on the bundled sample stack, checks that napari
found the semsr plugin through its package metadata (the ``napari.manifest`` entry
point, as an installed plugin is found) with its reader and four panels, clicks Run
in the Super-resolve panel with the bundled ``default-x4`` model on the CPU, waits for
the ×4 result layer, optionally saves a screenshot, closes the window and exits 0.
Any failure exits 1 with the reason. installer/smoke_test.sh runs it under Xvfb.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
import traceback

SMOKE_FLAG = "--bundle-smoke-test"
SMOKE_TIMEOUT_S = 300


def _check_plugin_discovered() -> None:
    """npe2 finds semsr through the bundled package metadata, not a fallback."""
    from npe2 import PluginManager

    manager = PluginManager.instance()
    manager.discover()
    if "semsr" not in manager:
        raise RuntimeError("napari did not discover the semsr plugin: the bundle lacks the "
                           "semsr package metadata (entry point napari.manifest)")
    widgets = {w.display_name for w in manager.get_manifest("semsr").contributions.widgets}
    wanted = {"Super-resolve", "Training", "Compare", "Export"}
    if not wanted <= widgets:
        raise RuntimeError(f"semsr plugin panels missing from the bundle: {wanted - widgets}")
    print(f"plugin: semsr discovered with panels {sorted(widgets)}")


def smoke_test(screenshot: str | None) -> int:
    """Open the app on the sample, super-resolve it from the panel, close; see module doc."""
    from qtpy import API_NAME
    from qtpy.QtWidgets import QApplication

    from semsr_app.launch import open_viewer
    from semsr_core.resources import resource_path

    print(f"Qt binding: {API_NAME}")
    _check_plugin_discovered()
    lr = resource_path("sample", "sem_stack_lr.tif")
    viewer, panel = open_viewer([lr])
    viewer.window._qt_window.resize(1500, 950)
    print(f"opened: {[layer.name for layer in viewer.layers]}")
    source = viewer.layers[0]
    panel.add_model_file(resource_path("models", "default-x4.semsr"))
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    count = len(viewer.layers)
    panel.run_button.click()
    deadline = time.monotonic() + SMOKE_TIMEOUT_S
    while panel.worker is not None or len(viewer.layers) == count:
        QApplication.processEvents()
        time.sleep(0.01)
        if time.monotonic() > deadline:
            raise RuntimeError(f"no result layer after {SMOKE_TIMEOUT_S} s")
    result = viewer.layers[-1]
    if result.data.shape[-2:] != tuple(4 * n for n in source.data.shape[-2:]):
        raise RuntimeError(f"result {result.data.shape} is not ×4 of {source.data.shape}")
    print(f"super-resolved: '{result.name}' {result.data.shape} from {source.data.shape}")
    if screenshot:
        viewer.grid.enabled = True
        viewer.reset_view()
        for _ in range(20):
            QApplication.processEvents()
        viewer.screenshot(screenshot, canvas_only=False)
        print(f"screenshot: {screenshot}")
    viewer.close()
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == SMOKE_FLAG:
        try:
            return smoke_test(sys.argv[2] if len(sys.argv) > 2 else None)
        except Exception as exc:  # the smoke test's verdict, with the reason
            traceback.print_exc()
            print(f"smoke test failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    from semsr_core.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    multiprocessing.freeze_support()  # torch/Dask may start worker processes
    sys.exit(main())
