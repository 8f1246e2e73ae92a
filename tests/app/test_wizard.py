"""The training wizard: folders → alignment → augmentation → recipe → run, headless."""

from __future__ import annotations

import os

import pytest
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QWizard

from semsr_app.training import TrainingRequest, run_training
from semsr_app.widgets.wizard import TrainingWizard
from semsr_core.io import read_stack

from .conftest import needs_display

pytestmark = [pytest.mark.gui, needs_display]

#: A tiny 2-step run of the small ZSSR recipe: 1 epoch of 2 steps.
TINY = {"data.lr_patch": "8", "data.batch": "2", "phases.train.epochs": "1",
        "phases.train.steps_per_epoch": "2"}


def _wizard(qtbot, **kwargs) -> TrainingWizard:
    wizard = TrainingWizard(**kwargs)
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def _fill_data(wizard, lr, hr):
    page = wizard.data_page
    page.lr_edit.setText(str(lr))
    page.hr_edit.setText(str(hr))
    page.rescan()


def _next(qtbot, wizard):
    before = wizard.currentId()
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.NextButton), Qt.LeftButton)
    assert wizard.currentId() == before + 1


def _align(qtbot, wizard):
    _next(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.align_page._done, timeout=60_000)


#: The wizard's default for a few pairs, 2 steps: the bundled model fine-tuned.
TINY_FINETUNE = {"data.batch": "2", "phases.pretrain.epochs": "1",
                 "phases.pretrain.steps_per_epoch": "2"}


def _tiny_recipe(qtbot, wizard):
    page = wizard.recipe_page
    page.recipe_combo.setCurrentText("zssr")
    for key, value in TINY.items():
        page.set_value(key, value)
    assert page.config is not None, page.error_label.text()


def test_the_wizard_hands_over_a_request_with_exactly_the_included_aligned_pairs(
        qtbot, unaligned, tmp_path, notifications):
    started: list[TrainingRequest] = []
    wizard = _wizard(qtbot, on_start=started.append)
    _fill_data(wizard, unaligned / "lr", unaligned / "hr")
    assert wizard.data_page.isComplete()
    assert len(wizard.data_page.scan.pairs) == 3
    assert wizard.data_page.left_out.count() == 1  # lonely.tif, with its reason
    assert "lonely.tif" in wizard.data_page.left_out.item(0).text()

    _align(qtbot, wizard)
    page = wizard.align_page
    assert [c.verdict for c in page.checks] == ["aligned"] * 3, [c.reason for c in page.checks]
    shift = page.checks[0].shift  # LR content lies at -(dy, dx) in the shifted HR
    assert shift == pytest.approx((-10, -6), abs=1.0)
    assert page.table.item(0, 6).text() == "aligned"
    assert page.table.item(0, 4).text() == f"{page.checks[0].ncc_after:.3f}"
    page.table.selectRow(1)  # the overlay of the selected pair is shown
    assert page.image.pixmap() is not None and not page.image.pixmap().isNull()
    page.flicker_button.setChecked(True)
    first = page.view_title.text()
    qtbot.waitUntil(lambda: page.view_title.text() != first, timeout=3000)
    page.flicker_button.setChecked(False)
    page.set_included(1, False)  # the user leaves scan1 out
    assert [c.included for c in page.checks] == [True, False, True]

    _next(qtbot, wizard)  # → augmentation: previews of the staged pairs
    aug = wizard.aug_page
    qtbot.waitUntil(lambda: aug.pairs is not None, timeout=30_000)
    assert len(aug.pairs) == 2
    aug.geometric_combo.setCurrentText("rot90flip")

    _next(qtbot, wizard)  # → recipe
    _tiny_recipe(qtbot, wizard)
    wizard.recipe_page.set_value("optimizer.lr", "0.0005")
    _next(qtbot, wizard)  # → run
    run_dir = tmp_path / "run"
    wizard.run_page.run_edit.setText(str(run_dir))
    wizard.run_page.device_combo.setCurrentIndex(wizard.run_page.device_combo.findData("cpu"))
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.LeftButton)

    assert len(started) == 1, notifications
    request = started[0]
    assert request.recipe == "zssr"
    assert request.run_dir == run_dir and request.device == "cpu"
    assert request.data == run_dir / "data"
    assert "optimizer.lr=0.0005" in request.overrides
    assert "data.scale=4" in request.overrides
    assert 'data.augment=["rot90flip"]' in request.overrides
    assert "phases.train.steps_per_epoch=2" in request.overrides
    assert sorted(p.name for p in (request.data / "lr").iterdir()) == ["scan0.tif", "scan2.tif"]
    assert sorted(p.name for p in (request.data / "hr").iterdir()) == ["scan0.tif", "scan2.tif"]
    with read_stack(request.data / "lr" / "scan0.tif") as lr, \
            read_stack(request.data / "hr" / "scan0.tif") as hr:
        assert hr.shape[-2:] == (4 * lr.shape[-2], 4 * lr.shape[-1])
        assert hr.pixel_size == pytest.approx(lr.pixel_size / 4)


