"""ONNX graphs (a chain of Gemm / MatMul + Add / Relu / LeakyRelu / BatchNormalization) as layer steps.

The bytes are first checked by :func:`~explorer.io.onnxsafe.check_onnx_bytes` (no external data anywhere,
bounded size), then parsed as protobuf data by the ``onnx`` package (imported lazily; nothing executes) and
walked from its single data input to its single output; every node on the way must take the running
tensor plus constants (initializers or Constant nodes), read by :func:`~explorer.io.onnxsafe.tensor_array`.
"""

from __future__ import annotations

import numpy as np

from ..errors import ExplorerError
from ..net import parse_activation
from .budget import FileBudget
from .dtypes import kind_refused
from .layers import Act, Affine, batchnorm
from .onnxsafe import check_onnx_bytes, tensor_array

__all__ = ["looks_like_onnx", "specs_from_onnx"]

_PASS_THROUGH = ("Identity", "Dropout", "Flatten")


def looks_like_onnx(data: bytes) -> bool:
    """An ONNX ModelProto starts with field 1 (ir_version) as a varint: tag byte 0x08."""
    return len(data) > 2 and data[0] == 0x08 and data[1] < 0x80


def specs_from_onnx(data: bytes, label: str, budget: FileBudget) -> list:
    """Affine/Act steps of an ONNX model whose graph is a chain of supported operators."""
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
    consts = {init.name: tensor_array(init, f"{label}: initializer {init.name[:60]!r}", budget)
              for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            values = [a for a in node.attribute if a.name == "value" and a.type == onnx.AttributeProto.TENSOR]
            if not values or not node.output:
                raise ExplorerError(f"{label}: a Constant node without a tensor value is not supported.")
            consts[node.output[0]] = tensor_array(values[0].t, f"{label}: Constant {node.output[0][:60]!r}", budget)
    inputs = [i.name for i in graph.input if i.name not in consts]
    outputs = [o.name for o in graph.output]
    if len(inputs) != 1 or len(outputs) != 1:
        raise ExplorerError(f"{label}: the ONNX graph has {len(inputs)} inputs and {len(outputs)} outputs; "
                            "the explorer needs one of each.")
    users: dict[str, list] = {}
    for node in graph.node:
        if node.op_type != "Constant":
            for name in node.input:
                users.setdefault(name, []).append(node)
    steps: list = []
    current, width = inputs[0], None
    for _ in range(len(graph.node) + 1):
        if current == outputs[0]:
            return steps
        nodes = users.get(current, [])
        if len(nodes) != 1:
            raise ExplorerError(f"{label}: the ONNX graph {'branches' if nodes else 'stops'} at tensor "
                                f"{current!r}; only a chain of layers is supported.")
        node = nodes[0]
        try:
            step = _node_step(node, current, consts, width, label)
        except ExplorerError:
            raise
        except (ValueError, TypeError, IndexError) as exc:
            raise ExplorerError(f"{label}: the {node.op_type} node {node.name!r} is malformed ({exc}).") from None
        if step is not None:
            steps.append(step)
            width = step.W.shape[0] if isinstance(step, Affine) else width
        current = node.output[0]
    raise ExplorerError(f"{label}: the ONNX graph contains a cycle.")


def _node_step(node, current: str, consts: dict, width: int | None, label: str):
    """One node as an Affine or Act step (None for pass-through nodes)."""
    op, where = node.op_type, f"{node.op_type} node {node.name or node.output[0]!r}"
    attrs = {a.name: _attr(a) for a in node.attribute}
    if op in _PASS_THROUGH:
        if op == "Flatten" and attrs.get("axis", 1) != 1:
            raise ExplorerError(f"{label}: {where} flattens from axis {attrs['axis']}; only axis 1 is supported.")
        return None
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
    if op in ("Gemm", "MatMul") and (not c or c[0].ndim != 2):
        raise ExplorerError(f"{label}: {where} needs a constant weight matrix as its second input.")
    if op == "Gemm":
        if attrs.get("transA", 0):
            raise ExplorerError(f"{label}: {where} transposes its input (transA=1), which is not supported.")
        B = c[0] if attrs.get("transB", 0) else c[0].T
        W = float(attrs.get("alpha", 1.0)) * B
        beta = float(attrs.get("beta", 1.0))
        b = np.zeros(W.shape[0]) if len(c) < 2 else beta * _broadcast(c[1], W.shape[0], where, label)
        return Affine(W, b, where)
    if op == "MatMul":
        return Affine(c[0].T, np.zeros(c[0].shape[1]), where)
    if op == "Add":
        if width is None:
            raise ExplorerError(f"{label}: {where} comes before any layer with weights; this is not supported.")
        const = np.asarray(consts[others[0]], dtype=np.float64)
        return Affine(np.ones(width), _broadcast(const, width, where, label), where)
    if op == "BatchNormalization":
        return batchnorm(c[0], c[1], c[2], c[3], _decimal(attrs.get("epsilon", 1e-5)), where)
    raise ExplorerError(f"{label} contains an unsupported ONNX operator {op}; supported are Gemm, MatMul, "
                        "Add, Relu, LeakyRelu, BatchNormalization, Flatten, Dropout and Identity.")


def _broadcast(v: np.ndarray, n: int, where: str, label: str) -> np.ndarray:
    try:
        return np.broadcast_to(v, (1, n)).reshape(n).astype(np.float64)
    except ValueError:
        raise ExplorerError(f"{label}: {where} adds a tensor of shape {v.shape} to {n} features.") from None


def _decimal(value: float) -> float:
    """A float32 attribute as the float64 of its shortest decimal form (0.1f -> 0.1, as torch holds it)."""
    return float(str(np.float32(value)))


def _attr(a):
    """Value of an ONNX attribute of type INT or FLOAT (others are not needed here)."""
    return a.i if a.type == 2 else a.f if a.type == 1 else None
