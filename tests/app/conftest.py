"""Fixtures for the napari app tests: a tiny model, sample files, notifications.

Every test here is marked ``gui``. They run headless (QT_QPA_PLATFORM=offscreen) but
napari draws with OpenGL, which needs an X display: pytest-xvfb starts Xvfb when it is
installed (``apt-get install xvfb``); without a display the Qt tests are skipped with
that reason rather than crashing.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest

pytest.importorskip("napari")
pytest.importorskip("pytestqt")


def _display_available() -> bool:
    return bool(os.environ.get("DISPLAY")) or shutil.which("Xvfb") is not None


needs_display = pytest.mark.skipif(
    not _display_available(),
    reason="napari needs OpenGL through an X display: install Xvfb (apt-get install xvfb)")


@pytest.fixture
def tiny_model_path(tmp_path):
    """A small freshly initialised ×4 RRDBNet saved as a .semsr file.

    Seeded: with this seed its (untrained) output on the sample stack varies and stays
    inside the uint16 range, so results are not blank and nothing is clipped.
    """
    import torch

    from semsr_core.models import Model

    torch.manual_seed(4)
    model = Model.create("rrdbnet", scale=4, blocks=1, features=8, growth=4, name="tiny")
    return model.save(tmp_path / "tiny.semsr")


@pytest.fixture
def notifications():
    """Notifications shown during the test, as (severity, message) pairs."""
    from napari.utils.notifications import notification_manager

    seen: list[tuple[str, str]] = []

    def record(notification):
        seen.append((str(notification.severity), str(notification.message)))

    notification_manager.notification_ready.connect(record)
    yield seen
    notification_manager.notification_ready.disconnect(record)


@pytest.fixture
def sem_tiff(tmp_path):
    """A 16-bit 2-slice SEM-like TIFF at 5 nm (TIFF resolution tags), values 1000..9000."""
    import tifffile
    from skimage import data as skdata

    image = skdata.camera()[:160, :160].astype(np.float64) / 255.0
    stack = np.stack([image, image[::-1]])
    values = (1000 + 8000 * stack).astype(np.uint16)
    path = tmp_path / "scan.tif"
    pixels_per_cm = 1e7 / 5.0  # 5 nm pixels
    tifffile.imwrite(path, values, resolution=(pixels_per_cm, pixels_per_cm),
                     resolutionunit="CENTIMETER")
    return path, values


def _u16(image):
    """[0, 1] floats as uint16."""
    return (np.clip(image, 0, 1) * 65535).astype(np.uint16)


@pytest.fixture(scope="module")
def unaligned(tmp_path_factory):
    """LR/HR folders of 3 simulated scans of the same places, HR shifted against LR
    (40×40 LR, 160×160 HR at ×4, pixel sizes 8 and 2 nm), and one HR with no LR."""
    from semsr_core.data.simulate import simulate_pair
    from semsr_core.io import write_stack

    root = tmp_path_factory.mktemp("scans")
    for folder in ("lr", "hr"):
        (root / folder).mkdir()
    for index, (dy, dx) in enumerate([(10, 6), (4, 14), (12, 12)]):
        pair = simulate_pair(20 + index, size=192, scale=4, layout="mixed")
        write_stack(root / "lr" / f"scan{index}.tif", _u16(pair.lr[:40, :40]), pixel_size=8.0)
        write_stack(root / "hr" / f"scan{index}.tif", _u16(pair.hr[dy:dy + 160, dx:dx + 160]),
                    pixel_size=2.0)
    write_stack(root / "hr" / "lonely.tif", _u16(pair.hr[:160, :160]), pixel_size=2.0)
    return root
