"""Error messages name their file by construction (`semsr_core.errors`)."""

from __future__ import annotations

import ast
from pathlib import Path

from semsr_core.cli import main
from semsr_core.data.simulate import simulate_dataset
from semsr_core.errors import InputError, OutputError

ROOT = Path(__file__).resolve().parents[1]


def test_a_message_is_prefixed_with_its_file_even_when_the_name_occurs_in_the_text():
    error = OutputError("already holds an evaluation report", path="report",
                        hint="Choose another folder.")
    assert str(error) == "report: already holds an evaluation report. Choose another folder."


def test_a_message_can_place_its_file_with_the_path_placeholder():
    error = InputError("{path} is a folder, not an image file", path="scans/a.tif")
    assert str(error) == "scans/a.tif is a folder, not an image file"
    assert error.path == "scans/a.tif"


def test_semsr_evaluate_into_a_folder_named_report_names_the_folder(tmp_path, monkeypatch,
                                                                      capsys):
    simulate_dataset(tmp_path / "data", pairs=1, scale=4, size=64, seed=0)
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "report.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--data", "data", "-o", "report/", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("semsr: error: report: already holds an evaluation report"), err


def _calls_naming_their_path_twice(tree: ast.AST):
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args
                and isinstance(node.args[0], ast.JoinedStr)):
            continue
        name = getattr(node.func, "id", getattr(node.func, "attr", ""))
        path = next((k.value for k in node.keywords if k.arg == "path"), None)
        if not name.endswith("Error") or path is None:
            continue
        for part in node.args[0].values:
            if isinstance(part, ast.FormattedValue) and ast.dump(part.value) == ast.dump(path):
                yield node.lineno


def test_no_error_formats_its_own_path_into_the_message_as_well():
    """A message that names its file uses {path}; formatting it in and passing path=
    as well would print the name twice."""
    found = []
    for package in ("semsr_core", "app"):
        for file in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(file.read_text(encoding="utf-8"))
            found += [f"{file.relative_to(ROOT)}:{line}"
                      for line in _calls_naming_their_path_twice(tree)]
    assert not found, "use '{path}' in these messages instead: " + ", ".join(found)
