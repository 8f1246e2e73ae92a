"""A model's clean variant (semsr_core.infer.variants): a scan that reads clean is
enlarged by the variant its card names, a noisy one by the model itself; the whole call
by one of them, and the output says which."""

from __future__ import annotations

import numpy as np
import pytest
from tiny_nets import varied_rrdbnet

from semsr_core.errors import ConfigError
from semsr_core.infer import super_resolve, super_resolve_file
from semsr_core.infer.variants import choose
from semsr_core.io import read_stack, write_stack
from semsr_core.io.intensity import IntensityMapping
from semsr_core.models import Model, load_model

LIMIT = 0.02


@pytest.fixture
def pair(tmp_path):
    """(blind model, its clean variant's file): two networks of different weights."""
    variant = varied_rrdbnet(1, "tiny-clean").save(tmp_path / "tiny-clean.semsr")
    blind = varied_rrdbnet(2, "tiny")
    blind.card.training["clean_variant"] = {"model": str(variant), "max_noise_sigma": LIMIT}
    return load_model(blind.save(tmp_path / "tiny.semsr")), variant


def _clean(side: int = 48) -> np.ndarray:
    y, x = np.mgrid[0:side, 0:side] / side
    return (0.3 + 0.4 * np.sin(3 * x) * np.cos(2 * y)).astype(np.float32)


def _noisy(side: int = 48) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.clip(_clean(side) + rng.normal(0, 0.08, (side, side)), 0, 1).astype(np.float32)


def _plain(image, model):
    return super_resolve(image, model, device="cpu", precision="fp32", clean_variant="off")


def test_a_clean_scan_is_enlarged_by_the_variant_and_a_noisy_one_by_the_model(pair):
    blind, variant_file = pair
    variant = load_model(variant_file)
    clean, noisy = _clean(), _noisy()
    by_variant, by_blind = _plain(clean, variant), _plain(clean, blind)
    assert np.abs(by_variant - by_blind).max() > 1e-3  # the two networks differ here
    np.testing.assert_array_equal(super_resolve(clean, blind, device="cpu", precision="fp32"),
                                  by_variant)
    np.testing.assert_array_equal(super_resolve(noisy, blind, device="cpu", precision="fp32"),
                                  _plain(noisy, blind))
    # off keeps the model given
    np.testing.assert_array_equal(_plain(clean, blind), by_blind)


def test_a_clean_lattice_reads_clean_and_goes_to_the_variant(pair):
    """A lattice is texture everywhere, with no flat part to read the noise in: it must
    read clean when it is (the Haar estimate alone read it σ 0.22: never the variant), and
    noisy when it is."""
    blind, _variant_file = pair
    yy, xx = np.mgrid[0:96, 0:96]
    lattice = (0.5 + 0.3 * np.cos(2 * np.pi * yy / 4.0) * np.cos(2 * np.pi * xx / 4.0)
               ).astype(np.float32)
    model, chosen = choose(blind, lattice, IntensityMapping.identity())
    assert chosen["used"] is True and chosen["noise_sigma"] < 0.002
    assert model.card.name == "tiny-clean"
    noisy = lattice + np.random.default_rng(3).normal(0, 0.05, lattice.shape).astype(np.float32)
    model, chosen = choose(blind, noisy, IntensityMapping.identity())
    assert chosen["used"] is False and chosen["noise_sigma"] == pytest.approx(0.05, rel=0.2)
    assert model is blind


def test_the_choice_is_made_on_the_first_slice_for_the_whole_stack(pair):
    blind, variant_file = pair
    stack = np.stack([_clean(), _noisy()])
    out = super_resolve(stack, blind, device="cpu", precision="fp32")
    variant = load_model(variant_file)
    np.testing.assert_array_equal(out, _plain(stack, variant))  # both slices by the variant
    out = super_resolve(stack[::-1].copy(), blind, device="cpu", precision="fp32")
    np.testing.assert_array_equal(out, _plain(stack[::-1].copy(), blind))


def test_the_output_file_names_the_model_that_made_it_and_the_noise_it_read(pair, tmp_path):
    blind, variant_file = pair
    messages = []
    write_stack(tmp_path / "clean.tif", np.round(_clean() * 65535).astype(np.uint16))
    out = super_resolve_file(tmp_path / "clean.tif", tmp_path / "clean_sr.ome.tif", blind,
                             device="cpu", on_event=lambda e: messages.append(
                                 getattr(e.payload, "text", "")))
    with read_stack(out) as stack:
        record = stack.metadata["provenance"]
    assert record["model"]["name"] == "tiny-clean"
    chosen = record["settings"]["clean_variant"]
    assert chosen["used"] is True and chosen["noise_sigma"] <= LIMIT
    assert chosen["max_noise_sigma"] == LIMIT and chosen["variant"] == str(variant_file)
    assert any("reads clean" in m and "tiny-clean" in str(m) for m in messages)
    write_stack(tmp_path / "noisy.tif", np.round(_noisy() * 65535).astype(np.uint16))
    out = super_resolve_file(tmp_path / "noisy.tif", tmp_path / "noisy_sr.ome.tif", blind,
                             device="cpu")
    with read_stack(out) as stack:
        record = stack.metadata["provenance"]
    assert record["model"]["name"] == "tiny"
    chosen = record["settings"]["clean_variant"]
    assert chosen["used"] is False and chosen["noise_sigma"] > LIMIT
    assert "reads noisy" in chosen["reason"]


def test_a_model_without_a_variant_or_with_a_bad_entry(pair, tmp_path):
    blind, variant_file = pair
    unit = IntensityMapping.identity()
    plain = load_model(variant_file)  # names no variant itself
    assert choose(plain, _clean(), unit) == (plain, None)
    blind.card.training["clean_variant"] = {"model": str(variant_file)}  # no limit
    with pytest.raises(ConfigError, match="malformed clean_variant"):
        choose(blind, _clean(), unit)
    blind.card.training["clean_variant"] = {"model": str(variant_file), "max_noise_sigma": 1.0}
    with pytest.raises(ConfigError, match="clean variant setting 'sometimes'"):
        choose(blind, _clean(), unit, "sometimes")
    other = Model.create("rrdbnet", scale=4, blocks=1, features=8, growth=4, name="x4")
    blind.card.training["clean_variant"]["model"] = str(other.save(tmp_path / "x4.semsr"))
    with pytest.raises(ConfigError, match="×4 clean variant"):
        choose(blind, _clean(), unit)



@pytest.mark.parametrize("name, scale", [("default-x4", 4), ("default-x2", 2)])
def test_the_bundled_fidelity_models_name_their_clean_variants(name, scale):
    model = load_model(name)
    entry = model.card.training["clean_variant"]
    variant = load_model(entry["model"])
    assert entry["model"] == f"{name}-clean"
    assert variant.card.scale == scale and variant.card.training.get("clean_variant") is None
    assert 0 < entry["max_noise_sigma"] < 0.05