def test_a_few_pairs_get_the_finetune_recipe_with_one_sentence_why(qtbot, unaligned):
    wizard = _wizard(qtbot)
    _fill_data(wizard, unaligned / "lr", unaligned / "hr")
    _align(qtbot, wizard)
    _next(qtbot, wizard)
    _next(qtbot, wizard)  # → recipe
    page = wizard.recipe_page
    assert page.recipe() == "finetune"
    why = page.choice_label.text()
    assert why.startswith("Recommended: finetune — 3 pair(s) are few to learn from scratch")
    assert "bundled model" in why and why.count(".") == 1  # one sentence
    # 3 pairs: a measured hint that more pairs would help more than more time
    assert page.pairs_hint.isVisibleTo(page) and "More pairs help" in page.pairs_hint.text()
    assert page.config is not None and page.config.generator.init == "default-x4"
    assert not any(key.startswith("generator.") for key in page.edits)  # sizes: the card's
    assert "starts from default-x4 (rrdbnet" in page.fixed_label.text()
    page.recipe_combo.setCurrentText("n1_reduced")  # the source recipes stay available
    assert page.config is not None and page.config.recipe.name == "n1_reduced"


def test_the_recommendation_follows_the_data_size_and_the_device(monkeypatch):
    import torch

    import semsr_core.infer.device as device
    from semsr_app.wizard_data import FEW_PAIRS, SMALL_DATASET_PAIRS, default_recipe, pairs_hint

    many = SMALL_DATASET_PAIRS + 50
    assert default_recipe(4, "cpu")[0] == "finetune"
    assert pairs_hint(FEW_PAIRS - 1) and pairs_hint(FEW_PAIRS) == ""
    recipe, why = default_recipe(many, "cpu")  # any dataset on a CPU
    assert recipe == "finetune" and "on a CPU" in why
    monkeypatch.setattr(device, "resolve_device", lambda name: torch.device("cuda", 0))
    assert default_recipe(4, "cuda")[0] == "finetune"  # a few pairs, even on a GPU
    assert default_recipe(many, "cuda")[0] == "n1_reduced"


def test_start_training_runs_a_tiny_training_that_writes_a_model(qtbot, unaligned, tmp_path):
    """The wizard's default path: finetune from default-x4 on the aligned pairs, judged
    against bicubic on the held-out pair, exported with its verdict."""
    from semsr_core.models import load_model

    results = []
    wizard = _wizard(qtbot, on_start=lambda request: results.append(run_training(request)))
    _fill_data(wizard, unaligned / "lr", unaligned / "hr")
    _align(qtbot, wizard)
    _next(qtbot, wizard)
    _next(qtbot, wizard)
    for key, value in TINY_FINETUNE.items():
        wizard.recipe_page.set_value(key, value)
    assert wizard.recipe_page.recipe() == "finetune"
    _next(qtbot, wizard)
    wizard.run_page.run_edit.setText(str(tmp_path / "run"))
    wizard.run_page.device_combo.setCurrentIndex(wizard.run_page.device_combo.findData("cpu"))
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.LeftButton)

    assert len(results) == 1
    result = results[0]
    assert result.status == "finished" and result.step == 2
    assert result.verdict.status == "better than bicubic", result.verdict.text()
    assert result.model_path == tmp_path / "run" / "model.semsr"
    assert load_model(result.model_path).card.training["verdict"]["gain_db"] > 0


def test_an_invalid_hyperparameter_is_explained_and_blocks_next(qtbot, unaligned):
    wizard = _wizard(qtbot)
    _fill_data(wizard, unaligned / "lr", unaligned / "hr")
    _align(qtbot, wizard)
    _next(qtbot, wizard)
    _next(qtbot, wizard)
    page = wizard.recipe_page
    page.recipe_combo.setCurrentText("zssr")
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    page.set_value("data.batch", "0")
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    assert "data.batch" in page.error_label.text()
    assert "border" in page.edits["data.batch"].styleSheet()  # the field is marked
    page.set_value("data.batch", "2")
    assert wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    assert page.edits["data.batch"].styleSheet() == ""


