"""The Higher dimensions tab: counting bounds against MIPBound, exact counts and samples, for any input dimension.

The network is the one on screen (2-D, compared with its exact polygon count too), the n-input network
behind a 2-D slice (an uploaded CNN included), or one trained here on real data (digits, wine, breast cancer,
iris), the user's CSV/NPZ table or Gaussian clusters, counted on the box of its data.  The comparison runs as a
background job (explorer.count.compare.compare_counts) within a time budget, with Stop; the exact count reports
what it found, with its status, when the budget ends first.  Every result leads with the tightest honest bracket
lower ≤ N ≤ upper, each side with its source and guarantee in plain words; the chart and the table export like
every figure and table of the app.  The same network can be viewed on a slice through three of its data points
(:mod:`views.slice`).
"""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import asdict, dataclass, field

import numpy as np
import streamlit as st

from explorer.plot.text import format_count
from explorer.count.bracket import CERTAIN, EXACT, PROVEN_UPPER, Bound, Bracket
from explorer.count.compare import CountEntry, compare_counts
from explorer.errors import ExplorerError
from explorer.net import Network
from explorer.plot.charts import count_chart
from explorer.plot.words import KINDS
from explorer.train.data import HALF_WIDTH, Dataset, load_dataset, make_dataset, read_table
from explorer.train.fit import TrainConfig

from . import slice as data_slice
from . import style
from .context import ViewContext
from .controls import control
from .export import figure_export, table_export
from .jobs import Job, adopt_training, show_job, start_training

__all__ = ["render", "SOURCES", "VIEWS", "CountResult", "guarantee_words", "table_columns"]

SOURCES = ("network on screen", "n-input network behind the slice", "train a network here")
VIEWS = ("Count regions", "Slice through data points")
N_SAMPLES = 20_000  # points of the sampled lower bound
_SHORT = {"digits": "digits", "wine": "wine", "breast_cancer": "breast cancer", "iris": "iris", "table": "your table",
          "clusters": "clusters"}  # for the Train button
_LABEL_NAMES = ("label", "labels", "target", "class", "y", "species", "diagnosis")  # a label column's usual names


@dataclass(frozen=True)
class CountResult:
    """What the comparison job returns: every number (entries) and the tightest honest bracket they give."""

    entries: tuple
    bracket: Bracket


@dataclass(frozen=True, kw_only=True)
class _Table:
    """The user's uploaded table: its upload id, bytes, kind ("csv" or "npz") and label column (None: the default)."""

    file_id: str
    data: bytes = field(repr=False)
    kind: str
    label: str | None

    def dataset(self, seed: int) -> Dataset:
        """The table as a Dataset split with ``seed`` (parsed once per upload, label and seed)."""
        return _table(self.file_id, self.data, self.kind, self.label, seed)


@dataclass(frozen=True)
class _Picked:
    """The network counted or sliced: its box, a one-line description and its data (with where it comes from)."""

    net: Network
    box: np.ndarray
    label: str
    data: tuple | None = None  # (Dataset, where it comes from), as views.slice.dataset_for gives it


def render(ctx: ViewContext) -> None:
    """Draw the tab: pick a network and a box, then count its regions or slice it through data points."""
    _adopt_training()
    st.markdown("Compare **upper bounds**, the **MIPBound-style lower bound**, the **exact count** (when it "
                "finishes within the budget) and a **sampled lower bound** for one network on one box, or see "
                "it on the plane through three data points.")
    options = [s for s in SOURCES if s != SOURCES[1] or ctx.on_screen.full_net is not None]
    if st.session_state.get("higher_source") not in options:
        st.session_state.pop("higher_source", None)
    source = st.radio("Network", options, horizontal=True, key="higher_source")
    if source == SOURCES[2]:
        _training_form()
    picked = _picked(ctx, source)
    if picked is None:
        st.info("Train a network above to count its regions.")
        return
    net, box = picked.net, picked.box
    st.caption(f"{picked.label}: {net.architecture}, {net.n_hidden} hidden units, box "
               f"{'×'.join(f'[{lo:g}, {hi:g}]' for lo, hi in box[:3])}{' × …' if len(box) > 3 else ''}")
    if st.radio("View", VIEWS, horizontal=True, key="higher_view") == VIEWS[1]:
        _slice_view(picked)
        return
    cols = st.columns(4)
    confidence = cols[0].slider("MIPBound confidence", 0.5, 0.99, 0.95, 0.01, key="higher_confidence")
    trials = cols[1].slider("MIPBound trials", 3, 30, 10, key="higher_trials")
    budget = cols[2].slider("Time budget (s)", 5, 300, 30, step=5, key="higher_budget")
    exact = cols[3].checkbox("Exact count", True, key="higher_exact", help="LP subdivision, within the budget")
    job: Job | None = st.session_state.get("higher_job")
    running = job is not None and not job.done
    if st.button("Compare counts", type="primary", disabled=running):
        first = () if ctx.regions is None or source != SOURCES[0] else (_enumeration_entry(ctx),)
        st.session_state["higher_job"] = Job("count comparison", _compare, net=net, box=box, confidence=confidence,
                                             trials=trials, budget=float(budget), exact=exact, first=first).start()
    show_job("higher_job")
    job = st.session_state.get("higher_job")
    if job is not None and job.done:
        _results(job, style.figure_font(ctx.classroom))


