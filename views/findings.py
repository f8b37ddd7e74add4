"""The Local findings tab: Zhu, Lin & Tang's two findings measured on this session's training snapshots.

explorer.studies.findings.local_findings runs one snapshot at a time in a background job, so a time budget
and Stop keep the snapshots already measured (the centres depend only on the seed, so partial runs
compare like with like).
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import streamlit as st

from explorer.plot import figures
from explorer.studies.findings import Findings, local_findings

from .context import ViewContext
from .jobs import Job, show_job

__all__ = ["render"]

_STACKED = ("d_star_train", "d_star_random", "n_exact_train", "n_exact_random", "bound_train", "bound_random",
            "k_train", "k_random")


def render(ctx: ViewContext) -> None:
    """Draw the tab: settings, a Run button, then the table and plots of the findings."""
    st.markdown("Two local findings after Zhu, Lin & Tang (2020), measured, not assumed: **(a)** does the "
                "distance d* from training points to the nearest region boundary grow during training? "
                "**(b)** do balls around training points meet more regions than balls around random points?")
    _study_table()
    result, data = ctx.on_screen.train_result, ctx.on_screen.train_dataset
    if result is None or len(result.snapshots) < 2 or data is None:
        st.info("Train a network in the sidebar first: training keeps about ten snapshots, which this view "
                "compares.")
        return
    cols = st.columns(4)
    radius = cols[0].number_input("Ball radius", 0.01, 3.0, 0.25, step=0.05, key="findings_radius")
    n_points = cols[1].slider("Points per side", 10, 200, 40, step=10, key="findings_points")
    certifier = cols[2].selectbox("Certifier", ("lipschitz", "ibp", "symbolic"), index=2, key="findings_certifier")
    budget = cols[3].slider("Time budget (s)", 5, 300, 60, step=5, key="findings_budget")
    st.caption(f"{len(result.snapshots)} snapshots (epochs {', '.join(str(e) for e, _ in result.snapshots)}).")
    job: Job | None = st.session_state.get("findings_job")
    if st.button("Run the findings", type="primary", disabled=job is not None and not job.done):
        st.session_state["findings_job"] = Job(
            "local findings", _run, snapshots=result.snapshots, points=data.x_train, domain=data.domain,
            radius=float(radius), n_points=int(n_points), certifier=certifier, budget=float(budget)).start()
    show_job("findings_job")
    job = st.session_state.get("findings_job")
    if job is not None and job.done:
        _results(job)


def _study_table() -> None:
    """Open a study's table (``python -m explorer study``): its findings figure and verdicts."""
    from pathlib import Path

    from explorer.errors import ExplorerError
    from explorer.studies.plots import findings_figure
    from explorer.studies.table import read_study_table, study_tables
    from explorer.studies.verdicts import findings_verdicts, format_verdicts

    with st.expander("Open a study's table (long runs over seeds and checkpoints)"):
        root = Path(__file__).resolve().parents[1] / "bench" / "out"
        shipped = study_tables(root)
        cols = st.columns(2)
        upload = cols[0].file_uploader("Study table (.parquet or .csv)", type=["parquet", "csv"], key="study_upload")
        pick = cols[1].selectbox("…or a table under bench/out", [None, *shipped], key="study_path",
                                 format_func=lambda p: "—" if p is None else str(p.relative_to(root)))
        if upload is None and pick is None:
            return
        try:
            table = (read_study_table(upload.getvalue(), filename=upload.name) if upload is not None
                     else read_study_table(pick))
            radii = sorted(table.loc[table["measure"] == "local_complexity", "radius"].dropna().unique())
            radius = st.selectbox("Ball radius", radii, index=len(radii) - 1, key="study_radius") if radii else None
            st.plotly_chart(findings_figure(table, radius=radius), key="study_findings_chart", theme=None,
                            config={"displaylogo": False})
            st.code(format_verdicts(findings_verdicts(table, radius=radius)), language=None)
        except ExplorerError as exc:
            st.error(str(exc))


def _run(job: Job, snapshots, points, domain, radius: float, n_points: int, certifier: str,
         budget: float) -> tuple[Findings | None, str]:
    """Findings of as many snapshots as the budget and Stop allow, and a status line."""
    deadline = time.perf_counter() + budget
    parts = []
    for i, snap in enumerate(snapshots):
        if job.stop_requested or time.perf_counter() > deadline:
            break
        job.progress(i / len(snapshots), f"snapshot {i + 1}/{len(snapshots)} (epoch {snap[0]})")
        parts.append(local_findings([snap], points, domain, radius=radius, n_samples=n_points, certifier=certifier))
    done = len(parts)
    why = "stopped" if job.stop_requested else "time budget"
    status = "complete" if done == len(snapshots) else f"partial: {done} of {len(snapshots)} snapshots ({why})"
    return (_stack(parts) if parts else None), status


def _stack(parts: list[Findings]) -> Findings:
    """One Findings from per-snapshot ones (same centres: they depend only on the points, domain and seed)."""
    arrays = {name: None if getattr(parts[0], name) is None else np.concatenate([getattr(p, name) for p in parts])
              for name in _STACKED}
    return replace(parts[0], epochs=np.concatenate([p.epochs for p in parts]),
                   seconds=sum(p.seconds for p in parts), **arrays)


def _results(job: Job) -> None:
    if job.error:
        st.error(job.error)
        return
    findings, status = job.result
    if findings is None:
        st.warning(f"No snapshot was measured ({status}); raise the time budget or use fewer points.")
        return
    (st.success if status == "complete" else st.warning)(f"{status} · {findings.seconds:.1f} s")
    st.plotly_chart(figures.findings_figure(findings), key="findings_chart", theme=None,
                    config={"displaylogo": False})
    rows = findings.table()
    st.dataframe([{k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()} for row in rows],
                 hide_index=True, width="stretch")
    first, last = rows[0], rows[-1]
    grew = last["d_star_median_train"] > first["d_star_median_train"]
    more = last["n_mean_train"] > last["n_mean_random"]
    st.markdown(f"(a) The median d* at training points went from {first['d_star_median_train']:.3g} (epoch "
                f"{first['epoch']}) to {last['d_star_median_train']:.3g} (epoch {last['epoch']}): it "
                f"**{'grew' if grew else 'did not grow'}**. (b) At the last snapshot, balls at training points "
                f"meet {last['n_mean_train']:.3g} regions on average against {last['n_mean_random']:.3g} at random "
                f"points: **{'more' if more else 'not more'}** (Mann–Whitney p = {last['p_n']:.2g}).")
