"""Torch-free reading and writing of PyTorch's zip serialisation format; nothing in a file is executed.

A file written by ``torch.save`` (PyTorch ≥ 1.6) or ``torch.jit.save`` is a zip archive with one top-level
folder ``<name>/`` holding ``data.pkl`` (a pickle describing the object) and ``data/<key>`` (the raw
bytes of each tensor storage).  The pickle is run by a restricted machine (:mod:`explorer.io.unpickler`) that
resolves only the handful of globals a dictionary of tensors needs, each mapped to a numpy constructor; every
other global is refused before anything could run, and every member read, storage and tensor is charged to
the file's :class:`~explorer.io.budget.Budget` first.  Tensors keep their dtype (bfloat16 is widened to
float32 from its bits); complex, quantized, sparse and 8-bit float tensors are refused by the names of their
globals (:class:`Kind`).  TorchScript archives additionally hold ``code/`` (the
TorchScript source) and pickle their modules as ``__torch__.*`` classes, which become inert
:class:`ScriptObject` records in ``script`` mode.  :func:`archive_bytes` writes the same format
(protocol-2 pickle emitted opcode by opcode) so that checkpoints can be saved without importing torch.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections import OrderedDict

import numpy as np

from ..errors import ExplorerError
from .budget import Budget
from .names import one_line
from .unpickler import Malformed, PickleMachine

__all__ = ["Refused", "Unsupported", "Corrupt", "Kind", "ScriptObject", "Archive", "open_archive", "read_pickle",
           "archive_bytes", "is_torchscript", "MAX_MEMBERS", "KINDS"]


class Refused(Exception):
    """The pickle names a global outside torch's tensor vocabulary (it could run code); args[0] names it."""


class Unsupported(Exception):
    """The pickle uses a torch global this reader does not implement; torch.load(weights_only=True) may."""


class Corrupt(Exception):
    """The archive or its pickle is malformed, truncated or over a limit; args[0] says what was wrong."""


class Kind(Exception):
    """The file holds tensors of a kind the explorer refuses; args[0] names it ('complex', 'quantized', …)."""


# storage class name -> numpy dtype code (little-endian); "bf16" is bfloat16, widened to float32 by its bits.
_STORAGES = {
    "DoubleStorage": "f8", "FloatStorage": "f4", "HalfStorage": "f2", "BFloat16Storage": "bf16",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?", "UntypedStorage": "u1",
}
# torch dtype name (a global in _rebuild_tensor_v3 records) -> numpy dtype code
_DTYPES = {
    "float64": "f8", "float32": "f4", "float16": "f2", "bfloat16": "bf16", "int64": "i8", "int32": "i4",
    "int16": "i2", "int8": "i1", "uint8": "u1", "uint16": "u2", "uint32": "u4", "uint64": "u8", "bool": "?",
}
KINDS = {  # torch globals that only tensors the explorer refuses use
    **dict.fromkeys(["ComplexFloatStorage", "ComplexDoubleStorage", "ComplexHalfStorage", "complex32",
                     "complex64", "complex128"], "complex"),
    **dict.fromkeys(["QInt8Storage", "QUInt8Storage", "QInt32Storage", "QUInt4x2Storage", "QUInt2x4Storage",
                     "qint8", "quint8", "qint32", "quint4x2", "quint2x4", "per_tensor_affine",
                     "per_channel_affine", "per_channel_affine_float_qparams", "_rebuild_qtensor"], "quantized"),
    **dict.fromkeys(["_rebuild_sparse_tensor", "_rebuild_sparse_csr_tensor", "_get_layout", "sparse_coo",
                     "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc"], "sparse"),
    **dict.fromkeys(["float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e8m0fnu"],
                    "8-bit float"),
}


class _StorageType:
    """Stand-in for ``torch.<X>Storage`` inside a persistent id: only remembers the element type."""

    def __init__(self, name: str) -> None:
        self.name = name


class _DType(_StorageType):
    """Stand-in for a ``torch.<dtype>`` global (in _rebuild_tensor_v3 records): ``name`` is its numpy code."""


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
    """An opened torch zip archive: zip, top-level prefix, byte order of storages, budget charged per member read."""

    def __init__(self, zf: zipfile.ZipFile, prefix: str, byteorder: str, budget: Budget) -> None:
        self.zf, self.prefix, self.byteorder, self.budget = zf, prefix, byteorder, budget

    def read(self, member: str) -> bytes:
        try:
            info = self.zf.getinfo(self.prefix + member)
        except KeyError:
            raise Corrupt(f"the archive has no member {member!r}") from None
        copies = 1 if info.compress_type == zipfile.ZIP_STORED else 2  # zipfile slices what it inflated
        self.budget.allocate_bytes(copies * info.file_size, f"the archive member {member[:60]!r}")
        try:
            return self.zf.read(info)
        except _ZIP_ERRORS as exc:
            raise Corrupt(f"its member {member[:60]!r} cannot be read ({exc})") from None

    def names(self) -> list[str]:
        return [n[len(self.prefix):] for n in self.zf.namelist() if n.startswith(self.prefix)]


