"""Loading and saving networks: torch modules, state_dicts, TorchScript, ONNX and the explorer's checkpoint.

Files are recognised by their content, never their suffix, and read without executing anything: torch
zip archives go through a restricted, torch-free unpickler (:mod:`explorer.io.torchfile`) that knows only
the globals a dictionary of tensors needs; TorchScript modules become inert records whose class names are
matched against the supported layers; ONNX is parsed as protobuf data after a scan of its bytes.
``torch.load(weights_only=True)`` is the fallback for the rare torch globals the reader lacks and for the
legacy (pre-1.6) format, after the same pickle has run on an inert machine under the same limits.  Every load
has one :class:`~explorer.io.budget.FileBudget` that each reader charges before it allocates.  All
parameters become float64 exactly (see :mod:`explorer.io.dtypes`), so a state_dict, a TorchScript
file and a checkpoint of one network give bitwise-identical weights.
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
from .budget import FileBudget
from .dtypes import as_float64, kind_refused
from .layers import Act, Affine, act_step, assemble, batchnorm, specs_from_script, specs_from_state_dict
from .onnxfile import looks_like_onnx, specs_from_onnx
from .torchload import load_with_torch

__all__ = ["Checkpoint", "load", "load_network", "save_checkpoint", "checkpoint_bytes", "from_module",
           "to_module", "save_state_dict", "save_torchscript", "MAX_FILE_BYTES", "MAX_PARAMETERS",
           "CHECKPOINT_FORMAT"]

MAX_FILE_BYTES = 200 * 2**20  # files (and zip contents) above 200 MB are refused
MAX_PARAMETERS = 5_000_000  # networks above 5 M parameters are refused
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


def load(source, *, activation: str | None = None, filename: str | None = None) -> Checkpoint:
    """Read a network from a path, bytes or a binary file-like object, detecting the format by content.

    Formats: the explorer's checkpoint; a state_dict of an nn.Sequential (keys '0.weight', '0.bias',
    '2.weight', …; ``activation`` — 'relu' (default) or 'leaky_relu:ALPHA' — is the activation between
    Linear layers); TorchScript (torch.jit.save of such a Sequential); ONNX (a chain of Gemm / MatMul +
    Add / Relu / LeakyRelu); the legacy pre-1.6 torch format through torch.load(weights_only=True).

    Parameters
    ----------
    source : str, os.PathLike, bytes or binary file-like (e.g. Streamlit's UploadedFile)
    activation : for state_dicts, the activation between Linear layers; for formats that record their
        activation it must agree with the file (or be None)
    filename : name used in error messages (defaults to the path or the file-like's ``name``)

    Raises
    ------
    ExplorerError
        for a missing, empty, oversized, damaged or foreign file, a pickle that would run code, an
        unsupported layer, inconsistent shapes, NaN/Inf weights or a network over the size limits.
    """
    data, label = _read_bytes(source, filename)
    budget = FileBudget(label)
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        ckpt = _load_zip(data, label, activation, budget)
    elif data.startswith(_LEGACY_MAGIC):  # five pickles: magic, protocol, system, the object, storage keys
        with _torch_errors(label):
            state = load_with_torch(data, budget, scan=data, pickles=5)
        ckpt = _interpret(state, label, activation, "legacy torch file", budget)
    elif data[:1] == b"\x80":
        raise ExplorerError(f"{label} is a plain Python pickle, not a PyTorch file; it was not opened because "
                            "unpickling can run code. Save the network with torch.save(model.state_dict(), path).")
    elif looks_like_onnx(data):
        ckpt = _from_steps(specs_from_onnx(data, label, budget), label, "onnx", budget)
    else:
        raise ExplorerError(f"{label} is not a network file: expected a PyTorch .pt archive, TorchScript or "
                            f"ONNX, but it starts with {data[:8]!r}.")
    _check_activation(ckpt.net, activation, label)
    return ckpt


def load_network(source, *, activation: str | None = None, filename: str | None = None) -> Network:
    """The network of :func:`load` (box and provenance dropped)."""
    return load(source, activation=activation, filename=filename).net


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
    }
    return _torchfile.archive_bytes(payload, name="checkpoint")


def save_checkpoint(target, net: Network, *, box=None, provenance: dict | None = None) -> None:
    """Write :func:`checkpoint_bytes` to a path or a binary file-like object."""
    data = checkpoint_bytes(net, box=box, provenance=provenance)
    if hasattr(target, "write"):
        target.write(data)
    else:
        Path(target).write_bytes(data)


def from_module(module, *, activation: str | None = None) -> Network:
    """The Network computed by an eval-mode ``torch.nn.Sequential`` (or a single supported layer).

    Supported: Linear, ReLU, LeakyReLU, BatchNorm1d (running statistics, folded into the adjacent
    Linear), Dropout, Flatten, Identity, nested Sequentials.  ``activation``, if given, must agree
    with the module's.  Parameters are converted to float64 exactly.
    """
    import torch.nn as nn

    steps: list = []
    _module_steps(module, "", steps, nn)
    net = assemble(steps, max_parameters=MAX_PARAMETERS, budget=FileBudget("the module"))
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
    label = f"'{name}'" if isinstance(name, str) and name else "the uploaded file"
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


def _load_zip(data: bytes, label: str, activation: str | None, budget: FileBudget) -> Checkpoint:
    try:
        archive = _torchfile.open_archive(data, max_bytes=MAX_FILE_BYTES, budget=budget)
    except _torchfile.Corrupt as exc:
        raise ExplorerError(f"{label} is not a readable PyTorch file: {exc}. Save it again with torch.save.") from None
    if _torchfile.is_torchscript(archive):
        root = _read_pickle(archive, data, label, budget, script=True)

        def read_code(member: str) -> str:
            try:
                return archive.read(member).decode("utf-8")
            except (_torchfile.Corrupt, UnicodeDecodeError) as exc:
                raise ExplorerError(f"{label} is a damaged TorchScript file: {exc}.") from None

        try:
            steps = specs_from_script(root, read_code)
        except RecursionError:
            raise ExplorerError(f"{label} nests its modules too deeply to be a network.") from None
        return _from_steps(steps, label, "torchscript", budget)
    state = _read_pickle(archive, data, label, budget, script=False)
    return _interpret(state, label, activation, "state_dict", budget)


def _read_pickle(archive, data: bytes, label: str, budget: FileBudget, *, script: bool):
    with _torch_errors(label):
        try:
            return _torchfile.read_pickle(archive, script=script)
        except _torchfile.Unsupported as exc:
            if script:
                raise ExplorerError(f"{label} uses {exc}, which TorchScript files here may not contain.") from None
            return load_with_torch(data, budget, scan=archive.read("data.pkl"), pickles=1)


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
        raise ExplorerError(f"{label} is damaged, truncated or too large: {exc}. Save it again.") from None


def _refused(label: str, name: str) -> str:
    return (f"{label} contains a pickled Python object ({name}) that would run code when loaded; it was refused "
            "and nothing was executed. Save only the weights: torch.save(model.state_dict(), path).")


def _interpret(obj, label: str, activation: str | None, fmt: str, budget: FileBudget) -> Checkpoint:
    """A checkpoint dict or a state_dict (possibly nested under 'state_dict' / 'model_state_dict')."""
    if not isinstance(obj, dict):
        kind = "single tensor" if isinstance(obj, np.ndarray) else type(obj).__name__
        raise ExplorerError(f"{label} holds a {kind}, not a state_dict or checkpoint; save "
                            "model.state_dict() instead.")
    if obj.get("format") == CHECKPOINT_FORMAT:
        return _checkpoint_from_dict(obj, label, budget)
    nested = [k for k in _NESTED_KEYS if isinstance(obj.get(k), dict)]
    if nested and not all(isinstance(v, np.ndarray) for v in obj.values()):
        obj = obj[nested[0]]
    steps = specs_from_state_dict(obj, activation=activation)
    return _from_steps(steps, label, fmt, budget)


def _from_steps(steps: list, label: str, fmt: str, budget: FileBudget) -> Checkpoint:
    net = assemble(steps, max_parameters=MAX_PARAMETERS, budget=budget)
    return Checkpoint(net=net, provenance={"source": {"format": fmt, "filename": label.strip("'")}})


def _checkpoint_from_dict(d: dict, label: str, budget: FileBudget) -> Checkpoint:
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
    names = d.get("input_names") or []
    net = Network(tuple(weights), tuple(biases), str(d.get("activation", "relu")), float(d.get("alpha", 0.0)),
                  input_names=tuple(str(n) for n in names))
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


# ---- torch modules -----------------------------------------------------------------------------
def _module_steps(module, path: str, steps: list, nn) -> None:
    label = f"{type(module).__name__} '{path}'" if path else type(module).__name__
    if isinstance(module, nn.Sequential):
        for name, child in module.named_children():
            _module_steps(child, f"{path}.{name}" if path else name, steps, nn)
    elif isinstance(module, nn.Linear):
        if isinstance(module.weight, nn.parameter.UninitializedParameter):
            raise ExplorerError(f"{label} is not initialised yet (LazyLinear); run one forward pass first.")
        W = module.weight.detach().cpu().double().numpy()
        b = np.zeros(W.shape[0]) if module.bias is None else module.bias.detach().cpu().double().numpy()
        steps.append(Affine(W, b, label))
    elif isinstance(module, nn.ReLU):
        steps.append(Act("relu", 0.0, label))
    elif isinstance(module, nn.LeakyReLU):
        slope = float(module.negative_slope)
        label = label.replace("LeakyReLU", f"LeakyReLU({slope:g})", 1)
        steps.append(act_step("relu" if slope == 0 else f"leaky_relu:{slope!r}", label))
    elif isinstance(module, nn.BatchNorm1d):
        if module.running_mean is None:
            raise ExplorerError(f"{label} keeps no running statistics, so it is not a fixed affine map; train "
                                "it with track_running_stats=True.")
        as_np = lambda t: None if t is None else t.detach().cpu().double().numpy()  # noqa: E731
        steps.append(batchnorm(as_np(module.weight), as_np(module.bias), as_np(module.running_mean),
                               as_np(module.running_var), float(module.eps), label))
    elif isinstance(module, (nn.Identity, nn.Dropout, nn.Flatten)):
        if isinstance(module, nn.Flatten) and module.start_dim != 1:
            raise ExplorerError(f"{label} flattens from dimension {module.start_dim}; only start_dim=1 is supported.")
    else:
        raise ExplorerError(f"unsupported layer {label}; supported are Sequential, Linear, ReLU, LeakyReLU, "
                            "BatchNorm1d, Dropout, Flatten and Identity.")
