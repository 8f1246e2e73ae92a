"""Atomic writes and honest write errors, for every file semsr writes.

- :func:`atomic_destination` / :func:`write_bytes_atomic`: a file is written under a
  hidden temporary name beside its destination and renamed into place only once it is
  complete, so nothing half-written ever carries the final name;
- :func:`check_output_folder`, :func:`make_folder`, :func:`file_above`: output paths
  that can never be created (under a file, no permission) refused before any work;
- :func:`write_failure` and the disk-space checks: an ``OSError`` (or a library's
  wrapper of one) while writing becomes one :class:`~semsr_core.errors.OutputError`
  naming the file, and on a full disk the space needed and the space free.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from semsr_core.errors import OutputError, SemsrError

_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}
_LOW_SPACE = 16 * 2**20  # bytes free below which a short write means the disk is full


@contextlib.contextmanager
def atomic_destination(destination: str | os.PathLike, *,
                       needed: int | None = None) -> Iterator[Path]:
    """Write a file through a hidden temporary path beside ``destination``.

    Yields the temporary path; when the block ends without error it replaces
    ``destination`` in one rename, otherwise it is deleted, so nothing half-written
    ever carries the final name. The file gets the permissions a normal new file gets
    (the umask applies), or those of the file it replaces.

    A write error inside the block (an ``OSError``, or a library's own wrapper of one:
    torch's "enforce fail at inline_container.cc", safetensors' ``SafetensorError``)
    becomes one :class:`OutputError` naming ``destination`` and, when the disk is full,
    the free space and the space ``needed`` (bytes, when the caller knows it).
    """
    destination = Path(destination)
    check_output_folder(destination)
    temporary = _create_temporary(destination)
    mode = temporary.stat().st_mode & 0o7777
    try:
        try:
            yield temporary
        except Exception as exc:
            translated = write_failure(exc, destination, needed=needed, temporary=temporary)
            if translated is None:
                raise
            raise translated from exc
        with _disk_errors(destination, needed=needed, temporary=temporary):
            os.chmod(temporary, mode)  # some writers (safetensors) recreate the file as 0600
            os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def write_bytes_atomic(destination: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``destination`` atomically (fsynced, then renamed into place).

    Raises :class:`OutputError` on any write error (disk full: with the space needed);
    nothing is left under ``destination`` or beside it after a failure.
    """
    destination = Path(destination)
    with atomic_destination(destination, needed=len(data)) as tmp, open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return destination


def file_above(path: str | os.PathLike) -> Path | None:
    """The nearest existing ancestor of ``path`` that is a file, not a folder, or None.

    ``out/a/b`` when ``out`` is a file can never be created: the message should say
    so, not "no such folder" or "Not a directory".
    """
    for parent in Path(path).parents:
        if parent.exists() or parent.is_symlink():
            return None if parent.is_dir() else parent
    return None


def check_output_folder(path: str | os.PathLike) -> None:
    """Refuse an output ``path`` that lies under an existing file (OutputError)."""
    blocker = file_above(path)
    if blocker is not None:
        raise OutputError("cannot write {path}: " + f"{blocker} is a file, not a folder",
                          path=path, hint="Choose an output path that is not inside a file")


