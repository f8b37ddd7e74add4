"""Layer lists (affine maps and activations) read from state_dicts and TorchScript records, assembled into a Network.

Every reader turns its source into a flat list of :class:`Affine` and :class:`Act` steps; modules that are
the identity at inference (Identity, Dropout, Flatten on feature vectors) leave no step, and BatchNorm in
eval mode is the affine map  y ↦ s⊙(y − μ) + β  with  s = γ / sqrt(σ² + ε), kept as the vector s (a row
scaling, never a dense diagonal).  :func:`assemble` composes consecutive affine steps, so BatchNorm folds into
the Linear it follows directly and otherwise into the next one, and two Linear layers with nothing between them
become one map; every product it forms is charged to the file's budget first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import ExplorerError
from ..net import Network, parse_activation
from .budget import FileBudget
from .dtypes import as_float64

__all__ = ["Affine", "Act", "act_step", "batchnorm", "assemble", "specs_from_state_dict",
           "specs_from_script", "BN_EPS"]

BN_EPS = 1e-5  # PyTorch's default BatchNorm ε; a state_dict does not record it
_STATE_PARAMS = {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
_SCRIPT_NAME = re.compile(r"__torch__\.torch\.nn\.modules\.(\w+)(?:\.___torch_mangle_\d+)?\.(\w+)$")
_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"


@dataclass(frozen=True)
class Affine:
    """y = W x + b with W of shape (n_out, n_in), or y = W ⊙ x + b with W a vector (a diagonal map), and b of
    shape (n_out,); label names the source layer."""

    W: np.ndarray
    b: np.ndarray
    label: str


@dataclass(frozen=True)
class Act:
    """An activation σ with slope α on the negative side (α = 0: ReLU); label names the source layer."""

    name: str
    alpha: float
    label: str


def batchnorm(gamma, beta, mean, var, eps: float, label: str) -> Affine:
    """Eval-mode BatchNorm as the diagonal affine step s ⊙ y + (β − s μ), s = γ / sqrt(var + ε)."""
    mean, var = _vector(mean, label, "running_mean"), _vector(var, label, "running_var")
    n = mean.size
    gamma = np.ones(n) if gamma is None else _vector(gamma, label, "weight")
    beta = np.zeros(n) if beta is None else _vector(beta, label, "bias")
    if not (gamma.size == beta.size == var.size == n):
        raise ExplorerError(f"{label}: BatchNorm parameters have different lengths "
                            f"({gamma.size}, {beta.size}, {n}, {var.size}); the file is inconsistent.")
    if not (np.all(var + eps > 0) and np.isfinite(eps)):
        raise ExplorerError(f"{label}: BatchNorm running_var + eps must be positive; got a minimum of "
                            f"{float(np.min(var + eps))}. The file is damaged.")
    s = gamma / np.sqrt(var + eps)
    return Affine(s, beta - s * mean, label)


def assemble(steps: list, *, max_parameters: int, budget: FileBudget) -> Network:
    """Compose a list of Affine/Act steps into a Network  W_L σ(… σ(W_1 x + b_1) …) + b_L.

    Consecutive affine steps multiply out (W2 (W1 x + b1) + b2); an activation with no affine step
    before it acts on the identity map (σ(σ(g)) = σ(I σ(g) + 0)), which keeps the function exact.
    """
    acts = [s for s in steps if isinstance(s, Act)]
    kinds = {(a.name, a.alpha) for a in acts}
    if len(kinds) > 1:
        first, other = acts[0], next(a for a in acts if (a.name, a.alpha) != (acts[0].name, acts[0].alpha))
        raise ExplorerError(f"the network mixes two activations, {first.label} and {other.label}; the "
                            "explorer handles one activation per network. Use the same activation everywhere.")
    layers: list[tuple[np.ndarray, np.ndarray]] = []
    acc: tuple | None = None
    width, leading, last_label = None, 0, ""
    for step in steps:
        if isinstance(step, Act):
            if width is None:
                leading += 1
            else:
                layers.append(_dense(acc, width, budget, "the layer between two activations"))
                acc = None
            last_label = step.label
            continue
        W, b = step.W, step.b
        if width is None:
            layers += [_dense(None, W.shape[-1], budget, "an activation on the input") for _ in range(leading)]
        elif W.shape[-1] != width:
            raise ExplorerError(f"{step.label} expects {W.shape[-1]} inputs but the layer before it gives "
                                f"{width} outputs; the layer shapes do not chain.")
        acc = (W, b) if acc is None else _compose(W, b, acc, budget, step.label)
        width = W.shape[0]
    if width is None:
        raise ExplorerError("the network is empty: it has no Linear layer with weights. Load a network "
                            "with at least one Linear layer.")
    if acc is None:
        raise ExplorerError(f"the network ends with an activation ({last_label}) after its last Linear "
                            "layer; the explorer needs an affine output (logits). Remove the final activation.")
    layers.append(_dense(acc, width, budget, "the output layer"))
    n_params = sum(W.size + b.size for W, b in layers)
    if n_params > max_parameters:
        raise ExplorerError(f"the network has {n_params:,} parameters; the limit is {max_parameters:,}. "
                            "Use a smaller network.")
    budget.allocate(n_params, "the network's layers")
    name, alpha = (acts[0].name, acts[0].alpha) if acts else ("relu", 0.0)
    return Network(tuple(W for W, _ in layers), tuple(b for _, b in layers), name, alpha)


def _compose(W: np.ndarray, b: np.ndarray, acc: tuple, budget: FileBudget, label: str) -> tuple:
    """(W, b) ∘ (A, c) = (W A, W c + b), with a vector W or A meaning a diagonal (a row or column scaling)."""
    A, c = acc
    if W.ndim == 1:
        budget.allocate(A.size, f"{label} folded into the layer before it")
        return (W[:, None] * A if A.ndim == 2 else W * A), W * c + b
    budget.allocate(W.shape[0] * (A.shape[1] if A.ndim == 2 else 1), f"{label} folded into the layer before it")
    return (W * A[None, :] if A.ndim == 1 else W @ A), W @ c + b


def _dense(acc: tuple | None, width: int, budget: FileBudget, label: str) -> tuple:
    """A layer of the Network as a matrix: the identity for None, diag(s) for a diagonal step."""
    W, b = acc if acc is not None else (np.ones(width), np.zeros(width))
    if W.ndim == 2:
        return W, b
    budget.allocate(W.size * W.size, f"{label} as a {W.size}×{W.size} layer of the network")
    return np.diag(W), b


def act_step(activation: str | None, label: str) -> Act:
    """The activation step for 'relu' / 'leaky_relu:ALPHA' (None means ReLU)."""
    name, alpha = parse_activation(activation or "relu")
    return Act(name, alpha, label)


# ---- state_dict ------------------------------------------------------------------------------
def specs_from_state_dict(state: dict, *, activation: str | None = None) -> list:
    """Steps of the nn.Sequential whose state_dict is given (keys '0.weight', '0.bias', '2.weight', …).

    Modules without parameters are invisible in a state_dict, so the activation is placed by the
    indices: between two Linear layers a gap in the indices holds one activation (``activation``,
    ReLU by default) and no gap means none.  With BatchNorm between two Linear layers the gap must
    sit on one side of it.  With named modules (fc1, fc2) every pair of Linear layers gets one
    activation and BatchNorm is refused as ambiguous.  Parameter-free modules before the first or
    after the last Linear layer are taken to be identity-like (Flatten, Dropout); BatchNorm uses ε = 1e-5.
    """
    modules = _group_state(state)
    act = act_step(activation, "the activation between Linear layers")
    paths = list(modules)
    indexed = all(p.isdigit() for p in paths)
    if indexed:
        paths.sort(key=int)
    kinds = [_state_kind(modules[p], p) for p in paths]
    if not indexed and "batchnorm" in kinds:
        raise ExplorerError(f"the state_dict has BatchNorm '{paths[kinds.index('batchnorm')]}' among named "
                            "modules, so it cannot tell whether the activation comes before or after it. Load "
                            "the module itself or a TorchScript file instead.")
    linear = [k for k, kind in enumerate(kinds) if kind == "linear"]
    act_after = set()  # positions k whose module is followed by the activation
    for a, c in zip(linear, linear[1:]):
        if not indexed:
            act_after.add(a)
            continue
        gapped = [j for j in range(a, c) if int(paths[j + 1]) - int(paths[j]) > 1]
        if len(gapped) > 1:
            raise ExplorerError(f"the state_dict has BatchNorm between Linear '{paths[a]}' and Linear "
                                f"'{paths[c]}' with parameter-free modules on both sides, so the place of the "
                                "activation is ambiguous. Load the module itself or a TorchScript file.")
        act_after.update(gapped)
    steps: list = []
    for k, (path, kind) in enumerate(zip(paths, kinds)):
        params = modules[path]
        if kind == "linear":
            steps.append(_linear(params.get("weight"), params.get("bias"), f"Linear '{path}'"))
        else:
            steps.append(batchnorm(params.get("weight"), params.get("bias"), params["running_mean"],
                                   params["running_var"], BN_EPS, f"BatchNorm '{path}'"))
        if k in act_after:
            steps.append(act)
    return steps


def _group_state(state: dict) -> dict[str, dict]:
    """{module path: {parameter name: array}} in file order, common path prefixes ('model.') removed."""
    if not state:
        raise ExplorerError("the state_dict is empty: it holds no weights. Save model.state_dict() of a "
                            "network with Linear layers.")
    bad = [k for k, v in state.items() if not isinstance(k, str) or "." not in k or not isinstance(v, np.ndarray)]
    if bad:
        raise ExplorerError(f"the state_dict has unexpected entries {_names(bad)}; expected keys like "
                            "'0.weight' and '0.bias' holding tensors.")
    split = [k.split(".") for k in state]
    prefix = 0
    while all(len(s) > prefix + 2 and s[prefix] == split[0][prefix] for s in split):
        prefix += 1
    modules: dict[str, dict] = {}
    for parts, value in zip(split, state.values()):
        modules.setdefault(".".join(parts[prefix:-1]), {})[parts[-1]] = value
    unexpected = [f"{p}.{n}" for p, params in modules.items() for n in params if n not in _STATE_PARAMS]
    if unexpected:
        raise ExplorerError(f"the state_dict has unexpected keys {_names(unexpected)}; only Linear "
                            "(weight, bias) and BatchNorm1d entries are supported.")
    return modules


def _state_kind(params: dict, path: str) -> str:
    names = set(params)
    if {"running_mean", "running_var"} <= names:
        return "batchnorm"
    W = params.get("weight")
    if names <= {"weight", "bias"} and W is not None and W.ndim == 2:
        return "linear"
    shape = "" if W is None else f"; weight of shape {tuple(W.shape)}"
    raise ExplorerError(f"the state_dict module '{path}' (keys {', '.join(sorted(names))}{shape}) is neither a "
                        "Linear nor a BatchNorm1d layer; only those are supported (a 4-D weight is a Conv2d, "
                        "for example).")


def _linear(W, b, label: str) -> Affine:
    if not isinstance(W, np.ndarray) or W.ndim != 2:
        raise ExplorerError(f"{label}: the weight must be a matrix; got {getattr(W, 'shape', type(W).__name__)}.")
    if 0 in W.shape:
        raise ExplorerError(f"{label}: the weight has shape {W.shape}; a layer needs at least one input and one output.")
    b = np.zeros(W.shape[0]) if b is None else _vector(b, label, "bias")
    if b.size != W.shape[0]:
        raise ExplorerError(f"{label}: the bias has {b.size} entries but the weight has {W.shape[0]} rows.")
    return Affine(as_float64(W, f"{label}: the weight"), b, label)


def _vector(v, label: str, what: str) -> np.ndarray:
    if not isinstance(v, np.ndarray) or v.ndim != 1:
        raise ExplorerError(f"{label}: {what} must be a vector; got {getattr(v, 'shape', type(v).__name__)}.")
    return as_float64(v, f"{label}: {what}")


def _names(keys: list) -> str:
    shown = ", ".join(repr(k) for k in keys[:5])
    return shown + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


# ---- TorchScript ------------------------------------------------------------------------------
def specs_from_script(root, read_code) -> list:
    """Steps of a TorchScript nn.Sequential from its inert pickle records (see torchfile.ScriptObject).

    ``read_code(path)`` returns the TorchScript source of a class file; constants that TorchScript
    compiles into the code (LeakyReLU's slope, BatchNorm's ε) are read from it as numbers.
    """
    steps: list = []
    _walk_script(root, "", read_code, steps)
    return steps


def _walk_script(obj, path: str, read_code, steps: list) -> None:
    match = _SCRIPT_NAME.match(getattr(obj, "qualname", ""))
    kind = match.group(2) if match else getattr(obj, "qualname", type(obj).__name__).rsplit(".", 1)[-1]
    label = f"{kind} '{path}'" if path else kind
    state = getattr(obj, "state", {})
    if not match or kind not in ("Sequential", "Linear", "ReLU", "LeakyReLU", "Identity", "Dropout",
                                 "Flatten", "BatchNorm1d"):
        raise ExplorerError(f"the TorchScript file contains an unsupported layer {label}; supported are "
                            "Sequential, Linear, ReLU, LeakyReLU, BatchNorm1d, Dropout, Flatten, Identity.")
    if kind == "Sequential":
        for name, child in state.items():
            if hasattr(child, "qualname"):
                _walk_script(child, f"{path}.{name}" if path else name, read_code, steps)
    elif kind == "Linear":
        steps.append(_linear(state.get("weight"), state.get("bias"), label))
    elif kind == "ReLU":
        steps.append(Act("relu", 0.0, label))
    elif kind == "LeakyReLU":
        code = _class_code(obj.qualname, read_code)
        slope = _constant(code, "negative_slope", r"torch\.leaky_relu\([^,()]+,\s*" + _NUMBER, label)
        name, alpha = ("relu", 0.0) if slope == 0 else parse_activation("leaky_relu", slope)
        steps.append(Act(name, alpha, f"LeakyReLU({slope:g}) '{path}'"))
    elif kind == "BatchNorm1d":
        if state.get("running_mean") is None or state.get("running_var") is None:
            raise ExplorerError(f"{label} keeps no running statistics, so it is not a fixed affine map; "
                                "train it with track_running_stats=True.")
        code = _class_code(obj.qualname, read_code)
        eps = _constant(code, "eps", r"torch\.batch_norm\((?:[^,()]+,){7}\s*" + _NUMBER, label)
        steps.append(batchnorm(state.get("weight"), state.get("bias"), state.get("running_mean"),
                               state.get("running_var"), eps, label))


def _class_code(qualname: str, read_code) -> str:
    """Source of one class: code/__torch__/a/b.py, from 'class Name(' to the next top-level class."""
    module, name = qualname.rsplit(".", 1)
    text = read_code("code/" + module.replace(".", "/") + ".py")
    start = text.find(f"class {name}(")
    end = text.find("\nclass ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def _constant(code: str, field: str, traced: str, label: str) -> float:
    """A float constant: 'field : Final[float] = v' (scripted) or the literal in the traced call."""
    found = re.search(rf"^[ \t]*{field}\s*:\s*Final\[float\]\s*=\s*" + _NUMBER, code, re.M) or re.search(traced, code)
    if not found:
        raise ExplorerError(f"cannot read {field} of {label} from the TorchScript code; save the network's "
                            "state_dict instead.")
    return float(found.group(1))
