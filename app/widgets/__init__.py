"""semsr's napari dock panels; each one also runs on its own (``python -m semsr_app.widgets.X``).

- :mod:`semsr_app.widgets.super_resolve` — the Super-resolve panel.
"""
