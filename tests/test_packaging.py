"""The package installs as users get it: a regular (non-editable) install finds its
bundled resources, and the `semsr` command answers without a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed_copy(tmp_path_factory):
    """`pip install .` (no deps, not editable) into a separate target folder."""
    target = tmp_path_factory.mktemp("site")
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
           "--disable-pip-version-check", "-q", "--target", str(target), str(REPO)]
    subprocess.run(cmd, check=True, capture_output=True, cwd=tmp_path_factory.mktemp("cwd"))
    return target


def _run_installed(target: Path, code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(target)}
    # Run from an unrelated folder so the repository checkout cannot be imported by accident.
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=target.parent,
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_regular_install_finds_bundled_resources(installed_copy):
    code = (
        "import semsr_core, semsr_app, semsr_resources\n"
        "from semsr_core.resources import resource_path\n"
        "p = resource_path()\n"
        "print(semsr_core.__file__); print(semsr_app.__file__); print(p, p.is_dir())\n"
    )
    core_file, app_file, presets = _run_installed(installed_copy, code).splitlines()
    assert core_file.startswith(str(installed_copy))
    assert app_file.startswith(str(installed_copy))
    path, is_dir = presets.rsplit(" ", 1)
    assert path.startswith(str(installed_copy)) and is_dir == "True"


def test_regular_install_ships_every_bundled_file(installed_copy):
    """Every file under resources/ (presets, models, sample data) is in the install."""
    bundled = sorted(
        str(p.relative_to(REPO / "resources")) for p in (REPO / "resources").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    installed_root = installed_copy / "semsr_resources"
    missing = [rel for rel in bundled if not (installed_root / rel).is_file()]
    assert bundled and not missing


def test_app_package_imports_without_torch(installed_copy):
    code = "import sys, semsr_app; print('torch' in sys.modules)"
    assert _run_installed(installed_copy, code) == "False"
