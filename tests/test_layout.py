"""The README's layout section names every top-level folder and every engine package,
so that it cannot fall behind the tree."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def layout_block() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```\n(.*?)```", section, re.S).group(1)


def test_the_readme_layout_names_every_top_level_folder_and_engine_package():
    block = layout_block()
    listed = {line.split("/")[0] for line in block.splitlines() if re.match(r"^\w", line)}
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip("not a git checkout: the tracked folders are unknown")
    folders = {line.split("/")[0] for line in tracked.stdout.splitlines()
               if "/" in line and not line.startswith(".")}
    assert folders <= listed, f"not in the README's layout: {sorted(folders - listed)}"
    packages = {p.parent.name for p in (ROOT / "semsr_core").glob("*/__init__.py")}
    missing = {name for name in packages if not re.search(rf"\b{name}\b", block)}
    assert not missing, f"engine packages not in the README's layout: {sorted(missing)}"
    assert (ROOT / "CONTRIBUTING.md").is_file()
