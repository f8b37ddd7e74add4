"""The Higher dimensions tab: counting bounds against MIPBound, exact counts and samples, for any input dimension.

The network is the one on screen (2-D, compared with its exact polygon count too), the n-input network
behind a 2-D slice, or one trained here on Gaussian clusters in 2–64 dimensions.  The comparison runs as a
background job (explorer.count.compare.compare_counts) within a time budget; the exact count reports what it
found, with its status, when the budget ends first.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from explorer.plot import figures
from explorer.plot.text import format_count
from explorer.train.data import make_dataset
from explorer.errors import ExplorerError
from explorer.count.compare import compare_counts
from explorer.net import Network
from explorer.train.fit import TrainConfig, train

from .context import ViewContext
from .jobs import Job, show_job

__all__ = ["render", "SOURCES"]

SOURCES = ("network on screen", "n-input network behind the slice", "train on Gaussian clusters")
N_SAMPLES = 20_000  # points of the sampled lower bound


def render(ctx: ViewContext) -> None:
    """Draw the tab: pick a network and a box, run the comparison, show the chart and table."""
    _adopt_training()
    st.markdown("Compare **upper bounds**, the **MIPBound-style lower bound**, the **exact count** (when it "
                "finishes within the budget) and a **sampled lower bound** for one network on one box.")
    options = [s for s in SOURCES if s != SOURCES[1] or ctx.full_net is not None]
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
        rows = [] if ctx.regions is None or source != SOURCES[0] else [_enumeration_row(ctx)]
        st.session_state["higher_job"] = Job("count comparison", _compare, net=net, box=box, confidence=confidence,
                                             trials=trials, budget=float(budget), exact=exact, rows=rows).start()
    show_job("higher_job", stoppable=False)
    job = st.session_state.get("higher_job")
    if job is not None and job.done:
        _results(job)


# ---- the network and its box ----------------------------------------------------------------------
def _picked(ctx: ViewContext, source: str) -> tuple[Network, np.ndarray, str] | None:
    if source == SOURCES[0]:
        return ctx.net, np.array(ctx.domain, dtype=float).reshape(2, 2), "network on screen"
    if source == SOURCES[1] and ctx.full_net is not None:
        box = ctx.extras.get("file_domain")
        if box is not None:
            return ctx.full_net, np.asarray(box, dtype=float), "full network of the slice (box from its file)"
        return ctx.full_net, np.tile([-3.0, 3.0], (ctx.full_net.n_inputs, 1)), \
            "full network of the slice (box [-3, 3] per input: its file has none)"
    trained = st.session_state.get("higher_trained")
    return None if trained is None else (trained[0], trained[1], trained[2])


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
        st.session_state["higher_train_job"] = Job("training", _train, dataset=dataset, config=config).start()
    show_job("higher_train_job")


def _train(job: Job, dataset, config: TrainConfig):
    def progress(epoch: int, epochs: int, metrics: dict) -> None:
        job.progress(epoch / epochs, f"epoch {epoch}/{epochs} · accuracy {metrics['train_acc']:.0%}")

    return dataset, train(dataset, config, progress=progress, should_stop=lambda: job.stop_requested)


def _adopt_training() -> None:
    job: Job | None = st.session_state.get("higher_train_job")
    if job is None or not job.done:
        return
    del st.session_state["higher_train_job"]
    if job.error:
        st.error(job.error)
        return
    dataset, result = job.result
    st.session_state["higher_trained"] = (result.net, dataset.domain,
                                          f"trained on {dataset.n_classes} clusters in {dataset.dim}-D")
    st.session_state["higher_source"] = SOURCES[2]


# ---- the comparison job ----------------------------------------------------------------------------
def _compare(job: Job, net: Network, box: np.ndarray, confidence: float, trials: int, budget: float,
             exact: bool, rows: list) -> list:
    """Rows of :func:`explorer.count.compare.compare_counts` (within the budget), after the given ``rows``."""
    cmp = compare_counts(net, box, exact=exact, trials=trials, confidence=confidence, time_limit=budget,
                         n_samples=N_SAMPLES, workers=1, progress=job.progress)
    out = list(rows)
    out.append(_row(f"sampled lower bound ({cmp.sampled_points:,} points)", cmp.sampled_lower, "lower",
                    "complete", None))
    out += [_row(u.label, u.value, "upper", u.note or "complete", u.seconds) for u in cmp.upper]
    if cmp.mipbound is not None:
        mb = cmp.mipbound
        out.append(_row(f"{mb.label}, confidence {mb.confidence:.0%}", mb.lower_bound, "lower", mb.status,
                        mb.seconds))
    if cmp.exact is not None:
        ex = cmp.exact
        out.append(_row(f"exact count ({ex.method})" if ex.is_exact else f"regions found by the exact count "
                        f"({ex.method}, stopped)", ex.n_regions, "exact" if ex.is_exact else "lower", ex.status,
                        ex.seconds))
    return out


def _row(label: str, value, kind: str, status: str, seconds: float | None) -> dict:
    return {"label": label, "value": value, "kind": kind, "status": status, "seconds": seconds}


def _enumeration_row(ctx: ViewContext) -> dict:
    return _row("exact enumeration of the 2-D polygons", ctx.regions.n_regions, "exact", "complete",
                ctx.regions.seconds)


# ---- display ---------------------------------------------------------------------------------------
def _results(job: Job) -> None:
    if job.error:
        st.error(job.error)
        return
    rows = job.result
    st.plotly_chart(figures.count_chart(rows), key="higher_chart", theme=None, config={"displaylogo": False})
    st.dataframe(_table(rows), hide_index=True, width="stretch")
    st.caption(f"Finished in {job.seconds:.1f} s. Upper bounds hold for every network of this architecture "
               "(the activation-aware one for this network on this box); lower bounds are certain except "
               "MIPBound's, which holds with the stated confidence.")


def _table(rows: list) -> list[dict]:
    return [{"method": r["label"], "regions": format_count(r["value"]) if r["value"] is not None else "—",
             "kind": r["kind"], "status": r["status"],
             "seconds": None if r["seconds"] is None else round(r["seconds"], 3)} for r in rows]
