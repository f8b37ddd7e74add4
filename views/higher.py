"""The Higher dimensions tab: counting bounds against MIPBound, exact counts and samples, for any input dimension.

The network is the one on screen (2-D, compared with its exact polygon count too), the n-input network
behind a 2-D slice, or one trained here on Gaussian clusters in 2–64 dimensions.  The comparison runs as a
background job (explorer.count.compare.compare_counts) within a time budget, with Stop; the exact count
reports what it found, with its status, when the budget ends first.  The chart and the table export like every
figure and table of the app.
"""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import streamlit as st

from explorer.plot.text import format_count
from explorer.count.compare import CountEntry, compare_counts
from explorer.errors import ExplorerError
from explorer.net import Network
from explorer.plot.charts import count_chart
from explorer.plot.words import KINDS
from explorer.train.data import HALF_WIDTH, make_dataset
from explorer.train.fit import TrainConfig

from . import style
from .context import ViewContext
from .export import figure_export, table_export
from .jobs import Job, adopt_training, show_job, start_training

__all__ = ["render", "SOURCES"]

SOURCES = ("network on screen", "n-input network behind the slice", "train on Gaussian clusters")
N_SAMPLES = 20_000  # points of the sampled lower bound


def render(ctx: ViewContext) -> None:
    """Draw the tab: pick a network and a box, run the comparison, show the chart and table."""
    _adopt_training()
    st.markdown("Compare **upper bounds**, the **MIPBound-style lower bound**, the **exact count** (when it "
                "finishes within the budget) and a **sampled lower bound** for one network on one box.")
    options = [s for s in SOURCES if s != SOURCES[1] or ctx.on_screen.full_net is not None]
    source = st.radio("Network", options, horizontal=True, key="higher_source")
    if source == SOURCES[2]:
        _training_form()
    picked = _picked(ctx, source)
    if picked is None:
        st.info("Train a network on clusters above to compare its counts.")
        return
    net, box, label = picked
    st.caption(f"{label}: {net.architecture}, {net.n_hidden} hidden units, box "
               f"{'×'.join(f'[{lo:g}, {hi:g}]' for lo, hi in box[:3])}{' × …' if len(box) > 3 else ''}")
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


# ---- the network and its box ----------------------------------------------------------------------
def _picked(ctx: ViewContext, source: str) -> tuple[Network, np.ndarray, str] | None:
    shown = ctx.on_screen
    if source == SOURCES[0]:
        return shown.net, np.array(ctx.domain, dtype=float).reshape(2, 2), "network on screen"
    if source == SOURCES[1] and shown.full_net is not None:
        if shown.box is not None:
            return shown.full_net, np.asarray(shown.box, dtype=float), "full network of the slice (box from its file)"
        return shown.full_net, np.tile([-HALF_WIDTH, HALF_WIDTH], (shown.full_net.n_inputs, 1)), \
            f"full network of the slice (box [{-HALF_WIDTH:g}, {HALF_WIDTH:g}] per input: its file has none)"
    trained = st.session_state.get("higher_trained")
    return None if trained is None else (trained.net, trained.box, trained.source)


def _training_form() -> None:
    with st.form("higher_train"):
        cols = st.columns(5)
        dim = cols[0].slider("Input dimension", 2, 64, 8, key="higher_dim")
        classes = cols[1].slider("Clusters", 2, 10, 3, key="higher_classes")
        hidden = cols[2].text_input("Hidden widths", "8, 8", key="higher_hidden")
        epochs = cols[3].number_input("Epochs", 1, 2000, 100, key="higher_epochs")
        seed = cols[4].number_input("Seed", 0, 2**31 - 1, 0, key="higher_seed")
        submitted = st.form_submit_button("Train on clusters")
    if submitted:
        try:
            widths = tuple(int(w) for w in hidden.replace(";", ",").split(",") if w.strip())
            config = TrainConfig(hidden=widths, epochs=int(epochs), seed=int(seed))
            dataset = make_dataset("blobs", n_points=600, noise=0.1, seed=int(seed), dim=int(dim),
                                   n_classes=int(classes))
        except ValueError:
            st.error(f"hidden widths must be whole numbers separated by commas, e.g. 8, 8; got {hidden!r}.")
            return
        except ExplorerError as exc:
            st.error(str(exc))
            return
        start_training("higher_train_job", dataset, config)
    show_job("higher_train_job")


def _adopt_training() -> None:
    try:
        trained = adopt_training("higher_train_job")
    except ExplorerError as exc:
        st.error(str(exc))
        return
    if trained is not None:
        st.session_state["higher_trained"] = trained
        st.session_state["higher_source"] = SOURCES[2]


# ---- the comparison job ----------------------------------------------------------------------------
class _Stopped(Exception):
    """Raised from the progress callback when Stop was clicked: it ends the comparison at once."""


def _compare(job: Job, net: Network, box: np.ndarray, confidence: float, trials: int, budget: float,
             exact: bool, first: tuple) -> tuple[CountEntry, ...]:
    """The entries of :func:`explorer.count.compare.compare_counts` (within the budget), after ``first``;
    only ``first`` if Stop was clicked (the comparison ends at its next progress report)."""
    def progress(fraction: float, message: str) -> None:
        if job.stop_requested:
            raise _Stopped
        job.progress(fraction, message)

    try:
        cmp = compare_counts(net, box, exact=exact, trials=trials, confidence=confidence, time_limit=budget,
                             n_samples=N_SAMPLES, workers=1, progress=progress)
    except _Stopped:
        return first
    return (*first, *cmp.entries)


def _enumeration_entry(ctx: ViewContext) -> CountEntry:
    return CountEntry(name="enumeration", label="exact enumeration of the 2-D polygons", value=ctx.regions.n_regions,
                      kind="exact", status="complete", seconds=ctx.regions.seconds)


# ---- display ---------------------------------------------------------------------------------------
def _results(job: Job, font: int) -> None:
    if job.error:
        st.error(job.error)
        return
    entries = job.result
    if job.stop_requested and not any(e.name != "enumeration" for e in entries):
        st.warning(f"Stopped after {job.seconds:.1f} s, before any count finished.")
        if not entries:
            return
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
