"""A guard against a reference-counting bug of PySide6 on CPython older than 3.12.

PySide6-Essentials 6.12.0 (the PySide6 the package registries here hold) drops one
reference too many on ``None``, ``True`` and ``False`` each time a ``Signal(object)``
delivers one of them to a Python slot (napari emits such signals all the time). On
CPython 3.12 and later these objects are *immortal* (PEP 683): their reference count
is never changed, so the bug is harmless. On 3.10 and 3.11 the count runs down, and
when it reaches zero the interpreter aborts ("Fatal Python error: none_dealloc"),
taking the app and any unsaved work with it. docs/pyside6.md has the measurements and
a ten-line reproducer.

:func:`guard_refcounts` does once, at import of ``semsr_app``, what 3.12 does by
design: it raises the reference counts of these process-wide singletons by
:data:`HEADROOM`, a number no run can use up (one leaked reference per emission, at a
million emissions a second, would take 13 days to spend 2**40). The objects are never
deallocated anyway (they are static in the interpreter), so the larger count changes
nothing else. It acts only where it is needed: CPython before 3.12 with PySide6
installed; elsewhere it does nothing.
"""

from __future__ import annotations

import ctypes
import importlib.util
import platform
import sys

HEADROOM = 2**40

# The singletons whose counts PySide6's bug runs down (measured: None, True, False),
# and the other interpreter-wide constants 3.12 made immortal that a signal may carry.
_SINGLETONS: tuple[object, ...] = (None, True, False, Ellipsis, NotImplemented, (), "", b"")

_guarded = False


def needs_guard() -> bool:
    """Whether this interpreter can be crashed by the bug: CPython before 3.12 (no
    immortal objects) with PySide6 installed (whether or not qtpy has picked it yet)."""
    if platform.python_implementation() != "CPython" or sys.version_info >= (3, 12):
        return False
    return "PySide6" in sys.modules or importlib.util.find_spec("PySide6") is not None


def guard_refcounts() -> bool:
    """Make ``None``, ``True``, ``False`` and the other constants effectively immortal
    (see the module docstring) where :func:`needs_guard`; once per process. Returns
    whether the guard is in place."""
    global _guarded
    if _guarded:
        return True
    if not needs_guard():
        return False
    for obj in _SINGLETONS:
        # ob_refcnt is the first field of every object (Py_ssize_t). Adding to it is
        # what HEADROOM calls to Py_IncRef would do, in one step. A reference taken or
        # dropped by another thread between the read and the write would be off by
        # one, which cannot matter against 2**40.
        count = ctypes.c_ssize_t.from_address(id(obj))
        count.value += HEADROOM
    _guarded = True
    return True