def _slice_view(picked: _Picked) -> None:
    if picked.net.n_inputs == 2:
        st.info("This network has 2 inputs: its plane is the input space itself, drawn exactly in Explore. "
                "Slices through data points are for networks with more inputs.")
    elif picked.data is None:
        st.info(f"No data matches this {picked.net.n_inputs}-input network, so there are no samples to slice "
                "through. Train a network here, or upload one trained on digits (1×8×8 or 64 inputs).")
    else:
        data_slice.render(picked.net, picked.data)


# ---- the network and its box ----------------------------------------------------------------------
def _picked(ctx: ViewContext, source: str) -> _Picked | None:
    shown = ctx.on_screen
    if source == SOURCES[0]:
        return _Picked(shown.net, np.array(ctx.domain, dtype=float).reshape(2, 2), "network on screen")
    if source == SOURCES[1] and shown.full_net is not None:
        data = data_slice.dataset_for(shown.full_net, shown.provenance, shown.train_dataset)
        if shown.box is not None:
            where = shown.provenance.get("box_source", "box from its file")
            return _Picked(shown.full_net, np.asarray(shown.box, dtype=float), f"full network of the slice ({where})",
                           data)
        return _Picked(shown.full_net, np.tile([-HALF_WIDTH, HALF_WIDTH], (shown.full_net.n_inputs, 1)),
                       f"full network of the slice (box [{-HALF_WIDTH:g}, {HALF_WIDTH:g}] per input: its file has "
                       "none)", data)
    trained = st.session_state.get("higher_trained")
    if trained is None:
        return None
    return _Picked(trained.net, trained.box, trained.source,
                   data_slice.dataset_for(trained.net, trained.provenance, trained.train_dataset))


def _training_form() -> None:
    with st.expander("Data and training", expanded="higher_trained" not in st.session_state):
        _training_controls()
    show_job("higher_train_job")


def _training_controls() -> None:
    data = control("higher_data")
    table = _table_input() if data == "table" else None
    with st.form("higher_train"):
        cols = st.columns(5 if data == "clusters" else 3)
        if data == "clusters":
            dim = cols[3].slider("Input dimension", 2, 64, 8, key="higher_dim")
            classes = cols[4].slider("Clusters", 2, 10, 3, key="higher_classes")
        hidden = cols[0].text_input("Hidden widths", "8, 8", key="higher_hidden")
        epochs = cols[1].number_input("Epochs", 1, 2000, 100, key="higher_epochs")
        seed = cols[2].number_input("Seed", 0, 2**31 - 1, 0, key="higher_seed",
                                    help="Seeds the train/test split and the training.")
        submitted = st.form_submit_button(f"Train on {_SHORT[data]}", disabled=data == "table" and table is None)
    if submitted:
        try:
            widths = tuple(int(w) for w in hidden.replace(";", ",").split(",") if w.strip())
            config = TrainConfig(hidden=widths, epochs=int(epochs), seed=int(seed))
            if data == "clusters":
                dataset = make_dataset("blobs", n_points=600, noise=0.1, seed=int(seed), dim=int(dim),
                                       n_classes=int(classes))
            elif data == "table":
                dataset = table.dataset(int(seed))
            else:
                dataset = _real(data, int(seed))
        except ValueError:
            st.error(f"hidden widths must be whole numbers separated by commas, e.g. 8, 8; got {hidden!r}.")
            return
        except ExplorerError as exc:
            st.error(str(exc))
            return
        start_training("higher_train_job", dataset, config)


