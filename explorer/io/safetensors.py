"""The safetensors format, read and written without the ``safetensors`` package (nothing in a file runs).

A file is an 8-byte little-endian header length N, N bytes of JSON mapping each tensor's name to
{"dtype", "shape", "data_offsets": [begin, end]} (offsets into the bytes after the header; an optional
"__metadata__" maps strings to strings), then the raw little-endian tensor bytes.  Every size is checked
against the bytes actually present and charged to the file's Budget before a tensor is materialised.
"""

from __future__ import annotations

import json
import math
import struct

import numpy as np

from .budget import Budget
from ..errors import ExplorerError

__all__ = ["looks_like_safetensors", "read_safetensors", "safetensors_bytes"]

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4", "I16": "<i2",
           "I8": "i1", "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}
_WRITE = {(np.dtype(v).kind, np.dtype(v).itemsize): k for k, v in _DTYPES.items() if k != "BF16"}


def looks_like_safetensors(data: bytes) -> bool:
    """8-byte header length that fits the file, followed by a JSON object."""
    if len(data) < 10:
        return False
    (n,) = struct.unpack("<Q", data[:8])
    return 2 <= n <= len(data) - 8 and data[8:9] == b"{"


def read_safetensors(data: bytes, label: str, budget: Budget) -> dict[str, np.ndarray]:
    """{name: array} in the file's dtypes (bfloat16 widened exactly to float32), checked and budgeted."""
    (n,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ExplorerError(f"{label} is a damaged safetensors file: its header is not JSON.") from None
    if not isinstance(header, dict):
        raise ExplorerError(f"{label} is a damaged safetensors file: its header is not a JSON object.")
    buffer = memoryview(data)[8 + n:]
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ExplorerError(f"{label} is a damaged safetensors file: __metadata__ must map strings to strings.")
    spans, out = [], {}
    for name, info in header.items():
        dtype, shape, (begin, end) = _entry(name, info, label)
        count = math.prod(shape)
        if end - begin != count * np.dtype(dtype).itemsize or not 0 <= begin <= end <= len(buffer):
            raise ExplorerError(f"{label} is a damaged safetensors file: tensor {name!r} of shape {shape} does not "
                                f"fit its byte range [{begin}, {end}) of {len(buffer)} bytes.")
        budget.allocate_shape(tuple(shape), f"tensor {name!r}")
        spans.append((begin, end, name))
        array = np.frombuffer(buffer[begin:end], dtype=dtype).reshape(shape)
        if info["dtype"] == "BF16":  # bfloat16 is the upper half of a float32
            array = (array.astype("<u4") << 16).view("<f4")
        out[name] = array
    spans.sort()
    for (_, end, first), (begin, _, second) in zip(spans, spans[1:]):
        if begin < end:
            raise ExplorerError(f"{label} is a damaged safetensors file: tensors {first!r} and {second!r} overlap.")
    return out


def safetensors_bytes(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors encoding of ``tensors`` (names sorted; header padded with spaces to 8 bytes)."""
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name in sorted(tensors):
        array = np.asarray(tensors[name])
        dtype = _WRITE.get((array.dtype.kind, array.dtype.itemsize))
        if dtype is None:
            raise ExplorerError(f"cannot write tensor {name!r} of dtype {array.dtype} to safetensors.")
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def _entry(name: str, info, label: str) -> tuple:
    if (not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}
            or not isinstance(info["shape"], list) or not isinstance(info["data_offsets"], list)
            or len(info["data_offsets"]) != 2
            or not all(_natural(v) for v in info["shape"] + info["data_offsets"])):
        raise ExplorerError(f"{label} is a damaged safetensors file: the entry of tensor {name!r} must hold dtype, "
                            "shape and data_offsets with non-negative integers.")
    dtype = _DTYPES.get(info["dtype"])
    if dtype is None:
        raise ExplorerError(f"{label}: tensor {name!r} has dtype {str(info['dtype'])[:20]!r}, which is not supported "
                            "(complex and 8-bit float tensors are refused); save the weights as float32 or float64.")
    return dtype, info["shape"], info["data_offsets"]


def _natural(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0
