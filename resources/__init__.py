"""Bundled data of semsr: recipes (``presets/``), default models (``models/``) and
the simulated sample data (``sample/``). Use :mod:`semsr_core.resources` to find files."""
