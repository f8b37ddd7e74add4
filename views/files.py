"""Load and save: upload a network file (any format explorer.io reads, with its JSON layer description when it
needs one), n-D networks as a 2-D slice, download.

The uploaders' callbacks open the file with :func:`load_upload`; a bad file leaves one message and the old
network.  A network on images (a CNN on 1×8×8 digits, say) opens on the plane through three test images of
the matching data, and the Higher dimensions tab shows that slice with the images (:mod:`views.slice`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import streamlit as st

from explorer.errors import ExplorerError
from explorer.io import checkpoint_bytes, load
from explorer.net import Network
from explorer.plane.regions import plane_through

from . import slice as data_slice
from .context import HASH_FUNCS, OnScreen
from .higher import SOURCES, VIEWS
from .netlink import fingerprint, link_text, read_link
from .session import apply_fields, on_screen, set_on_screen
from .state import SETTING, TAB_LABELS, made_with, recipe_problem

__all__ = ["load_upload", "show_network", "open_link", "controls"]

IMAGE_SHAPES = ((1, 8, 8),)  # input shapes tried for a TorchScript file that does not record its own
_STATE_DICT_ACTIVATIONS = ("auto", "relu", "leaky_relu:0.01", "leaky_relu:0.1", "leaky_relu:0.2")


def load_upload(data: bytes, filename: str, *, layers: bytes | None = None) -> None:
    """Open an uploaded network file and put it on screen; a bad file leaves a message and the old network.

    ``layers`` is the JSON layer description of a state_dict or safetensors file (or the input shape of a
    TorchScript/ONNX file).  Networks with more than 2 inputs are shown as the 2-D slice through three points:
    three test images of the matching data for a network on images (then the Higher dimensions tab opens on
    that slice), else p0 = the centre of their box or the origin, p1 = p0 + e1, p2 = p0 + e2, which the
    Load section lets the user change.  When a link asked for a file, the file is compared with the network
    it names: the same network keeps the link's view; another one is shown with a warning.
    """
    for key in ("load_error", "load_info", "load_warning"):
        st.session_state.pop(key, None)
    choice = st.session_state.get("load_activation", "auto")
    try:
        ckpt, guessed = _load(data, filename, None if choice == "auto" else choice, layers)
        provenance = {**ckpt.provenance, "file": filename, **guessed}
        wanted = st.session_state.get("link_wanted")
        same = wanted is not None and fingerprint(ckpt.net) == wanted
        if wanted is not None and not same:
            st.session_state["load_warning"] = (
                f"{filename} is not the network the link names (its fingerprint is {fingerprint(ckpt.net)}, the "
                f"link's is {wanted}): it is shown, but it is not the network the link was made from.")
        problem = recipe_problem(provenance) or recipe_problem(provenance, groups=("data",))
        if problem:
            st.session_state["load_warning"] = (
                f"{filename} records how it was made, but one field is not usable ({problem}): the settings "
                "it records are not used.")
        show_network(ckpt.net, f"uploaded: {filename}", provenance, ckpt.box, keep_view=same,
                     keep_data=bool(problem))
        if same:
            st.session_state["load_info"] = f"{filename} is the network the link names: shown with the link's view."
    except ExplorerError as exc:
        st.session_state["load_error"] = str(exc)


def show_network(net: Network, source: str, provenance: dict, box, *, keep_view: bool = False,
                 keep_data: bool = False) -> None:
    """Put a loaded network on screen (a 2-D slice when it has more than 2 inputs), named for links.

    keep_view : keep the map's domain and the data settings (the link's view) instead of the file's
    keep_data : keep the data settings (the file's record of them is not usable)
    """
    n0 = net.n_inputs
    if n0 < 2:
        raise ExplorerError(f"{provenance.get('file', 'the network')} takes {n0} input; the region map needs "
                            "2 inputs (or more, through a 2-D slice).")
    shown = OnScreen(net, source, provenance, box, link=link_text(net))
    if n0 == 2:
        set_on_screen(shown)
        if not keep_view:
            if box is not None:
                st.session_state.update(SETTING["domain"].session(np.asarray(box).reshape(-1).tolist()))
            if not keep_data:
                apply_fields(made_with(provenance, groups=("data",)))
        return
    name = provenance.get("file", "the network")
    if _open_on_images(replace(shown, full_net=net), name):
        return
    centre = box.mean(axis=1) if box is not None else np.zeros(n0)
    eye = np.eye(n0)
    points = (centre, centre + eye[0], centre + eye[1])
    _set_slice(replace(shown, full_net=net), points)
    st.session_state["load_info"] = (
        f"{name} takes {n0} inputs, so the map shows the 2-D slice through p0, p1, p2 "
        f"({', '.join(_fmt(p) for p in points)}); change the points under Load and save.")


def open_link(value: str) -> None:
    """Show the network a link names: from its weights when it carries them (checked by its fingerprint),
    else nothing changes and the page asks for its file (``link_wanted``: the fingerprint a file must have)."""
    try:
        fp, net = read_link(value)
    except ExplorerError:
        return  # from_query has already refused the value with a warning
    if net is None:
        st.session_state["link_wanted"] = fp
        return
    try:
        show_network(net, f"from the link: network {fp} ({net.architecture})",
                     {"file": "the link's network", "fingerprint": fp}, None, keep_view=True)
    except ExplorerError as exc:
        st.session_state.setdefault("url_warnings", []).append(f"the network it carries cannot be shown: {exc}")


def _load(data: bytes, filename: str, activation: str | None, layers: bytes | None):
    """The checkpoint, and a provenance note when its input shape was taken from the data the app knows.

    TorchScript does not record a network's input size; when several sizes fit its layers and no description
    gives one, the image shapes of the app's data (1×8×8 digits) are tried before the file's own error is shown.
    """
    try:
        return load(data, filename=filename, activation=activation, layers=layers), {}
    except ExplorerError as exc:
        if layers is not None:
            raise
        for shape in IMAGE_SHAPES:
            try:
                ckpt = load(data, filename=filename, activation=activation, layers={"input_shape": list(shape)})
            except ExplorerError:
                continue
            note = (f"input size is not in the file: {'×'.join(map(str, shape))}, the digits' size, fits its layers "
                    "(upload a layer description to give another)")
            return ckpt, {"input_shape_source": note}
        raise exc from None


def _open_on_images(shown: OnScreen, filename: str) -> bool:
    """Show a network on images on the plane through three test images of its data, counted on the data's box,
    and open the Higher dimensions tab on that slice; False (nothing changed) when no image data matches."""
    net = shown.full_net
    match = data_slice.dataset_for(net, shown.provenance)
    if match is None or data_slice.image_shape(net, match[0]) is None:
        return False
    dataset = match[0]
    picks = data_slice.default_samples(dataset.y_test if len(dataset.y_test) >= 3 else dataset.y_train)
    images = (dataset.x_test if len(dataset.y_test) >= 3 else dataset.x_train)[list(picks)]
    if shown.box is None:
        lo, hi = dataset.domain[0]
        shown = replace(shown, box=dataset.domain.copy(), provenance={
            **shown.provenance, "box_source": f"box [{lo:g}, {hi:g}] per input: the range of {dataset.name}"})
    _set_slice(shown, images, frame=True)
    for key in (*data_slice.SAMPLE_KEYS, "sample_for", "slice_point"):
        st.session_state.pop(key, None)  # the slice view starts on the same three images
    st.session_state.update({"app_tab": TAB_LABELS["higher"], "higher_source": SOURCES[1], "higher_view": VIEWS[1]})
    shape = "×".join(str(v) for v in data_slice.image_shape(net, dataset))
    assumed = shown.provenance.get("input_shape_source")
    st.session_state["load_info"] = (
        f"{filename} takes {shape} images: opened on the plane through three {dataset.name} test images "
        "(Higher dimensions → Slice through data points; Explore shows the same plane with distance-true axes)."
        + (f" Its {assumed}." if assumed else ""))
    return True


def _framing(anchors: np.ndarray) -> tuple[float, float, float, float]:
    """A square map domain around the anchor points, half their extent again on every side."""
    lo, hi = anchors.min(axis=0), anchors.max(axis=0)
    span, (cx, cy) = float(max(hi - lo)), (lo + hi) / 2
    return (cx - span, cx + span, cy - span, cy + span)


def _on_upload() -> None:
    upload = st.session_state.get("load_file")
    if upload is not None:
        layers = st.session_state.get("load_layers")
        load_upload(upload.getvalue(), upload.name, layers=None if layers is None else layers.getvalue())


def controls() -> None:
    """The Load and save section of the sidebar."""
    st.file_uploader("Upload a network (.pt, TorchScript, ONNX, .safetensors)", key="load_file",
                     on_change=_on_upload)
    st.file_uploader("Layer description (.json)", type=["json"], key="load_layers", on_change=_on_upload,
                     help="State_dict and .safetensors files of CNNs need the JSON description of their layers "
                          "(docs/cnn.md); TorchScript and ONNX files take an input shape from it.")
    st.selectbox("Activation of state_dict files", _STATE_DICT_ACTIVATIONS, key="load_activation",
                 help="Only state_dicts lack it; other formats record their own.")
    if "load_error" in st.session_state:
        st.error(st.session_state["load_error"])
    if "load_warning" in st.session_state:
        st.warning(st.session_state["load_warning"])
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


def _set_slice(shown: OnScreen, points, *, frame: bool = False) -> None:
    """Show the slice through ``points``; the map's domain frames the points (``frame``) or is the default."""
    plane = plane_through(shown.full_net, *points)
    set_on_screen(replace(shown, net=plane.net, anchors=plane.anchors))
    for name, p in zip(("p0", "p1", "p2"), points):
        st.session_state[f"slice_{name}"] = _fmt(p)
    domain = _framing(plane.anchors) if frame else SETTING["domain"].default
    st.session_state.update(SETTING["domain"].session(domain))


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


