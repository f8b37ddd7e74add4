"""The sidebar: dataset, architecture and training (with live progress and Stop), load / save, view options.

All settings live in ``st.session_state`` under ``"s_" + name`` (names as in ``SETTINGS``), so one place
maps them to and from the shareable URL state.  The network on screen is a :class:`Model` under
``"model"``.  Uploads go through :func:`load_upload`, both from the uploader's callback and from the
``"load_pending"`` hook (``(filename, bytes)``) that tests use.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import streamlit as st

from explorer import figures
from explorer.data import DATASETS, HALF_WIDTH, Dataset, make_dataset
from explorer.errors import ExplorerError
from explorer.io import checkpoint_bytes, load
from explorer.net import Network
from explorer.regions import RegionLimitError, plane_through
from explorer.train import OPTIMIZERS, TrainConfig, TrainResult, train, training_provenance

from .context import MAX_REGIONS, ViewContext, get_regions, net_key
from .jobs import Job

__all__ = ["Model", "SETTINGS", "render", "load_upload", "settings", "apply_settings", "EXAMPLE"]

EXAMPLE = Path(__file__).resolve().parent.parent / "assets" / "moons_2x16.pt"
LEARNING_RATES = (1e-5, 1e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # TF Playground's values
SETTINGS = {  # name -> default; widget keys are "s_" + name
    "dataset": "moons", "n_points": 500, "noise": 0.1, "test_fraction": 0.2, "seed": 0, "n_classes": 2,
    "layers": 2, **{f"units_{i}": 16 for i in range(6)}, "activation": "relu", "alpha": 0.01,
    "optimizer": "adam", "lr": 0.01, "epochs": 200, "batch_size": 64, "weight_decay": 0.0,
    "color_by": "region", "palette": "okabe-ito", "show_layers": [], "show_decision": True, "show_data": True,
    "show_test": False, "xmin": -HALF_WIDTH, "xmax": HALF_WIDTH, "ymin": -HALF_WIDTH, "ymax": HALF_WIDTH,
    "max_regions": MAX_REGIONS, "classroom": False, "radius": 0.5, "norm": "2", "certifier": "symbolic",
}
_ACTIVATIONS = {"relu": "ReLU", "leaky_relu": "LeakyReLU"}
_STATE_DICT_ACTIVATIONS = ("auto", "relu", "leaky_relu:0.01", "leaky_relu:0.1", "leaky_relu:0.2")


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


def render() -> ViewContext:
    """Draw the sidebar and return the context every tab receives."""
    _init()
    pending = st.session_state.pop("load_pending", None)
    if pending is not None:
        load_upload(pending[1], pending[0])
    _adopt_training()
    classroom = bool(st.session_state["s_classroom"])
    with st.sidebar:
        model: Model = st.session_state["model"]
        st.markdown(f"### {model.net.architecture if model.full_net is None else model.full_net.architecture}")
        st.caption(model.source)
        with st.expander("Data", expanded=not classroom):
            _data_controls(classroom)
        with st.expander("Network and training", expanded=True):
            _training_controls(classroom)
        with st.expander("Load and save", expanded=False):
            _load_save_controls()
        with st.expander("View", expanded=not classroom):
            _view_controls(st.session_state["model"], classroom)
        st.toggle("Classroom mode", key="s_classroom", help="Hide the controls a demonstration does not need.")
    return _context()


def settings() -> dict:
    """The current value of every setting (name -> value)."""
    return {name: st.session_state.get(f"s_{name}", default) for name, default in SETTINGS.items()}


def apply_settings(values: dict) -> None:
    """Set settings by name (unknown names are ignored); call before the widgets are drawn."""
    for name, value in values.items():
        if name in SETTINGS:
            st.session_state[f"s_{name}"] = value


def load_upload(data: bytes, filename: str) -> None:
    """Open an uploaded network file and put it on screen; a bad file leaves a message and the old network.

    Networks with more than 2 inputs are shown as the 2-D slice through three points (p0 = the centre
    of their box or the origin, p1 = p0 + e1, p2 = p0 + e2), which the Load section lets the user change.
    """
    st.session_state.pop("load_error", None)
    st.session_state.pop("load_info", None)
    choice = st.session_state.get("load_activation", "auto")
    try:
        ckpt = load(data, filename=filename, activation=None if choice == "auto" else choice)
        provenance = {**ckpt.provenance, "file": filename}
        net, n0 = ckpt.net, ckpt.net.n_inputs
        if n0 < 2:
            raise ExplorerError(f"{filename} takes {n0} input; the region map needs 2 inputs (or more, "
                                "through a 2-D slice).")
        if n0 == 2:
            st.session_state["model"] = Model(net, f"uploaded: {filename}", provenance, ckpt.domain)
            if ckpt.domain is not None:
                apply_settings(dict(zip(("xmin", "xmax", "ymin", "ymax"), ckpt.domain.reshape(-1).tolist())))
            data_settings = provenance.get("dataset")
            if isinstance(data_settings, dict) and data_settings.get("dim", 2) == 2:
                apply_settings({k: data_settings[k] for k in ("n_points", "noise", "test_fraction", "seed",
                                                              "n_classes") if k in data_settings}
                               | ({"dataset": data_settings["name"]} if "name" in data_settings else {}))
            return
        centre = ckpt.domain.mean(axis=1) if ckpt.domain is not None else np.zeros(n0)
        eye = np.eye(n0)
        points = (centre, centre + eye[0], centre + eye[1])
        _set_slice(Model(net, f"uploaded: {filename}", provenance, ckpt.domain, full_net=net), points)
        st.session_state["load_info"] = (
            f"{filename} takes {n0} inputs, so the map shows the 2-D slice through p0, p1, p2 "
            f"({', '.join(_fmt(p) for p in points)}); change the points under Load and save.")
    except ExplorerError as exc:
        st.session_state["load_error"] = str(exc)


# ---- session --------------------------------------------------------------------------------------
def _init() -> None:
    ss = st.session_state
    for name, default in SETTINGS.items():
        key = f"s_{name}"
        ss[key] = ss[key] if key in ss else default  # re-assigning keeps values of hidden widgets
    if "model" not in ss:
        ckpt = _example()
        d = ckpt.provenance.get("dataset", {})
        apply_settings({"dataset": d.get("name", "moons"), **{k: d[k] for k in ("n_points", "noise",
                        "test_fraction", "seed", "n_classes") if k in d}})
        hidden = ckpt.net.hidden_widths
        apply_settings({"layers": len(hidden), **{f"units_{i}": w for i, w in enumerate(hidden)}})
        ss["model"] = Model(ckpt.net, f"example network ({d.get('name', 'moons')}, {ckpt.net.architecture})",
                            ckpt.provenance, ckpt.domain)


@st.cache_resource(show_spinner=False)
def _example():
    return load(EXAMPLE)


@st.cache_resource(show_spinner=False, max_entries=32)
def _make_dataset(name: str, n_points: int, noise: float, test_fraction: float, seed: int, n_classes: int):
    return make_dataset(name, n_points=n_points, noise=noise, test_fraction=test_fraction, seed=seed,
                        n_classes=n_classes if name in ("spiral", "blobs") else 2)


def _dataset() -> Dataset:
    s = settings()
    return _make_dataset(s["dataset"], int(s["n_points"]), float(s["noise"]), float(s["test_fraction"]),
                         int(s["seed"]), int(s["n_classes"]))


def _domain() -> tuple[float, float, float, float]:
    s = settings()
    box = tuple(float(s[k]) for k in ("xmin", "xmax", "ymin", "ymax"))
    if not (box[0] < box[1] and box[2] < box[3]):
        raise ExplorerError(f"the map's domain needs xmin < xmax and ymin < ymax; got x from {box[0]} to "
                            f"{box[1]} and y from {box[2]} to {box[3]}. Fix it under View.")
    return box


def _context() -> ViewContext:
    model: Model = st.session_state["model"]
    domain = _domain()
    dataset = _dataset() if model.full_net is None and st.session_state["s_show_data"] else None
    regions, note = None, ""
    try:
        regions = get_regions(model.net, domain, max_regions=int(st.session_state["s_max_regions"]))
    except RegionLimitError as exc:
        note = str(exc)
    return ViewContext(net=model.net, domain=domain, regions=regions, dataset=dataset,
                       train_result=model.train_result, provenance=model.provenance, source=model.source,
                       classroom=bool(st.session_state["s_classroom"]), full_net=model.full_net,
                       regions_note=note, extras={"anchors": model.anchors, "net_key": net_key(model.net)})


# ---- data and training ----------------------------------------------------------------------------
def _data_controls(classroom: bool) -> None:
    st.selectbox("Dataset", DATASETS, key="s_dataset")
    if st.session_state["s_dataset"] in ("spiral", "blobs"):
        st.slider("Classes", 2, 10, key="s_n_classes")
    st.slider("Noise", 0.0, 0.5, step=0.05, key="s_noise")
    if not classroom:
        st.slider("Number of points", 20, 2000, step=20, key="s_n_points")
        st.slider("Test share", 0.0, 0.9, step=0.1, key="s_test_fraction")
        st.number_input("Seed", 0, 2**31 - 1, step=1, key="s_seed")


def _training_controls(classroom: bool) -> None:
    st.slider("Hidden layers", 1, 6, key="s_layers")
    cols = st.columns(3)
    for i in range(int(st.session_state["s_layers"])):
        cols[i % 3].number_input(f"Layer {i + 1}", 1, 128, step=1, key=f"s_units_{i}")
    st.radio("Activation", tuple(_ACTIVATIONS), format_func=_ACTIVATIONS.get, horizontal=True, key="s_activation")
    if st.session_state["s_activation"] == "leaky_relu":
        st.slider("LeakyReLU slope α", 0.01, 0.5, step=0.01, key="s_alpha")
    st.select_slider("Learning rate", LEARNING_RATES, key="s_lr")
    st.number_input("Epochs", 1, 10_000, step=50, key="s_epochs")
    if not classroom:
        st.selectbox("Optimiser", OPTIMIZERS, key="s_optimizer")
        st.number_input("Batch size", 1, 4096, step=8, key="s_batch_size")
        st.number_input("Weight decay", 0.0, 1.0, step=1e-4, format="%.4f", key="s_weight_decay")
    job: Job | None = st.session_state.get("train_job")
    st.button("Train", type="primary", on_click=_start_training, disabled=job is not None and not job.done,
              width="stretch")
    message = st.session_state.get("train_message")
    if message:
        (st.error if message[0] == "error" else st.success)(message[1])
    if job is not None and not job.done:
        st.fragment(_training_progress, run_every=0.5)()


def _config() -> TrainConfig:
    s = settings()
    hidden = tuple(int(s[f"units_{i}"]) for i in range(int(s["layers"])))
    epochs = int(s["epochs"])
    return TrainConfig(hidden=hidden, activation=s["activation"],
                       alpha=float(s["alpha"]) if s["activation"] == "leaky_relu" else 0.0,
                       optimizer=s["optimizer"], lr=float(s["lr"]), epochs=epochs, batch_size=int(s["batch_size"]),
                       weight_decay=float(s["weight_decay"]), seed=int(s["seed"]),
                       snapshot_every=max(1, epochs // 10))


def _start_training() -> None:
    st.session_state.pop("train_message", None)
    try:
        dataset, config = _dataset(), _config()
    except ExplorerError as exc:
        st.session_state["train_message"] = ("error", str(exc))
        return
    st.session_state["train_job"] = Job("training", _train, dataset=dataset, config=config).start()


def _train(job: Job, dataset: Dataset, config: TrainConfig) -> tuple:
    def progress(epoch: int, epochs: int, metrics: dict) -> None:
        job.progress(epoch / epochs, f"epoch {epoch}/{epochs}")
        job.report({"epoch": epoch, **metrics})

    return dataset, config, train(dataset, config, progress=progress, should_stop=lambda: job.stop_requested)


def _training_progress() -> None:
    job: Job | None = st.session_state.get("train_job")
    if job is None:
        return
    if job.done:
        st.rerun()
    last = job.points[-1] if job.points else {}
    text = job.message + (f" · loss {last['loss']:.3f} · accuracy {last['train_acc']:.0%}" if last else "")
    st.progress(job.fraction, text=text)
    if job.points:
        history = {k: [p.get(k) for p in job.points] for k in ("epoch", "loss", "test_loss", "train_acc", "test_acc")}
        st.plotly_chart(figures.training_figure(history), config={"displayModeBar": False})
    st.button("Stop", on_click=job.stop, disabled=job.stop_requested, width="stretch")


def _adopt_training() -> None:
    job: Job | None = st.session_state.get("train_job")
    if job is None or not job.done:
        return
    del st.session_state["train_job"]
    if job.error:
        st.session_state["train_message"] = ("error", job.error)
        return
    dataset, config, result = job.result
    epochs = result.history["epoch"][-1] if result.history["epoch"] else 0
    what = (f"stopped after epoch {epochs}: showing the partial network" if result.stopped
            else f"trained {epochs} epochs in {result.seconds:.1f} s")
    acc = result.history["test_acc"][-1] if result.history["test_acc"] and result.history["test_acc"][-1] is not None \
        else (result.history["train_acc"][-1] if result.history["train_acc"] else None)
    st.session_state["train_message"] = ("ok", what + (f" · accuracy {acc:.0%}" if acc is not None else ""))
    st.session_state["model"] = Model(result.net, f"trained on {dataset.name} ({what})",
                                      training_provenance(dataset, config, result), dataset.domain,
                                      train_result=result, dataset=dataset)
    apply_settings(dict(zip(("xmin", "xmax", "ymin", "ymax"), dataset.domain.reshape(-1).tolist())))


# ---- load, save and slices ------------------------------------------------------------------------
def _on_upload() -> None:
    upload = st.session_state.get("load_file")
    if upload is not None:
        load_upload(upload.getvalue(), upload.name)


def _load_save_controls() -> None:
    st.file_uploader("Upload a network (.pt, TorchScript, ONNX)", key="load_file", on_change=_on_upload)
    st.selectbox("Activation of state_dict files", _STATE_DICT_ACTIVATIONS, key="load_activation",
                 help="Only state_dicts lack it; other formats record their own.")
    if "load_error" in st.session_state:
        st.error(st.session_state["load_error"])
    if "load_info" in st.session_state:
        st.info(st.session_state["load_info"])
    model: Model = st.session_state["model"]
    if model.full_net is not None:
        n0 = model.full_net.n_inputs
        st.caption(f"2-D slice of the {n0}-input network through three points (comma-separated, {n0} numbers).")
        for name in ("p0", "p1", "p2"):
            st.text_input(name, key=f"slice_{name}")
        st.button("Show this slice", on_click=_apply_slice_inputs)
        if "slice_error" in st.session_state:
            st.error(st.session_state["slice_error"])
    original = model.full_net or model.net
    st.download_button("Download the network (.pt)", data=_checkpoint(model), mime="application/octet-stream",
                       file_name=f"network_{original.architecture}.pt", width="stretch",
                       help="The explorer's checkpoint: weights, domain and how the network was made. "
                            "Reload it here or read it with torch.load(path, weights_only=True).")


def _checkpoint(model: Model) -> bytes:
    net = model.full_net or model.net
    return _checkpoint_bytes(net_key(net), net, model.file_domain, model.provenance)


@st.cache_resource(show_spinner=False, max_entries=8)
def _checkpoint_bytes(key: str, _net: Network, _domain, _provenance: dict) -> bytes:
    return checkpoint_bytes(_net, domain=_domain, provenance=_provenance)


def _set_slice(model: Model, points) -> None:
    plane = plane_through(model.full_net, *points)
    st.session_state["model"] = replace(model, net=plane.net, anchors=plane.anchors)
    for name, p in zip(("p0", "p1", "p2"), points):
        st.session_state[f"slice_{name}"] = _fmt(p)
    apply_settings({"xmin": -HALF_WIDTH, "xmax": HALF_WIDTH, "ymin": -HALF_WIDTH, "ymax": HALF_WIDTH})


def _apply_slice_inputs() -> None:
    st.session_state.pop("slice_error", None)
    model: Model = st.session_state["model"]
    try:
        points = [_parse_vector(st.session_state[f"slice_{n}"], model.full_net.n_inputs, n) for n in ("p0", "p1", "p2")]
        _set_slice(model, points)
    except ExplorerError as exc:
        st.session_state["slice_error"] = str(exc)


def _parse_vector(text: str, n: int, name: str) -> np.ndarray:
    try:
        values = np.array([float(v) for v in str(text).replace(";", ",").split(",") if v.strip()])
    except ValueError:
        raise ExplorerError(f"{name} must be {n} numbers separated by commas; got {text!r}.") from None
    if values.shape != (n,) or not np.isfinite(values).all():
        raise ExplorerError(f"{name} must be {n} finite numbers separated by commas; got {len(values)}.")
    return values


def _fmt(p) -> str:
    return ", ".join(f"{v:g}" for v in np.asarray(p, dtype=float))


# ---- view -----------------------------------------------------------------------------------------
def _view_controls(model: Model, classroom: bool) -> None:
    st.selectbox("Colour regions by", figures.COLOR_BY, key="s_color_by")
    n_layers = len(model.net.hidden_widths)
    st.session_state["s_show_layers"] = [l for l in st.session_state["s_show_layers"] if l < n_layers]
    st.multiselect("Neuron boundaries of layer", list(range(n_layers)), format_func=lambda l: f"layer {l + 1}",
                   key="s_show_layers")
    st.checkbox("Decision boundary", key="s_show_decision")
    st.checkbox("Data points", key="s_show_data")
    if not classroom:
        st.checkbox("Test points", key="s_show_test")
        st.selectbox("Palette", tuple(figures.PALETTES), key="s_palette",
                     help="okabe-ito and tol-light are colour-blind safe.")
        cols = st.columns(2)
        for i, k in enumerate(("xmin", "xmax", "ymin", "ymax")):
            cols[i % 2].number_input(k, step=0.5, key=f"s_{k}")
        st.number_input("Region budget", 1_000, 1_000_000, step=10_000, key="s_max_regions",
                        help="Enumeration stops beyond this many regions.")
