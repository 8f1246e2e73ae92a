"""How a pair was compared in an evaluation (its ``mode``), shared by
:mod:`~semsr_core.metrics.evaluation` (which decides it) and
:mod:`~semsr_core.metrics.report` (which counts and shows it), so that neither imports
the other's module back."""

#: HR is exactly ``scale`` × LR in size: taken as aligned, all metrics.
REFERENCE = "reference"
#: The sizes differ: registered and cropped first, then all metrics.
ALIGNED = "aligned"
#: Alignment suspicious or failed: only metrics that need no pixel alignment.
NO_REFERENCE = "no-reference"
#: No integer scale, or another scale than the rest.
SKIPPED = "skipped"
