"""Fixtures for inference tests; the networks themselves are in tiny_nets.py."""

from __future__ import annotations

import pytest
from tiny_nets import tiny_model

from semsr_core.models import Model


@pytest.fixture
def model() -> Model:
    return tiny_model(2)
