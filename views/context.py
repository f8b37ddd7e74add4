"""What every tab receives from app.py (ViewContext) and the cached enumeration wrapper get_regions."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from explorer.train.data import Dataset
from explorer.net import Network
from explorer.plane.regions import RegionLimitError, Regions, enumerate_regions
from explorer.train.fit import TrainResult

__all__ = ["ViewContext", "get_regions", "net_key", "MAX_REGIONS", "TIME_BUDGET"]

MAX_REGIONS = 60_000  # default size budget of the map's enumeration
TIME_BUDGET = 30.0  # seconds
_CACHE_ENTRIES = 16


@dataclass
class ViewContext:
    """The current network and everything drawn from it, as app.py hands it to each tab.

    net : Network on screen (2 inputs, or the 2-D slice of a larger one)
    domain : (xmin, xmax, ymin, ymax) of the region map
    regions : exact partition of ``domain``, or None when it was too large or failed (``regions_note`` says why)
    dataset : the training data, if the network was trained here (or its settings are known)
    train_result : the last training run of this session, if any
    provenance : JSON-able record of how the network came to be
    source : "example", "trained", "uploaded: x.pt", "preset: sawtooth", …
    classroom : hide controls not needed for a demo
    full_net : the n-D network when ``net`` is a 2-D slice of it (None otherwise)
    regions_note : why ``regions`` is None ("" otherwise)
    extras : "net_key" (content hash of ``net``), "anchors" ((3, 2) slice points or None), "file_domain"
        ((n0, 2) box of an uploaded file or None), "train_dataset" (the data ``train_result`` was trained on)
    """

    net: Network
    domain: tuple[float, float, float, float]
    regions: Regions | None
    dataset: Dataset | None
    train_result: TrainResult | None
    provenance: dict
    source: str
    classroom: bool = False
    full_net: Network | None = None
    regions_note: str = ""
    extras: dict = field(default_factory=dict)


def net_key(net: Network) -> str:
    """A content hash of the network (activation, slope and every parameter's bytes)."""
    h = hashlib.sha1(f"{net.activation}:{net.alpha!r}:{net.architecture}".encode())
    for a in (*net.weights, *net.biases):
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()


def get_regions(net: Network, domain, *, max_regions: int = MAX_REGIONS, time_budget: float = TIME_BUDGET) -> Regions:
    """The exact partition of ``domain`` by ``net``, enumerated once per (network bytes, domain, budget).

    The result is shared by every session and must be treated as read-only.  A budget overrun is
    remembered too, so reruns do not retry it; a progress bar is shown while enumerating.

    Raises
    ------
    RegionLimitError : the partition exceeds ``max_regions`` or ``time_budget``.
    ExplorerError : the network does not take 2 inputs or the domain is invalid.
    """
    domain = tuple(float(v) for v in domain)
    key = (net_key(net), domain, int(max_regions), float(time_budget))
    store = _store()
    outcome = store.get(key)
    if outcome is None:
        bar = st.progress(0.0, text="Enumerating regions…")

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=f"Enumerating regions… {message}")

        try:
            outcome = enumerate_regions(net, domain, max_regions=max_regions, time_limit=time_budget,
                                        progress=progress)
        except RegionLimitError as exc:
            outcome = exc
        finally:
            bar.empty()
        store.put(key, outcome)
    if isinstance(outcome, RegionLimitError):
        raise RegionLimitError(str(outcome))
    return outcome


class _LRU:
    """A small thread-safe least-recently-used map (sessions run in threads of one process)."""

    def __init__(self, size: int) -> None:
        self._size, self._data, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self._lock:
            if key not in self._data:
                return None
            self._data.move_to_end(key)
            return self._data[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self._size:
                self._data.popitem(last=False)


@st.cache_resource(show_spinner=False)
def _store() -> _LRU:
    return _LRU(_CACHE_ENTRIES)
