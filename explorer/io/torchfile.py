"""Torch-free reading and writing of PyTorch's zip serialisation format; nothing in a file is executed.

A file written by ``torch.save`` (PyTorch ≥ 1.6) or ``torch.jit.save`` is a zip archive with one top-level
folder ``<name>/`` holding ``data.pkl`` (a pickle describing the object) and ``data/<key>`` (the raw
bytes of each tensor storage).  The pickle is read by a restricted unpickler that resolves only the
handful of globals a dictionary of tensors needs, each mapped to a numpy constructor; every other
global is refused before anything could run.  TorchScript archives additionally hold ``code/`` (the
TorchScript source) and pickle their modules as ``__torch__.*`` classes, which become inert
:class:`ScriptObject` records in ``script`` mode.  :func:`archive_bytes` writes the same format
(protocol-2 pickle emitted opcode by opcode) so that checkpoints can be saved without importing torch.
"""

from __future__ import annotations

import io
import pickle
import struct
import zipfile
from collections import OrderedDict

import numpy as np

__all__ = ["Refused", "Unsupported", "Corrupt", "ScriptObject", "Archive", "open_archive", "read_pickle",
           "archive_bytes", "is_torchscript"]


class Refused(Exception):
    """The pickle names a global outside torch's tensor vocabulary (it could run code); args[0] names it."""


class Unsupported(Exception):
    """The pickle uses a torch global this reader does not implement; torch.load(weights_only=True) may."""


class Corrupt(Exception):
    """The archive or its pickle is malformed or truncated; args[0] says what was wrong."""


MAX_ELEMENTS = 50_000_000  # larger tensors are refused (stride-0 views could otherwise expand without bound)

# storage class name -> numpy dtype (little-endian); BFloat16 is widened to float32 by hand.
_STORAGES = {
    "DoubleStorage": "f8", "FloatStorage": "f4", "HalfStorage": "f2", "BFloat16Storage": "u2",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?",
}


class _StorageType:
    """Stand-in for ``torch.<X>Storage`` inside a persistent id: only remembers the element type."""

    def __init__(self, name: str) -> None:
        self.name = name


class ScriptObject:
    """An inert record of a pickled TorchScript module: its qualified class name and attribute dict."""

    qualname = ""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __setstate__(self, state) -> None:
        self.state = state if isinstance(state, dict) else {}

    def __repr__(self) -> str:
        return f"ScriptObject({self.qualname})"


class Archive:
    """An opened torch zip archive: the zip, its top-level prefix and the byte order of its storages."""

    def __init__(self, zf: zipfile.ZipFile, prefix: str, byteorder: str) -> None:
        self.zf, self.prefix, self.byteorder = zf, prefix, byteorder

    def read(self, member: str) -> bytes:
        try:
            return self.zf.read(self.prefix + member)
        except KeyError:
            raise Corrupt(f"the archive has no member {member!r}") from None

    def names(self) -> list[str]:
        return [n[len(self.prefix):] for n in self.zf.namelist() if n.startswith(self.prefix)]


