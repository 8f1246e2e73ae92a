"""Bad inputs for tests/test_bad_inputs.py and the fuzzer: how to make each kind of bad
file, how to inject a full or unwritable disk, and what an acceptable outcome is.

Imported by name (``from bad_inputs_kit import ...``), like tests/infer/tiny_nets.py.
An acceptable outcome of a command on a bad input is exit status 0 with a correct
output, or exit status 2 with one ``semsr: error:`` line that names the file and says
what to do; never a traceback or an internal error (status 3), never a file under the
final output name after a failure, never a ``.partial`` file left, never a changed input.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import hashlib
import io
import os
import re
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import tifffile
import torch

# ------------------------------------------------------------------- images


def scan(shape=(32, 32), seed=0, low=20, high=230, dtype=np.uint8) -> np.ndarray:
    """A textured gray image (a smooth pattern plus noise) of ``dtype``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[: shape[0], : shape[1]]
    pattern = 0.5 + 0.3 * np.sin(x / 3.0) * np.cos(y / 4.0) + 0.05 * rng.random(shape)
    return (low + (high - low) * np.clip(pattern, 0, 1)).astype(dtype)


def _stack(shape, depth=3) -> np.ndarray:
    return np.stack([scan(shape, seed=i) for i in range(depth)])


def _imwrite(path, data, **kwargs):
    tifffile.imwrite(path, data, photometric=kwargs.pop("photometric", "minisblack"), **kwargs)


def _cut(path, fraction):
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[: int(len(data) * fraction)])


def _separate(path, pages):
    with tifffile.TiffWriter(path) as writer:
        for page in pages:
            writer.write(page, photometric="minisblack")


def _truncated(path, shape, **kwargs):
    _imwrite(path, _stack(shape), **kwargs)
    _cut(path, 0.6)


def _one_corrupt_page(path, shape):
    _imwrite(path, _stack(shape), compression="zlib")
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[1].dataoffsets[0], tif.pages[1].databytecounts[0]
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(b"\xff" * count)


def _ome_edited(edit):
    def make(path, shape):
        _imwrite(path, _stack(shape), ome=True)
        with tifffile.TiffFile(path) as tif:
            xml = tif.ome_metadata
        tifffile.tiffcomment(path, edit(xml).encode())
    return make


def _huge_declared(path, shape):
    """A classic TIFF header claiming 30000×30000 8-bit pixels, with 64 bytes of data."""
    entries = [(256, 4, 1, 30000), (257, 4, 1, 30000), (258, 3, 1, 8), (259, 3, 1, 1),
               (262, 3, 1, 1), (273, 4, 1, 8 + 2 + 10 * 12 + 4), (277, 3, 1, 1),
               (278, 4, 1, 30000), (279, 4, 1, 30000 * 30000), (284, 3, 1, 1)]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack("<HI", value, 0)[:4] if kind == 3 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    ifd += struct.pack("<I", 0)
    Path(path).write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x80" * 64)


def _png_named_tif(path, shape):
    from PIL import Image

    Image.fromarray(scan(shape)).save(path, format="PNG")


def _damaged_png(path, shape):
    _png_named_tif(path, shape)
    _cut(path, 0.5)


def _pixels(values, dtype=None):
    def make(path, shape):
        image = values(shape)
        _imwrite(path, image if dtype is None else image.astype(dtype))
    return make


def _with(value):
    def values(shape):
        image = scan(shape).astype(np.float32)
        image[3:4, 3:5] = value
        return image
    return values


