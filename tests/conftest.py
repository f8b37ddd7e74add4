"""Shared fixtures: small named networks, a random-network factory and the shipped example files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from explorer.net import Network

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def random_network(widths=(5, 4), *, n0: int = 2, n_out: int = 1, activation: str = "relu",
                   alpha: float = 0.0, seed: int = 0) -> Network:
    """A network n0 → widths → n_out with standard-normal float64 weights and biases."""
    rng = np.random.default_rng(seed)
    dims = (n0, *widths, n_out)
    weights = tuple(rng.standard_normal((dims[k + 1], dims[k])) for k in range(len(dims) - 1))
    biases = tuple(rng.standard_normal(dims[k + 1]) for k in range(len(dims) - 1))
    return Network(weights, biases, activation, alpha)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def small_net() -> Network:
    """2-5-4-1 ReLU network with random weights."""
    return random_network((5, 4))


@pytest.fixture
def leaky_net() -> Network:
    """2-6-3-2 LeakyReLU(0.1) network with random weights."""
    return random_network((6, 3), n_out=2, activation="leaky_relu", alpha=0.1, seed=1)


@pytest.fixture(scope="session")
def assets_dir() -> Path:
    """Folder of the shipped example networks (regenerate with assets/make_examples.py)."""
    return ASSETS


@pytest.fixture(scope="session")
def moons_checkpoint():
    """The checkpoint the app opens on: 2-16-16-1 trained on moons, domain [-3, 3]²."""
    from explorer.io import load

    return load(ASSETS / "moons_2x16.pt")
