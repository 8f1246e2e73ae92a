"""The Compare panel: LR, SR and HR side by side, gradient maps, a line profile, metrics.

Choose the LR, SR and (optional) HR image layers — the panel guesses them from the
names (``"<x> [SR ×4]"`` is the SR of ``"<x>"``). Then:

- **Side by side** shows the three in a 1×3 grid (napari's grid mode: one camera, so
  zoom and pan are linked) and hides the other layers; **Overlay** puts everything
  back as it was. LR is shown *nearest* (the LR layer itself, big pixels) or
  *bicubic ↑* (an added layer on the SR's pixel grid).
- **Gradient maps** adds the gradient magnitude of LR↑, SR and HR (Sobel, on
  intensities in [0, 1], one colour scale for the three) under them — [S1] compares
  results this way: HR has thin strong edges, a blurry result weak wide ones.
- **Draw profile line**: draw one line (in any cell); the intensity of LR, SR and HR
  along it, in nanometres, is plotted in one graph and follows the line and the slice.
- **Metrics** of the slice on screen: PSNR/SSIM of SR and of bicubic ↑ against HR when
  HR is aligned (same size as SR); when HR is only a similar image ([S1]) — another
  size, or "reference HR" ticked — no pixel metrics, only gradient statistics and
  the spectrum score.

For stacks everything is computed for the slice on screen, again when the slice
changes, in a background worker; errors become notifications and the panel stays
usable. The computations are in :mod:`semsr_app.comparison`.

One module per job: :mod:`.panel` (the dock: layer choices, the comparison worker,
metrics), :mod:`.grid` (the layers the panel adds, the side-by-side grid) and
:mod:`.profile` (the line profile). ``python -m semsr_app.widgets.compare [FILES]``
opens semsr's window (this panel is one of its tabs) with the files.
"""

from semsr_app.widgets.compare.grid import (
    DERIVED_KEY,
    GRADIENT_COLORMAP,
    GRADIENT_PERCENTILE,
    ROLES,
)
from semsr_app.widgets.compare.panel import NO_LAYER, ComparePanel
from semsr_app.widgets.compare.profile import CURVE_COLOURS, LINE_COLOUR, PROFILE_NAME

__all__ = ["CURVE_COLOURS", "DERIVED_KEY", "GRADIENT_COLORMAP", "GRADIENT_PERCENTILE",
           "LINE_COLOUR", "NO_LAYER", "PROFILE_NAME", "ROLES", "ComparePanel"]