def _rgb(alpha: bool, gray: bool):
    def make(path, shape):
        image = scan(shape)
        channels = [image, image, image] if gray else [image, image // 2, 255 - image]
        if alpha:
            channels.append(np.full_like(image, 255))
        _imwrite(path, np.stack(channels, axis=-1), photometric="rgb")
    return make


IMAGE_KINDS = {
    # files
    "empty": lambda p, s: Path(p).write_bytes(b""),
    "truncated": _truncated,
    "truncated_compressed": lambda p, s: _truncated(p, s, compression="zlib"),
    "tiff_header_only": lambda p, s: Path(p).write_bytes(b"II*\x00\x08\x00\x00\x00"),
    "text_named_tif": lambda p, s: Path(p).write_text("x,y\n1,2\nthis is not an image\n"),
    "junk_named_tif": lambda p, s: Path(p).write_bytes(bytes(range(256)) * 4),
    "one_corrupt_page": _one_corrupt_page,
    "page_of_another_size": lambda p, s: _separate(
        p, [scan(s), scan((s[0] // 2, s[1] - 8)), scan(s)]),
    "page_of_another_dtype": lambda p, s: _separate(
        p, [scan(s), scan(s).astype(np.uint16), scan(s)]),
    "separate_write_pages": lambda p, s: _separate(p, list(_stack(s))),
    "bigtiff": lambda p, s: _imwrite(p, _stack(s), bigtiff=True),
    "ome_inconsistent": _ome_edited(lambda xml: xml.replace('SizeZ="3"', 'SizeZ="5"')),
    "ome_broken_xml": _ome_edited(lambda xml: xml[: len(xml) // 2]),
    "huge_declared_size": _huge_declared,
    "png_named_tif": _png_named_tif,
    "damaged_png": _damaged_png,
    # pixel contents
    "nan_pixels": _pixels(_with(np.nan)),
    "inf_pixels": _pixels(_with(np.inf)),
    "all_nan": _pixels(lambda s: np.full(s, np.nan, np.float32)),
    "constant": _pixels(lambda s: np.full(s, 128, np.uint8)),
    "complex": _pixels(scan, np.complex64),
    "one_bit": _pixels(lambda s: scan(s) > 128),
    # shapes
    "one_by_one": lambda p, s: _imwrite(p, np.full((1, 1), 7, np.uint8)),
    "smaller_than_receptive_field": lambda p, s: _imwrite(p, scan((3, 3))),
    "five_d": lambda p, s: _imwrite(p, np.zeros((2, 2, 2, *s), np.uint8)),
    "true_colour_rgb": _rgb(alpha=False, gray=False),
    "true_colour_rgba": _rgb(alpha=True, gray=False),
    "gray_saved_as_rgb": _rgb(alpha=False, gray=True),
    # value ranges the intensity policy (issue 13 item 1) must map correctly
    "float_detector_counts": _pixels(lambda s: scan(s).astype(np.float32) * 5.0 + 339.0),
    "float_signed": _pixels(lambda s: scan(s).astype(np.float32) / 127.5 - 1.0),
    "int16_signed": _pixels(lambda s: (scan(s).astype(np.int16) - 128) * 50),
    "uint32": _pixels(lambda s: scan(s).astype(np.uint32) * 1000),
    "twelve_bit_in_uint16": _pixels(lambda s: scan(s, dtype=np.uint16) * 16),
}
"""Kinds of bad image file: name → function(path, (height, width)) writing one."""


# -------------------------------------------------------------------- models


class RunsCode:
    """Unpickling this runs code: ``torch.load(weights_only=False)`` would touch a file."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def flip_bytes(path, count=200, seed=0, start=0):
    data = bytearray(Path(path).read_bytes())
    rng = np.random.default_rng(seed)
    offsets = rng.choice(np.arange(start, len(data)), size=min(count, len(data) - start),
                         replace=False)
    for offset in offsets:
        data[offset] ^= int(rng.integers(1, 256))
    Path(path).write_bytes(bytes(data))


def pth_with(path, state, marker=None):
    payload = {"params_ema": state}
    if marker is not None:
        payload["extra"] = RunsCode(str(marker))
    torch.save(payload, path)


# ------------------------------------------------------------- disk faults


@contextlib.contextmanager
def disk_fault(monkeypatch, folder, error: int) -> Iterator[None]:
    """Writes under ``folder`` fail with ``error``: EACCES when a file is opened for
    writing, ENOSPC at its first write (a full disk), as the operating system would."""
    folder = os.path.abspath(folder)
    real_open, real_os_open = builtins.open, os.open

    def inside(file) -> bool:
        return isinstance(file, str | os.PathLike) and os.path.abspath(file).startswith(
            folder + os.sep)

    class FullFile:
        def __init__(self, handle):
            self._handle = handle

        def write(self, data):
            if len(data):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return 0

        def writelines(self, lines):
            for line in lines:
                self.write(line)

        def __getattr__(self, name):
            return getattr(self._handle, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._handle.close()

        def __iter__(self):
            return iter(self._handle)

    def fake_open(file, mode="r", *args, **kwargs):
        writing = any(c in mode for c in "wax+")
        if writing and inside(file):
            if error == errno.EACCES:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
            return FullFile(real_open(file, mode, *args, **kwargs))
        return real_open(file, mode, *args, **kwargs)

    def fake_os_open(file, flags, *args, **kwargs):
        if error == errno.EACCES and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) \
                and inside(file):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(file))
        return real_os_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    try:
        yield
    finally:
        monkeypatch.setattr(builtins, "open", real_open)
        monkeypatch.setattr(io, "open", real_open)
        monkeypatch.setattr(os, "open", real_os_open)


def nearest_model(scale: int):
    """An rrdbnet whose weights make it a nearest-neighbour enlarger: its output is the
    input's values on the larger grid, so a correct result can be checked exactly."""
    from semsr_core.models import Model

    model = Model.create("rrdbnet", scale=scale, blocks=0, features=4, growth=4,
                         name=f"nearest-x{scale}")
    with torch.no_grad():
        for name, parameter in model.generator.named_parameters():
            parameter.zero_()
            if name.endswith("weight") and "conv_body" not in name:
                parameter[0, 0, 1, 1] = 1.0
    return model


# ---------------------------------------------------------------- outcomes


def hashes(*folders_or_files) -> dict[str, str]:
    """SHA-256 of every file under the given folders/files."""
    found = {}
    for item in folders_or_files:
        item = Path(item)
        files = [item] if item.is_file() else sorted(p for p in item.rglob("*") if p.is_file())
        for file in files:
            found[str(file)] = hashlib.sha256(file.read_bytes()).hexdigest()
    return found


_HINT = re.compile(r"[.;)] +\S")


def check_outcome(code: int, err: str, *, names, finals=(), folders=()) -> str | None:
    """Assert the outcome is acceptable; returns the error line (None when code is 0).

    names: strings one of which the error line must contain (the file's path or name);
    finals: output paths that must not exist after an error; folders: where no
    ``.partial`` file may be left.
    """
    assert "Traceback" not in err, err
    assert code in (0, 2), f"exit status {code}: {err}"
    for folder in folders:
        if Path(folder).is_dir():
            partial = [p for p in Path(folder).rglob("*") if p.name.endswith(".partial")]
            assert not partial, partial
    if code == 0:
        return None
    lines = [line for line in err.splitlines() if line.startswith("semsr: error:")]
    assert len(lines) == 1, err
    assert not [line for line in err.splitlines() if line.strip() and not line.startswith(
        ("semsr: error:", "semsr: warning:", "semsr: ")) and "\r" not in line
        and "it/s" not in line and "%|" not in line], err
    line = lines[0]
    assert any(str(name) in line for name in names), f"{line!r} names none of {names}"
    assert _HINT.search(line[len("semsr: error: "):]), f"no advice in {line!r}"
    for final in finals:
        assert not Path(final).exists(), f"{final} exists after: {line}"
    return line