def test_a_missing_folder_is_a_message_on_the_page_and_next_stays_off(qtbot, tmp_path):
    wizard = _wizard(qtbot)
    _fill_data(wizard, tmp_path / "nowhere", tmp_path / "hr")
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    text = wizard.data_page.result_label.text()
    assert "does not exist" in text and "nowhere" in text


def test_a_file_given_as_folder_is_a_message_on_the_page(qtbot, unaligned):
    wizard = _wizard(qtbot)
    _fill_data(wizard, unaligned / "lr", unaligned / "hr" / "scan0.tif")
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    assert "is not a folder" in wizard.data_page.result_label.text()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="folder permissions do not apply to root")
def test_a_folder_without_read_permission_is_a_message_on_the_page(qtbot, unaligned,
                                                                     tmp_path):
    import shutil

    lr = tmp_path / "lr"
    shutil.copytree(unaligned / "lr", lr)
    lr.chmod(0)
    try:
        wizard = _wizard(qtbot)
        _fill_data(wizard, lr, unaligned / "hr")
        assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
        assert "cannot be read" in wizard.data_page.result_label.text()
    finally:
        lr.chmod(0o755)


def test_going_back_to_leave_out_a_pair_restages_and_previews_only_the_rest(qtbot,
                                                                              unaligned):
    wizard = _wizard(qtbot)
    _fill_data(wizard, unaligned / "lr", unaligned / "hr")
    _align(qtbot, wizard)
    _next(qtbot, wizard)
    aug = wizard.aug_page
    qtbot.waitUntil(lambda: aug.pairs is not None and not aug.job.running, timeout=30_000)
    assert len(aug.pairs) == 3
    wizard.back()
    wizard.align_page.set_included(0, False)
    _next(qtbot, wizard)
    qtbot.waitUntil(lambda: aug.pairs is not None and not aug.job.running, timeout=30_000)
    assert len(aug.pairs) == 2
    assert sorted(p.stem for p in (wizard.staged_data_dir / "hr").iterdir()) == ["scan1",
                                                                                 "scan2"]


def test_a_broken_tiff_is_left_out_with_the_reason_not_a_crash(qtbot, unaligned, tmp_path,
                                                              notifications):
    import shutil

    lr, hr = tmp_path / "lr", tmp_path / "hr"
    shutil.copytree(unaligned / "lr", lr)
    shutil.copytree(unaligned / "hr", hr)
    (lr / "scan1.tif").write_bytes(b"II*\x00 this is not really a TIFF")
    wizard = _wizard(qtbot)
    _fill_data(wizard, lr, hr)
    assert wizard.data_page.isComplete()
    assert [p.stem for p in wizard.data_page.scan.pairs] == ["scan0", "scan2"]
    texts = [wizard.data_page.left_out.item(i).text()
             for i in range(wizard.data_page.left_out.count())]
    assert any(t.startswith("scan1.tif: cannot be read") for t in texts), texts
    _align(qtbot, wizard)  # going on notifies the unreadable file once
    assert [c.stem for c in wizard.align_page.checks] == ["scan0", "scan2"]
    warnings = [m for severity, m in notifications if "cannot be read" in m]
    assert len(warnings) == 1 and "scan1.tif" in warnings[0]


def test_hr_only_data_needs_no_alignment_and_sets_scale_and_degradation(qtbot, unaligned,
                                                                        tmp_path):
    started = []
    wizard = _wizard(qtbot, on_start=started.append)
    page = wizard.data_page
    page.hr_only_mode.setChecked(True)
    page.degradation_combo.setCurrentText("sem-noise")
    page.scale_combo.setCurrentIndex(page.scale_combo.findData(4))
    page.hr_edit.setText(str(unaligned / "hr"))
    page.rescan()
    assert len(page.scan.pairs) == 4
    _align(qtbot, wizard)
    assert {c.verdict for c in wizard.align_page.checks} == {"readable"}
    assert "No alignment is needed" in wizard.align_page.subTitle()
    _next(qtbot, wizard)
    _next(qtbot, wizard)
    _tiny_recipe(qtbot, wizard)
    _next(qtbot, wizard)
    wizard.run_page.run_edit.setText(str(tmp_path / "run"))
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.FinishButton), Qt.LeftButton)
    request = started[0]
    assert 'data.degradation="sem-noise"' in request.overrides
    assert "data.scale=4" in request.overrides
    assert len(list((request.data / "hr").iterdir())) == 4
    assert not (request.data / "lr").exists()


def _labels(layout):
    from qtpy.QtWidgets import QLabel

    return [layout.itemAt(i).widget().text() for i in range(layout.count())
            if isinstance(layout.itemAt(i).widget(), QLabel)]


