"""A pickle interpreter that builds only what its subclass admits, within a file's budget, and changes nothing else.

Python's own unpickler lets a stream call any global it resolved (REDUCE), set attributes on any object on the
stack (BUILD, including functions it was handed), grow its stack and memo without bound and fill a dict with
keys whose hashes collide (quadratic time).  This machine runs the binary opcodes of protocols 1–5 (and GLOBAL)
itself:

* globals come only from :meth:`PickleMachine.find_class`, and only those objects may be called (REDUCE);
  NEWOBJ goes through :meth:`instantiate`; persistent ids through :meth:`persistent_load`;
* BUILD is applied only to objects this machine made by REDUCE or NEWOBJ, through :meth:`set_state`, which
  refuses by default — so a stream can never reach the attributes of a function, a class or a module;
* APPEND, SETITEM and ADDITEMS act only on the lists, dicts and sets the stream itself created, and keys are
  only of types whose hashes cannot be made to collide (strings, bytes, small integers, …); a call's
  arguments hold at most MAX_CALL_ITEMS items (so no constructor gets a list of colliding keys);
* every opcode and string is charged to the file's :class:`~explorer.io.budget.Budget`, and the stack,
  marks and memo are bounded by its :class:`~explorer.io.budget.PickleLimits`.

Errors are :class:`Malformed` with a short reason; subclasses raise their own exceptions from the hooks.
"""

from __future__ import annotations

import struct

from .budget import Budget

__all__ = ["PickleMachine", "Malformed", "OPCODE_ELEMENTS", "MAX_CALL_ITEMS"]

OPCODE_ELEMENTS = 8  # budget charged per opcode: the ≤ 64 bytes of Python object one opcode can create
_CHARGE_EVERY = 4096  # opcodes per budget charge (charging each one would double the interpreter's time)
_MAX_INT_BYTES = 1024  # LONG4 integers above 8,192 bits are refused
MAX_CALL_ITEMS = 10_000  # items in the arguments of one REDUCE / NEWOBJ (torch passes a handful)
_HASH_MODULUS = 2**61 - 1  # ints below it hash to themselves, so distinct ones never collide
_STRUCTS = {fmt: struct.Struct(fmt) for fmt in ("<B", "<H", "<i", "<I", "<Q", ">d")}


class Malformed(Exception):
    """The pickle stream is malformed, truncated or exceeds a limit; args[0] says what was wrong."""


