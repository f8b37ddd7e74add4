"""The network on screen (OnScreen), what every tab receives (ViewContext), the one cache key, cached regions.

Caches key a network by its content: :func:`cache_key` is the only key function, and ``HASH_FUNCS`` hands it
to ``st.cache_resource`` so cached functions take networks, partitions and datasets as ordinary arguments.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from explorer.net import Network
from explorer.plane.regions import RegionLimitError, Regions, enumerate_regions
from explorer.train.data import Dataset
from explorer.train.fit import TrainConfig, TrainResult, training_provenance

from .state import MAX_REGIONS

__all__ = ["OnScreen", "ViewContext", "cache_key", "HASH_FUNCS", "get_regions", "training_summary", "TIME_LIMIT"]

TIME_LIMIT = 30.0  # seconds
_CACHE_ENTRIES = 16


@dataclass(frozen=True)
class OnScreen:
    """The network on screen and where it came from.

    net : the 2-input network drawn (the 2-D slice of ``full_net`` when that is set)
    source : one line saying where it came from ("example network (…)", "uploaded: x.pt", "trained on …")
    provenance : JSON-able record of how it was made, saved with it
    box : (n0, 2) input box of the original network (from its file or its training data), or None
    full_net : the n-input network (n > 2) behind a slice, or None
    anchors : (3, 2) plane coordinates of the slice's points p0, p1, p2, or None
    train_result : the training run of this session that made it, or None
    train_dataset : the data of that run, or None
    link : what a link must say to show it, when no setting remakes it (an upload): views.netlink's text
    """

    net: Network
    source: str
    provenance: dict = field(default_factory=dict)
    box: np.ndarray | None = None
    full_net: Network | None = None
    anchors: np.ndarray | None = None
    train_result: TrainResult | None = None
    train_dataset: Dataset | None = None
    link: str = ""

    @property
    def original(self) -> Network:
        """The network as loaded or trained (``full_net`` for a slice, else ``net``)."""
        return self.full_net if self.full_net is not None else self.net

    @classmethod
    def trained(cls, dataset: Dataset, config: TrainConfig, result: TrainResult) -> "OnScreen":
        """The network of a training run, with its data, record and box."""
        return cls(net=result.net, source=f"trained on {dataset.name} ({training_summary(result)})",
                   provenance=training_provenance(dataset, config, result), box=dataset.domain,
                   train_result=result, train_dataset=dataset)


@dataclass(frozen=True)
class ViewContext:
    """What app.py hands to each tab: the network on screen, the map's domain and partition, and view options.

    on_screen : the network and where it came from
    domain : (xmin, xmax, ymin, ymax) of the region map
    regions : exact partition of ``domain``, or None when it was too large (``regions_note`` says why)
    dataset : the data drawn on the map (from the data settings), or None when hidden or for a slice
    classroom : hide the controls a demonstration does not need
    regions_note : why ``regions`` is None ("" otherwise)
    """

    on_screen: OnScreen
    domain: tuple[float, float, float, float]
    regions: Regions | None
    dataset: Dataset | None
    classroom: bool = False
    regions_note: str = ""


def training_summary(result: TrainResult) -> str:
    """'trained 200 epochs in 1.2 s', or 'stopped after epoch 40: showing the partial network'."""
    epochs = result.history["epoch"][-1] if result.history["epoch"] else 0
    return (f"stopped after epoch {epochs}: showing the partial network" if result.stopped
            else f"trained {epochs} epochs in {result.seconds:.1f} s")


def cache_key(obj: Network | Regions | Dataset) -> str:
    """The content key of a network (activation, slope, every parameter's bytes), of a partition (its network
    and domain) or of a dataset (its settings, which regenerate it)."""
    if isinstance(obj, Regions):
        return f"{cache_key(obj.net)}:{np.asarray(obj.domain, dtype=np.float64).tolist()!r}"
    if isinstance(obj, Dataset):
        return repr(sorted(obj.settings.items()))
    h = hashlib.sha1(f"{obj.activation}:{obj.alpha!r}:{obj.architecture}".encode())
    for a in (*obj.weights, *obj.biases):
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()


HASH_FUNCS = {Network: cache_key, Regions: cache_key, Dataset: cache_key}  # for st.cache_resource(hash_funcs=…)


def get_regions(net: Network, domain, *, max_regions: int = MAX_REGIONS, time_limit: float = TIME_LIMIT) -> Regions:
    """The exact partition of ``domain`` by ``net``, enumerated once per (network content, domain, budget).

    The result is shared by every session and must be treated as read-only.  A budget overrun is
    remembered too, so reruns do not retry it; a progress bar is shown while enumerating.

    Raises
    ------
    RegionLimitError : the partition exceeds ``max_regions`` or ``time_limit``.
    ExplorerError : the network does not take 2 inputs or the domain is invalid.
    """
    domain = tuple(float(v) for v in domain)
    key = (cache_key(net), domain, int(max_regions), float(time_limit))
    store = _store()
    outcome = store.get(key)
    if outcome is None:
        bar = st.progress(0.0, text="Enumerating regions…")

        def progress(fraction: float, message: str) -> None:
            bar.progress(min(max(fraction, 0.0), 1.0), text=f"Enumerating regions… {message}")

        try:
            outcome = enumerate_regions(net, domain, max_regions=max_regions, time_limit=time_limit,
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
