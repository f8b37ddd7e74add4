"""Layer steps of a plain state_dict: an nn.Sequential of Linear and BatchNorm1d layers, activations implied.

A state_dict holds only parameters, so the modules between them (activations, Dropout, Flatten) are placed
from the gaps in the Sequential's indices; :func:`group_state` splits the keys into modules for every
reader of weight dictionaries (this one and the JSON layer description of ``explorer.io.description``).
"""

from __future__ import annotations

import numpy as np

from .steps import act_step, batchnorm, linear
from ..errors import ExplorerError

__all__ = ["specs_from_state_dict", "group_state", "shown_keys", "BN_EPS", "STATE_PARAMS"]

BN_EPS = 1e-5  # PyTorch's default BatchNorm ε; a state_dict does not record it
STATE_PARAMS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


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
    modules = group_state(state)
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
    linears = [k for k, kind in enumerate(kinds) if kind == "linear"]
    act_after = set()  # positions k whose module is followed by the activation
    for a, c in zip(linears, linears[1:]):
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
            steps.append(linear(params.get("weight"), params.get("bias"), f"Linear '{path}'"))
        else:
            steps.append(batchnorm(params.get("weight"), params.get("bias"), params["running_mean"],
                                   params["running_var"], BN_EPS, f"BatchNorm '{path}'"))
        if k in act_after:
            steps.append(act)
    return steps


def group_state(state: dict) -> dict[str, dict]:
    """{module path: {parameter name: array}} in file order, common path prefixes ('model.') removed."""
    if not state:
        raise ExplorerError("the state_dict is empty: it holds no weights. Save model.state_dict() of a "
                            "network with Linear layers.")
    bad = [k for k, v in state.items() if not isinstance(k, str) or "." not in k or not isinstance(v, np.ndarray)]
    if bad:
        raise ExplorerError(f"the state_dict has unexpected entries {shown_keys(bad)}; expected keys like "
                            "'0.weight' and '0.bias' holding tensors.")
    split = [k.split(".") for k in state]
    prefix = 0
    while all(len(s) > prefix + 2 and s[prefix] == split[0][prefix] for s in split):
        prefix += 1
    modules: dict[str, dict] = {}
    for parts, value in zip(split, state.values()):
        modules.setdefault(".".join(parts[prefix:-1]), {})[parts[-1]] = value
    unexpected = [f"{p}.{n}" for p, params in modules.items() for n in params if n not in STATE_PARAMS]
    if unexpected:
        raise ExplorerError(f"the state_dict has unexpected keys {shown_keys(unexpected)}; only Linear "
                            "(weight, bias) and BatchNorm1d entries are supported.")
    return modules


def _state_kind(params: dict, path: str) -> str:
    keys = set(params)
    if {"running_mean", "running_var"} <= keys:
        return "batchnorm"
    W = params.get("weight")
    if keys <= {"weight", "bias"} and W is not None and W.ndim == 2:
        return "linear"
    shape = "" if W is None else f"; weight of shape {tuple(W.shape)}"
    raise ExplorerError(f"the state_dict module '{path}' (keys {', '.join(sorted(keys))}{shape}) is neither a "
                        "Linear nor a BatchNorm1d layer, the only layers a state_dict alone can describe (a 4-D "
                        "weight is a Conv2d, for example). Describe the layers in a JSON file: MODEL.json beside "
                        "the weights or --layers FILE.json (see docs/cnn.md).")


def shown_keys(keys: list) -> str:
    shown = ", ".join(repr(k) for k in keys[:5])
    return shown + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
