"""semsr_app: the napari plugin and desktop app of semsr.

Keep this module free of torch (and of any heavy import): napari imports plugin
packages while it starts.
"""

__version__ = "0.1.0"
