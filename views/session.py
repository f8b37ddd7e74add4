"""Session state shared by the sidebar and the tabs: settings, the network on screen, and the URL.

All settings live in ``st.session_state`` under ``"s_" + name`` (names as in ``SETTINGS``, which are the
fields of :class:`views.state.AppState` apart from ``hidden``, ``domain``, ``pinned``, ``preset`` and
``tab``, mapped in :func:`app_state` / :func:`apply_state`).  The network on screen is a :class:`Model`
under ``"model"``.  A session starts on the shipped example, then on the state of the URL's query
parameters; every run writes the view back into the URL, so a link reproduces it (a link whose data or
training settings differ from the example's retrains deterministically).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import streamlit as st

from explorer.train.data import HALF_WIDTH, Dataset, make_dataset
from explorer.errors import ExplorerError
from explorer.io import load
from explorer.net import Network
from explorer.train.presets import parse_spec
from .state import COMPARISON, LEARNING_RATES, TABS, AppState, from_query, to_query
from explorer.train.fit import TrainResult

from .context import MAX_REGIONS

__all__ = ["Model", "SETTINGS", "LEARNING_RATES", "TAB_LABELS", "EXAMPLE", "init", "settings", "apply_settings",
           "app_state", "apply_state", "publish_url", "dataset", "domain", "needs_training"]

EXAMPLE = Path(__file__).resolve().parent.parent / "assets" / "moons_2x16.pt"
TAB_LABELS = dict(zip(TABS, ("Explore", "Higher dimensions", "Local findings", "Teach")))
SETTINGS = {  # name -> default; widget keys are "s_" + name
    "dataset": "moons", "n_points": 500, "noise": 0.1, "test_fraction": 0.2, "seed": 0, "n_classes": 2,
    "layers": 2, **{f"units_{i}": 16 for i in range(6)}, "activation": "relu", "alpha": 0.01,
    "optimizer": "adam", "lr": 0.01, "epochs": 200, "batch_size": 64, "weight_decay": 0.0,
    "color_by": "region", "palette": "okabe-ito", "show_layers": [], "show_decision": True, "show_data": True,
    "show_test": False, "xmin": -HALF_WIDTH, "xmax": HALF_WIDTH, "ymin": -HALF_WIDTH, "ymax": HALF_WIDTH,
    "max_regions": MAX_REGIONS, "classroom": False, "radius": 0.5, "norm": "2", "certifier": "symbolic",
}
_TRAINING = ("dataset", "n_classes", "n_points", "noise", "test_fraction", "seed", "hidden", "activation", "alpha",
             "optimizer", "lr", "epochs", "batch_size", "weight_decay")  # fields that decide the network


@dataclass
class Model:
    """The network on screen and where it came from.

    net : 2-input network drawn (the slice when ``full_net`` is set);  source : short description
    provenance : JSON-able record saved with the network;  file_domain : (n0, 2) box of the original, or None
    full_net : original n-input network (n > 2) of a slice;  anchors : (3, 2) plane coordinates of p0, p1, p2
    train_result : the training run that produced ``net``, if any;  dataset : its data, if known
    """

    net: Network
    source: str
    provenance: dict = field(default_factory=dict)
    file_domain: np.ndarray | None = None
    full_net: Network | None = None
    anchors: np.ndarray | None = None
    train_result: TrainResult | None = None
    dataset: Dataset | None = None


def init() -> None:
    """First run of a session: the example network, then the URL's state; later runs keep hidden widgets' values."""
    ss = st.session_state
    for name, default in SETTINGS.items():
        key = f"s_{name}"
        ss[key] = ss[key] if key in ss else default  # re-assigning keeps values of hidden widgets
    if "model" in ss:
        return
    ckpt = _example()
    d = ckpt.provenance.get("dataset", {})
    apply_settings({"dataset": d.get("name", "moons"), **{k: d[k] for k in ("n_points", "noise", "test_fraction",
                                                                             "seed", "n_classes") if k in d}})
    hidden = ckpt.net.hidden_widths
    apply_settings({"layers": len(hidden), **{f"units_{i}": w for i, w in enumerate(hidden)}})
    ss["model"] = Model(ckpt.net, f"example network ({d.get('name', 'moons')}, {ckpt.net.architecture})",
                        ckpt.provenance, ckpt.box)
    params = st.query_params.to_dict()
    if params:
        state, warnings = from_query(params)
        apply_state(state)
        ss["url_warnings"], ss["url_train"] = warnings, needs_training(state)


def settings() -> dict:
    """The current value of every setting (name -> value)."""
    return {name: st.session_state.get(f"s_{name}", default) for name, default in SETTINGS.items()}


def apply_settings(values: dict) -> None:
    """Set settings by name (unknown names are ignored); call before the widgets are drawn."""
    for name, value in values.items():
        if name in SETTINGS:
            st.session_state[f"s_{name}"] = value


def app_state() -> AppState:
    """The shareable state of the session: the view's settings and the settings that made the network.

    For a network trained here (or the example) the data and training fields are those it was made with,
    so a link reproduces the network on screen, not sliders moved since.
    """
    s = settings()
    values = {f.name: s[f.name] for f in fields(AppState) if f.name in s}
    values["hidden"] = tuple(int(s[f"units_{i}"]) for i in range(int(s["layers"])))
    values.update(_made_with(st.session_state["model"]))
    values["show_layers"] = tuple(int(v) for v in s["show_layers"])
    values["domain"] = (s["xmin"], s["xmax"], s["ymin"], s["ymax"])
    values["pinned"] = tuple(tuple(p) for p in st.session_state.get("pinned", ()))
    values["tab"] = {v: k for k, v in TAB_LABELS.items()}.get(st.session_state.get("app_tab"), "explore")
    values["preset"] = _preset()
    text = {k: ",".join(map(str, v)) if k in ("hidden", "domain") else v for k, v in values.items()}
    state, _ = from_query({k: _text(k, v) for k, v in text.items()})  # lenient: clamps what it must
    return state


def apply_state(state: AppState) -> None:
    """Put a shared state into the settings (before the widgets are drawn)."""
    apply_settings({f.name: getattr(state, f.name) for f in fields(AppState) if f.name in SETTINGS})
    apply_settings({"layers": len(state.hidden), **{f"units_{i}": w for i, w in enumerate(state.hidden)},
                    "show_layers": list(state.show_layers)})
    apply_settings(dict(zip(("xmin", "xmax", "ymin", "ymax"), state.domain)))
    st.session_state["pinned"] = [tuple(p) for p in state.pinned]
    st.session_state["app_tab"] = TAB_LABELS[state.tab]
    if state.preset:
        name = state.preset if state.preset == COMPARISON else parse_spec(state.preset)[0]
        st.session_state.update({"app_tab": TAB_LABELS["teach"], "teach_section": "Classic constructions",
                                 "teach_preset": name})
        if name != COMPARISON:
            st.session_state[f"teach_preset_{name}"] = parse_spec(state.preset)[1]


def needs_training(state: AppState) -> bool:
    """True if the state's data or training settings differ from the example network's."""
    default = AppState()
    return any(getattr(state, k) != getattr(default, k) for k in _TRAINING
               if k != "alpha" or state.activation == "leaky_relu")


def publish_url() -> None:
    """Write the session's state into the URL when it changed (not while a training job is running)."""
    if "train_job" in st.session_state:
        return
    query = to_query(app_state())
    if query != st.query_params.to_dict():
        st.query_params.from_dict(query)