def open_archive(data: bytes, *, max_bytes: int) -> Archive:
    """Open a torch zip archive held in memory; raise Corrupt if it is not one or is damaged."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise Corrupt(f"the zip structure is damaged ({exc})") from None
    if sum(i.file_size for i in infos) > max_bytes:
        raise Corrupt(f"its contents would expand to more than {max_bytes // 2**20} MB")
    if any(i.flag_bits & 0x1 for i in infos):
        raise Corrupt("it is encrypted")
    pkls = [i.filename for i in infos if i.filename.endswith("data.pkl") and i.filename.count("/") == 1]
    if len(pkls) != 1:
        raise Corrupt("it is a zip file but holds no PyTorch data.pkl")
    prefix = pkls[0][: -len("data.pkl")]
    archive = Archive(zf, prefix, "little")
    if prefix + "byteorder" in zf.namelist():
        order = archive.read("byteorder").decode("ascii", "replace").strip()
        if order not in ("little", "big"):
            raise Corrupt(f"its byteorder record reads {order!r}")
        archive.byteorder = order
    return archive


def is_torchscript(archive: Archive) -> bool:
    """TorchScript archives carry their source under ``code/`` (and a ``constants.pkl``)."""
    return any(n.startswith("code/") or n == "constants.pkl" for n in archive.names())


def read_pickle(archive: Archive, *, script: bool = False):
    """Unpickle ``data.pkl`` with tensors as float/int numpy arrays; ``script`` admits ``__torch__`` classes."""
    unpickler = _Unpickler(io.BytesIO(archive.read("data.pkl")), archive, script)
    try:
        return unpickler.load()
    except (Refused, Unsupported, Corrupt):
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError,
            AttributeError, struct.error, zipfile.BadZipFile, OSError) as exc:
        raise Corrupt(f"its data.pkl cannot be read ({type(exc).__name__}: {exc})") from None


def _plain_list(kind: type):
    """TorchScript pickles typed attribute lists (e.g. Conv2d's padding) as build_intlist([...]) and the like."""
    def build(values):
        if not isinstance(values, list) or not all(type(v) is kind for v in values):
            raise Corrupt(f"a TorchScript {kind.__name__} list holds other values")
        return list(values)
    return build


_SCRIPT_LISTS = {"build_intlist": _plain_list(int), "build_doublelist": _plain_list(float),
                 "build_boollist": _plain_list(bool)}


class _Unpickler(pickle.Unpickler):
    """find_class admits only the tensor vocabulary; persistent_load reads storages from the archive."""

    def __init__(self, file, archive: Archive, script: bool) -> None:
        super().__init__(file)
        self._archive, self._script, self._storages, self._classes = archive, script, {}, {}

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if (module, name) == ("torch._utils", "_rebuild_parameter"):
            return _rebuild_parameter
        if module == "torch" and name in _STORAGES:
            return _StorageType(name)
        if self._script and module == "torch.jit._pickle" and name in _SCRIPT_LISTS:
            return _SCRIPT_LISTS[name]
        if self._script and module.startswith("__torch__."):
            key = f"{module}.{name}"
            if key not in self._classes:
                self._classes[key] = type(name, (ScriptObject,), {"qualname": key})
            return self._classes[key]
        if module == "torch" or module.startswith("torch."):
            raise Unsupported(f"{module}.{name}")
        raise Refused(f"{module}.{name}")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[2], str) and isinstance(pid[4], int)):
            raise Corrupt(f"unexpected storage record {pid!r:.80}")
        _, kind, key, _location, numel = pid
        if key not in self._storages:
            code = _STORAGES[kind.name]
            dtype = np.dtype(code).newbyteorder("<" if self._archive.byteorder == "little" else ">")
            raw = self._archive.read(f"data/{key}")
            if numel < 0 or len(raw) < numel * dtype.itemsize:
                raise Corrupt(f"storage {key} holds {len(raw)} bytes, fewer than {numel} elements need")
            values = np.frombuffer(raw, dtype=dtype, count=numel)
            if kind.name == "BFloat16Storage":  # bfloat16 = the top 16 bits of a float32
                values = (values.astype(np.uint32) << 16).view(np.float32)
            self._storages[key] = values.astype(values.dtype.newbyteorder("="))
        return self._storages[key]


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    """numpy version of torch._utils._rebuild_tensor_v2: a bounds-checked strided view, copied."""
    if not (isinstance(storage, np.ndarray) and isinstance(offset, int) and isinstance(size, tuple)
            and isinstance(stride, tuple) and len(size) == len(stride)
            and all(isinstance(v, int) and v >= 0 for v in size + stride) and offset >= 0):
        raise Corrupt("a tensor record has an invalid offset, size or stride")
    if int(np.prod(size, dtype=np.float64)) > MAX_ELEMENTS:
        raise Corrupt(f"a tensor of shape {size} has more than {MAX_ELEMENTS:,} elements")
    if 0 not in size:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if last >= storage.size:
            raise Corrupt("a tensor reaches past the end of its storage")
    elif offset > storage.size:
        raise Corrupt("a tensor starts past the end of its storage")
    item = storage.itemsize
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size, strides=[s * item for s in stride])
    return np.array(view, copy=True)


