"""Shared fixtures: small random networks and the shipped example files (the networks themselves: tests/nets.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from explorer.net import Network
from tests.nets import random_network

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def small_net() -> Network:
    """2-5-4-1 ReLU network with random weights."""
    return random_network((5, 4), scale_bias=1.0)


@pytest.fixture
def leaky_net() -> Network:
    """2-6-3-2 LeakyReLU(0.1) network with random weights."""
    return random_network((6, 3), n_out=2, activation="leaky_relu", alpha=0.1, seed=1, scale_bias=1.0)


@pytest.fixture(scope="session")
def assets_dir() -> Path:
    """Folder of the shipped example networks (regenerate with assets/make_examples.py)."""
    return ASSETS


@pytest.fixture(scope="session")
def moons_checkpoint():
    """The checkpoint the app opens on: 2-16-16-1 trained on moons, domain [-3, 3]²."""
    from explorer.io import load

    return load(ASSETS / "moons_2x16.pt")