def dataset() -> Dataset:
    """The dataset the settings describe."""
    s = settings()
    return _make_dataset(s["dataset"], int(s["n_points"]), float(s["noise"]), float(s["test_fraction"]),
                         int(s["seed"]), int(s["n_classes"]))


def domain() -> tuple[float, float, float, float]:
    """The map's box from the settings."""
    s = settings()
    box = tuple(float(s[k]) for k in ("xmin", "xmax", "ymin", "ymax"))
    if not (box[0] < box[1] and box[2] < box[3]):
        raise ExplorerError(f"the map's domain needs xmin < xmax and ymin < ymax; got x from {box[0]} to "
                            f"{box[1]} and y from {box[2]} to {box[3]}. Fix it under View.")
    return box


def _made_with(model: Model) -> dict:
    """Data and training fields from the model's provenance, when it was trained here or is the example."""
    prov = model.provenance or {}
    data, training = prov.get("dataset"), prov.get("training")
    if model.full_net is not None or not isinstance(data, dict) or not isinstance(training, dict):
        return {}
    out = {k: data[k] for k in ("n_points", "noise", "test_fraction", "seed", "n_classes") if k in data}
    out["dataset"] = data.get("name", "moons")
    out.update({k: training[k] for k in ("activation", "optimizer", "lr", "epochs", "batch_size", "weight_decay")
                if k in training})
    if training.get("activation") == "leaky_relu":
        out["alpha"] = training.get("alpha", 0.01)
    out["hidden"] = tuple(training.get("hidden", ()))
    done = (prov.get("history") or {}).get("epoch") or []
    if prov.get("stopped") and done:  # the first k epochs of a run are a run of k epochs: same weights
        out["epochs"] = int(done[-1])
    return out


def _preset() -> str:
    ss = st.session_state
    if ss.get("app_tab") != TAB_LABELS["teach"] or ss.get("teach_section") != "Classic constructions":
        return ""
    name = ss.get("teach_preset")
    if name == COMPARISON:
        return COMPARISON
    n = ss.get(f"teach_preset_{name}")
    return f"{name}:{n}" if name and n is not None else ""


def _text(name: str, value) -> str:
    if name == "pinned":
        return ";".join(f"{x!r},{y!r}" for x, y in value)
    if name == "show_layers":
        return ",".join(str(v + 1) for v in value)
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


@st.cache_resource(show_spinner=False)
def _example():
    return load(EXAMPLE)


@st.cache_resource(show_spinner=False, max_entries=32)
def _make_dataset(name: str, n_points: int, noise: float, test_fraction: float, seed: int, n_classes: int):
    return make_dataset(name, n_points=n_points, noise=noise, test_fraction=test_fraction, seed=seed,
                        n_classes=n_classes if name in ("spiral", "blobs") else 2)
