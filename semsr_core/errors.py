"""Exceptions that reach users.

Every error a user can cause carries a message that names the file (or key) and
says what to do. The CLI prints ``str(error)`` on one line and exits non-zero; the
app shows it as a notification. Programming errors stay ordinary exceptions.

The file is named by construction, never by guessing from the text: with
``path=``, the message is shown as ``"<path>: <message>"``, unless the message
places the file itself with the literal placeholder ``{path}``::

    InputError("already exists", path=out)              # "out: already exists"
    OutputError("cannot write {path}: it is a folder", path=out)
"""

from __future__ import annotations

from os import PathLike

PATH_PLACEHOLDER = "{path}"
"""Where a message puts its file's name; a message without it is prefixed with it."""


class SemsrError(Exception):
    """Base class of the errors a user can act on."""

    def __init__(self, message: str, *, path: str | PathLike | None = None, hint: str = ""):
        self.path = None if path is None else str(path)
        self.hint = hint
        text = message
        if self.path is not None:
            text = (message.replace(PATH_PLACEHOLDER, self.path) if PATH_PLACEHOLDER in message
                    else f"{self.path}: {message}")
        if hint:
            text = f"{text}. {hint}" if not text.endswith(".") else f"{text} {hint}"
        super().__init__(text)


class InputError(SemsrError):
    """An input file cannot be used (missing, corrupt, wrong shape or type)."""


class OutputError(SemsrError):
    """An output cannot be written (exists, would overwrite the input, disk full)."""


class ConfigError(SemsrError):
    """A recipe, configuration value or option is invalid; the message names the key."""


class ModelError(SemsrError):
    """A model file cannot be loaded or does not fit the request."""


class TrainingError(SemsrError):
    """Training cannot go on (e.g. the losses diverged); the last checkpoint is kept."""


class Cancelled(SemsrError):
    """The user cancelled a long task; nothing partial was left behind."""

    def __init__(self, message: str = "cancelled by the user"):
        super().__init__(message)
