"""The Export panel (:class:`ExportPanel`): save the selected image layers as OME-TIFF
files in a folder, and a model as a ``.semsr`` file to share (:mod:`.panel`).

``python -m semsr_app.widgets.export [FILES]`` opens semsr's window (this panel is one
of its tabs) with the files.
"""

from semsr_app.widgets.export.panel import ExportPanel

__all__ = ["ExportPanel"]
