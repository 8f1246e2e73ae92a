"""Every unusable input gives an InputError that names the file and says what to do."""

from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import pytest
import tifffile

from semsr_core.cli import main
from semsr_core.errors import InputError
from semsr_core.io import read_stack


def _good_stack(path, *, ome=False, compression=None):
    data = np.arange(6 * 64 * 80, dtype=np.uint32).reshape(6, 64, 80).astype(np.uint16)
    tifffile.imwrite(path, data, photometric="minisblack", ome=ome, compression=compression)
    return data


def _truncate(path, fraction):
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:
        handle.truncate(int(size * fraction))


def _expect_input_error(path, *words):
    with pytest.raises(InputError) as caught:
        read_stack(path)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message, message
    return message


def test_missing_file(tmp_path):
    _expect_input_error(tmp_path / "nope.tif", "does not exist", "Check the path")


def test_folder_instead_of_file(tmp_path):
    _expect_input_error(tmp_path, "is a folder")


def test_zero_byte_file(tmp_path):
    (tmp_path / "empty.tif").write_bytes(b"")
    _expect_input_error(tmp_path / "empty.tif", "empty (0 bytes)", "Re-export")


def test_text_file_named_tif(tmp_path):
    (tmp_path / "notes.tif").write_text("sample 12, 5 kV, InLens\n")
    _expect_input_error(tmp_path / "notes.tif", "is text, not an image", "TIFF")


def test_binary_junk_named_tif(tmp_path):
    (tmp_path / "junk.tif").write_bytes(bytes(range(256)) * 4)
    _expect_input_error(tmp_path / "junk.tif", "not an image")


@pytest.mark.parametrize("ome", [False, True])
@pytest.mark.parametrize("fraction", [0.001, 0.05, 0.5, 0.9, 0.99])
def test_truncated_tiff_is_refused_not_read_short(tmp_path, ome, fraction):
    path = tmp_path / "cut.tif"
    _good_stack(path, ome=ome)
    _truncate(path, fraction)
    _expect_input_error(path, "Re-export")


def test_truncated_compressed_tiff(tmp_path):
    path = tmp_path / "cut_zlib.tif"
    _good_stack(path, compression="zlib")
    _truncate(path, 0.7)
    _expect_input_error(path, "Re-export")


def test_zero_by_zero_image(tmp_path):
    path = tmp_path / "zero.tif"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tifffile warns that the file is nonconformant
        tifffile.imwrite(path, np.zeros((0, 0), np.uint16))
    _expect_input_error(path, "has no pixels")


def test_five_dimensional_array(tmp_path):
    path = tmp_path / "5d.tif"
    tifffile.imwrite(path, np.zeros((2, 3, 4, 16, 16), np.uint8), photometric="minisblack")
    _expect_input_error(path, "5-D", "3-D stacks")


def test_one_dimensional_array(tmp_path):
    path = tmp_path / "1d.tif"
    tifffile.imwrite(path, np.zeros(7, np.uint8))
    _expect_input_error(path, "1-D")


def test_one_bit_image(tmp_path):
    path = tmp_path / "mask.tif"
    tifffile.imwrite(path, np.zeros((16, 16), bool))
    _expect_input_error(path, "1-bit", "8- or 16-bit")


def test_true_colour_slice_inside_a_stack_names_the_slice(tmp_path):
    gray = np.repeat(np.arange(256, dtype=np.uint8).reshape(16, 16)[..., None], 3, axis=-1)
    colour = gray.copy()
    colour[..., 0] = 255 - colour[..., 0]
    path = tmp_path / "mixed.tif"
    tifffile.imwrite(path, np.stack([gray, gray, colour]), photometric="rgb")
    with read_stack(path) as stack:
        stack[1]
        with pytest.raises(InputError, match="slice 2") as caught:
            stack[2]
    assert str(path) in str(caught.value)


def test_corrupt_page_found_while_iterating_names_file_and_slice(tmp_path):
    path = tmp_path / "bad_page.tif"
    _good_stack(path, compression="zlib")
    with tifffile.TiffFile(path) as tif:
        offset = tif.pages[3].dataoffsets[0]
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(b"\xff\x00not zlib" * 8)
    seen = []
    with read_stack(path) as stack, pytest.raises(InputError) as caught:
        for image in stack:
            seen.append(image)
    assert len(seen) == 3  # slices before the damage were delivered
    assert "slice 3" in str(caught.value) and str(path) in str(caught.value)


def test_damaged_png(tmp_path):
    import imageio.v3 as iio

    path = tmp_path / "cut.png"
    iio.imwrite(path, np.arange(4096, dtype=np.uint16).reshape(64, 64))
    _truncate(path, 0.5)
    _expect_input_error(path, "damaged PNG")


def test_cli_info_reports_bad_file_on_one_line_with_status_2(tmp_path, capsys):
    (tmp_path / "empty.tif").write_bytes(b"")
    assert main(["info", str(tmp_path / "empty.tif")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "empty.tif" in err and "0 bytes" in err


def test_cli_info_describes_a_good_stack(tmp_path, capsys):
    path = tmp_path / "ok.tif"
    _good_stack(path)
    shutil.copy(path, tmp_path / "copy.tif")
    assert main(["info", str(path)]) == 0
    assert "6 slice(s) of 64×80 uint16" in capsys.readouterr().out
