"""ONNX graphs (a chain of Conv / pooling / BatchNormalization / Gemm / MatMul / Add / Relu / LeakyRelu) as steps.

The bytes are first checked by :func:`~explorer.io.onnxsafe.check_onnx_bytes` (no external data anywhere,
a bounded size), then parsed as protobuf data by the ``onnx`` package (imported lazily; nothing executes) and
walked from its single data input to its single output; every node on the way must take the running
tensor plus constants (initializers or Constant nodes, read by :func:`~explorer.io.onnxsafe.tensor_array`,
never by onnx's helpers, which follow external data to files on the server).  Supported: Conv (2-D, zero padding, any
strides, dilations, groups, explicit pads or auto_pad), AveragePool and MaxPool (2-D), Flatten (axis 1)
and Reshape to (batch, features), BatchNormalization (inference), Gemm, MatMul, Add, Relu, LeakyRelu,
Identity and Dropout.  The input shape (C, H, W) is read from the graph's input.
"""

from __future__ import annotations

import numpy as np

from .budget import Budget
from .dtypes import kind_refused
from .names import one_line
from .onnxsafe import check_onnx_bytes, tensor_array
from .steps import Act, Affine, Bias, Flatten, batchnorm, conv, pool
from ..errors import ExplorerError
from ..net import parse_activation

__all__ = ["looks_like_onnx", "specs_from_onnx"]

_PASS_THROUGH = ("Identity", "Dropout")
_OPERATORS = ("Conv, AveragePool, MaxPool, BatchNormalization, Flatten, Reshape, Gemm, MatMul, Add, Relu, "
              "LeakyRelu, Dropout and Identity")
_AUTO_PAD = {"NOTSET": None, "VALID": "valid", "SAME_UPPER": "same_upper", "SAME_LOWER": "same_lower"}


def looks_like_onnx(data: bytes) -> bool:
    """An ONNX ModelProto starts with field 1 (ir_version) as a varint: tag byte 0x08."""
    return len(data) > 2 and data[0] == 0x08 and data[1] < 0x80


def specs_from_onnx(data: bytes, label: str, budget: Budget) -> tuple[list, tuple | None]:
    """(steps, input shape or None) of an ONNX model whose graph is a chain of supported operators."""
    try:
        import onnx
    except ImportError:
        raise ExplorerError(f"{label} looks like an ONNX file, and reading ONNX needs the onnx package; "
                            "install it with 'pip install onnx' or save the network's state_dict.") from None
    check_onnx_bytes(data, label, budget)
    try:
        model = onnx.load_model_from_string(data)
    except Exception as exc:  # protobuf raises its own DecodeError
        raise ExplorerError(f"{label} is not a network file: it is neither a PyTorch archive nor valid ONNX "
                            f"({type(exc).__name__}).") from None
    graph = model.graph
    if len(graph.sparse_initializer):
        raise ExplorerError(kind_refused(label, "sparse"))
    consts = {init.name: tensor_array(init, f"initializer {init.name[:60]!r}", budget)
              for init in graph.initializer}
    for node in graph.node:
        if not node.output:
            raise ExplorerError(f"{label}: the {one_line(node.op_type)} node {node.name[:40]!r} has no output; "
                                "the ONNX file is damaged.")
        if node.op_type == "Constant":
            values = [a for a in node.attribute if a.name == "value" and a.type == onnx.AttributeProto.TENSOR]
            if not values:
                raise ExplorerError(f"{label}: a Constant node without a tensor value is not supported.")
            consts[node.output[0]] = tensor_array(values[0].t, f"Constant {node.output[0][:60]!r}", budget)
        elif node.op_type == "Identity" and node.input and node.input[0] in consts:  # an alias of a constant
            consts[node.output[0]] = consts[node.input[0]]
    inputs = [i for i in graph.input if i.name not in consts]
    outputs = [o.name for o in graph.output]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ExplorerError(f"{label}: the ONNX graph has {len(inputs)} inputs and {len(outputs)} outputs; "
                            "the explorer needs one of each.")
    users: dict[str, list] = {}
    for node in graph.node:
        if node.op_type != "Constant" and node.output[0] not in consts:
            for name in node.input:
                users.setdefault(name, []).append(node)
    read = set(users) | set(outputs)  # tensors some node or the graph's output reads
    steps: list = []
    current = inputs[0].name
    for _ in range(len(graph.node) + 1):
        if current == outputs[0]:
            return steps, _input_shape(inputs[0])
        nodes = users.get(current, [])
        if len(nodes) != 1:
            raise ExplorerError(f"{label}: the ONNX graph {'branches' if nodes else 'stops'} at tensor "
                                f"{current!r}; only a chain of layers is supported (no residual connections).")
        node = nodes[0]
        try:
            step = _node_step(node, current, consts, read, label)
        except ExplorerError:
            raise
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            raise ExplorerError(f"{label}: the {one_line(node.op_type)} node {node.name!r} is malformed "
                                f"({one_line(exc)}).") from None
        if step is not None:
            steps.append(step)
        current = node.output[0]
    raise ExplorerError(f"{label}: the ONNX graph contains a cycle.")


