"""semsr's napari dock panels; each one also runs on its own (``python -m semsr_app.widgets.X``).

- :mod:`semsr_app.widgets.super_resolve` — the Super-resolve panel.
- :mod:`semsr_app.widgets.training_monitor` — the training monitor ("Training"): live
  curves, samples, Pause/Stop/Resume, past runs; "New training…" opens the wizard.
- :mod:`semsr_app.widgets.wizard` — the training wizard (a package: one module per page).
- :mod:`semsr_app.widgets.compare` — LR/SR/HR side by side, gradient maps, line
  profile, metrics.
- :mod:`semsr_app.widgets.export` — save selected layers as OME-TIFF.
"""