MAX_MEMBERS = 100_000  # zip entries; each costs zipfile about 500 bytes (_MEMBER_ELEMENTS) before anything is read
_MEMBER_ELEMENTS = 64
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError, RuntimeError,
               struct.error)  # what zipfile raises on damaged archives


def open_archive(data: bytes, *, max_bytes: int, budget: Budget) -> Archive:
    """Open a torch zip archive held in memory; raise Corrupt if it is not one, is damaged or too large."""
    entries = _directory_entries(data)
    if entries > MAX_MEMBERS:
        raise Corrupt(f"it lists about {entries:,} members; the limit is {MAX_MEMBERS:,}")
    budget.allocate(entries * _MEMBER_ELEMENTS, f"the zip directory of {entries:,} members")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except _ZIP_ERRORS as exc:
        raise Corrupt(f"the zip structure is damaged ({exc})") from None
    if sum(i.file_size for i in infos) > max_bytes:
        raise Corrupt(f"its contents would expand to more than {max_bytes // 2**20} MB")
    if any(i.flag_bits & 0x1 for i in infos):
        raise Corrupt("it is encrypted")
    pkls = [i.filename for i in infos if i.filename.endswith("data.pkl") and i.filename.count("/") == 1]
    if len(pkls) != 1:
        raise Corrupt("it is a zip file but holds no PyTorch data.pkl" if not pkls else
                      f"it holds {len(pkls)} top-level data.pkl members")
    prefix = pkls[0][: -len("data.pkl")]
    archive = Archive(zf, prefix, "little", budget)
    if prefix + "byteorder" in zf.namelist():
        order = archive.read("byteorder").decode("ascii", "replace").strip()
        if order not in ("little", "big"):
            raise Corrupt(f"its byteorder record reads {order[:20]!r}")
        archive.byteorder = order
    return archive