def _input_shape(value_info) -> tuple | None:
    """(C, H, W) or (n,) from the input's static dimensions after the batch axis, else None."""
    dims = [d.dim_value if d.HasField("dim_value") else None for d in value_info.type.tensor_type.shape.dim]
    rest = dims[1:]
    if len(rest) in (1, 3) and all(isinstance(v, int) and v > 0 for v in rest):
        return tuple(rest)
    return None


def _node_step(node, current: str, consts: dict, read: set, label: str):
    """One node as a step (None for pass-through nodes)."""
    op, where = node.op_type, f"{one_line(node.op_type)} node {node.name or node.output[0]!r}"
    attrs = {a.name: _attr(a) for a in node.attribute}
    if any(out in read for out in node.output[1:] if out):
        raise ExplorerError(f"{label}: {where} has extra outputs (indices, training statistics), which are not "
                            "supported.")
    if op in _PASS_THROUGH:
        return None
    if op == "Flatten":
        if attrs.get("axis", 1) != 1:
            raise ExplorerError(f"{label}: {where} flattens from axis {attrs['axis']}; only axis 1 is supported.")
        return Flatten(where)
    if op == "Relu":
        return Act("relu", 0.0, where)
    if op == "LeakyRelu":
        slope = _decimal(attrs.get("alpha", 0.01))
        name, alpha = ("relu", 0.0) if slope == 0 else parse_activation("leaky_relu", slope)
        return Act(name, alpha, f"LeakyRelu({slope:g}) node {node.name or node.output[0]!r}")
    others = [name for name in node.input if name and name != current]
    missing = [name for name in others if name not in consts]
    if (node.input[0] != current and op != "Add") or missing:
        raise ExplorerError(f"{label}: {where} must take the layer input first and constants otherwise; "
                            "only a chain of layers with constant weights is supported.")
    c = [np.asarray(consts[name], dtype=np.float64) for name in node.input[1:] if name]
    if op in ("Gemm", "MatMul"):
        return _matrix(op, attrs, c, where, label)
    if op == "Add":
        return Bias(np.asarray(consts[others[0]], dtype=np.float64), where)
    if op == "BatchNormalization":
        if attrs.get("training_mode", 0):
            raise ExplorerError(f"{label}: {where} is in training mode; export the model in eval mode.")
        return batchnorm(c[0], c[1], c[2], c[3], _decimal(attrs.get("epsilon", 1e-5)), where, per="axis1")
    if op == "Reshape":
        shape = [int(v) for v in np.asarray(consts[node.input[1]]).reshape(-1)]
        if len(shape) != 2 or shape[0] not in (-1, 0, 1) or not (shape[1] > 0 or shape[1] == -1 != shape[0]):
            raise ExplorerError(f"{label}: {where} reshapes to {shape}; only a reshape to (batch, features) "
                                "is supported.")
        return Flatten(where, None if shape[1] == -1 else shape[1])
    if op == "Conv":
        return _conv(attrs, c, where, label)
    if op in ("AveragePool", "MaxPool"):
        return _pool(op, attrs, where, label)
    raise ExplorerError(f"{label} contains an unsupported ONNX operator {one_line(op)}; supported are {_OPERATORS}.")


