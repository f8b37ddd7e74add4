"""The sidebar: dataset, architecture and training (live progress and Stop), load / save, view options.

:func:`render` also builds the :class:`~views.context.ViewContext` every tab receives.  Settings and the
network on screen live in :mod:`views.session`; training runs as a background :class:`~views.jobs.Job`
whose result replaces the network when it ends (Stop keeps the partial network).
"""

from __future__ import annotations

import streamlit as st

from explorer.plot import figures
from explorer.train.data import DATASETS, Dataset
from explorer.errors import ExplorerError
from explorer.plane.regions import RegionLimitError
from explorer.train.fit import OPTIMIZERS, TrainConfig, train, training_provenance

from . import files, session
from .context import ViewContext, get_regions, net_key
from .jobs import Job, show_job
from .session import LEARNING_RATES, Model, settings

__all__ = ["context", "progress", "render"]

_ACTIVATIONS = {"relu": "ReLU", "leaky_relu": "LeakyReLU"}


def context() -> ViewContext:
    """Start or continue the session (example, link, upload, finished training) and build the context every
    tab receives, from the settings in session state; call :func:`render` afterwards to draw the controls."""
    session.init()
    if st.session_state.pop("url_train", False):
        _start_training()
    pending = st.session_state.pop("load_pending", None)
    if pending is not None:
        files.load_upload(pending[1], pending[0])
    _adopt_training()
    n_layers = len(st.session_state["model"].net.hidden_widths)
    st.session_state["s_show_layers"] = [l for l in st.session_state["s_show_layers"] if l < n_layers]
    return _context()


def progress() -> None:
    """While training runs: progress bar, live loss and accuracy, and Stop (drawn where it is called)."""
    show_job("train_job", extra=_live_curves)


def render() -> None:
    """Draw the sidebar's controls (after the tabs, so that the map reaches the browser first)."""
    classroom = bool(st.session_state["s_classroom"])
    with st.sidebar:
        for warning in st.session_state.pop("url_warnings", []):
            st.warning(f"Link: {warning}")
        model: Model = st.session_state["model"]
        st.markdown(f"### {model.net.architecture if model.full_net is None else model.full_net.architecture}")
        st.caption(model.source)
        with st.expander("Data", expanded=not classroom):
            _data_controls(classroom)
        with st.expander("Network and training", expanded=True):
            _training_controls(classroom)
        with st.expander("Load and save", expanded=False):
            files.controls()
        with st.expander("View", expanded=not classroom):
            _view_controls(model, classroom)
        st.toggle("Classroom mode", key="s_classroom", help="Hide the controls a demonstration does not need.")


# ---- context --------------------------------------------------------------------------------------
def _context() -> ViewContext:
    model: Model = st.session_state["model"]
    domain = session.domain()
    dataset = session.dataset() if model.full_net is None and st.session_state["s_show_data"] else None
    regions, note = None, ""
    try:
        regions = get_regions(model.net, domain, max_regions=int(st.session_state["s_max_regions"]))
    except RegionLimitError as exc:
        note = str(exc)
    return ViewContext(net=model.net, domain=domain, regions=regions, dataset=dataset,
                       train_result=model.train_result, provenance=model.provenance, source=model.source,
                       classroom=bool(st.session_state["s_classroom"]), full_net=model.full_net,
                       regions_note=note, extras={"anchors": model.anchors, "net_key": net_key(model.net),
                                                  "file_domain": model.file_domain,
                                                  "train_dataset": model.dataset})


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
        st.caption("Training… progress, live loss and accuracy, and Stop are shown above the tabs.")


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
        dataset, config = session.dataset(), _config()
    except ExplorerError as exc:
        st.session_state["train_message"] = ("error", str(exc))
        return
    st.session_state["train_job"] = Job("training", _train, dataset=dataset, config=config).start()


def _train(job: Job, dataset: Dataset, config: TrainConfig) -> tuple:
    def progress(epoch: int, epochs: int, metrics: dict) -> None:
        job.progress(epoch / epochs, f"epoch {epoch}/{epochs} · loss {metrics['loss']:.3f} · accuracy "
                                     f"{metrics['train_acc']:.0%}")
        job.report({"epoch": epoch, **metrics})

    return dataset, config, train(dataset, config, progress=progress, should_stop=lambda: job.stop_requested)


def _live_curves(job: Job) -> None:
    if job.points:
        history = {k: [p.get(k) for p in job.points] for k in ("epoch", "loss", "test_loss", "train_acc", "test_acc")}
        st.plotly_chart(figures.training_figure(history), config={"displayModeBar": False})


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


# ---- load, save and slices ------------------------------------------------------------------------
# ---- view -----------------------------------------------------------------------------------------
def _view_controls(model: Model, classroom: bool) -> None:
    st.selectbox("Colour regions by", figures.COLOR_BY, key="s_color_by")
    n_layers = len(model.net.hidden_widths)
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
