"""BioImage Model Zoo packages: export of a bundled model, offline validation, the test
tensors, import round trip, refusal of foreign packages, the CLI."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch

from semsr_core import cli, models
from semsr_core.errors import ModelError

spec = pytest.importorskip("bioimageio.spec")

from semsr_core.models.bioimageio import (  # noqa: E402
    CARD_FILE,
    export_bioimageio,
    import_bioimageio,
)


@pytest.fixture(autouse=True)
def _offline_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BIOIMAGEIO_CACHE_PATH", str(tmp_path / "bioimageio-cache"))


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    model = models.load_model("default-x2")
    dest = export_bioimageio(model, tmp_path_factory.mktemp("zoo") / "default-x2")
    return model, dest


def _npy(zf: zipfile.ZipFile, name: str) -> np.ndarray:
    return np.load(io.BytesIO(zf.read(name)))


def test_a_bundled_model_exports_to_a_package_bioimageio_validates_offline(package, monkeypatch):
    import socket

    def no_network(*args, **kwargs):
        raise AssertionError("bioimageio.spec tried the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    _model, dest = package
    assert dest.name == "default-x2.zip" and zipfile.is_zipfile(dest)
    with zipfile.ZipFile(dest) as zf:
        names = set(zf.namelist())
    assert {
        "rdf.yaml",
        "README.md",
        "weights.pt",
        CARD_FILE,
        "test_input.npy",
        "test_output.npy",
    } <= names
    descr = spec.load_description(dest, perform_io_checks=True)
    assert descr.validation_summary.status in ("valid-format", "passed"), descr.validation_summary
    assert type(descr).__name__ == "ModelDescr"
    out_y = descr.outputs[0].axes[2]
    assert out_y.size.tensor_id == "input" and out_y.size.axis_id == "y"
    assert out_y.scale == pytest.approx(0.5)  # ×2: output pixels are half the input's
    assert [a.type for a in descr.inputs[0].axes] == ["batch", "channel", "space", "space"]


def test_the_test_output_is_the_models_output_on_the_test_input(package):
    model, dest = package
    with zipfile.ZipFile(dest) as zf:
        test_in, test_out = _npy(zf, "test_input.npy"), _npy(zf, "test_output.npy")
    assert test_in.shape[2:] and test_out.shape[2:] == (2 * test_in.shape[2], 2 * test_in.shape[3])
    with torch.no_grad():
        ours = model.generator(torch.from_numpy(test_in)).numpy()
    np.testing.assert_allclose(test_out, ours, rtol=0, atol=1e-5)
    assert float(test_in.std()) > 0.1  # a real, varied input, not a constant


def test_import_round_trips_weights_card_and_output(package):
    model, dest = package
    back = import_bioimageio(dest)
    assert back.card == model.card
    own, theirs = model.generator.state_dict(), back.generator.state_dict()
    assert own.keys() == theirs.keys()
    assert all(torch.equal(own[k], theirs[k]) for k in own)
    x = torch.rand(1, 1, 24, 24, generator=torch.Generator().manual_seed(3))
    back.generator.eval()
    with torch.no_grad():
        assert torch.equal(model.generator(x), back.generator(x))


def test_a_package_of_another_architecture_is_refused_naming_the_file(package, tmp_path):
    _model, dest = package
    foreign = tmp_path / "unet-from-the-zoo.zip"
    with zipfile.ZipFile(dest) as src, zipfile.ZipFile(foreign, "w") as out:
        for name in src.namelist():
            if name != CARD_FILE:
                out.writestr(name, src.read(name))
    with pytest.raises(ModelError, match="only semsr architectures can be imported") as info:
        import_bioimageio(foreign)
    assert str(foreign) in str(info.value)


def test_pickled_objects_in_the_weights_are_refused(package, tmp_path):
    _model, dest = package
    bad = tmp_path / "pickled.zip"
    buffer = io.BytesIO()
    torch.save({"weights": object.__new__(zipfile.ZipInfo)}, buffer)
    with zipfile.ZipFile(dest) as src, zipfile.ZipFile(bad, "w") as out:
        for name in src.namelist():
            data = buffer.getvalue() if name == "weights.pt" else src.read(name)
            out.writestr(name, data)
    with pytest.raises(ModelError, match="refused"):
        import_bioimageio(bad)


def test_cli_exports_and_imports_a_zoo_package(tmp_path, capsys):
    assert (
        cli.main(["models", "export", "default-x2", str(tmp_path), "--format", "bioimageio"]) == 0
    )
    dest = tmp_path / "default-x2.zip"
    assert dest.is_file() and str(dest) in capsys.readouterr().out
    assert cli.main(["models", "import", str(dest), "--name", "zoo-x2"]) == 0
    assert "zoo-x2" in capsys.readouterr().out
    installed = models.load_model("zoo-x2")
    assert installed.path.parent == models.user_models_dir()
    assert installed.card.arch == models.load_model("default-x2").card.arch
    # refused again under the same name, with a one-line message
    assert cli.main(["models", "import", str(dest), "--name", "zoo-x2"]) != 0
    assert "already exists" in capsys.readouterr().err


def test_every_bundled_model_exports_with_its_own_scale(tmp_path):
    for name in ("default-x4", "default-x4-gan"):
        dest = export_bioimageio(models.load_model(name), tmp_path / name)
        descr = spec.load_description(dest, perform_io_checks=True)
        assert descr.validation_summary.status in ("valid-format", "passed"), name
        assert descr.outputs[0].axes[3].scale == pytest.approx(0.25), name


def test_without_bioimageio_spec_the_export_says_what_to_install(tmp_path, monkeypatch):
    import sys

    from semsr_core.errors import ConfigError

    monkeypatch.setitem(sys.modules, "bioimageio.spec", None)  # import raises ImportError
    with pytest.raises(ConfigError, match=r"semsr\[zoo\]"):
        export_bioimageio(models.load_model("default-x2"), tmp_path / "x2")
    assert not list(tmp_path.iterdir())  # nothing written


def test_a_name_the_zoo_would_refuse_is_adapted_and_restored_exactly(tmp_path):
    model = models.Model.create(
        "rrdbnet", scale=2, blocks=1, features=8, growth=4, skip="bicubic", name="v1.2"
    )
    dest = export_bioimageio(model, tmp_path)
    assert dest == tmp_path / "v1.2.zip"
    descr = spec.load_description(dest, perform_io_checks=True)
    assert descr.validation_summary.status in ("valid-format", "passed")
    assert descr.name == "semsr v1-2"
    assert import_bioimageio(dest).card.name == "v1.2"


def test_a_model_whose_output_is_nowhere_positive_is_refused_with_the_reason(tmp_path):
    model = models.Model.create("rrdbnet", scale=2, blocks=1, features=8, growth=4, name="neg")
    with torch.no_grad():
        for param in model.generator.parameters():
            param.zero_()
        model.generator.conv_last.bias.fill_(-0.5)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ModelError, match="nowhere positive"):
        export_bioimageio(model, out)
    assert not list(out.iterdir())
