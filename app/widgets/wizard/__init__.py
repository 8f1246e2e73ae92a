"""The training wizard: from a lab's folders of scans to a training run, in five pages.

1. **Data** — LR and HR folders matched by name (or a naming rule), or HR only with the
   degradation that makes LR; the pairs found and the files left out, with reasons.
2. **Alignment** — every pair registered in a worker (cancellable): NCC before and
   after, shift and verdict per pair; include/exclude; an overlay (LR↑ magenta over HR
   green) and a flicker view. HR-only data needs no alignment: each image is read once.
3. **Augmentation** — geometric augmentation, synthetic defects, ZSSR patch pasting,
   with live previews of training samples made from the user's own pairs.
4. **Recipe** — every bundled recipe with its source; its main hyper-parameters with
   the recipe's defaults, each edit a ``--set`` override validated live; a measured
   time and memory estimate (:func:`semsr_core.train.estimate.estimate_run`).
5. **Run** — device, run folder, time limit; **Start training** hands a
   :class:`~semsr_app.training.TrainingRequest` to ``on_start(request)``.

Data: when the alignment page is left, the included pairs (the aligned crops, or the
HR files of HR-only data) are written into a staging folder in the user's cache
(``semsr_core.resources.user_dir("cache")``); Start training moves it to
``<run folder>/data`` and the request trains on exactly that folder. Closing the
wizard without starting removes the staging folder.

The wizard is modeless; once training has started it can be closed.
Run it on its own with ``python -m semsr_app.widgets.wizard``.

One file per job: :mod:`.window` (the wizard), one per page (:mod:`.data_page`,
:mod:`.align_page`, :mod:`.augment_page`, :mod:`.recipe_page`, :mod:`.run_page`),
:mod:`.job` (the pages' background work, ending in the panels' one
:class:`~semsr_app.widgets.parts.Outcome`) and :mod:`.common` (shared Qt helpers).
Each page keeps its work in :mod:`semsr_app.wizard_data` (Qt-free).
"""

from semsr_app.widgets.wizard.align_page import AlignmentPage
from semsr_app.widgets.wizard.augment_page import AugmentationPage
from semsr_app.widgets.wizard.data_page import DataPage
from semsr_app.widgets.wizard.job import BackgroundJob
from semsr_app.widgets.wizard.recipe_page import RecipePage
from semsr_app.widgets.wizard.run_page import RunPage
from semsr_app.widgets.wizard.window import TrainingWizard, main

__all__ = ["AlignmentPage", "AugmentationPage", "BackgroundJob", "DataPage", "RecipePage",
           "RunPage", "TrainingWizard", "main"]