def test_synthetic_defects_are_previewed_and_become_overrides(qtbot, unaligned):
    wizard = _wizard(qtbot)
    _fill_data(wizard, unaligned / "lr", unaligned / "hr")
    _align(qtbot, wizard)
    _next(qtbot, wizard)
    page = wizard.aug_page
    qtbot.waitUntil(lambda: page.pairs is not None and not page.job.running, timeout=30_000)
    assert any("plain patches" in text for text in _labels(page.preview_layout))
    page.alpha_spin.setValue(8)
    page.beta_spin.setValue(4)
    page.defects_box.setChecked(True)
    page.refresh()
    qtbot.waitUntil(lambda: not page.job.running, timeout=30_000)
    assert any("synthetic defects: α=8, β=4" in text for text in _labels(page.preview_layout))
    assert page.choice().overrides() == ["data.defects.alpha=8", "data.defects.beta=4",
                                         "data.lr_patch=8"]


def test_measure_shows_the_estimate_or_the_engines_message_about_vgg_weights(qtbot,
                                                                            unaligned):
    wizard = _wizard(qtbot)
    wizard.run_page.device_combo.setCurrentIndex(wizard.run_page.device_combo.findData("cpu"))
    _fill_data(wizard, unaligned / "lr", unaligned / "hr")
    _align(qtbot, wizard)
    _next(qtbot, wizard)
    _next(qtbot, wizard)
    _tiny_recipe(qtbot, wizard)
    page = wizard.recipe_page
    qtbot.mouseClick(page.estimate_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not page.job.running, timeout=60_000)
    assert page.estimate is not None and page.estimate.total_steps == 2
    assert page.estimate_label.text().startswith("Estimate: ")
    page.set_value("optimizer.lr", "0.01")  # other settings: the estimate is dropped
    assert page.estimate is None and page.estimate_label.text() == ""

    page.recipe_combo.setCurrentText("n1")  # needs VGG19 weights, absent here
    for key, value in {"generator.blocks": "1", "generator.features": "8",
                       "data.lr_patch": "8", "data.batch": "2"}.items():
        page.set_value(key, value)
    qtbot.mouseClick(page.estimate_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: not page.job.running, timeout=60_000)
    assert "VGG19 weights not found: put the torchvision file" in page.estimate_label.text()
    assert page.isVisible()


def test_every_recipe_field_is_a_key_the_engine_accepts_and_defaults_give_no_override():
    from semsr_app.wizard_data import hyperparameters, overrides_for, validate
    from semsr_core.train.config import recipe_names

    for recipe in recipe_names():
        fields = hyperparameters(recipe)
        assert any(f.key.endswith(".epochs") for f in fields), recipe
        defaults = {f.key: f.default for f in fields}
        assert overrides_for(fields, defaults) == []
        for item in fields:
            if item.default:  # setting a value to its default changes nothing
                config = validate(recipe, [f"{item.key}={item.default}"])
                assert config.to_dict() == validate(recipe, []).to_dict(), item.key


def test_a_pair_opens_in_napari_as_aligned_lr_and_hr_layers(qtbot, make_napari_viewer,
                                                             unaligned):
    viewer = make_napari_viewer()
    wizard = _wizard(qtbot, viewer=viewer)
    _fill_data(wizard, unaligned / "lr", unaligned / "hr")
    _align(qtbot, wizard)
    page = wizard.align_page
    page.table.selectRow(2)
    qtbot.mouseClick(page.open_button, Qt.LeftButton)
    hr, lr = viewer.layers["scan2 HR (aligned)"], viewer.layers["scan2 LR↑ (aligned)"]
    assert hr.data.shape == lr.data.shape
    assert hr.data.shape == tuple(4 * n for n in page.checks[2].result.lr.shape)


def test_suspicious_pairs_left_out_are_named_with_what_ticking_them_gives(qtbot, unaligned):
    """Pairs judged "suspicious" start unticked; the page names them and says to look at
    them, since on semsr's lab case leaving three well-aligned ones out cost 0.36 dB."""
    wizard = _wizard(qtbot)
    _fill_data(wizard, unaligned / "lr", unaligned / "hr")
    _align(qtbot, wizard)
    page = wizard.align_page
    assert "suspicious" not in page.summary.text()
    page.checks[1].verdict = "suspicious"  # as align says of a near-period match
    page.set_included(1, False)
    assert "1 suspicious pair(s) are not used (scan1)" in page.summary.text()
    assert "2 of 3 pair(s) will be used" in page.summary.text()
    page.set_included(1, True)  # looked at and ticked: nothing more to say
    assert "suspicious" not in page.summary.text()
