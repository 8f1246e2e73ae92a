"""Screenshot of the training wizard's recipe page for the README: four simulated pairs
with a contrast gap (a lab's first data), aligned by the wizard, its recommendation, the
few-pairs hint and a measured estimate. Run under a display, e.g.

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshot_wizard_recipe.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from qtpy.QtWidgets import QApplication, QWizard

from semsr_app.widgets.wizard import TrainingWizard
from semsr_core.data.simulate import simulate_dataset

OUT = Path(__file__).with_name("screenshot_wizard_4_recipe.png")


def _pump(app: QApplication, until=lambda: False, seconds: float = 1.0) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not until():
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "lab"
        simulate_dataset(data, pairs=4, scale=4, size=352, seed=15, style_gap="shared")
        wizard = TrainingWizard()
        wizard.resize(1100, 900)
        wizard.show()
        wizard.data_page.lr_edit.setText(str(data / "lr"))
        wizard.data_page.hr_edit.setText(str(data / "hr"))
        wizard.data_page.rescan()
        _pump(app)
        next_button = wizard.button(QWizard.WizardButton.NextButton)
        next_button.click()  # → alignment
        _pump(app, lambda: wizard.align_page._done, 120)
        next_button.click()  # → augmentation
        _pump(app)
        next_button.click()  # → recipe
        _pump(app)
        page = wizard.recipe_page
        page.estimate_button.click()
        _pump(app, lambda: page.estimate is not None, 300)
        _pump(app)
        wizard.grab().save(str(OUT))
        print(f"wrote {OUT}")
        wizard.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