class PickleMachine:
    """Run one pickle from ``data[start:]``; :meth:`load` returns the object and sets ``end`` to the next byte.

    Subclasses override the four hooks; the defaults refuse.  ``budget`` is charged for every opcode, every
    string or bytes object and every memo entry.
    """

    def __init__(self, data: bytes, budget: Budget, *, start: int = 0) -> None:
        self._data, self._pos, self._budget, self.end = memoryview(data), start, budget, start
        self._limits = budget.pickle
        self._max_stack = budget.pickle.max_stack
        self._stack: list = []
        self._marks: list[list] = []  # the stacks below open marks
        self._held = 0  # items in those stacks
        self._memo: dict[int, object] = {}
        self._callables: dict[int, object] = {}  # id -> object returned by find_class (kept alive)
        self._made: dict[int, object] = {}  # id -> object made by REDUCE / NEWOBJ (kept alive)
        self._containers: dict[int, object] = {}  # id -> list / dict / set created by the stream
        self._opcodes = 0

    # ---- hooks --------------------------------------------------------------------------------------
    def find_class(self, module: str, name: str):
        raise Malformed(f"the pickle names the global {module}.{name}")

    def persistent_load(self, pid):
        raise Malformed("the pickle refers to external objects (persistent ids)")

    def instantiate(self, cls, args: tuple):
        raise Malformed("the pickle creates objects with NEWOBJ")

    def set_state(self, obj, state) -> None:
        raise Malformed(f"the pickle sets the state (BUILD) of a {type(obj).__name__}")

    # ---- the machine --------------------------------------------------------------------------------
    def load(self):
        """Run opcodes until STOP; return the object on top of the stack."""
        try:
            return self._run()
        finally:  # the machine holds bound methods of itself (find_class results): break the cycle now
            self._callables.clear()
            self._made.clear()
            self._containers.clear()
            self._memo.clear()

    def _run(self):
        dispatch, data, limit = _DISPATCH, self._data, self._limits.max_opcodes
        while True:
            if self._pos >= len(data):
                raise Malformed("the pickle ends in the middle of an opcode (truncated)")
            code = data[self._pos]
            self._pos += 1
            self._opcodes += 1
            if self._opcodes % _CHARGE_EVERY == 0:
                if self._opcodes > limit:
                    raise Malformed(f"the pickle runs more than {limit:,} opcodes")
                self._budget.allocate(_CHARGE_EVERY * OPCODE_ELEMENTS, "the pickle's objects")
            op = dispatch.get(code)
            if op is None:
                raise Malformed(f"the pickle uses the opcode {bytes([code])!r}, which is not read here")
            if op is _stop:
                if len(self._stack) != 1 or self._marks:
                    raise Malformed("the pickle's stack is unbalanced at STOP")
                self.end = self._pos
                return self._stack.pop()
            op(self)

    # ---- reading --------------------------------------------------------------------------------------
    def _read(self, n: int) -> memoryview:
        end = self._pos + n
        if n < 0 or end > len(self._data):
            raise Malformed("the pickle ends in the middle of an opcode (truncated)")
        chunk = self._data[self._pos:end]
        self._pos = end
        return chunk

    def _line(self) -> bytes:
        end = bytes(self._data[self._pos:self._pos + 4096]).find(b"\n")
        if end < 0:
            raise Malformed("a text opcode has no end of line within 4,096 bytes")
        line = bytes(self._data[self._pos:self._pos + end])
        self._pos += end + 1
        return line

    def _unpack(self, fmt: str):
        """One number of the struct format ``fmt`` (its Struct compiled once, in _STRUCTS)."""
        form = _STRUCTS[fmt]
        pos = self._pos
        if pos + form.size > len(self._data):
            raise Malformed("the pickle ends in the middle of an opcode (truncated)")
        self._pos = pos + form.size
        return form.unpack_from(self._data, pos)[0]

    def _sized(self, fmt: str) -> bytes:
        n = self._unpack(fmt)
        self._budget.allocate_bytes(n, "a string in the pickle")
        return bytes(self._read(n))

    # ---- stack ----------------------------------------------------------------------------------------
    def _push(self, obj) -> None:
        if len(self._stack) + self._held >= self._max_stack:
            raise Malformed(f"the pickle's stack grows past {self._max_stack:,} items")
        self._stack.append(obj)

    def _pop(self):
        if not self._stack:
            raise Malformed("the pickle pops from an empty stack")
        return self._stack.pop()

    def _top(self):
        if not self._stack:
            raise Malformed("the pickle reads from an empty stack")
        return self._stack[-1]

    def _mark(self) -> None:
        if len(self._marks) >= self._limits.max_marks:
            raise Malformed(f"the pickle opens more than {self._limits.max_marks:,} marks")
        self._marks.append(self._stack)
        self._held += len(self._stack)
        self._stack = []

    def _pop_mark(self) -> list:
        if not self._marks:
            raise Malformed("the pickle closes a mark that was never opened")
        items, self._stack = self._stack, self._marks.pop()
        self._held -= len(self._stack)
        return items

    def _put(self, key: int) -> None:
        if key not in self._memo and len(self._memo) >= self._limits.max_memo:
            raise Malformed(f"the pickle's memo grows past {self._limits.max_memo:,} entries")
        self._memo[key] = self._top()

    def _get(self, key: int) -> None:
        if key not in self._memo:
            raise Malformed(f"the pickle reads the memo entry {key}, which was never written")
        self._push(self._memo[key])

    def _container(self, obj):
        self._containers[id(obj)] = obj
        return obj

    def _own(self, obj, kind: type):
        if type(obj) is not kind or self._containers.get(id(obj)) is not obj:
            raise Malformed(f"the pickle adds items to a {type(obj).__name__} that is not a {kind.__name__} it created")
        return obj

    def _global(self, module, name) -> None:
        if not (isinstance(module, str) and isinstance(name, str)):
            raise Malformed("a global is not named by two strings")
        obj = self.find_class(module, name)
        self._callables[id(obj)] = obj
        self._push(obj)

    def _make(self, callee, args, *, new: bool) -> None:
        """REDUCE (callee(*args)) or NEWOBJ (instantiate): only on a global, with bounded arguments."""
        if self._callables.get(id(callee)) is not callee or not isinstance(args, tuple):
            raise Malformed(f"the pickle {'instantiates' if new else 'calls'} a {type(callee).__name__} it did not "
                            "name as a global")
        _count_items(args)
        obj = self.instantiate(callee, args) if new else callee(*args)
        self._made[id(obj)] = obj
        self._push(obj)

    def _build(self) -> None:
        state = self._pop()
        obj = self._top()
        if self._made.get(id(obj)) is not obj:
            raise Malformed(f"the pickle sets the state (BUILD) of a {type(obj).__name__} it did not create")
        self.set_state(obj, state)

    def _set_items(self, target, items: list) -> None:
        if len(items) % 2:
            raise Malformed("SETITEMS has an odd number of items")
        own = self._containers.get(id(target)) is target or self._made.get(id(target)) is target
        if not (own and isinstance(target, dict)):
            raise Malformed(f"the pickle sets items of a {type(target).__name__} it did not create")
        for k in range(0, len(items), 2):
            target[_key(items[k])] = items[k + 1]