def _table_input() -> _Table | None:
    """The uploader and label column of the user's table; the table once it reads, else None (with one message
    saying why)."""
    upload = st.file_uploader("Your table: a CSV with a header row, or an NPZ (arrays x and y, or one 2-D array)",
                              type=["csv", "npz"], key="higher_table_file",
                              help="Numeric feature columns and one label column (text or numbers).")
    if upload is None:
        st.caption("Upload a table to train on it; features are scaled to [0, 1] and counted on [0, 1]^n.")
        return None
    data, kind = upload.getvalue(), "npz" if upload.name.lower().endswith(".npz") else "csv"
    columns = table_columns(data, kind)
    label = None
    if columns:
        if st.session_state.get("higher_label") not in columns:
            st.session_state["higher_label"] = _default_label(columns)
        label = st.selectbox("Label column", columns, key="higher_label")
    table = _Table(file_id=upload.file_id, data=data, kind=kind, label=label)
    try:
        dataset = table.dataset(0)
    except ExplorerError as exc:
        st.error(f"{upload.name}: {exc}")
        return None
    st.caption(f"{upload.name}: {len(dataset.x_train) + len(dataset.x_test):,} rows, {dataset.dim} features, "
               f"{dataset.n_classes} classes; each feature scaled to [0, 1].")
    return table


def table_columns(data: bytes, kind: str) -> tuple[str, ...]:
    """The columns a label can be chosen from: a CSV's header row (or "0", "1", … when its first row holds numbers
    only), a single-array NPZ's column numbers; () when there is no choice (an NPZ with arrays x and y) or the
    file cannot be read (read_table then says why)."""
    if kind == "npz":
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                if {"x.npy", "y.npy"} <= set(zf.namelist()):
                    return ()
            names = read_table(data, kind="npz").feature_names  # the last column is the label by default
        except (ExplorerError, zipfile.BadZipFile):
            return ()
        return (*names, str(len(names)))
    try:
        head = data[:1 << 20].decode("utf-8-sig")
    except UnicodeDecodeError:
        head = ""
    try:
        first = next((row for row in csv.reader(io.StringIO(head)) if any(c.strip() for c in row)), None)
    except csv.Error:
        first = None
    if not first:
        return ()
    if all(_is_number(c) for c in first):
        return tuple(str(i) for i in range(len(first)))
    return tuple(c.strip() for c in first)


def _adopt_training() -> None:
    try:
        trained = adopt_training("higher_train_job")
    except ExplorerError as exc:
        st.error(str(exc))
        return
    if trained is not None:
        st.session_state["higher_trained"] = trained
        st.session_state["higher_source"] = SOURCES[2]


def _real(name: str, seed: int) -> Dataset:
    return _cached_real(name, seed)


@st.cache_resource(show_spinner=False, max_entries=8)
def _cached_real(name: str, seed: int) -> Dataset:
    return load_dataset(name, test_fraction=0.2, seed=seed)


@st.cache_resource(show_spinner=False, max_entries=4)
def _table(file_id: str, _data: bytes, kind: str, label: str | None, seed: int) -> Dataset:
    """The uploaded table as a Dataset, parsed once per (upload, label column, seed); bad files raise each time."""
    return read_table(_data, kind=kind, label=label, test_fraction=0.2, seed=seed)


def _default_label(columns: tuple[str, ...]) -> str:
    return next((c for c in columns if c.strip().lower() in _LABEL_NAMES), columns[-1])


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ---- the comparison job ----------------------------------------------------------------------------
class _Stopped(Exception):
    """Raised from the progress callback when Stop was clicked: it ends the comparison at once."""


