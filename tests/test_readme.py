"""What the README states about the command line is what the command line does."""

from __future__ import annotations

import re
from pathlib import Path

from semsr_core.cli import build_parser

README = Path(__file__).resolve().parents[1] / "README.md"


def _usage(command: str) -> str:
    block = README.read_text(encoding="utf-8").split("## Command line", 1)[1]
    match = re.search(rf"^semsr {command} .*?(?=^semsr |^```)", block, re.M | re.S)
    assert match, f"no `semsr {command}` line in the README's command list"
    return match.group(0)


def test_the_readme_gives_the_defaults_of_semsr_simulate():
    documented = dict(re.findall(r"\[--([\w-]+) ([\w.-]+)\]", _usage("simulate")))
    args = build_parser().parse_args(["simulate", "OUT"])
    assert documented, "no defaults documented"
    for option, value in documented.items():
        actual = getattr(args, option.replace("-", "_"))
        assert str(actual) in (value, f"{value}.0"), (option, value, actual)
    assert {"pairs", "scale", "size", "seed", "layout", "defects", "degradation",
            "pixel-size"} <= set(documented)


def test_the_tour_writes_only_under_folders_git_ignores():
    tour = README.read_text(encoding="utf-8").split("### A short tour", 1)[1].split("###")[0]
    ignored = [line.strip().strip("/") for line in
               (README.parent / ".gitignore").read_text().splitlines() if line.startswith("/")]
    outputs = re.findall(r"(?:-o|--run|simulate) (\S+)", tour)
    assert outputs
    for path in outputs:
        assert path.split("/")[0] in ignored, f"{path} is not under a git-ignored folder"
