"""Load and save: upload a network file (any format explorer.io reads), n-D networks as a 2-D slice, download.

The uploader's callback opens the file with :func:`load_upload`; a bad file leaves one message and the old
network.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from explorer.errors import ExplorerError
from explorer.io import checkpoint_bytes, load
from explorer.net import Network
from explorer.plane.regions import plane_through

from .context import HASH_FUNCS, OnScreen
from .session import apply_fields, on_screen, set_on_screen
from .state import SETTING, made_with

__all__ = ["load_upload", "controls"]

_STATE_DICT_ACTIVATIONS = ("auto", "relu", "leaky_relu:0.01", "leaky_relu:0.1", "leaky_relu:0.2")


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
        shown = OnScreen(net, f"uploaded: {filename}", provenance, ckpt.box)
        if n0 == 2:
            set_on_screen(shown)
            if ckpt.box is not None:
                st.session_state.update(SETTING["domain"].session(ckpt.box.reshape(-1).tolist()))
            apply_fields(made_with(provenance, groups=("data",)))
            return
        centre = ckpt.box.mean(axis=1) if ckpt.box is not None else np.zeros(n0)
        eye = np.eye(n0)
        points = (centre, centre + eye[0], centre + eye[1])
        _set_slice(replace(shown, full_net=net), points)
        st.session_state["load_info"] = (
            f"{filename} takes {n0} inputs, so the map shows the 2-D slice through p0, p1, p2 "
            f"({', '.join(_fmt(p) for p in points)}); change the points under Load and save.")
    except ExplorerError as exc:
        st.session_state["load_error"] = str(exc)


def _on_upload() -> None:
    upload = st.session_state.get("load_file")
    if upload is not None:
        load_upload(upload.getvalue(), upload.name)


def controls() -> None:
    """The Load and save section of the sidebar."""
    st.file_uploader("Upload a network (.pt, TorchScript, ONNX)", key="load_file", on_change=_on_upload)
    st.selectbox("Activation of state_dict files", _STATE_DICT_ACTIVATIONS, key="load_activation",
                 help="Only state_dicts lack it; other formats record their own.")
    if "load_error" in st.session_state:
        st.error(st.session_state["load_error"])
    if "load_info" in st.session_state:
        st.info(st.session_state["load_info"])
    shown = on_screen()
    if shown.full_net is not None:
        n0 = shown.full_net.n_inputs
        st.caption(f"2-D slice of the {n0}-input network through three points (comma-separated, {n0} numbers).")
        for name in ("p0", "p1", "p2"):
            st.text_input(name, key=f"slice_{name}")
        st.button("Show this slice", on_click=_apply_slice_inputs)
        if "slice_error" in st.session_state:
            st.error(st.session_state["slice_error"])
    original = shown.original
    st.download_button("Download the network (.pt)", data=_checkpoint_bytes(original, shown.box, shown.provenance),
                       mime="application/octet-stream", file_name=f"network_{original.architecture}.pt",
                       width="stretch",
                       help="The explorer's checkpoint: weights, domain and how the network was made. "
                            "Reload it here or read it with torch.load(path, weights_only=True).")


@st.cache_resource(show_spinner=False, max_entries=8, hash_funcs=HASH_FUNCS)
def _checkpoint_bytes(net: Network, box, provenance: dict) -> bytes:
    return checkpoint_bytes(net, box=box, provenance=provenance)


def _set_slice(shown: OnScreen, points) -> None:
    plane = plane_through(shown.full_net, *points)
    set_on_screen(replace(shown, net=plane.net, anchors=plane.anchors))
    for name, p in zip(("p0", "p1", "p2"), points):
        st.session_state[f"slice_{name}"] = _fmt(p)
    st.session_state.update(SETTING["domain"].session(SETTING["domain"].default))


def _apply_slice_inputs() -> None:
    st.session_state.pop("slice_error", None)
    shown = on_screen()
    try:
        points = [_parse_vector(st.session_state[f"slice_{n}"], shown.full_net.n_inputs, n) for n in ("p0", "p1", "p2")]
        _set_slice(shown, points)
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


