"""The napari plugin is declared correctly: napari can find and load every part of it."""

from __future__ import annotations

import importlib
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO / "app" / "napari.yaml"


def test_manifest_validates_and_command_ids_start_with_plugin_name():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_file(MANIFEST)
    manifest.validate_imports()  # every python_name imports and exists
    ids = [command.id for command in manifest.contributions.commands]
    assert manifest.name == "semsr"
    assert ids and all(i.startswith("semsr.") for i in ids)


def test_every_contribution_points_to_a_declared_command():
    from npe2 import PluginManifest

    manifest = PluginManifest.from_file(MANIFEST)
    declared = {command.id for command in manifest.contributions.commands}
    c = manifest.contributions
    used = ([r.command for r in c.readers] + [w.command for w in c.writers]
            + [s.command for s in c.sample_data] + [w.command for w in c.widgets])
    assert set(used) <= declared
    assert {s.key for s in c.sample_data} == {"sem_stack", "sem_pairs"}


def test_manifest_is_registered_with_the_napari_entry_point():
    found = {ep.name: ep.value for ep in entry_points(group="napari.manifest")}
    assert found.get("semsr") == "semsr_app:napari.yaml"
    package, resource = found["semsr"].split(":")
    assert Path(importlib.import_module(package).__file__).with_name(resource).is_file()


def test_importing_the_app_package_loads_neither_torch_nor_qt():
    code = "import sys, semsr_app; print('torch' in sys.modules, 'qtpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]
