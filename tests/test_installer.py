"""The desktop bundle works as a user gets it: installer/smoke_test.sh on the bundle
that installer/build.sh made (``semsr --version``, ``semsr demo`` on the bundled sample,
and the app under Xvfb: the sample opened, super-resolved from the Super-resolve panel).

Slow and not in CI: it needs the bundle built first (several minutes and ~1 GB), and is
skipped when ``installer/dist/semsr/semsr`` does not exist. Run it with
``pytest -m slow tests/test_installer.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUNDLE = REPO / "installer" / "dist" / "semsr"
EXE = BUNDLE / "semsr"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not EXE.exists(),
                       reason=f"no bundle at {EXE}: build it with installer/build.sh"),
]


def test_bundle_reports_its_version():
    from semsr_core import __version__

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run = subprocess.run([str(EXE), "--version"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"semsr {__version__}"


@pytest.mark.skipif(not (os.environ.get("DISPLAY") or shutil.which("xvfb-run")),
                    reason="the app needs an X display: install Xvfb (apt-get install xvfb)")
def test_smoke_test_opens_the_sample_and_super_resolves_it(tmp_path):
    """The bundle's CLI demo and its app (Run in the Super-resolve panel) both produce
    the ×4 result; the app found the semsr plugin through the bundled metadata."""
    env = {**os.environ, "SEMSR_SMOKE_OUT": str(tmp_path)}
    run = subprocess.run(["bash", str(REPO / "installer" / "smoke_test.sh"), str(BUNDLE)],
                         capture_output=True, text=True, env=env, timeout=900)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert "Qt binding: PySide6" in out
    assert "plugin: semsr discovered with panels" in out
    assert "super-resolved: 'sem_stack_lr [SR ×4]'" in out, out[-4000:]
    assert list((tmp_path / "demo").glob("*.ome.tif"))
    assert (tmp_path / "bundle_app.png").stat().st_size > 10_000
    assert "smoke: passed" in out
