"""PySide6 6.12's reference-count bug cannot abort the app (semsr_app._qt_binding).

Each emission of a signal to a Python slot drops a reference to a singleton (True,
None) in PySide6-Essentials 6.12.0; on CPython < 3.12 the interpreter aborts when the
count runs out. The reproducer of docs/pyside6.md runs in a subprocess: without the
guard it aborts (on interpreters where it can), with ``import semsr_app`` first it
exits cleanly. Skipped where PySide6 is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(importlib.util.find_spec("PySide6") is None,
                                reason="PySide6 is not installed")

MORTAL_SINGLETONS = sys.version_info < (3, 12)  # PEP 683 made them immortal in 3.12

REPRODUCER = """
import sys
if sys.argv[1] == "guarded":
    import semsr_app  # noqa: F401  (the guard runs on import)
from qtpy.QtCore import QCoreApplication, QObject, Signal

app = QCoreApplication([])


class A(QObject):
    s = Signal(object)


a = A()
a.s.connect(lambda x: None)
for value in [None, True, False] * 20000:
    a.s.emit(value)
print("survived", sys.getrefcount(None) > 2**39, sys.getrefcount(True) > 2**39)
"""


def _run(mode: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_API": "pyside6", "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "-c", REPRODUCER, mode], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(not MORTAL_SINGLETONS, reason="None/True/False are immortal on 3.12+")
def test_unguarded_reproducer_aborts_the_interpreter():
    """The bug is real here: without the guard, 60,000 emissions abort Python."""
    run = _run("bare")
    assert run.returncode != 0, run.stdout
    assert "Fatal Python error" in run.stderr
    assert "survived" not in run.stdout


def test_importing_semsr_app_keeps_the_interpreter_alive():
    """With semsr_app imported first, the same emissions finish and Python exits 0;
    on CPython < 3.12 the counts of None and True carry the guard's headroom."""
    run = _run("guarded")
    assert run.returncode == 0, run.stderr[-2000:]
    expected = "True True" if MORTAL_SINGLETONS else "False False"
    assert run.stdout.strip() == f"survived {expected}", run.stdout