def _compare(job: Job, net: Network, box: np.ndarray, confidence: float, trials: int, budget: float,
             exact: bool, first: tuple) -> CountResult:
    """The entries of :func:`explorer.count.compare.compare_counts` (within the budget) after ``first``, and the
    bracket (exact when ``first`` holds the exact enumeration of the 2-D polygons); only ``first`` if Stop was
    clicked (the comparison ends at its next progress report)."""
    def progress(fraction: float, message: str) -> None:
        if job.stop_requested:
            raise _Stopped
        job.progress(fraction, message)

    bracket = None
    try:
        cmp = compare_counts(net, box, exact=exact, trials=trials, confidence=confidence, time_limit=budget,
                             n_samples=N_SAMPLES, workers=1, progress=progress)
        entries, bracket = (*first, *cmp.entries), cmp.bracket
    except _Stopped:
        entries = first
    if first:
        count = Bound(value=first[0].value, source=first[0].label, guarantee=EXACT)
        bracket = Bracket(lower=count, upper=count)
    return CountResult(entries=entries, bracket=bracket)


def _enumeration_entry(ctx: ViewContext) -> CountEntry:
    return CountEntry(name="enumeration", label="exact enumeration of the 2-D polygons", value=ctx.regions.n_regions,
                      kind="exact", status="complete", seconds=ctx.regions.seconds)


# ---- display ---------------------------------------------------------------------------------------
def guarantee_words(guarantee: str) -> tuple[str, str]:
    """(a word or two, one plain sentence) for a bound's guarantee (explorer.count.bracket)."""
    if guarantee == EXACT:
        return "exact", "Every region was counted."
    if guarantee == CERTAIN:
        return "certain", "This many different regions were found, so there are at least this many."
    if guarantee == PROVEN_UPPER:
        return "proven", "A theorem guarantees there are no more regions than this."
    if guarantee.startswith("probabilistic"):
        level = guarantee.rpartition("confidence")[2].strip()
        try:
            shown = f"{float(level):.0%}"
        except ValueError:
            shown = level or "stated"
        return f"{shown} confidence", (f"An estimate from random parity constraints (MIPBound): it is at most the "
                                       f"true count with probability {shown} or more.")
    return guarantee, ""


def _bracket(bracket: Bracket) -> None:
    """One line per number: the lower side, the upper side, how far apart they are; details behind '?'."""
    low, up = bracket.lower, bracket.upper
    if bracket.is_exact:
        st.metric("regions · exact", format_count(low.value), help=f"{low.source}. {guarantee_words(EXACT)[1]}")
        return
    cols = st.columns(3)
    word, sentence = guarantee_words(low.guarantee)
    cols[0].metric(f"at least · {word}", format_count(low.value), help=f"From the {low.source}. {sentence}")
    if up is None:
        cols[1].metric("at most", "no bound", help="No upper bound applies to this network.")
        return
    word, sentence = guarantee_words(up.guarantee)
    cols[1].metric(f"at most · {word}", format_count(up.value), help=f"From the {up.source}. {sentence}")
    gap = bracket.orders_of_magnitude
    cols[2].metric("gap · orders of magnitude", f"{gap:.1f}",
                   help=f"upper / lower = 10^{gap:.2f}: how far the two sides still are from each other. "
                        f"In one line: {bracket.text()}")


def _results(job: Job, font: int) -> None:
    if job.error:
        st.error(job.error)
        return
    result: CountResult = job.result
    entries = result.entries
    if job.stop_requested and not any(e.name != "enumeration" for e in entries):
        st.warning(f"Stopped after {job.seconds:.1f} s, before any count finished.")
        if not entries:
            return
    if result.bracket is not None:
        _bracket(result.bracket)
    fig = count_chart([asdict(e) for e in entries])
    fig.update_layout(font_size=font)
    st.plotly_chart(fig, key="higher_chart", theme=None, config={"displaylogo": False})
    rows = [{"method": e.label, "regions": format_count(e.value) if e.value is not None else "—",
             "kind of number": KINDS.get(e.kind, e.kind), "status": e.status,
             "seconds": "—" if e.seconds is None else f"{e.seconds:.3g}"} for e in entries]
    st.dataframe(rows, hide_index=True, width="stretch")
    a, b = st.columns(2)
    with a:
        figure_export(fig, "region_counts", key="higher_chart", width_in=6.0, height_in=3.0)
    with b:
        table_export([asdict(e) for e in entries], "region_counts", key="higher_table")
    st.caption(f"Finished in {job.seconds:.1f} s (wall time). Upper bounds hold for every network of this "
               "architecture (the activation-aware one for this network on this box); lower bounds are certain "
               "except MIPBound's, which holds with the stated confidence.")