def _matrix(op: str, attrs: dict, c: list, where: str, label: str) -> Affine:
    if not c or c[0].ndim != 2:
        raise ExplorerError(f"{label}: {where} needs a constant weight matrix as its second input.")
    if op == "MatMul":
        return Affine(c[0].T, np.zeros(c[0].shape[1]), where)
    if attrs.get("transA", 0):
        raise ExplorerError(f"{label}: {where} transposes its input (transA=1), which is not supported.")
    B = c[0] if attrs.get("transB", 0) else c[0].T
    W = float(attrs.get("alpha", 1.0)) * B
    beta = float(attrs.get("beta", 1.0))
    b = np.zeros(W.shape[0]) if len(c) < 2 else beta * _broadcast(c[1], W.shape[0], where, label)
    return Affine(W, b, where)


def _conv(attrs: dict, c: list, where: str, label: str):
    weight = c[0] if c else None
    if weight is None or weight.ndim != 4:
        raise ExplorerError(f"{label}: {where} is not a 2-D convolution with a constant 4-D weight; only Conv2d "
                            "is supported.")
    kernel = attrs.get("kernel_shape")
    if kernel is not None and list(kernel) != list(weight.shape[2:]):
        raise ExplorerError(f"{label}: {where} has kernel_shape {kernel} but a weight of shape {weight.shape}.")
    return conv(weight, c[1] if len(c) > 1 else None, stride=attrs.get("strides", [1, 1]),
                padding=_padding(attrs, where, label), dilation=attrs.get("dilations", [1, 1]),
                groups=attrs.get("group", 1), label=where)


def _pool(op: str, attrs: dict, where: str, label: str):
    kernel = attrs.get("kernel_shape")
    if kernel is None or len(kernel) != 2:
        raise ExplorerError(f"{label}: {where} is not a 2-D pooling (kernel_shape {kernel}); only 2-D pooling "
                            "is supported.")
    dilation = attrs.get("dilations", [1, 1])
    if op == "AveragePool" and list(dilation) != [1, 1]:
        raise ExplorerError(f"{label}: {where} uses dilations, which average pooling here does not support.")
    return pool("avg" if op == "AveragePool" else "max", kernel=kernel, stride=attrs.get("strides", [1, 1]),
                padding=_padding(attrs, where, label), dilation=dilation, ceil_mode=attrs.get("ceil_mode", 0),
                count_include_pad=attrs.get("count_include_pad", 0), label=where)


def _padding(attrs: dict, where: str, label: str):
    """ONNX pads [top, left, bottom, right] or auto_pad as the steps' (top, bottom, left, right) or mode."""
    mode = attrs.get("auto_pad", "NOTSET")
    if mode not in _AUTO_PAD:
        raise ExplorerError(f"{label}: {where} has an unknown auto_pad {mode!r}.")
    if _AUTO_PAD[mode] is not None:
        return _AUTO_PAD[mode]
    pads = list(attrs.get("pads", [0, 0, 0, 0]))
    if len(pads) != 4:
        raise ExplorerError(f"{label}: {where} has pads {pads}; a 2-D layer needs four.")
    return (pads[0], pads[2], pads[1], pads[3])


def _broadcast(v: np.ndarray, n: int, where: str, label: str) -> np.ndarray:
    try:
        return np.broadcast_to(v, (1, n)).reshape(n).astype(np.float64)
    except ValueError:
        raise ExplorerError(f"{label}: {where} adds a tensor of shape {v.shape} to {n} features.") from None


def _decimal(value: float) -> float:
    """A float32 attribute as the float64 of its shortest decimal form (0.1f -> 0.1, as torch holds it)."""
    return float(str(np.float32(value)))


def _attr(a):
    """Value of an ONNX attribute of type FLOAT, INT, STRING, FLOATS or INTS (others are not needed here)."""
    kinds = {1: lambda: a.f, 2: lambda: a.i, 3: lambda: a.s.decode("utf-8", "replace"), 6: lambda: list(a.floats),
             7: lambda: list(a.ints)}
    return kinds.get(a.type, lambda: None)()
