"""super_resolve / super_resolve_file as a user calls them: arrays, lazy stacks, files."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from tiny_nets import tiny_model

from semsr_core.errors import Cancelled, InputError, ModelError
from semsr_core.events import CancelToken, EventKind
from semsr_core.infer import super_resolve, super_resolve_file
from semsr_core.io import read_stack, write_stack
from semsr_core.models import Model


@pytest.fixture
def camera16() -> np.ndarray:
    from skimage import data

    return data.camera()[150:230, 200:290].astype(np.uint16) * 257  # full 16-bit range


def test_uint16_in_uint16_out_with_full_range(camera16, model):
    out = super_resolve(camera16, model, tile=48, overlap=16)
    assert out.dtype == np.uint16 and out.shape == (160, 180)
    assert out.min() == 0 and out.max() == 65535
    assert abs(out.mean() - camera16.mean()) < 0.05 * 65535  # about the same brightness


def test_tile_size_does_not_change_the_output(camera16, model):
    whole = super_resolve(camera16, model, precision="fp32",
                          output_dtype="float32")  # automatic tile size
    for tile, batch in ((32, 1), (48, 3), (70, 2)):
        tiled = super_resolve(camera16, model, tile=tile, overlap=12, batch=batch,
                              precision="fp32", output_dtype="float32")
        np.testing.assert_allclose(tiled / 65535, whole / 65535, atol=1e-4, rtol=0)


def test_float32_on_request_is_neither_rounded_nor_clipped(camera16, model):
    out = super_resolve(camera16, model, tile=64, overlap=16, precision="fp32",
                        output_dtype="float32")
    as_input = super_resolve(camera16, model, tile=64, overlap=16, precision="fp32")
    assert out.dtype == np.float32
    assert (out % 1 != 0).any()  # not rounded
    assert out.max() > 65535 or out.min() < 0  # this network overshoots a little: not clipped
    np.testing.assert_array_equal(np.clip(np.rint(out), 0, 65535).astype(np.uint16), as_input)


def test_clipping_is_reported(camera16, model):
    events = []
    super_resolve(camera16, model, tile=64, overlap=16, on_event=events.append)
    warnings = [e.data["text"] for e in events if e.kind is EventKind.MESSAGE]
    assert any("clipped" in text for text in warnings)


def test_percentile_normalisation_follows_the_card(camera16):
    """A percentile model sees the same [0, 1] image whatever the input's offset and gain."""
    model = tiny_model(2, normalization={"mode": "percentile", "low": 1.0, "high": 99.0})
    dim = (camera16 // 4 + 1000).astype(np.uint16)
    bright = super_resolve(camera16, model, tile=64, overlap=16, precision="fp32",
                           output_dtype="float32")
    dark = super_resolve(dim, model, tile=64, overlap=16, precision="fp32",
                         output_dtype="float32")
    np.testing.assert_allclose((dark - 1000) * 4, bright, atol=8)  # rounding of // 4 only


def test_a_stack_array_gives_a_stack(camera16, model):
    stack = np.stack([camera16, camera16[::-1]])
    out = super_resolve(stack, model, tile=64, overlap=16)
    assert out.shape == (2, 160, 180) and out.dtype == np.uint16
    np.testing.assert_array_equal(out[0], super_resolve(camera16, model, tile=64, overlap=16))


def test_a_lazy_stack_gives_a_lazy_iterator(tmp_path, camera16, model):
    path = write_stack(tmp_path / "in.ome.tif", np.stack([camera16] * 3), pixel_size=8.0)
    with read_stack(path) as stack:
        result = super_resolve(stack, model, tile=64, overlap=16)
        assert isinstance(result, types.GeneratorType)
        slices = list(result)
    assert len(slices) == 3
    np.testing.assert_array_equal(slices[2], super_resolve(camera16, model, tile=64,
                                                           overlap=16))


def test_progress_counts_tiles_and_cancel_stops_the_stack(camera16, model):
    stack = np.stack([camera16] * 4)
    events = []
    super_resolve(stack, model, tile=48, overlap=16, on_event=events.append)
    progress = [e.data for e in events if e.kind is EventKind.PROGRESS]
    per_slice = 6  # 80×90 in 48-pixel tiles with 16 overlap: 2 rows × 3 columns
    assert [p["done"] for p in progress] == list(range(0, 4 * per_slice + 1))  # 0: started
    assert {p["total"] for p in progress} == {4 * per_slice}
    assert progress[-1]["postfix"] == "slice 4/4"

    cancel = CancelToken()
    seen = []

    def on_event(event):
        if event.kind is EventKind.PROGRESS:
            seen.append(event.data["done"])
            if seen[-1] == 6:
                cancel.cancel()

    with pytest.raises(Cancelled):
        super_resolve(stack, model, tile=48, overlap=16, batch=1, on_event=on_event,
                      cancel=cancel)
    assert seen[-1] == 6  # stopped before the next tile


def test_model_of_another_scale_is_refused(camera16, model):
    with pytest.raises(ModelError, match=r"enlarges ×2, but ×4 was asked"):
        super_resolve(camera16, model, scale=4)


def test_image_smaller_than_the_network_minimum_is_refused():
    model = Model.create("unet128", scale=4)  # takes the image at output size, ≥ 128 pixels
    with pytest.raises(InputError, match=r"20×40 pixels, smaller than the 32-pixel minimum"):
        super_resolve(np.zeros((20, 40), np.uint8), model)


def test_networks_at_output_size_get_the_bicubic_enlarged_image():
    model = Model.create("unet64", scale=2, features=4)
    image = (np.random.default_rng(0).random((40, 48)) * 255).astype(np.uint8)
    out = super_resolve(image, model, tile=64, overlap=8)
    assert out.shape == (80, 96) and out.dtype == np.uint8


def test_rgb_models_take_grayscale_and_give_grayscale(camera16):
    model = Model.create("rrdbnet", scale=2, in_channels=3, out_channels=3, blocks=1,
                         features=8, growth=4)
    out = super_resolve(camera16, model, tile=512, precision="fp32", output_dtype="float32",
                       consistency="off")
    with torch.inference_mode():
        x = torch.from_numpy(camera16.astype(np.float32) / 65535)[None, None].expand(1, 3, -1,
                                                                                      -1)
        expected = model.generator.eval()(x).mean(dim=1)[0].numpy() * 65535
    assert out.shape == (160, 180)
    np.testing.assert_allclose(out, expected, atol=1e-3 * 65535)


def test_the_callers_model_is_left_as_it_was(camera16, model):
    model.generator.train()
    before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    super_resolve(camera16, model, tile=64, overlap=16)
    assert model.generator.training
    for key, value in model.generator.state_dict().items():
        assert torch.equal(value, before[key])


def test_file_to_file_keeps_physical_size_and_records_provenance(tmp_path, camera16, model):
    source = write_stack(tmp_path / "scan.tif", np.stack([camera16] * 3), pixel_size=8.0,
                         unit="nm")
    dest = super_resolve_file(source, tmp_path / "scan_sr.ome.tif", model, tile=64,
                              overlap=16, device="cpu")
    with read_stack(dest) as out:
        assert out.shape == (3, 160, 180) and out.dtype == np.uint16
        assert out.pixel_size == pytest.approx(4.0)
        provenance = out.metadata["provenance"]
        np.testing.assert_array_equal(out[1], super_resolve(camera16, model, tile=64,
                                                            overlap=16))
    assert provenance["model"]["name"] == "tiny" and provenance["model"]["scale"] == 2
    assert provenance["settings"]["tile"] == 64 and provenance["settings"]["device"] == "cpu"
    assert provenance["source"] == str(source)
    assert provenance["semsr_version"]
    assert provenance["intensity"]["clipped_to"] == [0, 65535]


def test_the_input_file_is_never_overwritten(tmp_path, camera16, model):
    from semsr_core.errors import OutputError

    source = write_stack(tmp_path / "scan.tif", camera16)
    before = source.read_bytes()
    with pytest.raises(OutputError):
        super_resolve_file(source, source, model, overwrite=True, tile=64, overlap=16)
    assert source.read_bytes() == before


def test_stale_partial_files_of_killed_runs_are_removed(tmp_path, camera16, model):
    import os

    source = write_stack(tmp_path / "scan.tif", camera16)
    stale = tmp_path / ".out.ome.tif.abc123.partial"
    fresh = tmp_path / ".out.ome.tif.def456.partial"  # another run may be writing this one
    stale.write_bytes(b"half a file")
    fresh.write_bytes(b"being written")
    os.utime(stale, (0, 0))
    super_resolve_file(source, tmp_path / "out.ome.tif", model, tile=64, overlap=16)
    assert not stale.exists() and fresh.exists()


def test_cancelling_a_file_run_leaves_no_file(tmp_path, camera16, model):
    source = write_stack(tmp_path / "scan.tif", np.stack([camera16] * 4))
    cancel = CancelToken()

    def on_event(event):
        if event.kind is EventKind.PROGRESS and event.data["done"] == 8:  # in slice 2
            cancel.cancel()

    with pytest.raises(Cancelled):
        super_resolve_file(source, tmp_path / "out.ome.tif", model, tile=48, overlap=16,
                           on_event=on_event, cancel=cancel)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scan.tif"]


@pytest.mark.cuda
@pytest.mark.parametrize("precision", ["fp32", "auto"])
def test_cuda_gives_the_cpu_result(camera16, precision):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    model = Model.create("rrdbnet", scale=2, blocks=2, features=16, growth=8)
    cpu = super_resolve(camera16, model, device="cpu", tile=48, overlap=16,
                        output_dtype="float32") / 65535
    gpu = super_resolve(camera16, model, device="cuda", tile=40, overlap=16, batch=4,
                        precision=precision, output_dtype="float32") / 65535
    # fp32 convolutions on CUDA may use TF32 (PyTorch's default, 10 mantissa bits);
    # bf16/fp16 keep 8/11 mantissa bits
    tolerance = 2e-3 if precision == "fp32" else 2e-2
    np.testing.assert_allclose(gpu, cpu, atol=tolerance, rtol=0)


def test_out_of_memory_is_survived_and_reported(camera16):
    """A network that runs out of memory on large tiles still gives the untiled result."""
    from tiny_nets import TinySR
    from torch import nn

    from semsr_core.models import ModelCard

    class LimitedMemory(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = TinySR(2)

        def forward(self, x):
            if max(x.shape[-2:]) > 40:
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1 GiB")
            return self.net(x)

    limited = Model(LimitedMemory(), ModelCard(arch="limited", scale=2))
    plain = Model(limited.generator.net, ModelCard(arch="tiny_sr", scale=2))
    events = []
    out = super_resolve(camera16, limited, tile=128, overlap=8, batch=2,
                        output_dtype="float32", on_event=events.append)
    expected = super_resolve(camera16, plain, tile=128, overlap=8, output_dtype="float32")
    np.testing.assert_allclose(out / 65535, expected / 65535, atol=1e-4, rtol=0)
    texts = [e.data["text"] for e in events if e.kind is EventKind.MESSAGE]
    assert "out of memory on cpu; continuing with 45-pixel tiles" in texts
    assert "out of memory on cpu; continuing with 22-pixel tiles" in texts

    with pytest.raises(ModelError, match="even for a small probe tile"):
        super_resolve(camera16, limited)  # the automatic tile size is measured on 64 pixels


def test_bf16_on_the_cpu_gives_the_fp32_result_within_bf16_precision(camera16):
    torch.manual_seed(0)
    model = Model.create("rrdbnet", scale=2, blocks=1, features=16, growth=8)
    fp32 = super_resolve(camera16, model, device="cpu", tile=64, overlap=16,
                         precision="fp32", output_dtype="float32") / 65535
    bf16 = super_resolve(camera16, model, device="cpu", tile=64, overlap=16,
                         precision="bf16", output_dtype="float32") / 65535
    assert 0 < np.abs(bf16 - fp32).max() < 1e-2  # bf16 did run, and stayed close


@pytest.mark.parametrize(("options", "words"), [
    ({"tile": 0}, "tile size 0"),
    ({"batch": 0}, "batch size 0"),
    ({"overlap": -1}, "overlap -1"),
    ({"tile": 40, "overlap": 20}, "less than half the tile size 40"),
    ({"precision": "fp8"}, "precision 'fp8'"),
    ({"device": "cuda:7"}, "cuda:7"),
    ({"output_dtype": "uint8"}, "output dtype 'uint8'"),
])
def test_bad_settings_are_named(camera16, model, options, words):
    from semsr_core.errors import ConfigError

    with pytest.raises(ConfigError, match=words):
        super_resolve(camera16, model, **options)
