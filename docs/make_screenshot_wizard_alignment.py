"""Screenshot of the training wizard's alignment page for the README: the eight-pair
simulated lab case of ``benchmarks/lab_workflow.py --lab-pairs 8`` (unaligned scans of a
periodic specimen), its verdicts and an overlay. Run under a display, e.g.

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python docs/make_screenshot_wizard_alignment.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from qtpy.QtWidgets import QApplication, QWizard

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import lab_workflow
from make_screenshot_wizard_recipe import _pump

from semsr_app.widgets.wizard import TrainingWizard

OUT = Path(__file__).with_name("screenshot_wizard_2_alignment.png")


def main() -> int:
    app = QApplication.instance() or QApplication(sys.argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        lab_workflow.LAB_PAIRS["count"] = 8
        lab_workflow.simulate(root / "sim")
        lab_workflow.make_lab_case(root / "sim", root / "lab", root / "held", "uint16")
        wizard = TrainingWizard()
        wizard.resize(1200, 900)
        wizard.show()
        wizard.data_page.lr_edit.setText(str(root / "lab" / "lr"))
        wizard.data_page.hr_edit.setText(str(root / "lab" / "hr"))
        wizard.data_page.rescan()
        _pump(app)
        wizard.button(QWizard.WizardButton.NextButton).click()  # → alignment
        _pump(app, lambda: wizard.align_page._done, 120)
        _pump(app)
        wizard.grab().save(str(OUT))
        print(f"wrote {OUT}")
        print(wizard.align_page.summary.text())
        wizard.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
