"""Pairing LR/HR files, inferring the scale, and splitting by pair."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from semsr_core.data.pairs import (
    find_pairs,
    infer_scale,
    load_pair,
    pairs_from_hr,
    split_pairs,
)
from semsr_core.errors import ConfigError, InputError


def _touch_images(folder, names, shape=(8, 8)):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        tifffile.imwrite(folder / name, np.zeros(shape, np.uint8))


def test_two_folders_are_paired_by_stem_and_leftovers_are_reported(tmp_path):
    _touch_images(tmp_path / "lr", ["a.tif", "b.tif", "only_lr.tif"])
    _touch_images(tmp_path / "hr", ["a.tif", "b.tiff", "only_hr.png"])
    (tmp_path / "hr" / "notes.txt").write_text("not an image")

    pairing = find_pairs(tmp_path / "lr", tmp_path / "hr")

    assert [(p.stem, p.lr_path.name, p.hr_path.name) for p in pairing] == [
        ("a", "a.tif", "a.tif"), ("b", "b.tif", "b.tiff")]
    unmatched = {u.path.name: u.reason for u in pairing.unmatched}
    assert set(unmatched) == {"only_lr.tif", "only_hr.png"}
    assert "no HR file" in unmatched["only_lr.tif"]
    assert "no LR file" in unmatched["only_hr.png"]


def test_a_naming_rule_pairs_files_whose_names_differ(tmp_path):
    _touch_images(tmp_path / "lr", ["scan01_240px.tif", "scan02_240px.tif", "junk.tif"])
    _touch_images(tmp_path / "hr", ["scan01_960px.tif", "scan02_960px.tif"])

    pairing = find_pairs(tmp_path / "lr", tmp_path / "hr", rule=r"(?P<stem>scan\d+)_\d+px")

    assert [p.stem for p in pairing] == ["scan01", "scan02"]
    assert [u.path.name for u in pairing.unmatched] == ["junk.tif"]
    assert "does not match the naming rule" in pairing.unmatched[0].reason


def test_one_folder_with_a_role_rule_is_split_into_lr_and_hr(tmp_path):
    _touch_images(tmp_path, ["x_LR.tif", "x_HR.tif", "y_lr.tif", "y_hr.tif", "z_lr.tif"])

    pairing = find_pairs(None, tmp_path, rule=r"(?i)(?P<stem>.+)_(?P<role>lr|hr)\.tif")
    assert [(p.stem, p.lr_path.name, p.hr_path.name) for p in pairing] == [
        ("x", "x_LR.tif", "x_HR.tif"), ("y", "y_lr.tif", "y_hr.tif")]
    assert [u.path.name for u in pairing.unmatched] == ["z_lr.tif"]
    with pytest.raises(ConfigError, match="naming rule"):
        find_pairs(None, tmp_path)


@pytest.mark.parametrize("rule", [r"(?P<stem>.+", r"(.+)_lr"])
def test_a_broken_or_groupless_rule_is_a_config_error_naming_the_rule(tmp_path, rule):
    _touch_images(tmp_path / "lr", ["a_lr.tif"])
    _touch_images(tmp_path / "hr", ["a_hr.tif"])
    with pytest.raises(ConfigError, match="naming rule"):
        find_pairs(tmp_path / "lr", tmp_path / "hr", rule=rule)


def test_two_files_with_one_stem_are_refused_with_both_names(tmp_path):
    _touch_images(tmp_path / "lr", ["a.tif", "a.png"])
    _touch_images(tmp_path / "hr", ["a.tif"])
    with pytest.raises(InputError, match=r"a\.png and a\.tif|a\.tif and a\.png"):
        find_pairs(tmp_path / "lr", tmp_path / "hr")


def test_folders_without_any_pair_are_an_input_error(tmp_path):
    _touch_images(tmp_path / "lr", ["a.tif"])
    _touch_images(tmp_path / "hr", ["b.tif"])
    with pytest.raises(InputError, match="no LR/HR pairs") as caught:
        find_pairs(tmp_path / "lr", tmp_path / "hr")
    # the names it saw, and how to pair them (the hint once spoke of a rule no command
    # but align takes, without naming its option)
    assert "'a'" in str(caught.value) and "'b'" in str(caught.value)
    assert "rename them" in str(caught.value) and "--rule" in str(caught.value)
    with pytest.raises(InputError, match="does not exist"):
        find_pairs(tmp_path / "missing", tmp_path / "hr")


def test_scale_is_inferred_from_sizes_of_unaligned_scans():
    assert infer_scale((240, 240), (960, 960)) == 4
    assert infer_scale((64, 80), (128, 160)) == 2
    # fields of view of unaligned scans differ a little
    assert infer_scale((240, 240), (1000, 980)) == 4
    assert infer_scale((240, 240), (960, 960), lr_pixel_size=8.0, hr_pixel_size=2.0) == 4


def test_pixel_sizes_that_contradict_the_sizes_name_both_files():
    with pytest.raises(InputError) as info:
        infer_scale((240, 240), (960, 960), lr_pixel_size=4.0, hr_pixel_size=2.0,
                    lr_path="lr/a.tif", hr_path="hr/a.tif")
    message = str(info.value)
    assert "lr/a.tif" in message and "hr/a.tif" in message
    assert "pixel size" in message


@pytest.mark.parametrize("lr_shape, hr_shape, words", [
    ((960, 960), (240, 240), "swapped"),
    ((100, 100), (250, 250), "integer scale"),
    ((100, 100), (400, 300), "integer scale"),
])
def test_sizes_without_an_integer_scale_are_refused(lr_shape, hr_shape, words):
    with pytest.raises(InputError, match=words):
        infer_scale(lr_shape, hr_shape, lr_path="l.tif", hr_path="h.tif")


def test_split_is_by_pair_reproducible_and_never_shares_a_pair(tmp_path):
    names = [f"s{i:02d}.tif" for i in range(20)]
    _touch_images(tmp_path / "lr", names)
    _touch_images(tmp_path / "hr", names)
    pairing = find_pairs(tmp_path / "lr", tmp_path / "hr")

    train, val = split_pairs(pairing, 0.2, seed=3)

    assert len(val) == 4 and len(train) == 16
    assert not {p.stem for p in train} & {p.stem for p in val}
    assert {p.stem for p in train} | {p.stem for p in val} == {p.stem for p in pairing}
    assert split_pairs(pairing, 0.2, seed=3) == (train, val)
    assert split_pairs(pairing, 0.2, seed=4)[1] != val
    # a tiny dataset still gets a validation pair, and keeps a training pair
    assert [len(part) for part in split_pairs(pairing.pairs[:2], 0.1, seed=0)] == [1, 1]
    with pytest.raises(ConfigError, match="val_fraction"):
        split_pairs(pairing, 1.0)


def test_hr_only_pairs_make_their_lr_by_the_degradation(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "hr").mkdir()
    tifffile.imwrite(tmp_path / "hr" / "a.tif", rng.integers(0, 255, (66, 65), np.uint8))

    pairing = pairs_from_hr(tmp_path / "hr", "area", 4)
    lr, hr = load_pair(pairing[0])

    assert pairing[0].lr_path is None and pairing[0].degradation == "area"
    assert hr.shape == (64, 64) and lr.shape == (16, 16)
    np.testing.assert_allclose(lr[0, 0], hr[:4, :4].astype(float).mean(), atol=1)
    with pytest.raises(ConfigError, match="scale"):
        pairs_from_hr(tmp_path / "hr", "area", 1)