def _directory_entries(data: bytes) -> int:
    """At most how many central-directory entries zipfile will parse: the entry signatures in the span that the
    end records (zip64 included) give the directory, which zipfile reads whole before anything else."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_558))
    if end < 0 or end + 22 > len(data):
        return 0  # zipfile refuses the file itself
    size = int.from_bytes(data[end + 12:end + 16], "little")
    if end >= 76 and data[end - 20:end - 16] == b"PK\x06\x07" and data[end - 76:end - 72] == b"PK\x06\x06":
        size = max(size, int.from_bytes(data[end - 36:end - 28], "little"))
    return data.count(b"PK\x01\x02", max(0, end - 76 - size), end)


def is_torchscript(archive: Archive) -> bool:
    """TorchScript archives carry their source under ``code/`` (and a ``constants.pkl``)."""
    return any(n.startswith("code/") or n == "constants.pkl" for n in archive.names())


def read_pickle(archive: Archive, *, script: bool = False):
    """Unpickle ``data.pkl`` with tensors as numpy arrays in their own dtypes (bfloat16 widened to float32);
    ``script`` admits ``__torch__`` classes as :class:`ScriptObject` records."""
    unpickler = _Unpickler(archive.read("data.pkl"), archive, script)
    try:
        return unpickler.load()
    except (Refused, Unsupported, Corrupt, Kind, ExplorerError):
        raise
    except Malformed as exc:
        raise Corrupt(str(exc)) from None
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError, RecursionError,
            MemoryError, struct.error) as exc:
        raise Corrupt(f"its data.pkl cannot be read ({type(exc).__name__})") from None


def _plain_list(kind: type):
    """TorchScript pickles typed attribute lists (e.g. Conv2d's padding) as build_intlist([...]) and the like."""
    def build(values):
        if not isinstance(values, list) or not all(type(v) is kind for v in values):
            raise Corrupt(f"a TorchScript {kind.__name__} list holds other values")
        return list(values)
    return build


_SCRIPT_LISTS = {"build_intlist": _plain_list(int), "build_doublelist": _plain_list(float),
                 "build_boollist": _plain_list(bool)}


class _Unpickler(PickleMachine):
    """find_class admits only the tensor vocabulary; persistent_load reads storages from the archive."""

    def __init__(self, data: bytes, archive: Archive, script: bool) -> None:
        super().__init__(data, archive.budget)
        self._archive, self._script, self._storages, self._classes = archive, script, {}, {}

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return _ordered_dict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor_v3"):
            return self._rebuild_tensor
        if module == "torch._utils" and name in ("_rebuild_parameter", "_rebuild_parameter_with_state"):
            return _rebuild_parameter
        if module in ("torch", "torch.storage") and name in _STORAGES:
            return _StorageType(name)
        if module == "torch" and name in _DTYPES:
            return _DType(_DTYPES[name])
        if module.split(".", 1)[0] == "torch" and name in KINDS:
            raise Kind(KINDS[name])
        if self._script and module == "torch.jit._pickle" and name in _SCRIPT_LISTS:
            return _SCRIPT_LISTS[name]
        if self._script and module.startswith("__torch__."):
            key = f"{module}.{name}"
            if key not in self._classes:
                self._classes[key] = type(one_line(name), (ScriptObject,), {"qualname": key})
            return self._classes[key]
        if module == "torch" or module.startswith("torch."):
            raise Unsupported(one_line(f"{module}.{name}"))
        raise Refused(one_line(f"{module}.{name}"))

    def instantiate(self, cls, args: tuple):
        if isinstance(cls, type) and self._classes.get(getattr(cls, "qualname", None)) is cls:
            return cls.__new__(cls)
        raise Corrupt(f"it instantiates a {type(cls).__name__}")

    def set_state(self, obj, state) -> None:
        if isinstance(obj, ScriptObject) and self._classes.get(obj.qualname) is type(obj):
            obj.__setstate__(state)
        elif type(obj) is OrderedDict and (state is None or isinstance(state, dict)):
            pass  # torch's state_dict keeps its _metadata here; the explorer does not need it
        else:
            raise Corrupt(f"it sets the state of a {type(obj).__name__}, which the reader does not allow")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                and type(pid[1]) is _StorageType and isinstance(pid[2], str) and type(pid[4]) is int):
            raise Corrupt("it has an unexpected storage record")
        _, kind, key, _location, numel = pid
        if key not in self._storages:
            code = _STORAGES[kind.name]
            dtype = np.dtype("u2" if code == "bf16" else code).newbyteorder(self._order())
            raw = self._archive.read(f"data/{key}")
            if numel < 0 or len(raw) < numel * dtype.itemsize:
                raise Corrupt(f"storage {key[:60]} holds {len(raw)} bytes, fewer than {numel} elements need")
            values = np.frombuffer(raw, dtype=dtype, count=numel)
            if code == "bf16":  # bfloat16 = the top 16 bits of a float32
                self._archive.budget.allocate(numel, "a bfloat16 storage widened to float32")
                values = (values.astype(np.uint32) << 16).view(np.float32)
            self._storages[key] = values
        return self._storages[key]

    def _order(self) -> str:
        return "<" if self._archive.byteorder == "little" else ">"

    def _rebuild_tensor(self, storage, offset, size, stride, requires_grad=False, hooks=None, *rest):
        """numpy version of torch._utils._rebuild_tensor_v2 / _v3: a bounds-checked strided view, copied.

        The copy is charged to the budget twice its element count: once for itself, once for the float64
        array it may become.  A _v3 record views untyped bytes as the dtype its seventh argument names.
        """
        if rest and isinstance(rest[0], _DType):  # _rebuild_tensor_v3(..., dtype, metadata)
            storage = self._retype(storage, rest[0].name)
        if not (isinstance(storage, np.ndarray) and type(offset) is int and isinstance(size, tuple)
                and isinstance(stride, tuple) and len(size) == len(stride) <= 32
                and all(type(v) is int and v >= 0 for v in size + stride) and offset >= 0):
            raise Corrupt("a tensor record has an invalid offset, size or stride")
        count = self._archive.budget.allocate_shape(size, "a tensor")
        self._archive.budget.allocate(count, "the tensor in float64")
        if count:
            last = offset + sum((n - 1) * s for n, s in zip(size, stride))
            if last >= storage.size:
                raise Corrupt("a tensor reaches past the end of its storage")
            view = np.lib.stride_tricks.as_strided(storage[offset:], shape=size,
                                                   strides=[s * storage.itemsize for s in stride])
            out = np.array(view, copy=True)
        else:
            out = np.zeros(size, dtype=storage.dtype)
        return out.astype(out.dtype.newbyteorder("="), copy=False)

    def _retype(self, storage, code: str) -> np.ndarray:
        if not (isinstance(storage, np.ndarray) and storage.dtype == np.uint8):
            raise Corrupt("a typed tensor record does not point to untyped bytes")
        dtype = np.dtype("u2" if code == "bf16" else code).newbyteorder(self._order())
        if storage.size % dtype.itemsize:
            raise Corrupt(f"{storage.size} bytes are not whole {dtype.itemsize}-byte elements")
        values = storage.view(dtype)
        if code == "bf16":
            self._archive.budget.allocate(values.size, "a bfloat16 storage widened to float32")
            values = (values.astype(np.uint32) << 16).view(np.float32)
        return values


def _ordered_dict(*args) -> OrderedDict:
    """``collections.OrderedDict()``: torch always writes it empty and fills it by SETITEMS (whose keys are checked)."""
    if args:
        raise Corrupt("it builds an OrderedDict from arguments, which torch never writes")
    return OrderedDict()


def _rebuild_parameter(data, requires_grad=False, hooks=None, state=None):
    """An nn.Parameter is its tensor here (its Python attributes, if any, are dropped)."""
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
