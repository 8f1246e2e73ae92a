"""semsr_app: the napari plugin and desktop app of semsr.

Keep this module free of torch (and of any heavy import): napari imports plugin
packages while it starts.
"""

from semsr_app._qt_binding import guard_refcounts

# Before any Qt signal of the app is emitted (the app, `semsr gui`, the napari plugin's
# widgets and readers all import this package first): on CPython < 3.12 with PySide6,
# keeps PySide6 6.12's reference-count bug from aborting the interpreter.
guard_refcounts()

__version__ = "0.1.0"
