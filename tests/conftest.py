"""Shared pytest configuration.

``kernel_sim`` is imported before ``lsm`` so collection does not depend on which package a test
module happens to import first.
"""

from __future__ import annotations

import pytest

import kernel_sim
from kernel_sim import Kernel


@pytest.fixture
def kernel() -> kernel_sim.Kernel:
    """A freshly booted kernel with only the capability module."""
    return Kernel(seed=0)