def _key(key):
    """A dict key or set item whose hash a stream cannot make collide with others: str and bytes (hashed with the
    process's secret), None, bool, ints below 2^61 − 1 (hash(n) = n) and objects hashed by identity."""
    kind = type(key)
    if kind in (str, bytes, bool, type(None)) or kind.__hash__ is object.__hash__ or (
            kind is int and -_HASH_MODULUS < key < _HASH_MODULUS):
        return key
    raise Malformed(f"the pickle uses a key of type {kind.__name__} in a dictionary or set")


def _count_items(args: tuple) -> None:
    """Refuse call arguments that hold more than MAX_CALL_ITEMS items, counted through nested containers."""
    todo, seen = list(args), len(args)
    while todo:
        item = todo.pop()
        if isinstance(item, (list, tuple, dict, set, frozenset)):
            seen += len(item)
            if seen > MAX_CALL_ITEMS:
                raise Malformed(f"the pickle passes more than {MAX_CALL_ITEMS:,} items to one call")
            todo.extend(item.values() if isinstance(item, dict) else item)
            todo.extend(item.keys() if isinstance(item, dict) else ())


# ---- opcodes ----------------------------------------------------------------------------------------
def _stop(m: PickleMachine) -> None:  # handled in load()
    raise AssertionError


def _long(raw: bytes) -> int:
    if len(raw) > _MAX_INT_BYTES:
        raise Malformed(f"the pickle holds an integer of {len(raw):,} bytes")
    return int.from_bytes(raw, "little", signed=True)


def _text(raw: bytes, codec: str = "utf-8") -> str:
    try:
        return raw.decode(codec, "surrogatepass" if codec == "utf-8" else "strict")
    except UnicodeDecodeError:
        raise Malformed(f"a string is not {codec}") from None


def _frame(m: PickleMachine) -> None:
    size = m._unpack("<Q")
    if m._pos + size > len(m._data):
        raise Malformed("a frame reaches past the end of the pickle")


def _tuple_of(n: int):
    def op(m: PickleMachine) -> None:
        items = [m._pop() for _ in range(n)][::-1]
        m._push(tuple(items))
    return op


def _append(m: PickleMachine) -> None:
    value = m._pop()
    m._own(m._top(), list).append(value)


def _appends(m: PickleMachine) -> None:
    items = m._pop_mark()
    m._own(m._top(), list).extend(items)


def _setitem(m: PickleMachine) -> None:
    value, key = m._pop(), m._pop()
    m._set_items(m._top(), [key, value])


def _setitems(m: PickleMachine) -> None:
    items = m._pop_mark()
    m._set_items(m._top(), items)