def _rebuild_parameter(data, requires_grad=False, hooks=None):
    """An nn.Parameter is its tensor here."""
    if not isinstance(data, np.ndarray):
        raise Corrupt("a parameter record holds no tensor")
    return data


# ---- writing ---------------------------------------------------------------------------------
_TENSOR_DTYPES = {np.dtype("f8"): "DoubleStorage", np.dtype("i8"): "LongStorage"}


def archive_bytes(obj, *, name: str = "archive") -> bytes:
    """Serialise dicts/lists of str, int, float, bool, None and float64/int64 arrays as torch.save would.

    The result loads with ``torch.load(..., weights_only=True)`` (tensors come back as torch tensors)
    and with :func:`read_pickle` (as numpy arrays).  Output is byte-for-byte deterministic.
    """
    storages: list[bytes] = []
    out = bytearray(b"\x80\x02")
    _emit(obj, out, storages)
    out += b"."
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        members = [("data.pkl", bytes(out)), ("byteorder", b"little"), (".format_version", b"1")]
        members += [(f"data/{k}", raw) for k, raw in enumerate(storages)] + [("version", b"3\n")]
        for member, payload in members:
            zf.writestr(zipfile.ZipInfo(f"{name}/{member}", date_time=(1980, 1, 1, 0, 0, 0)), payload)
    return buf.getvalue()


def _emit(obj, out: bytearray, storages: list[bytes]) -> None:
    if obj is None:
        out += b"N"
    elif isinstance(obj, bool):
        out += b"\x88" if obj else b"\x89"
    elif isinstance(obj, (int, np.integer)):
        value = int(obj)
        if -2**31 <= value < 2**31:
            out += b"J" + struct.pack("<i", value)
        else:
            raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
            out += b"\x8a" + bytes([len(raw)]) + raw
    elif isinstance(obj, (float, np.floating)):
        out += b"G" + struct.pack(">d", float(obj))
    elif isinstance(obj, str):
        raw = obj.encode("utf-8")
        out += b"X" + struct.pack("<I", len(raw)) + raw
    elif isinstance(obj, dict):
        out += b"}"
        if obj:
            out += b"("
            for key, value in obj.items():
                if not isinstance(key, str):
                    raise TypeError(f"dictionary keys must be str; got {type(key).__name__}")
                _emit(key, out, storages)
                _emit(value, out, storages)
            out += b"u"
    elif isinstance(obj, (list, tuple)):
        out += b"]"
        if obj:
            out += b"("
            for value in obj:
                _emit(value, out, storages)
            out += b"e"
    elif isinstance(obj, np.ndarray) and obj.dtype in _TENSOR_DTYPES:
        _emit_tensor(obj, out, storages)
    else:
        raise TypeError(f"cannot serialise {type(obj).__name__} values")


def _emit_tensor(array: np.ndarray, out: bytearray, storages: list[bytes]) -> None:
    """GLOBAL _rebuild_tensor_v2 applied to (storage pid, offset 0, shape, C strides, False, OrderedDict())."""
    array = np.array(array, dtype=array.dtype.newbyteorder("<"), order="C")  # keeps 0-d shape
    key = str(len(storages))
    storages.append(array.tobytes())
    strides = tuple(int(np.prod(array.shape[k + 1:])) for k in range(array.ndim))  # C order, in elements
    out += b"ctorch._utils\n_rebuild_tensor_v2\n("
    out += b"(" + _str("storage") + f"ctorch\n{_TENSOR_DTYPES[array.dtype.newbyteorder('=')]}\n".encode()
    out += _str(key) + _str("cpu") + b"J" + struct.pack("<i", array.size) + b"tQ"
    out += b"J" + struct.pack("<i", 0)
    for values in (array.shape, strides):
        out += b"(" + b"".join(b"J" + struct.pack("<i", int(v)) for v in values) + b"t"
    out += b"\x89ccollections\nOrderedDict\n)Rt" + b"R"


def _str(text: str) -> bytes:
    raw = text.encode("utf-8")
    return b"X" + struct.pack("<I", len(raw)) + raw