def make_folder(folder: str | os.PathLike) -> Path:
    """Create ``folder`` (and its parents) or raise one OutputError that says why not:
    under a file, permission denied, disk full."""
    folder = Path(folder)
    check_output_folder(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError("cannot use {path} as a folder: it is a file", path=folder,
                          hint="Choose a folder name that is not an existing file")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _output_error(exc, folder) from exc
    return folder


def _create_temporary(destination: Path) -> Path:
    """A new empty hidden file beside ``destination``, with the permissions a normal new
    file gets (the umask applies, unlike ``tempfile.mkstemp``'s private 0600), or the
    permissions of the file it will replace."""
    for _attempt in range(100):
        temporary = destination.with_name(
            f".{destination.name}.{secrets.token_hex(4)}.partial")
        try:
            with _disk_errors(destination):
                os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except OutputError as exc:
            if isinstance(exc.__cause__, FileExistsError):
                continue
            raise
        if destination.exists():
            with contextlib.suppress(OSError):
                shutil.copymode(destination, temporary)
        return temporary
    raise OutputError("cannot create a temporary file beside {path}",
                      path=destination, hint="Clean up the .partial files in that folder")


@contextlib.contextmanager
def _disk_errors(destination: Path, *, needed: int | None = None,
                 temporary: Path | None = None) -> Iterator[None]:
    """Turn an OSError while writing ``destination`` into an OutputError that says why."""
    try:
        yield
    except OSError as exc:
        raise _output_error(exc, destination, needed=needed, temporary=temporary) from exc


# Texts of libraries' write errors that wrap an OSError without being one: torch's
# PytorchStreamWriter ("[enforce fail at inline_container.cc:...] ... file write failed"),
# safetensors' SafetensorError ("IoError(Os { code: 28, kind: StorageFull, ... })").
_WRITE_FAILURE_MARKS = ("inline_container", "PytorchStreamWriter", "file write failed",
                        "IoError", "No space left", "StorageFull", "QuotaExceeded",
                        "Disk quota", "Input/output error", "Read-only file system")
_DISK_FULL_MARKS = ("No space left", "StorageFull", "code: 28", "os error 28",
                    "QuotaExceeded", "Disk quota", "code: 122")


def write_failure(exc: BaseException, destination: str | os.PathLike, *,
                  needed: int | None = None, temporary: Path | None = None
                  ) -> OutputError | None:
    """The :class:`OutputError` to show for ``exc`` raised while writing ``destination``,
    or None when ``exc`` is not a write error (a programming error stays itself)."""
    destination = Path(destination)
    if isinstance(exc, SemsrError):  # already says what to do
        return None
    if isinstance(exc, OSError):
        return _output_error(exc, destination, needed=needed, temporary=temporary)
    text = str(exc)
    if not any(mark in text for mark in _WRITE_FAILURE_MARKS):
        return None
    free = _free_bytes(destination.parent) + _size(temporary)
    if (any(mark in text for mark in _DISK_FULL_MARKS)
            or _free_bytes(destination.parent) < max(needed or 0, _LOW_SPACE)):
        return _disk_full(destination, needed, free)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    first = first.split("] ", 1)[-1].strip(" .") or "the write failed"
    return OutputError("cannot write {path} " + f"({first})", path=destination,
                       hint=f"Check the disk and the folder {destination.parent}")


def _disk_full(destination: Path, needed: int | None, free: int, seen: str = ""
               ) -> OutputError:
    """One line: the file, the space it needs (when known) and the space free."""
    need = f"it needs about {_size_text(needed)}, " if needed else ""
    seen = f"; {seen}" if seen else ""  # a short write without an errno: what was seen
    return OutputError(
        "not enough disk space to write {path} " + f"({need}{_size_text(free)} free{seen})",
        path=destination, hint="Free some space or choose an output folder on another disk")


def _size_text(n: int | None) -> str:
    n = max(int(n or 0), 0)
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} bytes"


def _size(path: Path | None) -> int:
    try:
        return 0 if path is None else path.stat().st_size
    except OSError:
        return 0


def _output_error(exc: OSError, destination: Path, *, needed: int | None = None,
                  temporary: Path | None = None) -> OutputError:
    folder = destination.parent
    detail = exc.strerror or str(exc)
    if exc.errno == errno.EFBIG:
        return OutputError(
            f"{destination.name} is too large for the file system or the file size limit "
            f"of {folder} ({detail})", path=destination,
            hint="Choose an output folder on another disk (e.g. not FAT32)")
    # numpy reports a short write ("N requested and M written") without an errno
    if exc.errno in _NO_SPACE or (exc.errno is None and _free_bytes(folder) < _LOW_SPACE):
        return _disk_full(destination, needed, _free_bytes(folder) + _size(temporary),
                          seen=detail if exc.errno is None else "")
    blocker = file_above(destination)
    if blocker is not None:  # ENOTDIR: "afile/out/lr: Not a directory"
        return OutputError("cannot write {path}: " + f"{blocker} is a file, not a folder",
                           path=destination,
                           hint="Choose an output path that is not inside a file")
    if isinstance(exc, PermissionError):
        return OutputError(f"cannot write {destination.name} in {folder} (permission denied)",
                           path=destination,
                           hint="Choose a folder you can write to or check its permissions")
    return OutputError("cannot write {path} " + f"({detail})", path=destination,
                       hint=f"Check the disk and the folder {folder}")


def _free_bytes(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return 0



def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where folders cannot be opened."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