def _additems(m: PickleMachine) -> None:
    items = m._pop_mark()
    m._own(m._top(), set).update(_key(item) for item in items)


def _dict_from_mark(m: PickleMachine) -> None:
    items = m._pop_mark()
    if len(items) % 2:
        raise Malformed("DICT has an odd number of items")
    m._push(m._container({_key(items[k]): items[k + 1] for k in range(0, len(items), 2)}))


def _stack_global(m: PickleMachine) -> None:
    name, module = m._pop(), m._pop()
    m._global(module, name)


def _text_global(m: PickleMachine) -> None:
    module = _text(m._line())
    m._global(module, _text(m._line()))


def _reduce(m: PickleMachine) -> None:
    args, func = m._pop(), m._pop()
    m._make(func, args, new=False)


def _newobj(m: PickleMachine) -> None:
    args, cls = m._pop(), m._pop()
    m._make(cls, args, new=True)


def _newobj_ex(m: PickleMachine) -> None:
    kwargs, args, cls = m._pop(), m._pop(), m._pop()
    if kwargs:
        raise Malformed("NEWOBJ_EX passes keyword arguments")
    m._make(cls, args, new=True)


def _pop_item(m: PickleMachine) -> None:
    if m._stack:
        m._stack.pop()
    else:
        m._pop_mark()


_DISPATCH = {
    ord(code): op for code, op in {
        ".": _stop,
        "(": PickleMachine._mark,
        "0": _pop_item,
        "1": lambda m: m._pop_mark(),
        "2": lambda m: m._push(m._top()),
        "\x80": lambda m: m._read(1),
        "\x95": _frame,
        "N": lambda m: m._push(None),
        "\x88": lambda m: m._push(True),
        "\x89": lambda m: m._push(False),
        "J": lambda m: m._push(m._unpack("<i")),
        "K": lambda m: m._push(m._unpack("<B")),
        "M": lambda m: m._push(m._unpack("<H")),
        "\x8a": lambda m: m._push(_long(bytes(m._read(m._unpack("<B"))))),
        "\x8b": lambda m: m._push(_long(m._sized("<i"))),
        "G": lambda m: m._push(m._unpack(">d")),
        "T": lambda m: m._push(_text(m._sized("<i"), "ascii")),
        "U": lambda m: m._push(_text(m._sized("<B"), "ascii")),
        "X": lambda m: m._push(_text(m._sized("<I"))),
        "\x8c": lambda m: m._push(_text(m._sized("<B"))),
        "\x8d": lambda m: m._push(_text(m._sized("<Q"))),
        "B": lambda m: m._push(m._sized("<I")),
        "C": lambda m: m._push(m._sized("<B")),
        "\x8e": lambda m: m._push(m._sized("<Q")),
        "\x96": lambda m: m._push(m._container(bytearray(m._sized("<Q")))),
        ")": lambda m: m._push(()),
        "t": lambda m: m._push(tuple(m._pop_mark())),
        "\x85": _tuple_of(1),
        "\x86": _tuple_of(2),
        "\x87": _tuple_of(3),
        "]": lambda m: m._push(m._container([])),
        "l": lambda m: m._push(m._container(m._pop_mark())),
        "}": lambda m: m._push(m._container({})),
        "d": _dict_from_mark,
        "\x8f": lambda m: m._push(m._container(set())),
        "\x91": lambda m: m._push(frozenset(_key(item) for item in m._pop_mark())),
        "a": _append,
        "e": _appends,
        "s": _setitem,
        "u": _setitems,
        "\x90": _additems,
        "h": lambda m: m._get(m._unpack("<B")),
        "j": lambda m: m._get(m._unpack("<I")),
        "q": lambda m: m._put(m._unpack("<B")),
        "r": lambda m: m._put(m._unpack("<I")),
        "\x94": lambda m: m._put(len(m._memo)),
        "c": _text_global,
        "\x93": _stack_global,
        "R": _reduce,
        "\x81": _newobj,
        "\x92": _newobj_ex,
        "b": PickleMachine._build,
        "Q": lambda m: m._push(m.persistent_load(m._pop())),
    }.items()
}
