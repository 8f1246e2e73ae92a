"""Fuzzing the readers: random byte flips and truncations of valid TIFF and model files.

Every damaged file goes through ``semsr info``/``super-resolve`` (TIFF) or ``semsr
models info``/``super-resolve`` (model) in-process. Acceptable, as in the bad-input
suite: exit status 0 with a correct result, or 2 with one line naming the file and what
to do; never a traceback or an internal error, never a changed input. A correct result
is checked exactly: the model is a nearest-neighbour enlarger, so its output must be
the input's values on the ×4 grid (a damaged model that still loads must compute the
same thing, or be refused).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import tifffile
from bad_inputs_kit import check_outcome, nearest_model, scan

from semsr_core.cli import main
from semsr_core.errors import SemsrError
from semsr_core.io import read_stack

pytestmark = pytest.mark.slow

TIFF_CASES = 640
MODEL_CASES = 400


def _valid_tiffs(folder):
    stack = np.stack([scan((16, 16), seed=i, dtype=np.uint16) * 100 for i in range(3)])
    tifffile.imwrite(folder / "zlib.tif", stack, photometric="minisblack", compression="zlib")
    tifffile.imwrite(folder / "plain.tif", scan((16, 16)), photometric="minisblack")
    tifffile.imwrite(folder / "ome.tif", stack[:2], photometric="minisblack", ome=True)
    with tifffile.TiffWriter(folder / "big.tif", bigtiff=True) as writer:
        for page in stack.astype(np.float32):
            writer.write(page, photometric="minisblack")
    return [(folder / name).read_bytes() for name in ("zlib.tif", "plain.tif", "ome.tif",
                                                      "big.tif")]


def _mutate(data: bytes, rng) -> bytes:
    damaged = bytearray(data)
    how = rng.integers(3)
    if how in (0, 2):
        for offset in rng.choice(len(damaged), size=int(rng.integers(1, 24)), replace=False):
            damaged[offset] ^= int(rng.integers(1, 256))
    if how in (1, 2):
        damaged = damaged[: int(rng.integers(0, len(damaged)))]
    return bytes(damaged)


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err, captured.out


def _nearest(image: np.ndarray, scale: int = 4) -> np.ndarray:
    return np.repeat(np.repeat(image, scale, 0), scale, 1)


def test_damaged_tiffs_give_a_clear_error_or_a_correct_result(tmp_path, capsys):
    model = nearest_model(4).save(tmp_path / "nearest.semsr")
    bases = _valid_tiffs(tmp_path)
    rng = np.random.default_rng(2026)
    source, dest = tmp_path / "case.tif", tmp_path / "out" / "case_sr.ome.tif"
    dest.parent.mkdir()
    outcomes = {0: 0, 2: 0}
    for case in range(TIFF_CASES):
        data = _mutate(bases[case % len(bases)], rng)
        source.write_bytes(data)
        code, err, _ = _run(capsys, "info", source)
        check_outcome(code, err, names=[source])
        code, err, _ = _run(capsys, "super-resolve", source, "-o", dest, "--model", model,
                            "--quiet", "--overwrite", "--float32")
        check_outcome(code, err, names=[source, model], finals=[dest], folders=[dest.parent])
        outcomes[code] += 1
        if code == 0:
            try:  # what super-resolve enlarged must read in full
                with read_stack(source) as stack:
                    expected = [np.asarray(s, np.float64) for s in stack]
            except SemsrError as error:
                pytest.fail(f"case {case}: enlarged, but reading it fails: {error}")
            with read_stack(dest) as stack:
                results = [np.asarray(s, np.float64) for s in stack]
            assert len(results) == len(expected), case
            for image, result in zip(expected, results, strict=True):
                assert result.shape == (image.shape[0] * 4, image.shape[1] * 4), case
                assert np.isfinite(result[np.isfinite(_nearest(image))]).all(), case
            dest.unlink()
        assert source.read_bytes() == data, f"case {case}: the input changed"
    assert outcomes[0] and outcomes[2], outcomes  # both outcomes were exercised


def test_damaged_model_files_are_refused_or_compute_what_they_did(tmp_path, capsys):
    valid = nearest_model(4).save(tmp_path / "valid.semsr").read_bytes()
    image = scan((12, 12))
    source = tmp_path / "scan.tif"
    tifffile.imwrite(source, image, photometric="minisblack")
    source_hash = hashlib.sha256(source.read_bytes()).hexdigest()
    model, dest = tmp_path / "case.semsr", tmp_path / "out" / "scan_sr.ome.tif"
    dest.parent.mkdir()
    rng = np.random.default_rng(13)
    outcomes = {0: 0, 2: 0}
    for case in range(MODEL_CASES):
        data = _mutate(valid, rng)
        model.write_bytes(data)
        code, err, _ = _run(capsys, "models", "info", model)
        check_outcome(code, err, names=[model])
        code, err, _ = _run(capsys, "super-resolve", source, "-o", dest, "--model", model,
                            "--quiet", "--overwrite")
        check_outcome(code, err, names=[model], finals=[dest], folders=[dest.parent])
        outcomes[code] += 1
        if code == 0:
            with read_stack(dest) as stack:
                np.testing.assert_array_equal(stack[0], _nearest(image),
                                              err_msg=f"case {case}")
            dest.unlink()
        assert model.read_bytes() == data, f"case {case}: the model file changed"
    assert hashlib.sha256(source.read_bytes()).hexdigest() == source_hash
    assert outcomes[2] > MODEL_CASES // 2, outcomes
