"""TorchScript files: the nn.Sequential inside, read from inert pickle records and the constants of its code.

A TorchScript archive pickles every module as a ``__torch__.torch.nn.modules.<file>.<Class>`` record holding
its parameters and buffers; hyper-parameters are compiled into the class's code, either as ``name :
Final[T] = value`` lines (torch.jit.script) or as literal arguments of the one ATen call in ``forward``
(torch.jit.trace).  Both are read as Python literals with ``ast`` (never executed).  Modules with their own
forward code (residual connections, anything that is not a chain) are refused.
"""

from __future__ import annotations

import ast
import re

from .names import one_line
from .steps import Act, Flatten, act_step, batchnorm, conv, linear, pool
from ..errors import ExplorerError

__all__ = ["specs_from_script"]

_SCRIPT_NAME = re.compile(r"__torch__\.torch\.nn\.modules\.(\w+)(?:\.___torch_mangle_\d+)?\.(\w+)$")
_KINDS = ("Sequential", "Linear", "ReLU", "LeakyReLU", "Identity", "Dropout", "Dropout2d", "Flatten", "BatchNorm1d",
          "BatchNorm2d", "Conv2d", "AvgPool2d", "MaxPool2d")
_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
# [ \t] rather than \s, and a greedy value: patterns that can span lines or split spaces two ways backtrack
# quadratically on crafted code (a 1 MB code member of newlines took minutes)
_FINAL = re.compile(r"^[ \t]*(\w+)[ \t]*:[ \t]*Final\[.*\][ \t]*=(.+)$", re.M)
_MAX_LITERAL = 10_000  # characters of one constant or call: a layer's settings are a few dozen
_PAD_CALL = re.compile(r"\bpad\(|_pad\w*\(|pad_nd\(")
# traced ATen calls: argument names after the input, with torch's defaults for omitted trailing arguments
_CALLS = {
    "_convolution": ("weight", "bias", "stride", "padding", "dilation", "transposed", "output_padding", "groups"),
    "_convolution_mode": ("weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv2d": ("weight", "bias", "stride", "padding", "dilation", "groups"),
    "avg_pool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "max_pool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "flatten": ("start_dim", "end_dim"),
}
_DEFAULTS = {"groups": 1, "padding": 0, "dilation": 1, "ceil_mode": False, "count_include_pad": True,
             "divisor_override": None, "start_dim": 0, "end_dim": -1, "stride": None, "transposed": False}


def specs_from_script(root, read_code) -> list:
    """Steps of a TorchScript nn.Sequential from its inert pickle records (see torchfile.ScriptObject).

    ``read_code(path)`` returns the TorchScript source of a class file.
    """
    steps: list = []
    _walk(root, "", read_code, steps)
    return steps


def _walk(obj, path: str, read_code, steps: list) -> None:
    qualname = getattr(obj, "qualname", "")
    match = _SCRIPT_NAME.match(qualname)
    kind = match.group(2) if match else one_line((qualname or type(obj).__name__).rsplit(".", 1)[-1])
    label = f"{kind} '{path}'" if path else kind
    state = getattr(obj, "state", {})
    if not match or kind not in _KINDS:
        raise ExplorerError(f"the TorchScript file contains an unsupported layer {label}; supported are "
                            "nn.Sequential chains of Linear, Conv2d, AvgPool2d, MaxPool2d, BatchNorm1d/2d, ReLU, "
                            "LeakyReLU, Flatten, Dropout and Identity (modules with their own forward code, such "
                            "as residual blocks, are not read).")
    if kind == "Sequential":
        for name, child in state.items():
            if hasattr(child, "qualname"):
                _walk(child, f"{path}.{name}" if path else name, read_code, steps)
        return
    if kind in ("Identity", "Dropout", "Dropout2d"):
        return
    if kind == "Linear":
        steps.append(linear(state.get("weight"), state.get("bias"), label))
    elif kind == "ReLU":
        steps.append(Act("relu", 0.0, label))
    else:
        steps.append(_coded_step(kind, label, path, state, _class_code(qualname, read_code)))


def _coded_step(kind: str, label: str, path: str, state: dict, code: str):
    """A step whose hyper-parameters live in the class's code."""
    if kind == "LeakyReLU":
        slope = _float(code, "negative_slope", r"torch\.leaky_relu\([^,()]+,\s*" + _NUMBER, label)
        return act_step("relu" if slope == 0 else f"leaky_relu:{slope!r}", f"LeakyReLU({slope:g}) '{path}'")
    if kind.startswith("BatchNorm"):
        if state.get("running_mean") is None or state.get("running_var") is None:
            raise ExplorerError(f"{label} keeps no running statistics, so it is not a fixed affine map; "
                                "train it with track_running_stats=True.")
        eps = _float(code, "eps", r"torch\.batch_norm\((?:[^,()]+,){7}\s*" + _NUMBER, label)
        return batchnorm(state.get("weight"), state.get("bias"), state.get("running_mean"), state.get("running_var"),
                         eps,
                         label, per="channel" if kind == "BatchNorm2d" else "feature")
    args = _arguments(code, kind, label)
    if kind == "Flatten":
        if (args["start_dim"], args["end_dim"]) != (1, -1):
            raise ExplorerError(f"{label} flattens dimensions {args['start_dim']}..{args['end_dim']}; only "
                                "Flatten() (start_dim=1, end_dim=-1) is supported.")
        return Flatten(label)
    if kind == "Conv2d":
        if _PAD_CALL.search(code) or args.get("padding_mode", "zeros") != "zeros" or args.get("transposed"):
            raise ExplorerError(f"{label} pads with a mode other than zeros (or is transposed); only "
                                "padding_mode='zeros' is supported.")
        return conv(state.get("weight"), state.get("bias"), stride=args["stride"], padding=args["padding"],
                    dilation=args["dilation"], groups=args["groups"], label=label)
    if args.get("return_indices"):
        raise ExplorerError(f"{label} returns indices; only the pooled values are supported.")
    return pool("avg" if kind == "AvgPool2d" else "max", kernel=args["kernel_size"], stride=args["stride"],
                padding=args["padding"], dilation=args.get("dilation", 1), ceil_mode=args["ceil_mode"],
                count_include_pad=args.get("count_include_pad", True),
                divisor_override=args.get("divisor_override"), label=label)


def _arguments(code: str, kind: str, label: str) -> dict:
    """Hyper-parameters from the scripted 'Final' lines, else from the traced ATen call's literals."""
    finals = {}
    for name, value in _FINAL.findall(code):
        finals[name] = _literal(value, label)
    if finals:
        return {**_DEFAULTS, **finals}
    calls = {"Conv2d": ("_convolution", "_convolution_mode", "conv2d"), "AvgPool2d": ("avg_pool2d",),
             "MaxPool2d": ("max_pool2d",), "Flatten": ("flatten",)}[kind]
    found = re.search(r"torch\.(" + "|".join(calls) + r")\(", code)
    if not found:
        raise ExplorerError(f"cannot read the settings of {label} from the TorchScript code; save the network's "
                            "state_dict with a JSON layer description instead.")
    values = _call_arguments(code, found.end(), label)[1:]  # the first argument is the layer's input
    names = _CALLS[found.group(1)]
    return {**_DEFAULTS, **dict(zip(names, values))}


def _call_arguments(code: str, start: int, label: str) -> list:
    """The literal arguments of the call whose '(' ends at ``start`` (None for names and expressions)."""
    depth, end = 1, start
    while depth and end < len(code) and end - start <= _MAX_LITERAL:
        depth += {"(": 1, ")": -1}.get(code[end], 0)
        end += 1
    if depth:
        raise ExplorerError(f"the TorchScript code of {label} has a call that does not end within "
                            f"{_MAX_LITERAL:,} characters; the file is damaged.")
    try:
        call = ast.parse("f(" + code[start:end], mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise ExplorerError(f"the TorchScript code of {label} cannot be read; the file is damaged.") from None
    out = []
    for node in call.args:
        try:
            out.append(ast.literal_eval(node))
        except (ValueError, TypeError, SyntaxError, RecursionError):
            out.append(None)
    return out


def _literal(text: str, label: str):
    text = text.strip()
    if len(text) > _MAX_LITERAL:
        raise ExplorerError(f"the constant {text[:40]!r}… of {label} in the TorchScript code is longer than "
                            f"{_MAX_LITERAL:,} characters; the file is damaged.")
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
        raise ExplorerError(f"cannot read the constant {text[:40]!r} of {label} in the TorchScript code.") from None


def _class_code(qualname: str, read_code) -> str:
    """Source of one class: code/__torch__/a/b.py, from 'class Name(' to the next top-level class."""
    module, name = qualname.rsplit(".", 1)
    text = read_code("code/" + module.replace(".", "/") + ".py")
    start = text.find(f"class {name}(")
    if start < 0:
        return ""
    end = text.find("\nclass ", start + 1)
    return text[start:] if end < 0 else text[start:end]


def _float(code: str, field: str, traced: str, label: str) -> float:
    """A float constant: 'field : Final[float] = v' (scripted) or the literal in the traced call."""
    found = re.search(rf"^[ \t]*{field}\s*:\s*Final\[float\]\s*=\s*" + _NUMBER, code, re.M) or re.search(traced, code)
    if not found:
        raise ExplorerError(f"cannot read {field} of {label} from the TorchScript code; save the network's "
                            "state_dict instead.")
    return float(found.group(1))
