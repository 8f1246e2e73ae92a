"""Model weights are checked on load and on import: finite, plausible, as saved."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from semsr_core import cli
from semsr_core.errors import ModelError
from semsr_core.models import CHECKSUM_KEY, Model, import_model, import_pth, load_model

TINY = {"blocks": 1, "features": 8, "growth": 4}


def _saved(tmp_path, name="m.semsr"):
    return Model.create("rrdbnet", scale=4, **TINY).save(tmp_path / name)


def _tensors(path):
    with safe_open(str(path), framework="pt") as fh:
        return fh.metadata(), {k: fh.get_tensor(k) for k in fh.keys()}


def _data_start(path):
    data = path.read_bytes()
    return 8 + int.from_bytes(data[:8], "little")


def test_a_saved_model_records_a_checksum_and_loads(tmp_path):
    path = _saved(tmp_path)
    metadata, _ = _tensors(path)
    assert len(metadata[CHECKSUM_KEY]) == 64
    load_model(path)


@pytest.mark.parametrize("seed", range(6))
def test_200_flipped_bytes_in_the_weights_are_a_model_error_naming_the_file(tmp_path, seed):
    path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(seed)
    start = _data_start(path)
    for offset in rng.choice(np.arange(start, len(data)), size=200, replace=False):
        data[offset] ^= int(rng.integers(1, 256))
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError) as caught:
        load_model(path)
    assert str(path) in str(caught.value)


def test_one_changed_low_bit_is_caught_by_the_checksum(tmp_path):
    """A flip that leaves every weight finite and small is still a damaged file."""
    path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[_data_start(path) + 40] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        load_model(path)


def test_a_changed_card_is_caught_by_the_checksum(tmp_path):
    path = _saved(tmp_path)
    metadata, state = _tensors(path)
    card = metadata["semsr.card"].replace('"description": ""', '"description": "x"')
    assert card != metadata["semsr.card"]
    save_file(state, str(path), metadata={**metadata, "semsr.card": card})
    with pytest.raises(ModelError, match="checksum"):
        load_model(path)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 3e30])
def test_a_bad_weight_is_refused_naming_the_tensor_even_without_a_checksum(tmp_path, bad):
    path = _saved(tmp_path)
    metadata, state = _tensors(path)
    state["conv_last.weight"][0, 0, 1, 1] = bad
    metadata.pop(CHECKSUM_KEY)  # a file written before semsr recorded checksums
    save_file(state, str(path), metadata=metadata)
    with pytest.raises(ModelError, match="conv_last.weight") as caught:
        load_model(path)
    assert str(path) in str(caught.value)


def _pth_with(tmp_path, bad):
    model = Model.create("rrdbnet", scale=4, **TINY)
    state = {k: v.clone() for k, v in model.generator.state_dict().items()}
    state["conv_first.weight"][0, 0, 0, 0] = bad
    path = tmp_path / "weights.pth"
    torch.save({"params_ema": state}, path)
    return path


@pytest.mark.parametrize("bad", [float("nan"), float("-inf")])
def test_a_pth_with_a_nan_weight_is_refused_on_import_and_load(tmp_path, bad, capsys):
    path = _pth_with(tmp_path, bad)
    with pytest.raises(ModelError, match="conv_first.weight.*NaN or infinite"):
        import_pth(path)
    with pytest.raises(ModelError, match="conv_first.weight"):
        load_model(path)
    with pytest.raises(ModelError, match="conv_first.weight"):
        import_model(path)
    assert cli.main(["models", "import", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err
    exported = tmp_path / "exported.semsr"
    assert cli.main(["models", "export", str(path), str(exported)]) == 2
    assert str(path) in capsys.readouterr().err and not exported.exists()
    # nothing was installed
    assert cli.main(["models", "list"]) == 0
    assert "weights" not in capsys.readouterr().out


def test_a_healthy_pth_still_imports(tmp_path):
    path = _pth_with(tmp_path, 0.01)
    model, dest = import_model(path)
    assert dest.is_file()
    assert load_model(dest).card.arch == "rrdbnet" == model.card.arch


def test_cli_super_resolve_refuses_a_corrupt_model_in_one_line(tmp_path, capsys):
    import tifffile

    path = _saved(tmp_path)
    data = bytearray(path.read_bytes())
    data[_data_start(path) + 100] ^= 0x40
    path.write_bytes(bytes(data))
    image = tmp_path / "scan.tif"
    tifffile.imwrite(image, np.full((24, 24), 100, np.uint8))
    out = tmp_path / "out.ome.tif"
    assert cli.main(["super-resolve", str(image), "-o", str(out), "--model", str(path),
                     "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(path) in err
    assert not out.exists()
