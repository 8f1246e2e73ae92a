"""The training monitor: follow a training run live, pause, stop or resume it, and reopen
past runs from their folders.

The dock shows where the run stands (recipe, phase, epoch, step of total, elapsed time,
ETA), the loss curves of the generator and of each discriminator (one curve per loss
term, optionally on a log scale), the learning rates, the validation PSNR and SSIM with
bicubic upscaling as a dashed baseline, and the latest validation samples (LR upscaled
bicubically, SR, HR — or their Sobel gradient maps).

``start(request)`` runs a :class:`~semsr_app.training.TrainingRequest` in a napari
``thread_worker``; the engine's typed events reach the GUI thread through a queued Qt
signal and are only collected there (redrawn at most five times a second, the plots
once a second). The training keeps running when the wizard that started it closes.
Pause checkpoints and waits; Stop validates, checkpoints and exports the model;
"Resume run" continues a stopped run; "Open run…" draws a past run from its
``events.jsonl`` (and keeps following it when another process is still writing it);
"Use model" hands the run's model to the Super-resolve panel.

One module per job: :mod:`.monitor` (the dock: layout, controls, the running job and
its events), :mod:`.header` (where the run stands), :mod:`.plots` (curves),
:mod:`.samples` (validation samples) and :mod:`.past_runs` (opening and following run
folders). Run it on its own with ``python -m semsr_app.widgets.training_monitor
[RUN_FOLDER]``.
"""

from semsr_app.widgets.training_monitor.monitor import TrainingMonitor, main

__all__ = ["TrainingMonitor", "main"]
