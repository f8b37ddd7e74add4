"""ONNX bytes checked before the onnx package parses them, and ONNX tensors read without onnx's helpers.

:func:`check_onnx_bytes` walks the protobuf wire format of the whole ModelProto — every graph, node, attribute,
subgraph of If/Loop/Scan, function body, sparse tensor and training graph, by the field numbers of onnx's own
message descriptors — before anything is parsed.  It refuses a tensor whose data lives outside the file
(``data_location = EXTERNAL`` or any ``external_data`` entry) wherever it sits, bounds the number of fields and
the nesting depth, and charges the file's budget with what the parse would build (≈256 bytes per message,
16 per repeated number, the bytes of each string), since a parse makes ~75 bytes of objects per byte of empty
messages.  :func:`tensor_array` then turns a parsed TensorProto into float64 by itself: it checks the data type,
the dimensions and the length of the data against each other, charges the budget, and converts exactly.
``numpy_helper.to_array`` is never called: it would follow external data to files next to the server's code.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import ExplorerError
from .budget import Budget
from .dtypes import as_float64, kind_refused

__all__ = ["check_onnx_bytes", "tensor_array", "MAX_FIELDS", "MAX_DEPTH"]

MAX_FIELDS = 1_000_000  # protobuf fields in one file (a network the explorer can show has a few thousand)
MAX_DEPTH = 64  # nesting of messages (subgraphs inside attributes inside nodes …)
_MESSAGE_ELEMENTS = 32  # 256 bytes per parsed message (measured: 150–200 bytes for an empty NodeProto)
_NUMBER_ELEMENTS = 2  # 16 bytes per element of a repeated number (an int64 and its share of the growth)
_STRING_ELEMENTS = 4  # 32 bytes of overhead per string or bytes field, plus its length
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL
_MAX_RANK = 32

# ONNX data type -> (numpy dtype, the typed field that holds the values when raw_data is empty)
_TYPES = {1: ("<f4", "float_data"), 2: ("u1", "int32_data"), 3: ("i1", "int32_data"), 4: ("<u2", "int32_data"),
          5: ("<i2", "int32_data"), 6: ("<i4", "int32_data"), 7: ("<i8", "int64_data"), 9: ("?", "int32_data"),
          10: ("<f2", "int32_data"), 11: ("<f8", "double_data"), 12: ("<u4", "uint64_data"),
          13: ("<u8", "uint64_data"), 16: ("bf16", "int32_data")}
_KINDS = {8: "string", 14: "complex", 15: "complex", 17: "8-bit float", 18: "8-bit float", 19: "8-bit float",
          20: "8-bit float", 24: "8-bit float"}


def check_onnx_bytes(data: bytes, label: str, budget: Budget) -> None:
    """Refuse external data anywhere, more than MAX_FIELDS fields or MAX_DEPTH levels; charge the parse's size."""
    layouts = _layouts()
    todo = [(0, len(data), "onnx.ModelProto", 0, "model")]
    fields = 0
    while todo:
        start, end, type_name, depth, where = todo.pop()
        if depth > MAX_DEPTH:
            raise ExplorerError(f"{label} nests ONNX messages more than {MAX_DEPTH} deep ({where[:80]}); it is not a "
                                "network the explorer can show.")
        budget.allocate(_MESSAGE_ELEMENTS, "a message of the ONNX model")
        layout, pos, external, name = layouts[type_name], start, False, b""
        while pos < end:
            key, pos = _varint(data, pos, end, label)
            number, wire, value = key >> 3, key & 7, None
            fields += 1
            if fields > MAX_FIELDS:
                raise ExplorerError(f"{label} holds more than {MAX_FIELDS:,} protobuf fields; it is not a network "
                                    "the explorer can show. Export a smaller model.")
            if wire == 0:
                value, pos = _varint(data, pos, end, label)
            elif wire in (1, 5):
                pos += 8 if wire == 1 else 4
            elif wire == 2:
                length, pos = _varint(data, pos, end, label)
                payload, pos = (pos, pos + length), pos + length
            else:
                raise ExplorerError(f"{label} is a damaged ONNX file: it uses the protobuf wire type {wire}.")
            if pos > end:
                raise ExplorerError(f"{label} is a damaged or truncated ONNX file: a field of {where[:80]} runs "
                                    "past its end.")
            kind, sub, field_name = layout.get(number, ("unknown", None, ""))
            if kind == "message" and wire == 2:
                todo.append((*payload, sub, depth + 1, f"{where}.{field_name}"))
            elif wire == 2:
                size = payload[1] - payload[0]
                budget.allocate(size * _NUMBER_ELEMENTS if kind == "number" else _STRING_ELEMENTS + -(-size // 8),
                                f"the field {where[:60]}.{field_name or number} of the ONNX model")
            elif kind == "number":
                budget.allocate(_NUMBER_ELEMENTS, "a repeated number of the ONNX model")
            if type_name == "onnx.TensorProto":
                external |= (field_name == "data_location" and value == _EXTERNAL) or field_name == "external_data"
                name = data[payload[0]:min(payload[1], payload[0] + 60)] if field_name == "name" and wire == 2 else name
        if external:
            raise ExplorerError(f"{label} keeps the data of tensor {name.decode('utf-8', 'replace')!r} ({where}) in "
                                "a separate file, and the explorer reads nothing but the uploaded file; export the "
                                "ONNX model with its weights inside (save_as_external_data=False).")


def tensor_array(t, what: str, budget: Budget) -> np.ndarray:
    """A parsed TensorProto as a float64 array, checked against its own shape and type, charged to the budget.

    ``what`` names the tensor in messages (after the file's label), e.g. "initializer 'W'"."""
    where, what = what, f"{budget.label}: {what}"
    if t.data_location == _EXTERNAL or len(t.external_data):
        raise ExplorerError(f"{what} keeps its data in a separate file, which is not read; export the ONNX model "
                            "with its weights inside (save_as_external_data=False).")
    if t.HasField("segment"):
        raise ExplorerError(f"{what} is a segment of a tensor, which is not supported; export the model again.")
    if t.data_type in _KINDS or t.data_type not in _TYPES:
        kind = _KINDS.get(t.data_type, f"data type {t.data_type}")
        raise ExplorerError(kind_refused(what, kind))
    if len(t.dims) > _MAX_RANK:
        raise ExplorerError(f"{what} has {len(t.dims):,} dimensions; a layer's tensor has at most {_MAX_RANK}.")
    dims = tuple(int(d) for d in t.dims)
    if any(d < 0 for d in dims):
        raise ExplorerError(f"{what} has the negative dimension {min(dims)}; the ONNX file is damaged.")
    count = budget.allocate_shape(dims, where)
    code, typed = _TYPES[t.data_type]
    dtype = np.dtype("<u2" if code == "bf16" else code)
    raw = t.raw_data
    if raw or not count:
        if len(raw) != count * dtype.itemsize:
            raise ExplorerError(f"{what} of shape {dims} needs {count * dtype.itemsize:,} bytes of data but "
                                f"holds {len(raw):,}; the ONNX file is damaged.")
        values = np.frombuffer(raw, dtype=dtype)
    else:
        stored = getattr(t, typed)
        if len(stored) != count:
            raise ExplorerError(f"{what} of shape {dims} needs {count:,} values but holds {len(stored):,}; "
                                "the ONNX file is damaged.")
        values = _typed(np.array(stored), dtype, code, what)
    if code == "bf16":  # bfloat16 is the upper half of a float32
        values = (values.astype("<u4") << 16).view("<f4")
    return as_float64(values, what).reshape(dims)


def _typed(stored: np.ndarray, dtype: np.dtype, code: str, what: str) -> np.ndarray:
    """Values of a typed field as ``dtype``: int32_data holds small integers and the bits of 16-bit floats."""
    if stored.dtype == dtype:
        return stored
    bits = np.dtype("<u2") if code in ("<f2", "bf16") else dtype
    converted = stored.astype(bits)
    if stored.size and not np.array_equal(converted.astype(stored.dtype), stored):
        raise ExplorerError(f"{what} holds values outside the range of its data type; the ONNX file is damaged.")
    return converted.view(dtype) if code == "<f2" else converted


def _varint(data: bytes, pos: int, end: int, label: str) -> tuple[int, int]:
    value = shift = 0
    while pos < end and shift < 70:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
    raise ExplorerError(f"{label} is a damaged or truncated ONNX file: a number runs past its end.")


@lru_cache(maxsize=1)
def _layouts() -> dict:
    """{message type: {field number: ('message' | 'number' | 'bytes', sub-message type, field name)}} of onnx."""
    import onnx
    from google.protobuf.descriptor import FieldDescriptor as F

    numbers = {F.TYPE_DOUBLE, F.TYPE_FLOAT, F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_INT32, F.TYPE_FIXED64,
               F.TYPE_FIXED32, F.TYPE_BOOL, F.TYPE_UINT32, F.TYPE_ENUM, F.TYPE_SFIXED32, F.TYPE_SFIXED64,
               F.TYPE_SINT32, F.TYPE_SINT64}
    layouts, todo = {}, [onnx.ModelProto.DESCRIPTOR]
    while todo:
        desc = todo.pop()
        if desc.full_name in layouts:
            continue
        layouts[desc.full_name] = layout = {}
        for f in desc.fields:
            if f.type == F.TYPE_MESSAGE:
                layout[f.number] = ("message", f.message_type.full_name, f.name)
                todo.append(f.message_type)
            else:
                layout[f.number] = ("number" if f.type in numbers else "bytes", None, f.name)
    return layouts
