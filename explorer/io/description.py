"""A JSON description of the layer sequence, for files that hold only weights (state_dict, safetensors).

Schema (strict: unknown keys, wrong types and unused weights are refused, one message per problem)::

    {"input_shape": [C, H, W],                  # or [n] for a vector input; required for convolutions
     "layers": [                                # in order, as the modules of an nn.Sequential
        {"type": "conv2d", "stride": 1, "padding": 1, "dilation": 1, "groups": 1},
        {"type": "batchnorm2d", "eps": 1e-5},
        {"type": "relu"},
        {"type": "avgpool2d", "kernel_size": 2},
        {"type": "maxpool2d", "kernel_size": [1, 2]},
        {"type": "flatten"},
        {"type": "linear", "name": "fc"},
        {"type": "leaky_relu", "negative_slope": 0.1}, {"type": "dropout"}, {"type": "identity"}]}

Types and their optional keys follow torch's constructor arguments: linear (in_features, out_features,
bias); conv2d (in_channels, out_channels, kernel_size, stride, padding: int, pair, "valid" or "same",
dilation, groups, bias, padding_mode "zeros"); batchnorm1d / batchnorm2d (num_features, eps, momentum,
affine, track_running_stats); avgpool2d (kernel_size required, stride, padding, ceil_mode,
count_include_pad, divisor_override); maxpool2d (kernel_size required, stride, padding, dilation,
ceil_mode); relu; leaky_relu (negative_slope); flatten (start_dim 1, end_dim -1); dropout (p); identity.
Shapes of weights are read from the weights and checked against any size given.  A layer with weights
reads NAME.weight, NAME.bias, NAME.running_mean and NAME.running_var, where NAME is its "name" or, by
default, its position in the list (as nn.Sequential names its children); a prefix shared by every key
(such as 'model.') may be left out.  For TorchScript and ONNX files, which carry their own layers, a
description may give only "input_shape".
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from .layers import STATE_PARAMS, group_state, shown_keys
from .names import one_line
from .steps import Act, Flatten, act_step, batchnorm, conv, linear, pool
from ..errors import ExplorerError

__all__ = ["read_description", "steps_from_description", "description_shape", "recorded_shape",
           "MAX_DESCRIPTION_BYTES"]

MAX_DESCRIPTION_BYTES = 1_000_000
MAX_SIDE = 65_536  # largest input dimension a description may state
_KEYS = {
    "linear": ("in_features", "out_features", "bias"),
    "conv2d": ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias",
               "padding_mode"),
    "batchnorm1d": ("num_features", "eps", "momentum", "affine", "track_running_stats"),
    "avgpool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "maxpool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "relu": ("inplace",), "leakyrelu": ("negative_slope", "inplace"), "flatten": ("start_dim", "end_dim"),
    "dropout": ("p", "inplace"), "identity": (),
}
_KEYS["batchnorm2d"] = _KEYS["batchnorm1d"]
_WEIGHTED = ("linear", "conv2d", "batchnorm1d", "batchnorm2d")


def read_description(source, label: str) -> dict:
    """The description as a dict, from a dict, JSON text (str starting with '{' or bytes) or a JSON file path."""
    if isinstance(source, dict):
        return source
    where = "the layer description"
    if isinstance(source, (bytes, bytearray)):
        text = bytes(source)
    elif isinstance(source, str) and source.lstrip().startswith("{"):
        text = source.encode("utf-8")
    elif isinstance(source, (str, os.PathLike)):
        path, where = Path(source), f"the layer description '{source}'"
        if not path.is_file():
            raise ExplorerError(f"there is no layer description file '{source}'; check the path.")
        if path.stat().st_size > MAX_DESCRIPTION_BYTES:
            raise ExplorerError(f"{where} is larger than {MAX_DESCRIPTION_BYTES:,} bytes; it cannot be one.")
        text = path.read_bytes()
    else:
        raise ExplorerError(f"the layer description for {label} must be a dict, JSON text or a path; got "
                            f"{type(source).__name__}.")
    if len(text) > MAX_DESCRIPTION_BYTES:
        raise ExplorerError(f"{where} is larger than {MAX_DESCRIPTION_BYTES:,} bytes; it cannot be one.")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ExplorerError(f"{where} is not valid JSON ({str(exc)[:80]}).") from None
    if not isinstance(value, dict):
        raise ExplorerError(f"{where} must be a JSON object with 'layers' and 'input_shape'; got "
                            f"{type(value).__name__}.")
    return value


def description_shape(desc: dict, *, layers: str) -> tuple | None:
    """The validated input shape of a description (None if absent).  ``layers``: 'required' (a weights-only
    file), 'refused' (a file with its own layers) or 'ignored' (such a file, and MODEL.json found beside it)."""
    unknown = set(desc) - {"input_shape", "layers"}
    if unknown:
        raise ExplorerError(f"the layer description has unknown keys {shown_keys(sorted(unknown))}; use "
                            "'input_shape' and 'layers'.")
    if layers == "refused" and "layers" in desc:
        raise ExplorerError("this file records its own layers, so its description may give only 'input_shape'; "
                            "remove 'layers'.")
    if layers == "required" and "layers" not in desc:
        raise ExplorerError("the layer description has no 'layers' list; describe the layer sequence.")
    shape = desc.get("input_shape")
    if shape is None:
        return None
    if (not isinstance(shape, list) or len(shape) not in (1, 3)
            or not all(_is_int(v) and 1 <= v <= MAX_SIDE for v in shape)):
        raise ExplorerError(f"input_shape must be [C, H, W] or [n] with integers from 1 to {MAX_SIDE:,}; "
                            f"got {shape!r:.80}.")
    return tuple(shape)


def recorded_shape(desc: dict, shape: tuple | None, *, beside: bool, label: str) -> tuple | None:
    """For a file with its own layers (TorchScript, ONNX): the input shape it records (``shape``, or None)
    confirmed or supplied by the description.  A description found beside the file (``beside``) may also list
    layers, for the weights-only files that share its name; they are not used here."""
    given = description_shape(desc, layers="ignored" if beside else "refused")
    if shape is not None and given is not None and tuple(given) != tuple(shape):
        raise ExplorerError(f"{label} takes inputs of shape {list(shape)} but the description says {list(given)}.")
    return shape if given is None else given


def steps_from_description(desc: dict, weights: dict) -> tuple[list, tuple | None]:
    """(steps, input shape) of the described layer sequence with parameters taken from ``weights``."""
    shape = description_shape(desc, layers="required")
    layers = desc["layers"]
    if not isinstance(layers, list) or not layers:
        raise ExplorerError("'layers' in the layer description must be a non-empty list of layer objects.")
    names = [_name(layer, k) for k, layer in enumerate(layers) if _type(layer, k) in _WEIGHTED]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ExplorerError(f"two layers of the description share the name {shown_keys(twice)}; name each once.")
    modules = _modules(weights, names)
    used, steps = set(), []
    for k, layer in enumerate(layers):
        kind = _type(layer, k)
        label = f"layer {k} ({one_line(layer['type'])})"
        unknown = set(layer) - {"type", "name", *_KEYS[kind]}
        if unknown:
            raise ExplorerError(f"{label} of the description has unknown keys {shown_keys(sorted(unknown))}; "
                                f"{kind} takes {', '.join(_KEYS[kind]) or 'no options'}.")
        params = {}
        if kind in _WEIGHTED:
            name = _name(layer, k)
            label = f"{one_line(layer['type'])} '{one_line(name)}'"
            params = modules[name]
            used.add(name)
        step = _step(kind, layer, params, label)
        if step is not None:
            steps.append(step)
    unused = [f"{path}.{p}" for path, ps in modules.items() if path not in used for p in ps
              if p != "num_batches_tracked"]
    if unused:
        raise ExplorerError(f"the weights hold {shown_keys(unused)}, which no layer of the description uses; "
                            "add the layer or remove the weights.")
    return steps, shape


def _step(kind: str, layer: dict, params: dict, label: str):
    get = layer.get
    if kind in ("dropout", "identity"):
        return None
    if kind == "relu":
        return Act("relu", 0.0, label)
    if kind == "leakyrelu":
        slope = get("negative_slope", 0.01)
        if not isinstance(slope, (int, float)) or isinstance(slope, bool) or not 0 <= slope < 1:
            raise ExplorerError(f"{label}: negative_slope must be a number in [0, 1); got {slope!r}.")
        return act_step("relu" if slope == 0 else f"leaky_relu:{float(slope)!r}", label)
    if kind == "flatten":
        if (get("start_dim", 1), get("end_dim", -1)) != (1, -1):
            raise ExplorerError(f"{label}: only start_dim 1 and end_dim -1 are supported.")
        return Flatten(label)
    if kind in ("avgpool2d", "maxpool2d"):
        return _pool(kind, layer, label)
    _only(params, ("weight", "bias") if not kind.startswith("batchnorm") else STATE_PARAMS, label)
    W, b = params.get("weight"), _bias(params, get("bias"), label)
    if kind == "linear":
        step = linear(W, b, label)
        _check(label, "in_features", get("in_features"), step.W.shape[1])
        _check(label, "out_features", get("out_features"), step.W.shape[0])
        return step
    if kind == "conv2d":
        if get("padding_mode", "zeros") != "zeros":
            raise ExplorerError(f"{label}: only padding_mode 'zeros' is supported.")
        step = conv(W, b, stride=get("stride", 1), padding=get("padding", 0), dilation=get("dilation", 1),
                    groups=get("groups", 1), label=label)
        _check(label, "out_channels", get("out_channels"), step.weight.shape[0])
        _check(label, "in_channels", get("in_channels"), step.weight.shape[1] * step.groups)
        if get("kernel_size") is not None and tuple(step.weight.shape[2:]) != _pair_of(get("kernel_size")):
            raise ExplorerError(f"{label}: kernel_size {get('kernel_size')!r} does not match the weight's "
                                f"{step.weight.shape[2]}x{step.weight.shape[3]} kernel.")
        return step
    if get("track_running_stats", True) is not True or "running_mean" not in params or "running_var" not in params:
        raise ExplorerError(f"{label}: BatchNorm needs running_mean and running_var in the weights "
                            "(track_running_stats=True).")
    if get("affine", True) is False and ("weight" in params or "bias" in params):
        raise ExplorerError(f"{label}: affine is false but the weights hold a weight or bias for it.")
    eps = get("eps", 1e-5)
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not (0 < eps < math.inf):
        raise ExplorerError(f"{label}: eps must be a positive number; got {eps!r}.")
    step = batchnorm(W, params.get("bias"), params["running_mean"], params["running_var"], float(eps), label,
                     per="channel" if kind == "batchnorm2d" else "feature")
    _check(label, "num_features", get("num_features"), step.s.size)
    return step


def _pool(kind: str, layer: dict, label: str):
    get = layer.get
    if "kernel_size" not in layer:
        raise ExplorerError(f"{label}: kernel_size is required for pooling.")
    if get("return_indices", False) is not False:
        raise ExplorerError(f"{label}: return_indices must be false; only the pooled values are supported.")
    step = pool("avg" if kind == "avgpool2d" else "max", kernel=get("kernel_size"), stride=get("stride"),
                padding=get("padding", 0), dilation=get("dilation", 1), ceil_mode=get("ceil_mode", False),
                count_include_pad=get("count_include_pad", True), divisor_override=get("divisor_override"),
                label=label)
    if isinstance(step.padding, str) or any(2 * p > k for p, k in zip(step.padding[::2], step.kernel)):
        raise ExplorerError(f"{label}: padding must be an integer or pair of at most half the kernel size, as in "
                            f"torch; got {get('padding')!r}.")
    return step


def _modules(weights: dict, names: list) -> dict:
    """{layer name: {parameter: array}}: the keys as they are, or without a prefix shared by all of them."""
    raw: dict[str, dict] = {}
    for key, value in weights.items():
        if not isinstance(key, str) or "." not in key or not isinstance(value, np.ndarray):
            raise ExplorerError(f"the weights have an unexpected entry {key!r}; expected keys like '0.weight' "
                                "holding tensors.")
        path, _, param = key.rpartition(".")
        raw.setdefault(path, {})[param] = value
    if all(n in raw for n in names):
        return raw
    stripped = group_state(weights) if weights else {}
    if all(n in stripped for n in names):
        return stripped
    missing = [n for n in names if n not in raw and n not in stripped]
    raise ExplorerError(f"the weights have no entries for the described layer(s) {shown_keys(missing)} (looked "
                        f"for NAME.weight); the file has {shown_keys(sorted(raw))}. Give each layer its 'name'.")


def _type(layer, k: int) -> str:
    if not isinstance(layer, dict) or not isinstance(layer.get("type"), str):
        raise ExplorerError(f"layer {k} of the description must be an object with a 'type'; got {layer!r:.60}.")
    kind = layer["type"].lower().replace("_", "")
    if kind not in _KEYS:
        raise ExplorerError(f"layer {k} has the unknown type {layer['type']!r}; use one of "
                            f"{', '.join(sorted(_KEYS))}.")
    return kind


def _name(layer: dict, k: int) -> str:
    name = layer.get("name", str(k))
    if not isinstance(name, str) or not name:
        raise ExplorerError(f"layer {k}: 'name' must be a non-empty string; got {name!r}.")
    return name


def _bias(params: dict, wanted, label: str):
    if wanted not in (None, True, False):
        raise ExplorerError(f"{label}: bias must be true or false; got {wanted!r}.")
    if wanted is True and "bias" not in params:
        raise ExplorerError(f"{label}: the description says bias true but the weights have no bias for it.")
    if wanted is False and "bias" in params:
        raise ExplorerError(f"{label}: the description says bias false but the weights hold one.")
    return params.get("bias")


def _only(params: dict, allowed: tuple, label: str) -> None:
    extra = sorted(set(params) - set(allowed))
    if extra:
        raise ExplorerError(f"{label}: the weights hold unexpected entries {shown_keys(extra)} for this layer.")


def _check(label: str, what: str, stated, actual: int) -> None:
    if stated is not None and stated != actual:
        raise ExplorerError(f"{label}: the description says {what} {stated!r} but the weights give {actual}.")


def _pair_of(value) -> tuple:
    return tuple(value) if isinstance(value, list) else (value, value)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
