"""Where bundled data and user folders are.

Bundled files live in the ``semsr_resources`` package (the repository's
``resources/`` folder), so they are found in an editable checkout and after a
regular ``pip install .`` alike. User folders follow the platform conventions
(``platformdirs``) and can be moved with ``SEMSR_HOME``.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

import platformdirs

APP_NAME = "semsr"


def resource_path(*parts: str) -> Path:
    """Path of a bundled resource, e.g. ``resource_path("presets", "en1.toml")``."""
    root = Path(str(files("semsr_resources")))
    return root.joinpath(*parts)


def user_dir(kind: str) -> Path:
    """A per-user folder (``models``, ``weights``, ``cache``, ``logs``), created on demand.

    ``SEMSR_HOME`` overrides the platform location (tests use it to stay sandboxed).
    """
    home = os.environ.get("SEMSR_HOME")
    if home:
        path = Path(home) / kind
    elif kind == "cache":
        path = Path(platformdirs.user_cache_dir(APP_NAME))
    elif kind == "logs":
        path = Path(platformdirs.user_log_dir(APP_NAME))
    else:
        path = Path(platformdirs.user_data_dir(APP_NAME)) / kind
    path.mkdir(parents=True, exist_ok=True)
    return path
