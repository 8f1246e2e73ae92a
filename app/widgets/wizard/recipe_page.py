"""Page 4 of the training wizard: the recipe, its main values as validated
overrides, and the time/memory estimate (:class:`RecipePage`).
"""

from __future__ import annotations

from typing import Any

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from semsr_app import wizard_data
from semsr_app.widgets.parts import Outcome
from semsr_app.widgets.wizard.common import message_label, set_message
from semsr_app.widgets.wizard.job import BackgroundJob

DEFAULT_RECIPE = "finetune"  # until the data is known (wizard_data.default_recipe)


class RecipePage(QWizardPage):
    """The recipe and its main hyper-parameters; every edit is a ``--set`` override,
    validated live by the engine; a measured time and memory estimate."""

    def __init__(self, wizard: Any) -> None:
        from semsr_core.train.config import recipe_names

        super().__init__()
        self.owner = wizard
        self.setTitle("4 · Recipe and hyper-parameters")
        self.setSubTitle("Defaults are the recipe's (from its source). A changed value "
                         "overrides it; invalid values are explained below.")
        self.fields: list[wizard_data.HyperParameter] = []
        self.edits: dict[str, QLineEdit] = {}
        self.config: Any = None
        self.estimate: Any = None
        self._measured: tuple[str, list[str], int] | None = None
        self.job = BackgroundJob(self)
        self.job.progress.connect(self._on_progress)
        layout = QVBoxLayout(self)
        top = QFormLayout()
        self.recipe_combo = QComboBox()
        self.recipe_combo.addItems(recipe_names())
        top.addRow("Recipe", self.recipe_combo)
        layout.addLayout(top)
        self.choice_label = message_label()  # why the wizard recommends its default
        layout.addWidget(self.choice_label)
        self.pairs_hint = message_label()  # few pairs: more would help (measured)
        layout.addWidget(self.pairs_hint)
        self.description = message_label()
        layout.addWidget(self.description)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        layout.addWidget(self.scroll, 1)
        self.fixed_label = message_label()
        layout.addWidget(self.fixed_label)
        self.error_label = message_label()
        layout.addWidget(self.error_label)
        estimate_row = QHBoxLayout()
        self.estimate_button = QPushButton("Measure time and memory")
        self.estimate_button.setToolTip("Build the networks on your data and time 2 real "
                                        "training steps of each phase on the chosen device")
        self.estimate_button.clicked.connect(self.measure)
        self.estimate_label = message_label()
        estimate_row.addWidget(self.estimate_button)
        estimate_row.addWidget(self.estimate_label, 1)
        layout.addLayout(estimate_row)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.revalidate)
        self.recipe_combo.currentIndexChanged.connect(self._on_recipe)
        index = self.recipe_combo.findText(DEFAULT_RECIPE)
        self.recipe_combo.setCurrentIndex(max(index, 0))
        self._default: str | None = None  # the recommendation last applied
        self._on_recipe()

    def recipe(self) -> str:
        return self.recipe_combo.currentText()

    def _on_recipe(self, *_: Any) -> None:
        recipe = self.recipe()
        info = wizard_data.recipe_info(recipe)
        self.description.setText(f"<b>{info['description']}</b><br>Source: {info['source']}")
        self.fields = wizard_data.hyperparameters(recipe)
        self.edits = {}
        form_widget = QWidget()
        columns = QHBoxLayout(form_widget)
        left, right = QVBoxLayout(), QVBoxLayout()
        groups: dict[str, QFormLayout] = {}
        for item in self.fields:
            if item.group not in groups:
                box = QGroupBox(item.group)
                groups[item.group] = QFormLayout(box)
                target = left if item.group in ("Generator", "Data", "Optimiser") else right
                target.addWidget(box)
            edit = QLineEdit(item.default)
            edit.setPlaceholderText("recipe default" if not item.default else item.default)
            edit.setToolTip(f"--set {item.key}=…  (recipe default: {item.default or 'none'})")
            edit.textChanged.connect(self._timer.start)
            groups[item.group].addRow(item.label, edit)
            self.edits[item.key] = edit
        left.addStretch(1)
        right.addStretch(1)
        columns.addLayout(left)
        columns.addLayout(right)
        self.scroll.setWidget(form_widget)
        self.estimate = None
        self.estimate_label.setText("")
        self.revalidate()

    def set_value(self, key: str, text: str) -> None:
        """Type ``text`` into the field of ``key`` and validate at once."""
        self.edits[key].setText(text)
        self.revalidate()

    def user_overrides(self) -> list[str]:
        values = {key: edit.text() for key, edit in self.edits.items()}
        return wizard_data.overrides_for(self.fields, values)

    def overrides(self) -> list[str]:
        """All overrides the run gets: from the data, the augmentation page, and the
        edited fields (later ones win)."""
        return [*self.owner.data_overrides(), *self.owner.aug_page.choice().overrides(),
                *self.user_overrides()]

    def initializePage(self) -> None:
        self.recommend()
        self.revalidate()

    def recommend(self) -> None:
        """Choose the recipe the data calls for (``finetune`` for small datasets and on a
        CPU), unless the user chose another one, and say why in one sentence."""
        used = sum(c.included for c in self.owner.align_page.checks)
        recipe, why = wizard_data.default_recipe(used, self.owner.run_page.device())
        if self._default is None or self.recipe() == self._default:
            index = self.recipe_combo.findText(recipe)
            if index >= 0:
                self.recipe_combo.setCurrentIndex(index)
                self._default = recipe
        self.choice_label.setText(why)
        hint = wizard_data.pairs_hint(used)
        self.pairs_hint.setText(hint)
        self.pairs_hint.setVisible(bool(hint))

    def revalidate(self) -> None:
        """Check the recipe with all overrides; a problem is shown and Next stays off."""
        from semsr_core.errors import SemsrError

        self._timer.stop()
        self.config = None
        for edit in self.edits.values():
            edit.setStyleSheet("")
        try:
            overrides = self.overrides()
            self.config = wizard_data.validate(self.recipe(), overrides)
        except SemsrError as exc:
            set_message(self.error_label, str(exc), error=True)
            self.fixed_label.setText("")
            for key, edit in self.edits.items():  # mark the field the message names
                if f"{key}:" in str(exc) or f"{key} " in str(exc):
                    edit.setStyleSheet("border: 2px solid #e0503c;")
        else:
            set_message(self.error_label, "Valid. Overrides: " + (", ".join(overrides)
                                                                   or "none"))
            key = (self.recipe(), overrides, self.owner.staged_version)
            if self.estimate is not None and self._measured != key:
                self.estimate = None  # measured for other settings
                self.estimate_label.setText("")
            epochs = self.config.total_epochs
            self.fixed_label.setText(
                f"Scale ×{self.config.data.scale} (from the data), {epochs} epoch(s) in "
                f"{len(self.config.phases)} phase(s), augmentation "
                f"{self.config.data.augment or ['none']}"
                + (", synthetic defects" if self.config.data.defects else "")
                + (", patch pasting" if self.config.data.paste else "")
                + (f"; starts from {self.config.generator.init} ({self.config.generator.arch}"
                   f" {self.config.generator.arch_kwargs()}, from its model card)"
                   if self.config.generator.init else ""))
        self.estimate_button.setEnabled(self.config is not None and not self.job.running)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.config is not None and not self._timer.isActive()

    def validatePage(self) -> bool:
        self.revalidate()
        return self.config is not None

    # ----------------------------------------------------------------- estimate
    def measure(self) -> None:
        """Time a few real steps on the staged data, in a worker."""
        from semsr_core.train.estimate import estimate_run

        if self.config is None:
            return
        config, data_dir = self.config, self.owner.staged_data_dir
        device = self.owner.run_page.device()
        self._measured = (self.recipe(), self.overrides(), self.owner.staged_version)
        self.estimate_button.setEnabled(False)
        set_message(self.estimate_label, f"Measuring on {device}…")

        def work(on_event: Any, cancel: Any) -> Any:
            return estimate_run(config, data_dir, device=_estimate_device(device), steps=2,
                                on_event=on_event, cancel=cancel)

        self.job.start(work, self._on_estimate)

    def _on_progress(self, event: Any) -> None:
        from semsr_core.events import Progress

        if isinstance(event.payload, Progress):
            set_message(self.estimate_label, f"Measuring: step {event.payload.done} "
                         f"of {event.payload.total}…")

    def _on_estimate(self, outcome: Outcome) -> None:
        self.estimate_button.setEnabled(self.config is not None)
        if outcome.error:
            set_message(self.estimate_label, outcome.error, error=True)
        elif not outcome.cancelled:
            self.estimate = outcome.value
            set_message(self.estimate_label, "Estimate: " + self.estimate.describe())

    def cleanupPage(self) -> None:
        self.job.cancel()
        self.estimate_button.setEnabled(self.config is not None)


def _estimate_device(device: str) -> str:
    from semsr_core.infer.device import resolve_device

    return str(resolve_device(device))


