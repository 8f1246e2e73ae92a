"""Batch super-resolution on a real Dask LocalCluster (issue 16): equal to the
single-process path, failed tasks retried, a killed worker survived, OME-Zarr, CLI."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
import tifffile

distributed = pytest.importorskip("distributed")

from semsr_core.cli import main  # noqa: E402
from semsr_core.infer import super_resolve_file  # noqa: E402
from semsr_core.infer.batch import super_resolve_batch  # noqa: E402
from semsr_core.io import read_stack, write_stack  # noqa: E402
from semsr_core.models import Model  # noqa: E402

PIXEL_NM = 8.0


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    model = Model.create(
        "rrdbnet", scale=2, blocks=1, features=8, growth=4, name="small", skip="bicubic"
    )
    return model.save(tmp_path_factory.mktemp("model") / "small.semsr")


def _folder(root: Path, n: int = 8) -> Path:
    folder = root / "stacks"
    folder.mkdir()
    rng = np.random.default_rng(5)
    for i in range(n):
        data = rng.integers(10, 60000, size=(2, 24, 24)).astype(np.uint16)
        write_stack(folder / f"s{i}.ome.tif", data, pixel_size=PIXEL_NM, unit="nm")
    return folder


def _reference(folder: Path, model_file, tmp_path: Path) -> dict[str, np.ndarray]:
    ref = tmp_path / "single"
    ref.mkdir()
    return {
        p.name: tifffile.imread(super_resolve_file(p, ref / p.name, model_file, device="cpu"))
        for p in sorted(folder.iterdir())
    }


def _check_outputs(written, reference, out: Path) -> None:
    assert len(written) == len(reference)
    for name, expected in reference.items():
        dest = out / name.replace(".ome.tif", "_sr2x.ome.tif")
        assert dest in written
        got = read_stack(dest)
        np.testing.assert_allclose(tifffile.imread(dest), expected, atol=1)
        assert got.pixel_size == pytest.approx(PIXEL_NM / 2) and got.unit == "nm"
    assert not [p for p in out.iterdir() if p.name.endswith(".partial")]


def test_batch_equals_single_process_and_survives_a_killed_worker(client, model_file, tmp_path):
    folder = _folder(tmp_path)
    reference = _reference(folder, model_file, tmp_path)
    killed = []
    pids = {addr: info for addr, info in client.run(os.getpid).items()}

    def progress(done, total, text):
        assert total == 16
        if done == 1 and not killed:  # after the first result: kill one worker outright
            addr, pid = sorted(pids.items())[0]
            killed.append(addr)
            os.kill(pid, signal.SIGKILL)

    written = super_resolve_batch(
        [folder], tmp_path / "out", model_file, cluster=client, on_progress=progress
    )
    assert killed
    _check_outputs(written, reference, tmp_path / "out")
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def _fail_first_attempt(source, index):
    """Fails the first attempt of slice 1 of s0 (a flag file beside the inputs)."""
    flag = Path(source).parent / f".failed-{Path(source).name}-{index}"
    if Path(source).name == "s0.ome.tif" and index == 1 and not flag.exists():
        flag.touch()
        raise RuntimeError("injected failure on the first attempt")


def test_a_failed_task_is_retried_and_the_output_is_correct(client, model_file, tmp_path):
    folder = _folder(tmp_path, n=2)
    reference = _reference(folder, model_file, tmp_path)
    written = super_resolve_batch(
        [folder], tmp_path / "out", model_file, cluster=client, task_hook=_fail_first_attempt
    )
    assert (folder / ".failed-s0.ome.tif-1").exists()  # it did fail once
    _check_outputs(written, reference, tmp_path / "out")


def test_without_retries_the_failure_is_reported(client, model_file, tmp_path):
    folder = _folder(tmp_path, n=1)
    with pytest.raises(RuntimeError, match="injected failure"):
        super_resolve_batch(
            [folder],
            tmp_path / "out",
            model_file,
            cluster=client,
            retries=0,
            task_hook=_fail_first_attempt,
        )
    assert not (tmp_path / "out" / "s0_sr2x.ome.tif").exists()


def test_ome_zarr_output_reads_back_with_values_and_scale(client, model_file, tmp_path):
    import zarr

    folder = _folder(tmp_path, n=2)
    reference = _reference(folder, model_file, tmp_path)
    written = super_resolve_batch(
        [folder], tmp_path / "out", model_file, cluster=client, output_format="zarr"
    )
    assert sorted(p.name for p in written) == ["s0_sr2x.ome.zarr", "s1_sr2x.ome.zarr"]
    for name, expected in reference.items():
        group = zarr.open_group(
            str(tmp_path / "out" / name.replace(".ome.tif", "_sr2x.ome.zarr")), mode="r"
        )
        np.testing.assert_allclose(group["0"][:], expected, atol=1)
        ms = group.attrs["multiscales"][0]
        assert ms["version"] == "0.4"
        scale = ms["datasets"][0]["coordinateTransformations"][0]["scale"]
        assert scale == [1.0, PIXEL_NM / 2, PIXEL_NM / 2]
        assert ms["axes"][2]["unit"] == "nanometer"
        assert group.attrs["semsr"]["model"]["name"] == "small"


def test_cli_batch_end_to_end(client, model_file, tmp_path, capsys):
    folder = _folder(tmp_path, n=2)
    reference = _reference(folder, model_file, tmp_path)
    address = client.scheduler.address
    code = main(
        [
            "batch",
            str(folder),
            "--out",
            str(tmp_path / "out"),
            "--model",
            str(model_file),
            "--cluster",
            address,
        ]
    )
    assert code == 0
    text = capsys.readouterr()
    assert "s0_sr2x.ome.tif" in text.out and "2 file(s)" in text.out
    _check_outputs(
        [tmp_path / "out" / f"s{i}_sr2x.ome.tif" for i in range(2)], reference, tmp_path / "out"
    )
    meta = tifffile.TiffFile(tmp_path / "out" / "s0_sr2x.ome.tif").ome_metadata
    assert "PhysicalSizeX" in meta and "dask.distributed" in meta


def test_cli_help_names_the_default_format(capsys):
    with pytest.raises(SystemExit):
        main(["batch", "--help"])
    assert "default: tiff" in capsys.readouterr().out


def test_one_file_goes_into_a_new_folder_and_an_existing_result_is_kept(
    client, model_file, tmp_path
):
    from semsr_core.errors import OutputError

    folder = _folder(tmp_path, n=1)
    out = tmp_path / "new" / "out"
    written = super_resolve_batch([folder / "s0.ome.tif"], out, model_file, cluster=client)
    assert written == [out / "s0_sr2x.ome.tif"]
    before = (out / "s0_sr2x.ome.tif").stat().st_mtime_ns
    with pytest.raises(OutputError, match="already exists"):
        super_resolve_batch([folder / "s0.ome.tif"], out, model_file, cluster=client)
    assert (out / "s0_sr2x.ome.tif").stat().st_mtime_ns == before


def test_each_file_is_enlarged_by_the_clean_variant_when_it_reads_clean(client, tmp_path):
    """The choice is made once per file, on its first slice, as in one process; the
    workers load the model chosen, and the output says which it was."""
    from tiny_nets import varied_rrdbnet

    models = {name: varied_rrdbnet(seed, name) for seed, name in ((1, "small-clean"),
                                                                    (2, "small-blind"))}
    models["small-blind"].card.training["clean_variant"] = {
        "model": str(models["small-clean"].save(tmp_path / "small-clean.semsr")),
        "max_noise_sigma": 0.02}
    blind = models["small-blind"].save(tmp_path / "small-blind.semsr")
    folder = tmp_path / "in"
    folder.mkdir()
    y, x = np.mgrid[0:24, 0:24] / 24
    smooth = 0.3 + 0.4 * np.sin(3 * x) * np.cos(2 * y)
    noisy = smooth + np.random.default_rng(1).normal(0, 0.08, smooth.shape)
    for name, image in (("clean", smooth), ("noisy", noisy)):
        stack = np.stack([image, smooth])  # the first slice decides for the file
        write_stack(folder / f"{name}.ome.tif",
                    np.round(np.clip(stack, 0, 1) * 65535).astype(np.uint16),
                    pixel_size=PIXEL_NM, unit="nm")
    written = super_resolve_batch(sorted(folder.iterdir()), tmp_path / "out", blind,
                                  cluster=client)
    reference = _reference(folder, blind, tmp_path)
    _check_outputs(written, reference, tmp_path / "out")
    for path, used in zip(sorted(written), ("small-clean", "small-blind"), strict=True):
        with read_stack(path) as stack:
            record = stack.metadata["provenance"]
        assert record["model"]["name"] == used
        assert record["settings"]["clean_variant"]["used"] is (used == "small-clean")


def test_the_self_ensemble_on_the_cluster_equals_one_process(client, tmp_path):
    from tiny_nets import varied_rrdbnet

    model = varied_rrdbnet(3, "small-varied").save(tmp_path / "varied.semsr")
    folder = _folder(tmp_path, n=2)
    written = super_resolve_batch(sorted(folder.iterdir()), tmp_path / "out", model,
                                  cluster=client, self_ensemble=True)
    ref = tmp_path / "single"
    ref.mkdir()
    for source in sorted(folder.iterdir()):
        expected = tifffile.imread(super_resolve_file(source, ref / source.name, model,
                                                      device="cpu", self_ensemble=True))
        plain = tifffile.imread(super_resolve_file(source, ref / f"plain_{source.name}",
                                                   model, device="cpu"))
        dest = tmp_path / "out" / source.name.replace(".ome.tif", "_sr2x.ome.tif")
        assert dest in written
        np.testing.assert_allclose(tifffile.imread(dest), expected, atol=1)
        assert np.abs(expected.astype(int) - plain.astype(int)).max() > 1
        with read_stack(dest) as stack:
            assert stack.metadata["provenance"]["settings"]["self_ensemble"] is True
