"""Shared fixtures. Tests make their own data; nothing is downloaded."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _sandbox_user_dirs(tmp_path_factory, monkeypatch):
    """Keep user folders (models, weights, caches) inside the test's temp dir."""
    monkeypatch.setenv("SEMSR_HOME", str(tmp_path_factory.mktemp("semsr_home")))


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
