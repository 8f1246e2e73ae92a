"""The training wizard's window: :class:`TrainingWizard` holds the five pages, stages the
included pairs and hands the training request on (see :mod:`semsr_app.widgets.wizard`)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QWidget, QWizard

from semsr_app import wizard_data
from semsr_app.widgets.wizard.align_page import AlignmentPage
from semsr_app.widgets.wizard.augment_page import AugmentationPage
from semsr_app.widgets.wizard.data_page import DataPage
from semsr_app.widgets.wizard.recipe_page import RecipePage
from semsr_app.widgets.wizard.run_page import RunPage

if TYPE_CHECKING:
    import napari

    from semsr_app.training import TrainingRequest


def _announce(request: TrainingRequest) -> None:
    show_info(f"Training request ready: {request.describe()} (no training monitor is "
              "connected to start it)")


class TrainingWizard(QWizard):
    """The training wizard; ``on_start(request)`` receives the
    :class:`~semsr_app.training.TrainingRequest` when the user clicks Start training
    (default: a notification describing it)."""

    def __init__(self, viewer: napari.viewer.Viewer | None = None,
                 on_start: Callable[[TrainingRequest], Any] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewer = viewer
        self.on_start = on_start or _announce
        self.request: TrainingRequest | None = None
        self._staging: Path | None = None
        self.staged_version = 0  # counts writes of the staged data (pages compare it)
        self.setWindowTitle("semsr — train a model")
        self.setWizardStyle(QWizard.ClassicStyle)
        self.setOption(QWizard.NoBackButtonOnStartPage, True)
        self.setButtonText(QWizard.WizardButton.FinishButton, "Start training")
        self.setWindowModality(Qt.NonModal)
        self.setModal(False)
        self.setMinimumSize(960, 680)
        self.data_page = DataPage(self)
        self.align_page = AlignmentPage(self)
        self.aug_page = AugmentationPage(self)
        self.recipe_page = RecipePage(self)
        self.run_page = RunPage(self)
        for page in (self.data_page, self.align_page, self.aug_page, self.recipe_page,
                     self.run_page):
            self.addPage(page)
        self.finished.connect(self._on_closed)

    # ------------------------------------------------------------------ data
    @property
    def staged_data_dir(self) -> Path:
        """Where the included pairs are written before the run folder exists."""
        if self._staging is None:
            from semsr_core.resources import user_dir

            self._staging = Path(tempfile.mkdtemp(prefix="wizard-", dir=user_dir("cache")))
        return self._staging / "data"

    def stage_data(self, checks: list[wizard_data.PairCheck]) -> Path:
        """Write the included pairs into the staging folder (replacing earlier ones)."""
        self.staged_version += 1
        return wizard_data.write_training_data(checks, self.staged_data_dir, replace=True)

    def data_overrides(self) -> list[str]:
        scan = self.data_page.scan
        if scan is None:
            return []
        return wizard_data.data_overrides(scan.choice, self.align_page.checks)

    # ------------------------------------------------------------------ start
    def build_request(self, data_dir: Path) -> TrainingRequest:
        from semsr_app.training import TrainingRequest

        return TrainingRequest(recipe=self.recipe_page.recipe(), data=data_dir,
                               run_dir=self.run_page.run_dir(),
                               overrides=self.recipe_page.overrides(),
                               device=self.run_page.device(),
                               max_minutes=self.run_page.max_minutes())

    def start_training(self) -> bool:
        """Move the staged data into the run folder and hand the request to
        ``on_start``; a problem is shown and the wizard stays open."""
        from semsr_core.errors import SemsrError

        run_dir = self.run_page.run_dir()
        if run_dir is None:
            return False
        try:
            self.recipe_page.revalidate()
            if self.recipe_page.config is None:
                raise SemsrError(self.recipe_page.error_label.text())
            data_dir = wizard_data.move_data_into_run(self.staged_data_dir, run_dir)
        except (SemsrError, OSError) as exc:
            self.report_error(str(exc))
            return False
        self._staging_cleanup()
        self.request = self.build_request(data_dir)
        try:
            self.on_start(self.request)
        except SemsrError as exc:  # e.g. a monitor that refuses the run
            self.report_error(str(exc))
        return True

    def report_error(self, text: str) -> None:
        show_error(text)

    def _staging_cleanup(self) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

    def _on_closed(self, *_: Any) -> None:
        """Stop the pages' pending and running work and remove the staged data."""
        for page in (self.data_page, self.aug_page, self.recipe_page):
            page._timer.stop()
        for page in (self.align_page, self.aug_page, self.recipe_page):
            page.job.cancel()
        self.align_page.flicker_timer.stop()
        self._staging_cleanup()


def main(argv: list[str] | None = None) -> int:
    """Open napari with the training wizard beside it."""
    import napari

    viewer = napari.Viewer(title="semsr")
    wizard = TrainingWizard(viewer)
    wizard.show()
    napari.run()
    return 0

