"""Loading and saving networks: torch modules, state_dicts, safetensors, TorchScript, ONNX and our checkpoint.

Files are recognised by their content, never their suffix, and read without executing anything: torch
zip archives go through a restricted, torch-free unpickler (:mod:`explorer.io.torchfile`) that knows only the globals
a dictionary of tensors needs; TorchScript modules become inert records whose class names are matched
against the supported layers; ONNX is parsed as protobuf data after a scan of its bytes; safetensors by our own
reader.  ``torch.load(weights_only=True)`` is the fallback for the rare torch globals the reader lacks and for
the legacy (pre-1.6) format, after the same pickle has run on an inert machine under the same limits
(:mod:`explorer.io.torchload`).  All parameters become float64 exactly (:mod:`explorer.io.dtypes`), so a
state_dict, a TorchScript file and a checkpoint of one network give bitwise-identical weights.
Convolutional networks are folded into the dense Network by ``fold``.  Every load has one memory
:class:`~explorer.io.budget.Budget`, which each reader charges before it allocates.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ExplorerError
from ..net import Network, parse_activation
from . import torchfile as _torchfile
from .budget import Budget
from .description import read_description, recorded_shape, steps_from_description
from .dtypes import as_float64, kind_refused
from .fold import build_network
from .names import one_line
from .layers import specs_from_state_dict
from .onnxfile import looks_like_onnx, specs_from_onnx
from .safetensors import looks_like_safetensors, read_safetensors
from .script import specs_from_script
from .torchload import load_with_torch

__all__ = ["Checkpoint", "load", "load_network", "save_checkpoint", "checkpoint_bytes", "from_module",
           "to_module", "save_state_dict", "save_torchscript", "file_budget", "MAX_FILE_BYTES", "MAX_PARAMETERS",
           "MAX_FILE_ELEMENTS", "CHECKPOINT_FORMAT"]

MAX_FILE_BYTES = 200 * 2**20  # files (and zip contents) above 200 MB are refused
MAX_PARAMETERS = 5_000_000  # networks above 5 M parameters are refused
# 8-byte elements one file may materialise in all (512 MiB): several times what the largest accepted network
# needs (5 M parameters = 40 MB of float64, read, copied, converted and folded a few times, with an optimizer
# state beside it), and small enough that a server with a few GB survives several hostile uploads at once.
MAX_FILE_ELEMENTS = 64 * 2**20
CHECKPOINT_FORMAT = "linear-region-explorer checkpoint"
CHECKPOINT_VERSION = 1
_LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19"  # torch's pre-1.6 header
_NESTED_KEYS = ("state_dict", "model_state_dict", "model", "net")


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    """A network with the input box it was made for and how it came to be.

    Attributes
    ----------
    net : Network
    box : float64 ndarray (n0, 2) of [lo, hi] per input dimension, or None if the file has none
    provenance : JSON-able dict (dataset settings, architecture, training settings and history, source);
        for files that are not explorer checkpoints: {"source": {"format": ..., "filename": ...}}
    """

    net: Network
    box: np.ndarray | None = None
    provenance: dict = field(default_factory=dict)


def load(source, *, activation: str | None = None, filename: str | None = None, layers=None) -> Checkpoint:
    """Read a network from a path, bytes or a binary file-like object, detecting the format by content.

    Formats: the explorer's checkpoint; a state_dict of an nn.Sequential (keys '0.weight', '0.bias',
    '2.weight', …; ``activation`` — 'relu' (default) or 'leaky_relu:ALPHA' — is the activation between
    Linear layers); a safetensors file of such weights; TorchScript (torch.jit.save of an nn.Sequential of
    Linear, Conv2d, AvgPool2d, MaxPool2d, BatchNorm, ReLU/LeakyReLU, Flatten, Dropout, Identity); ONNX (a
    chain of the same operators); the legacy pre-1.6 torch format through torch.load(weights_only=True).
    A state_dict or safetensors file of any other layer sequence (convolutions) needs a JSON description
    of its layers (schema: ``explorer.io.description``): ``layers``, or MODEL.json beside a MODEL path.

    Parameters
    ----------
    source : str, os.PathLike, bytes or binary file-like (e.g. Streamlit's UploadedFile)
    activation : for state_dicts, the activation between Linear layers; for formats that record their
        activation it must agree with the file (or be None)
    filename : name used in error messages (defaults to the path or the file-like's ``name``)
    layers : the JSON layer description (a dict, JSON text or bytes, or a path to a .json file); for
        TorchScript and ONNX it may give only the input shape

    Raises
    ------
    ExplorerError
        for a missing, empty, oversized, damaged or foreign file, a pickle that would run code, an
        unsupported layer, inconsistent shapes, NaN/Inf weights or a network over the size limits.
    """
    data, label = _read_bytes(source, filename)
    request = _request(source, label, activation, layers)
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        ckpt = _load_zip(data, request)
    elif data.startswith(_LEGACY_MAGIC):  # five pickles: magic, protocol, system, the object, storage keys
        with _torch_errors(label):
            state = load_with_torch(data, request.budget, scan=data, pickles=5)
        ckpt = _interpret(state, request, "legacy torch file")
    elif looks_like_safetensors(data):  # before pickles: a header of 128 + 256 k bytes starts with 0x80 too
        ckpt = _interpret(read_safetensors(data, label, request.budget), request, "safetensors")
    elif data[:1] == b"\x80":
        raise ExplorerError(f"{label} is a plain Python pickle, not a PyTorch file; it was not opened because "
                            "unpickling can run code. Save the network with torch.save(model.state_dict(), path).")
    elif looks_like_onnx(data):
        steps, shape = specs_from_onnx(data, label, request.budget)
        ckpt = _from_steps(steps, request, "onnx", _own_shape(request, shape))
    else:
        raise ExplorerError(f"{label} is not a network file: expected a PyTorch .pt archive, safetensors, "
                            f"TorchScript or ONNX, but it starts with {data[:8]!r}.")
    _check_activation(ckpt.net, activation, label)
    return ckpt


def load_network(source, *, activation: str | None = None, filename: str | None = None, layers=None) -> Network:
    """The network of :func:`load` (box and provenance dropped)."""
    return load(source, activation=activation, filename=filename, layers=layers).net


def file_budget(label: str) -> Budget:
    """The memory budget of one file: MAX_FILE_ELEMENTS array elements for everything reading it creates."""
    return Budget(MAX_FILE_ELEMENTS, label)


def checkpoint_bytes(net: Network, *, box=None, provenance: dict | None = None) -> bytes:
    """The explorer checkpoint as bytes: a torch zip archive of a plain dict, written without torch.

    It holds 'format', 'version', 'activation', 'alpha', 'weights' and 'biases' (lists of float64
    tensors), 'domain' (the box: an (n0, 2) tensor or None), 'input_names' and 'provenance' (a JSON string), so
    ``torch.load(path, weights_only=True)`` reads it as well.  Output is deterministic.
    """
    if not isinstance(net, Network):
        raise ExplorerError(f"checkpoint_bytes needs an explorer Network; got {type(net).__name__}. "
                            "Convert torch modules with explorer.io.from_module first.")
    try:
        text = json.dumps({} if provenance is None else provenance)
    except (TypeError, ValueError) as exc:
        raise ExplorerError(f"the provenance must be JSON-able; {exc}.") from None
    payload = {
        "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
        "activation": net.activation, "alpha": float(net.alpha),
        "weights": list(net.weights), "biases": list(net.biases),
        "domain": _box(box, net.n_inputs, "the box"),
        "input_names": [str(n) for n in net.input_names], "provenance": text,
        "input_shape": list(net.input_shape), "layer_names": list(net.layer_names),
        "unit_labels": list(net.unit_labels),
    }
    return _torchfile.archive_bytes(payload, name="checkpoint")


def save_checkpoint(target, net: Network, *, box=None, provenance: dict | None = None) -> None:
    """Write :func:`checkpoint_bytes` to a path or a binary file-like object."""
    data = checkpoint_bytes(net, box=box, provenance=provenance)
    if hasattr(target, "write"):
        target.write(data)
    else:
        Path(target).write_bytes(data)


def from_module(module, *, activation: str | None = None, input_shape=None) -> Network:
    """The Network computed by an eval-mode ``torch.nn.Sequential`` (or a single supported layer).

    Supported: Linear, Conv2d (zero padding), AvgPool2d, MaxPool2d (windows of at most two values, after
    a ReLU), BatchNorm1d/2d (running statistics, folded into the adjacent affine map), ReLU, LeakyReLU,
    Dropout, Flatten, Identity, nested Sequentials.  ``activation``, if given, must agree with the
    module's; ``input_shape`` (C, H, W) is needed for convolutions unless it can be inferred.
    Parameters are converted to float64 exactly.
    """
    from .modules import module_steps

    net = build_network(module_steps(module), input_shape=input_shape, budget=file_budget("the module"),
                        max_parameters=MAX_PARAMETERS)
    _check_activation(net, activation, "the module")
    return net


def to_module(net: Network) -> "torch.nn.Sequential":
    """A float64 ``nn.Sequential`` (Linear, ReLU or LeakyReLU(α), …, Linear) computing ``net`` exactly."""
    import torch

    layers = []
    for l, (W, b) in enumerate(zip(net.weights, net.biases)):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(np.array(W)))
            lin.bias.copy_(torch.from_numpy(np.array(b)))
        layers.append(lin)
        if l < len(net.weights) - 1:
            layers.append(torch.nn.ReLU() if net.alpha == 0 else torch.nn.LeakyReLU(net.alpha))
    return torch.nn.Sequential(*layers).eval()


def save_state_dict(path, net: Network) -> None:
    """``torch.save(to_module(net).state_dict(), path)``: keys 0.weight, 0.bias, 2.weight, … (float64)."""
    import torch

    torch.save(to_module(net).state_dict(), path)


def save_torchscript(path, net: Network) -> None:
    """``torch.jit.save(torch.jit.script(to_module(net)), path)`` (torch's deprecation notice silenced)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.save(torch.jit.script(to_module(net)), str(path))


# ---- reading ---------------------------------------------------------------------------------
def _read_bytes(source, filename: str | None) -> tuple[bytes, str]:
    """All bytes of the source (refusing more than MAX_FILE_BYTES) and a label for messages."""
    is_path = isinstance(source, (str, os.PathLike))
    name = filename or (str(source) if is_path else getattr(source, "name", None))
    label = f"'{one_line(name)}'" if isinstance(name, str) and name else "the uploaded file"
    too_big = f"{label} is larger than the limit of {MAX_FILE_BYTES / 2**20:g} MB; use a smaller network file."
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif is_path:
        path = Path(source)
        if not path.is_file():
            raise ExplorerError(f"there is no file {label}; check the path.")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ExplorerError(too_big)
        data = path.read_bytes()
    elif hasattr(source, "read"):
        data = source.read(MAX_FILE_BYTES + 1)
        if not isinstance(data, (bytes, bytearray)):
            raise ExplorerError(f"{label} must be opened in binary mode ('rb'); got text.")
        data = bytes(data)
    else:
        raise ExplorerError(f"cannot read a network from a {type(source).__name__}; pass a path, bytes or a "
                            "binary file object.")
    if len(data) > MAX_FILE_BYTES:
        raise ExplorerError(too_big)
    if not data:
        raise ExplorerError(f"{label} is empty; choose a saved network file.")
    return data, label


@dataclass(frozen=True)
class _Request:
    """What one load call carries to every reader: the file's label, activation, description and budget."""

    label: str
    activation: str | None
    description: dict | None
    budget: Budget
    beside: bool = False  # the description is MODEL.json found beside the file, not one the caller gave


def _request(source, label: str, activation: str | None, layers) -> _Request:
    """The call's request: the layer description given, else MODEL.json beside a MODEL path (never for uploads)."""
    budget = file_budget(label)
    if layers is not None:
        return _Request(label, activation, read_description(layers, label), budget)
    if isinstance(source, (str, os.PathLike)):
        beside = Path(source).with_suffix(".json")
        if beside != Path(source) and beside.is_file():
            return _Request(label, activation, read_description(beside, label), budget, beside=True)
    return _Request(label, activation, None, budget)


def _own_shape(request: _Request, shape: tuple | None) -> tuple | None:
    """A file that records its own layers: the input shape it records, or the one its description gives."""
    if request.description is None:
        return shape
    return recorded_shape(request.description, shape, beside=request.beside, label=request.label)


def _load_zip(data: bytes, request: _Request) -> Checkpoint:
    label = request.label
    try:
        archive = _torchfile.open_archive(data, max_bytes=MAX_FILE_BYTES, budget=request.budget)
    except _torchfile.Corrupt as exc:
        raise ExplorerError(f"{label} is not a readable PyTorch file: {one_line(exc, 200)}. Save it again with "
                            "torch.save.") from None
    if _torchfile.is_torchscript(archive):
        root = _read_pickle(archive, data, request, script=True)

        def read_code(member: str) -> str:
            try:
                return archive.read(member).decode("utf-8")
            except (_torchfile.Corrupt, UnicodeDecodeError) as exc:
                raise ExplorerError(f"{label} is a damaged TorchScript file: {one_line(exc, 200)}.") from None

        try:
            steps = specs_from_script(root, read_code)
        except RecursionError:
            raise ExplorerError(f"{label} nests its modules too deeply to be a network.") from None
        return _from_steps(steps, request, "torchscript", _own_shape(request, None))
    return _interpret(_read_pickle(archive, data, request, script=False), request, "state_dict")


def _read_pickle(archive, data: bytes, request: _Request, *, script: bool):
    label = request.label
    with _torch_errors(label):
        try:
            return _torchfile.read_pickle(archive, script=script)
        except _torchfile.Unsupported as exc:
            if script:
                raise ExplorerError(f"{label} uses {exc}, which TorchScript files here may not contain.") from None
            return load_with_torch(data, request.budget, scan=archive.read("data.pkl"), pickles=1)


@contextmanager
def _torch_errors(label: str):
    """The reader's and the fallback's refusals as one ExplorerError sentence each."""
    try:
        yield
    except _torchfile.Refused as exc:
        raise ExplorerError(_refused(label, str(exc))) from None
    except _torchfile.Kind as exc:
        raise ExplorerError(kind_refused(label, str(exc))) from None
    except _torchfile.Corrupt as exc:
        raise ExplorerError(f"{label} is damaged, truncated or too large: {one_line(exc, 200)}. "
                            "Save it again.") from None


def _refused(label: str, name: str) -> str:
    return (f"{label} contains a pickled Python object ({name}) that would run code when loaded; it was refused "
            "and nothing was executed. Save only the weights: torch.save(model.state_dict(), path).")


def _interpret(obj, request: _Request, fmt: str) -> Checkpoint:
    """A checkpoint dict or a state_dict (possibly nested under 'state_dict' / 'model_state_dict')."""
    label = request.label
    if not isinstance(obj, dict):
        kind = "single tensor" if isinstance(obj, np.ndarray) else type(obj).__name__
        raise ExplorerError(f"{label} holds a {kind}, not a state_dict or checkpoint; save "
                            "model.state_dict() instead.")
    if obj.get("format") == CHECKPOINT_FORMAT:
        if request.description is not None and not request.beside:
            raise ExplorerError(f"{label} is an explorer checkpoint, which records its own layers; leave the "
                                "layer description out.")
        return _checkpoint_from_dict(obj, label, request.budget)
    nested = [k for k in _NESTED_KEYS if isinstance(obj.get(k), dict)]
    if nested and not all(isinstance(v, np.ndarray) for v in obj.values()):
        obj = obj[nested[0]]
    if request.description is None:
        return _from_steps(specs_from_state_dict(obj, activation=request.activation), request, fmt, None)
    steps, shape = steps_from_description(request.description, obj)
    return _from_steps(steps, request, fmt, shape)


def _from_steps(steps: list, request: _Request, fmt: str, input_shape) -> Checkpoint:
    net = build_network(steps, input_shape=input_shape, budget=request.budget, max_parameters=MAX_PARAMETERS)
    return Checkpoint(net=net, provenance={"source": {"format": fmt, "filename": request.label.strip("'")}})


def _checkpoint_from_dict(d: dict, label: str, budget: Budget) -> Checkpoint:
    version = d.get("version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise ExplorerError(f"{label} is an explorer checkpoint of version {version!r}; this version reads "
                            f"version {CHECKPOINT_VERSION}. Update the explorer.")
    weights, biases = d.get("weights"), d.get("biases")
    if not (isinstance(weights, list) and isinstance(biases, list)
            and all(isinstance(a, np.ndarray) for a in weights + biases)):
        raise ExplorerError(f"{label} is a damaged explorer checkpoint: its weights are not lists of tensors.")
    n_params = sum(a.size for a in weights + biases)
    if n_params > MAX_PARAMETERS:
        raise ExplorerError(f"the network has {n_params:,} parameters; the limit is {MAX_PARAMETERS:,}.")
    budget.allocate(n_params, "the network's layers")
    weights, biases = ([as_float64(a, f"{label}: a layer") for a in arrays] for arrays in (weights, biases))
    extra = {key: d.get(key) or [] for key in ("input_names", "input_shape", "layer_names", "unit_labels")}
    if not all(isinstance(v, list) for v in extra.values()):
        raise ExplorerError(f"{label} is a damaged explorer checkpoint: its names are not lists.")
    net = Network(tuple(weights), tuple(biases), str(d.get("activation", "relu")), float(d.get("alpha", 0.0)),
                  input_names=tuple(str(n) for n in extra["input_names"]), input_shape=tuple(extra["input_shape"]),
                  layer_names=tuple(extra["layer_names"]), unit_labels=tuple(extra["unit_labels"]))
    try:
        provenance = json.loads(d.get("provenance") or "{}")
    except (TypeError, ValueError):
        provenance = None
    if not isinstance(provenance, dict):
        raise ExplorerError(f"{label} is a damaged explorer checkpoint: its provenance is not a JSON object.")
    domain = d.get("domain")
    domain = as_float64(domain, f"the box in {label}") if isinstance(domain, np.ndarray) else domain
    return Checkpoint(net=net, box=_box(domain, net.n_inputs, f"the box in {label}"), provenance=provenance)


def _box(box, n0: int, what: str) -> np.ndarray | None:
    """Validate a stored box strictly: float64 (n0, 2), finite, lo < hi in every row."""
    if box is None:
        return None
    box = np.array(box, dtype=np.float64)
    if box.shape != (n0, 2) or not np.isfinite(box).all() or not (box[:, 0] < box[:, 1]).all():
        raise ExplorerError(f"{what} must be {n0} finite [lo, hi] pairs with lo < hi; got {box.tolist()!r:.120}.")
    return box


def _check_activation(net: Network, activation: str | None, label: str) -> None:
    if activation is None or net.n_hidden == 0:
        return
    if parse_activation(activation) != (net.activation, net.alpha):
        raise ExplorerError(f"{label} uses {net.activation} (alpha={net.alpha:g}) but activation={activation!r} "
                            "was requested; leave the activation out for this file.")
