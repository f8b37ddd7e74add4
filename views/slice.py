"""Slices through data points (SplineCam's signature view, here exact and on CPU): three samples span a plane,
its exact partition is drawn with the samples where they lie, and a click shows the input a point stands for,
its region, the network's prediction and a local bound on the regions near it in the full input space.

The plane is x = p0 + a·(p1 − p0) + b·(p2 − p0) (the coordinates of ``python -m explorer regions --plane``),
so the samples sit at (a, b) = (0, 0), (1, 0), (0, 1).  :func:`data_plane`, :func:`slice_input`,
:func:`click_to_input`, :func:`default_samples` and :func:`dataset_for` are plain functions (tested without a
browser); :func:`render` draws the view for an n-input network and its data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import streamlit as st

from explorer.ball.local import LOCAL_BOUND_LABEL, local_bounds
from explorer.errors import ExplorerError
from explorer.net import Network
from explorer.plane.partition import locate
from explorer.plane.regions import PlaneSlice, RegionLimitError, plane_slice
from explorer.plot import figures, inputs
from explorer.plot.text import format_count
from explorer.train.data import DATASETS, REAL_DATASETS, Dataset, load_dataset, make_dataset

from .click import plot_click, point_from_payload
from .context import HASH_FUNCS, cache_key, get_regions
from .controls import control
from .state import SETTING

__all__ = ["render", "SlicePoint", "data_plane", "slice_input", "click_to_input", "default_samples",
           "dataset_for", "image_shape", "parse_point", "CLICK_TARGET", "ANCHORS", "SAMPLE_KEYS"]

CLICK_TARGET = "slice-map"
ANCHORS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # (a, b) of p0, p1, p2
SAMPLE_KEYS = ("sample_p0", "sample_p1", "sample_p2")
MAP_HEIGHT = 560
N_SAMPLES = 2000  # random points of the ball for the sampled lower bound


@dataclass(frozen=True)
class SlicePoint:
    """A point of the slice: plane coordinates (a, b) and the input x (n0,) = p0 + a·(p1 − p0) + b·(p2 − p0)."""

    a: float
    b: float
    x: np.ndarray


def data_plane(net: Network, p0, p1, p2) -> PlaneSlice:
    """The plane x = p0 + a·(p1 − p0) + b·(p2 − p0) and the 2-input network on it; anchors are ANCHORS.

    Raises
    ------
    ExplorerError : two samples coincide, or the three lie on one line.
    """
    p0, p1, p2 = (np.asarray(p, dtype=np.float64).reshape(-1) for p in (p0, p1, p2))
    if np.array_equal(p0, p1) or np.array_equal(p0, p2) or np.array_equal(p1, p2):
        raise ExplorerError("two of the three samples are the same point; pick three different samples.")
    try:
        plane = plane_slice(net, p0, p1 - p0, p2 - p0)
    except ExplorerError:
        raise ExplorerError("the three samples lie on one line, so they span no plane; pick another one.") from None
    return replace(plane, anchors=ANCHORS.copy())


def slice_input(plane: PlaneSlice, a: float, b: float) -> np.ndarray:
    """The input (n0,) that the point (a, b) of the plane stands for."""
    return plane.to_input(np.array([[float(a), float(b)]]))[0]


def click_to_input(payload, plane: PlaneSlice) -> SlicePoint | None:
    """The point of the slice a click payload (:func:`views.click.point_from_payload`) hits, or None."""
    point = point_from_payload(payload)
    if point is None:
        return None
    return SlicePoint(a=point[0], b=point[1], x=slice_input(plane, *point))


def default_samples(labels, k: int = 3) -> tuple[int, ...]:
    """Indices of k samples: the first sample of each of the first k classes met (in order), then the
    first samples not taken yet when there are fewer classes.  Needs at least k samples."""
    labels = np.asarray(labels).reshape(-1)
    if labels.size < k:
        raise ExplorerError(f"a slice needs {k} samples; this part of the data has {labels.size}.")
    _, first = np.unique(labels, return_index=True)
    picked = sorted(first.tolist())[:k]
    picked += [i for i in range(labels.size) if i not in picked][:k - len(picked)]
    return tuple(picked)


def image_shape(net: Network, dataset: Dataset) -> tuple[int, ...] | None:
    """The image shape of the inputs ((C, H, W) of the network, else the data's (H, W)), or None."""
    if len(net.input_shape) == 3 and int(np.prod(net.input_shape)) == net.n_inputs:
        return tuple(net.input_shape)
    if dataset.image_shape is not None and int(np.prod(dataset.image_shape)) == net.n_inputs:
        return tuple(dataset.image_shape)
    return None


def dataset_for(net: Network, provenance: dict, train_dataset: Dataset | None = None
                ) -> tuple[Dataset, str] | None:
    """The data a network's slices are drawn through, and where it comes from; None if none matches.

    In order: the data it was trained on in this session; the data its file records (a toy or real
    dataset, regenerated from its settings); scikit-learn's digits for 1×8×8 image inputs (or 64 inputs
    without a shape), split as the explorer splits it.
    """
    n0 = net.n_inputs
    if train_dataset is not None and train_dataset.dim == n0:
        return train_dataset, f"the {_data_name(train_dataset)} it was trained on"
    recorded = (provenance or {}).get("dataset")
    if isinstance(recorded, dict):
        settings = {k: v for k, v in recorded.items() if k != "name"}
        try:
            if recorded.get("name") in REAL_DATASETS:
                data = _real(recorded["name"], settings.get("test_fraction", 0.2), settings.get("seed", 0))
            elif recorded.get("name") in DATASETS:
                data = _toy(**recorded)
            else:
                data = None
        except (ExplorerError, TypeError):
            data = None
        if data is not None and data.dim == n0:
            return data, f"the {_data_name(data)} its file records"
    if tuple(net.input_shape) in ((1, 8, 8), (8, 8)) or (n0 == 64 and not net.input_shape):
        return _real("digits", 0.2, 0), ("scikit-learn's digits, matched by the input size (the network's own "
                                          "training split is unknown: 'test' is the explorer's split)")
    return None


# ---- the view --------------------------------------------------------------------------------------
def render(net: Network, data: tuple[Dataset, str]) -> None:
    """Draw the view for the n-input ``net`` and its data (a pair from :func:`dataset_for`)."""
    dataset, origin = data
    st.caption(f"Samples from {origin}. The plane x = p0 + a·(p1 − p0) + b·(p2 − p0) through three samples is "
               "partitioned exactly; the samples sit at (0, 0), (1, 0) and (0, 1).")
    x_all, y_all, split = _split(dataset)
    picks = _pick_samples(dataset, x_all, y_all, split)
    shape = image_shape(net, dataset)
    names = [f"p{i} · {_class_name(dataset, y_all[j])}" for i, j in enumerate(picks)]
    points = x_all[list(picks)]
    if shape is not None:
        st.plotly_chart(inputs.input_gallery(points, shape, titles=names), key="slice_samples", theme=None,
                        config={"displayModeBar": False})
    else:
        _sample_table(dataset, points, names)
    try:
        plane = data_plane(net, *points)
    except ExplorerError as exc:
        st.error(str(exc))
        return
    _reset_point_on_change(plane)
    with st.expander("Plane extent and drawing", expanded=False):
        cols = st.columns(4)
        for col, key, label in zip(cols, SETTING["slice_extent"].keys, ("a from", "a to", "b from", "b to")):
            col.number_input(label, step=0.25, key=key)
        cols = st.columns(2)
        control("slice_color_by", where=cols[0])
        control("slice_nearby", where=cols[1])
    extent = _extent()
    left, right = st.columns([3, 2], gap="medium")
    with left:
        payload = plot_click(CLICK_TARGET, key="slice_click")
        if payload is not None:
            hit = click_to_input(payload, plane)
            if hit is not None:
                _select(hit.a, hit.b)
        point = st.session_state.get("slice_point")
        selected = None if point is None else SlicePoint(a=point[0], b=point[1], x=slice_input(plane, *point))
        regions = _map(net, dataset, plane, extent, names, x_all, y_all, picks, selected)
    with right:
        _point_panel(net, dataset, plane, regions, points, names, shape, selected)


def _split(dataset: Dataset) -> tuple[np.ndarray, np.ndarray, str]:
    split = control("slice_split") if len(dataset.x_test) >= 3 else "train"
    if split == "test":
        return dataset.x_test, dataset.y_test, split
    return dataset.x_train, dataset.y_train, split


def _pick_samples(dataset: Dataset, x_all, y_all, split: str) -> tuple[int, int, int]:
    ss = st.session_state
    which = (cache_key(dataset), split)
    if ss.get("sample_for") != which or not all(isinstance(ss.get(k), int) and 0 <= ss[k] < len(x_all)
                                                for k in SAMPLE_KEYS):
        ss.update(dict(zip(SAMPLE_KEYS, default_samples(y_all))))
        ss["sample_for"] = which
    cols = st.columns(3)
    for i, (col, key) in enumerate(zip(cols, SAMPLE_KEYS)):
        col.selectbox(f"p{i}", range(len(x_all)), key=key,
                      format_func=lambda j: f"{split} #{j} · {_class_name(dataset, y_all[j])}")
    return tuple(int(ss[k]) for k in SAMPLE_KEYS)


def _sample_table(dataset: Dataset, points: np.ndarray, names: list[str]) -> None:
    lo_hi = dataset.feature_range
    raw = points if lo_hi is None else lo_hi[:, 0] + points * (lo_hi[:, 1] - lo_hi[:, 0])
    columns = list(dataset.feature_names) if len(dataset.feature_names) == points.shape[1] else \
        [f"x{i + 1}" for i in range(points.shape[1])]
    st.dataframe([{"sample": n, **{c: float(v) for c, v in zip(columns, row)}} for n, row in zip(names, raw)],
                 hide_index=True, width="stretch")


def _extent() -> tuple[float, float, float, float]:
    extent, problem = SETTING["slice_extent"].coerce(SETTING["slice_extent"].from_session(st.session_state))
    if problem:
        raise ExplorerError("the plane's extent needs 'a from' < 'a to' and 'b from' < 'b to', within ±100; change "
                            "it under Plane extent and drawing.")
    return extent


def _reset_point_on_change(plane: PlaneSlice) -> None:
    key = cache_key(plane.net)
    if st.session_state.get("slice_plane") != key:
        st.session_state["slice_plane"] = key
        st.session_state["slice_point"] = None


def _select(a: float, b: float) -> None:
    st.session_state["slice_point"] = (float(a), float(b))
    st.session_state["slice_point_text"] = f"{a:.4g}, {b:.4g}"


def parse_point(text: str) -> tuple[float, float]:
    """Two finite numbers "a, b" (or "a; b") typed by the user; ExplorerError saying what to type otherwise."""
    parts = str(text).replace(";", ",").split(",")
    try:
        a, b = (float(v) for v in parts) if len(parts) == 2 else (np.nan, np.nan)
    except ValueError:
        a = b = np.nan
    if not (np.isfinite(a) and np.isfinite(b)):
        raise ExplorerError(f"type two numbers a, b separated by a comma, e.g. 0.5, 0.5; got {str(text)[:40]!r}.")
    return a, b


def _typed_point() -> None:
    st.session_state.pop("slice_point_error", None)
    try:
        _select(*parse_point(st.session_state.get("slice_point_text", "")))
    except ExplorerError as exc:
        st.session_state["slice_point_error"] = str(exc)


# ---- map --------------------------------------------------------------------------------------------
def _map(net, dataset, plane, extent, names, x_all, y_all, picks, selected: SlicePoint | None):
    ss = st.session_state
    polygon, ball = None, None
    try:
        regions = get_regions(plane.net, extent, max_regions=int(ss["s_max_regions"]))
    except RegionLimitError as exc:
        st.warning(f"The regions of this plane are not drawn: {exc}")
        regions = None
    if selected is not None:
        ball = inputs.plane_ball_outline((selected.a, selected.b), float(ss["slice_radius"]), plane.basis)
        if regions is not None:
            region = int(locate(regions, np.array([[selected.a, selected.b]]))[0])
            polygon = regions.polygon(region) if region >= 0 else None
    others, other_text = _nearby(plane, dataset, x_all, y_all, picks, int(ss["slice_nearby"]), extent)
    point = None if selected is None else (selected.a, selected.b)
    if regions is None:
        fig = figures.empty_map(extent, anchors=ANCHORS, click_target=CLICK_TARGET, height=MAP_HEIGHT)
    else:
        cols = st.columns(2)
        cols[0].metric("regions on this plane", f"{regions.n_regions:,}", help="Exact: every activation region "
                       "of the network that meets the drawn part of the plane.")
        cols[1].metric("enumerated in", f"{1000 * regions.seconds:.0f} ms")
        fig = inputs.slice_map(regions, color_by=ss["slice_color_by"], click_target=CLICK_TARGET,
                               height=MAP_HEIGHT, samples=ANCHORS, sample_text=names, others=others,
                               other_text=other_text, point=point, polygon=polygon, ball=ball)
    st.plotly_chart(fig, key="slice_map", theme=None, config={
        "displaylogo": False, "scrollZoom": True, "toImageButtonOptions": {"format": "svg", "filename": "slice"}})
    st.caption("Click anywhere on the plane to see the input it stands for. The orange ellipse is the ball of "
               "the local bound (radius r in input space) where it meets this plane.")
    return regions


def _nearby(plane, dataset, x_all, y_all, picks, n: int, extent) -> tuple[np.ndarray | None, list[str]]:
    """The n other samples nearest to the plane, projected onto it (those inside the extent)."""
    if n <= 0:
        return None, []
    rest = np.setdiff1d(np.arange(len(x_all)), picks)
    ab = plane.to_plane(x_all[rest])  # (M, 2)
    dist = np.linalg.norm(x_all[rest] - plane.to_input(ab), axis=1)
    order = np.argsort(dist)[:n]
    inside = order[(ab[order, 0] >= extent[0]) & (ab[order, 0] <= extent[1]) &
                   (ab[order, 1] >= extent[2]) & (ab[order, 1] <= extent[3])]
    text = [f"#{rest[i]} · {_class_name(dataset, y_all[rest[i]])}, {dist[i]:.3g} from the plane" for i in inside]
    return ab[inside], text


# ---- the selected point -----------------------------------------------------------------------------
def _point_panel(net, dataset, plane, regions, points, names, shape, selected: SlicePoint | None) -> None:
    ss = st.session_state
    st.text_input("Point (a, b)", key="slice_point_text", on_change=_typed_point, placeholder="e.g. 0.5, 0.5",
                  help="Or click anywhere on the plane.")
    if "slice_point_error" in ss:
        st.error(ss["slice_point_error"])
    if selected is None:
        st.info("Click a point of the plane (or type a, b) to see the input it stands for, its region, the "
                "prediction and a local bound.")
        return
    x = selected.x
    title = f"input at (a, b) = ({selected.a:.3g}, {selected.b:.3g})"
    if shape is not None:
        st.plotly_chart(inputs.input_image(x, shape, title=title), key="slice_input", theme=None,
                        config={"displayModeBar": False})
    else:
        st.plotly_chart(inputs.feature_bars(x, dataset.feature_names, feature_range=dataset.feature_range,
                                            references=points, reference_names=[n.split(" · ")[0] for n in names]),
                        key="slice_input", theme=None, config={"displayModeBar": False})
    lo, hi = dataset.domain[:, 0], dataset.domain[:, 1]
    outside = int(np.count_nonzero((x < lo) | (x > hi)))
    if outside:
        st.caption(f"{outside} of {x.size} values lie outside the data's range (the plane leaves the data box "
                   "there); they are drawn at the nearest end of the scale.")
    _prediction(net, dataset, x)
    _region(net, regions, selected, points, names)
    _local_bound(net, x)


def _prediction(net: Network, dataset: Dataset, x: np.ndarray) -> None:
    logits = net.forward(x[None])[0]
    if logits.size == 1:
        label = int(logits[0] > 0)
        st.metric("prediction", _class_name(dataset, label), help=f"logit {logits[0]:.4g} (class 1 iff > 0)")
        return
    p = np.exp(logits - logits.max())
    p /= p.sum()
    top = np.argsort(-p)[:3]
    st.metric("prediction", _class_name(dataset, int(top[0])), help="Softmax of the logits: " + ", ".join(
        f"{_class_name(dataset, int(c))} {p[c]:.2f}" for c in top))


def _region(net: Network, regions, selected: SlicePoint, points: np.ndarray, names: list[str]) -> None:
    pattern = net.patterns(np.vstack([selected.x[None], points]))  # (4, N)
    layers = net.unit_layers()
    labels = net.layer_names if len(net.layer_names) == len(net.hidden_widths) else \
        [f"layer {l + 1}" for l in range(len(net.hidden_widths))]
    active = " · ".join(f"{labels[l]} {np.count_nonzero(pattern[0, layers == l])}/{w}"
                        for l, w in enumerate(net.hidden_widths))
    region = "—" if regions is None else int(locate(regions, np.array([[selected.a, selected.b]]))[0])
    where = "on a boundary between regions" if region == -1 else f"region {region} of this plane"
    differs = ", ".join(f"{n.split(' · ')[0]} in {np.count_nonzero(pattern[0] != pattern[i + 1])}"
                        for i, n in enumerate(names))
    st.markdown(f"**Region**: {where}. Active units: {active}. Its pattern differs from {differs} units.")


def _local_bound(net: Network, x: np.ndarray) -> None:
    ss = st.session_state
    cols = st.columns(2)
    control("slice_radius", where=cols[0])
    control("slice_certifier", where=cols[1])
    radius, certifier = float(ss["slice_radius"]), ss["slice_certifier"]
    try:
        with st.spinner("Bounding the regions in the ball…"):
            b = _bounds(net, tuple(float(v) for v in x), radius, certifier)
    except ExplorerError as exc:
        st.error(str(exc))
        return
    cols = st.columns(3)
    cols[0].metric("regions in the ball, at most", format_count(b.upper_bound),
                   help=f"{LOCAL_BOUND_LABEL}, certifier {b.certifier}: proven for the ℓ2 ball of radius "
                        f"{radius:g} around this input in the {net.n_inputs}-input space.")
    cols[1].metric("at least", f"{b.n_sampled:,}", help=f"Certain: distinct activation patterns among "
                                                        f"{b.n_samples:,} random points of the ball and its centre.")
    cols[2].metric("one region up to d*", f"{b.d_star:.3g}",
                   help="ℓ2 distance from this input to the boundary of its region (in input space).")


@st.cache_resource(show_spinner=False, max_entries=128, hash_funcs=HASH_FUNCS)
def _bounds(net: Network, x: tuple, radius: float, certifier: str):
    return local_bounds(net, np.array(x), radius, norm="2", certifier=certifier, n_samples=N_SAMPLES, seed=0,
                        time_limit=20.0)


# ---- data ---------------------------------------------------------------------------------------------
def _class_name(dataset: Dataset, c) -> str:
    return f"digit {int(c)}" if dataset.name == "digits" else f"class {int(c)}"


def _data_name(dataset: Dataset) -> str:
    names = {"table": "uploaded table", "blobs": "Gaussian cluster data"}
    return names.get(dataset.name, f"{dataset.name.replace('_', ' ')} data")


@st.cache_resource(show_spinner=False, max_entries=8)
def _real(name: str, test_fraction: float, seed: int) -> Dataset:
    return load_dataset(name, test_fraction=test_fraction, seed=seed)


@st.cache_resource(show_spinner=False, max_entries=8)
def _toy(**settings) -> Dataset:
    return make_dataset(**settings)
