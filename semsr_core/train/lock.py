"""An exclusive lock on a run folder while a process trains in it.

Two processes training into the same run folder interleave their checkpoints and
``events.jsonl`` and the last writer's model wins; :class:`RunLock` makes the second
one stop at once with a message that names the holder (PID, host, since when) and
says how to proceed.

The lock is ``RUN/.lock``: a small JSON file with the holder's PID, host and start
time, held with an operating-system lock (``fcntl.flock`` on POSIX, ``msvcrt.locking``
on Windows) for as long as the process runs. The operating system releases that lock
when the process dies, however it dies (SIGKILL, a crash, a power cut), so a lock
file left behind by a dead process is *stale*: the next run takes it over and says
so, no one has to delete anything. Under ``torchrun`` only rank 0 (the rank that
writes the run folder) takes the lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from semsr_core.errors import OutputError, SemsrError

LOCK_NAME = ".lock"
"""The lock file inside a run folder."""


class RunFolderBusy(SemsrError):
    """Another live process holds the run folder's lock."""

    def __init__(self, run_dir: Path, holder: dict[str, Any]):
        self.run_dir = Path(run_dir)
        self.holder = holder
        pid = holder.get("pid", "?")
        host = holder.get("host", "?")
        since = holder.get("started", "")
        command = holder.get("command", "")
        what = f"semsr {command}" if command else "another semsr process"
        super().__init__(
            "{path} is in use: " + f"{what} (PID {pid} on host {host}"
            + (f", since {since}" if since else "") + ") is training in it",
            path=run_dir,
            hint=f"Wait for it to finish, or stop it (e.g. `kill {pid}` on {host}) and "
                 f"then continue the run with `semsr train --resume {run_dir}`; to train "
                 "at the same time, choose another --run folder")


class RunLock:
    """Hold ``run_dir``'s lock for a ``with`` block (created if need be).

    ``command`` ("train", "resume") is recorded for the message another process gets.
    Raises :class:`RunFolderBusy` when a live process holds it. After ``__enter__``,
    ``stale`` holds what a dead process left in the lock file (or None).
    """

    def __init__(self, run_dir: str | os.PathLike, command: str = "train"):
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / LOCK_NAME
        self.command = command
        self.stale: dict[str, Any] | None = None
        self._fd: int | None = None

    # ------------------------------------------------------------------ use

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.release()

    def acquire(self) -> None:
        from semsr_core.io.write import make_folder

        make_folder(self.run_dir)
        for _attempt in range(20):
            fd = self._open()
            try:
                locked = _try_lock(fd)
            except OSError as exc:  # a file system without locks (some network mounts)
                os.close(fd)
                raise OutputError("cannot lock {path} " + f"({exc.strerror or exc})",
                                  path=self.path,
                                  hint="Put the run folder on a local disk") from exc
            if not locked:
                holder = _read_holder(fd)
                os.close(fd)
                raise RunFolderBusy(self.run_dir, holder)
            # The file may have been removed by a holder that just released it; a lock
            # on an unlinked file protects nothing: try again on the current file.
            if _same_file(fd, self.path):
                break
            _unlock(fd)
            os.close(fd)
        else:  # pragma: no cover - needs a pathological release/acquire storm
            raise OutputError("cannot take the lock {path}", path=self.path,
                              hint="Try again in a moment")
        previous = _read_holder(fd)
        self.stale = previous or None
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": self.command,
                  "started": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(record).encode())
            os.fsync(fd)
        except OSError as exc:
            _unlock(fd)
            os.close(fd)
            from semsr_core.io.write import write_failure

            raise write_failure(exc, self.path) from exc
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)  # an empty lock file is not a stale one
        with contextlib.suppress(OSError):
            self.path.unlink()  # while still holding it: see the check in acquire()
        _unlock(self._fd)
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def stale_message(self) -> str | None:
        """What to tell the user about a stale lock taken over, or None."""
        if not self.stale:
            return None
        pid, host = self.stale.get("pid", "?"), self.stale.get("host", "?")
        return (f"{self.run_dir}: took over the lock left by PID {pid} on host {host}, "
                "which is no longer running (it was killed or crashed)")

    def _open(self) -> int:
        from semsr_core.io.write import write_failure

        try:
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise write_failure(exc, self.path) from exc


def holder(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """Who trains in ``run_dir`` now (PID, host, command, started), or None."""
    path = Path(run_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        if _try_lock(fd):
            _unlock(fd)
            return None
        return _read_holder(fd)
    finally:
        os.close(fd)


def is_main_rank() -> bool:
    """Whether this process writes the run folder (not another rank of a torchrun job)."""
    return int(os.environ.get("RANK", "0") or 0) == 0


# ------------------------------------------------------------- the OS lock


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode("utf-8", "replace") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    _REGION = 2**30  # lock a byte past the record, so others can still read the holder

    def _try_lock(fd: int) -> bool:
        os.lseek(fd, _REGION, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except PermissionError:
            return False
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            os.lseek(fd, _REGION, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        """Take the lock without waiting; False when another process holds it. An
        OSError (a file system without locks) is the caller's to report."""
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _unlock(fd: int) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)


@contextlib.contextmanager
def run_lock(run_dir: str | os.PathLike, command: str = "train",
             on_event: Any = None) -> Iterator[RunLock | None]:
    """Hold ``run_dir``'s lock for a ``with`` block; a stale lock taken over is reported
    as a warning MESSAGE event. Yields None (no lock) on the other ranks of a torchrun
    job, which never write the run folder."""
    if not is_main_rank():
        yield None
        return
    from semsr_core.events import Message, emit

    with RunLock(run_dir, command) as lock:
        note = lock.stale_message()
        if note:
            emit(on_event, Message(note, level="warning"))
        yield lock
