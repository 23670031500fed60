"""Symbolic pickle opcode walker: knows what each call would invoke, without unpickling anything."""

from __future__ import annotations

import pickletools
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from io import BytesIO
from typing import IO, Any, BinaryIO, cast

from aisec.analyzers.pickle_sym import (
    LITERAL_LOOKUP,
    OPAQUE,
    Const,
    Dct,
    Obj,
    PersId,
    Ref,
    Seq,
    SymbolicCalls,
    describe,
    ref_from_global,
)
from aisec.errors import LimitExceeded

_STRING_OPS = frozenset({"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE",
                         "BINUNICODE", "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
                         "BYTEARRAY8"})
_NUMBER_OPS = frozenset({"INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT",
                         "BINFLOAT"})
_MEMO_PUT = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_MEMO_GET = frozenset({"GET", "BINGET", "LONG_BINGET"})
_CALL_OPS = frozenset({"REDUCE", "NEWOBJ", "NEWOBJ_EX", "OBJ", "INST"})
_JOBLIB_WRAPPERS = frozenset({"joblib.numpy_pickle.NumpyArrayWrapper",
                              "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper"})
_JOBLIB_SIDE_FILE_WRAPPERS = frozenset(f"{package}.{module}.{cls}" for package in ("joblib", "sklearn.externals.joblib")
                                       for module in ("numpy_pickle", "numpy_pickle_compat")
                                       for cls in ("NDArrayWrapper", "ZNDArrayWrapper"))
"""joblib <= 0.9 array records: joblib.load reads ``os.path.join(<pickle's folder>, filename)``, the plain
wrapper with ``np.load(allow_pickle=True)``."""
_MAX_INLINE_ARRAYS_DEPTH = 4
_PUSHES_GLOBAL = frozenset({"GLOBAL", "STACK_GLOBAL", "GET", "BINGET", "LONG_BINGET", "DUP"})


class _Mark:
    """The MARK sentinel on the symbolic stack."""


MARK = _Mark()


@dataclass(frozen=True, kw_only=True)
class PickleEvent:
    """Something the walker saw that matters to security."""

    kind: str
    """``import``, ``call``, ``build``, ``dynamic_global``, ``extension``, ``nested_pickle``,
    ``global_mutation``, ``torch_hazard``, ``storage``, ``joblib_array``, ``frame_mismatch``."""
    name: str
    offset: int
    opcode: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class WalkState:
    """Per-stream statistics the analyzer turns into facts."""

    opcodes: int = 0
    protocol: int = 0
    end_offset: int = 0
    finished: bool = False
    result: Any = None
    """The symbolic value left on the stack at STOP (the unpickled object)."""
    memo_evicted: int = 0
    lookup_pushes: int = 0
    """Times ``builtins.getattr`` was put on the stack (global, memo read, DUP)."""


class _Capped:
    """A reader whose ``read(n)`` never allocates more than the bytes that actually remain.

    It tracks the position itself: ``genops`` asks for it before every opcode, and asking the buffered
    stream each time costs more than decoding the opcode.
    """

    def __init__(self, raw: BinaryIO, remaining: int) -> None:
        self._raw = raw
        self._remaining = remaining
        self._pos = raw.tell()

    def read(self, n: int = -1) -> bytes:
        left = self._remaining - self._pos
        if n < 0 or n > left:
            n = max(0, left)
        data = self._raw.read(n)
        self._pos += len(data)
        return data

    def readline(self, limit: int = -1) -> bytes:
        data = self._raw.readline(max(0, self._remaining - self._pos))
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int) -> None:
        self._raw.seek(offset)
        self._pos = offset


@dataclass(kw_only=True)
class _Frame:
    stack: list[Any] = field(default_factory=list)
    memo: dict[int, Any] = field(default_factory=dict)
    memo_next: int = 0


def walk(stream: BinaryIO, size: int, *, max_opcodes: int, max_stack: int,
         state: WalkState, _depth: int = 0) -> Iterator[PickleEvent]:
    """Walk one pickle stream from the stream's current position to STOP, yielding security events.

    Raises ``ValueError`` on malformed input and :class:`LimitExceeded` on a budget hit; events already
    yielded stay valid, so a dangerous call before a truncation is still reported. Memory is bounded by
    ``max_stack`` (stack and memo entries) and by the container item caps in :mod:`pickle_sym`.
    """
    frame = _Frame()
    calls = SymbolicCalls()
    # An in-memory stream is safe to hand to genops as is (BytesIO never pre-allocates a claimed length) and is
    # several times faster than going through the capping wrapper.
    capped: _Capped | BytesIO = stream if isinstance(stream, BytesIO) else _Capped(stream, size)
    frame_end: int | None = None
    for opcode, arg, pos in pickletools.genops(cast(IO[bytes], capped)):
        state.opcodes += 1
        offset = pos or 0
        if state.opcodes > max_opcodes:
            raise LimitExceeded("max_pickle_opcodes", max_opcodes)
        name = opcode.name
        if frame_end is not None and offset >= frame_end:
            if offset > frame_end:
                yield _frame_event("frame-ends-inside-an-opcode", offset, name, frame_end)
            frame_end = None
        # Fast path for the opcodes that make up the bulk of big pickles and never produce an event.
        if name in _STRING_OPS:
            frame.stack.append(calls.const(arg))
            if len(frame.stack) > max_stack:  # the fast path must hold max_stack_depth too
                raise LimitExceeded("max_stack_depth", max_stack)
            continue
        if name == "MEMOIZE":
            if not frame.stack or frame.stack[-1] is MARK:
                raise ValueError("MEMOIZE on an empty stack")
            _memo_put(frame, frame.memo_next, frame.stack[-1], max_stack, state)
            frame.memo_next += 1
            continue
        if name in _NUMBER_OPS:
            frame.stack.append(Const(arg))
            if len(frame.stack) > max_stack:
                raise LimitExceeded("max_stack_depth", max_stack)
            continue
        if name == "MARK":
            frame.stack.append(MARK)
            if len(frame.stack) > max_stack:
                raise LimitExceeded("max_stack_depth", max_stack)
            continue
        if name == "FRAME":
            if frame_end is not None:
                yield _frame_event("frame-inside-a-frame", offset, name, frame_end)
            frame_end = offset + 9 + int(cast(int, arg))  # opcode byte, 8-byte length, then the frame
            continue
        if name == "PROTO":
            state.protocol = int(cast(int, arg))
        elif name == "STOP":
            state.finished = True
            state.end_offset = capped.tell()
            if frame_end is not None and frame_end > state.end_offset:
                yield _frame_event("frame-past-stop", offset, name, frame_end)
            state.result = frame.stack[-1] if frame.stack else None
            if state.lookup_pushes and state.lookup_pushes == calls.literal_lookups:
                # Every getattr was the callable of a REDUCE on a literal global and name: the attribute it
                # reaches is reported (and judged) as that global's own import, so getattr adds nothing.
                yield PickleEvent(kind="literal_lookup", name=LITERAL_LOOKUP, offset=offset, opcode=name)
            return
        elif name == "BUILD":
            target = yield from _build(frame, offset)
            if isinstance(target, Obj) and target.origin in _JOBLIB_SIDE_FILE_WRAPPERS:
                yield _side_file_event(target, offset)
            if isinstance(target, Obj) and target.origin in _JOBLIB_WRAPPERS:
                # joblib commits the frame right after the wrapper and reads the array from the file itself:
                # a frame that goes on past the BUILD would make joblib read the array from after the frame.
                if frame_end is not None and capped.tell() < frame_end:
                    yield _frame_event("frame-covers-joblib-array-data", offset, name, frame_end)
                frame_end = None
                yield from _skip_joblib_array(target, capped, size, offset, max_opcodes=max_opcodes,
                                              max_stack=max_stack, state=state, depth=_depth)
            continue
        yield from _step(name, arg, offset, frame, opcode, calls, state, max_stack)
        if name in _PUSHES_GLOBAL and frame.stack and isinstance(frame.stack[-1], Ref) and \
                frame.stack[-1].name == LITERAL_LOOKUP:
            state.lookup_pushes += 1
        if len(frame.stack) > max_stack:
            raise LimitExceeded("max_stack_depth", max_stack)
    raise ValueError("pickle stream ended without STOP (truncated)")


def _frame_event(reason: str, offset: int, opcode: str, frame_end: int) -> PickleEvent:
    """A FRAME whose declared length disagrees with the opcodes: readers that honour frame boundaries
    (``pickle._Unpickler``, scanners that resync at a frame's end) and readers that ignore them (the C
    unpickler, ``pickletools``) then disagree on where opcodes start, so one may see a call in another's string."""
    return PickleEvent(kind="frame_mismatch", name=reason, offset=offset, opcode=opcode,
                       detail={"frame_end": frame_end})


def _pop_mark(stack: list[Any]) -> list[Any]:
    items: list[Any] = []
    while stack:
        item = stack.pop()
        if item is MARK:
            items.reverse()
            return items
        items.append(item)
    raise ValueError("MARK expected on the pickle stack")


def _pop(stack: list[Any]) -> Any:
    if not stack:
        raise ValueError("pickle stack underflow")
    item = stack.pop()
    if item is MARK:
        raise ValueError("unexpected MARK on the pickle stack")
    return item


def _top(stack: list[Any]) -> Any:
    if not stack or stack[-1] is MARK:
        raise ValueError("pickle stack underflow")
    return stack[-1]


def _memo_put(frame: _Frame, key: int, value: Any, max_stack: int, state: WalkState) -> None:
    # Plain values need no memo slot of their own: a GET of a missing key reads back as opaque data.
    if value is OPAQUE or (isinstance(value, Const) and not isinstance(value.value, (str, bytes))):
        frame.memo.pop(key, None)
        return
    if key not in frame.memo and len(frame.memo) >= max_stack:
        # Bounded memory: an evicted entry reads back as opaque, so a call through it is reported as
        # an unresolvable (dynamic) call, never as a safe one.
        state.memo_evicted += 1
        return
    frame.memo[key] = value


def _step(name: str, arg: Any, offset: int, frame: _Frame, opcode: pickletools.OpcodeInfo,
          calls: SymbolicCalls, state: WalkState, max_stack: int) -> Iterator[PickleEvent]:
    stack = frame.stack
    if name in ("GLOBAL", "INST"):
        module, _, attr = str(arg).partition(" ")
        ref = ref_from_global(module, attr)
        yield from _import_events(ref, offset, name)
        if name == "GLOBAL":
            stack.append(ref)
        else:
            args = Seq(kind="tuple", items=_pop_mark(stack))
            yield from calls.call(ref, args, offset, name, stack)
    elif name == "STACK_GLOBAL":
        attr, module = _pop(stack), _pop(stack)
        if isinstance(module, Const) and isinstance(attr, Const) and isinstance(module.value, str) \
                and isinstance(attr.value, str):
            ref = ref_from_global(module.value, attr.value)
            yield from _import_events(ref, offset, name)
        else:
            ref = Ref(module=describe(module), attrs=(describe(attr),), dynamic=True)
            yield PickleEvent(kind="dynamic_global", name=ref.name, offset=offset, opcode=name)
        stack.append(ref)
    elif name in _STRING_OPS:
        stack.append(calls.const(arg))
    elif name in _NUMBER_OPS:
        stack.append(Const(arg))
    elif name in _MEMO_PUT:
        _memo_put(frame, int(arg), _top(stack), max_stack, state)
    elif name == "MEMOIZE":
        _memo_put(frame, frame.memo_next, _top(stack), max_stack, state)
        frame.memo_next += 1
    elif name in _MEMO_GET:
        stack.append(frame.memo.get(int(arg), OPAQUE))
    elif name in ("EXT1", "EXT2", "EXT4"):
        ref = Ref(module="copyreg", attrs=(f"extension[{arg}]",), dynamic=True)
        yield PickleEvent(kind="extension", name=ref.name, offset=offset, opcode=name)
        yield PickleEvent(kind="dynamic_global", name=ref.name, offset=offset, opcode=name)
        stack.append(ref)
    elif name in _CALL_OPS:
        yield from _call(name, offset, stack, calls)
    elif name in ("TUPLE", "TUPLE1", "TUPLE2", "TUPLE3"):
        count = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}.get(name)
        items = _pop_mark(stack) if count is None else [_pop(stack) for _ in range(count)][::-1]
        stack.append(Seq(kind="tuple", items=items))
    elif name == "EMPTY_TUPLE":
        stack.append(Seq(kind="tuple", items=[]))
    elif name in ("EMPTY_LIST", "EMPTY_SET"):
        stack.append(Seq(kind="list" if name == "EMPTY_LIST" else "set", items=[]))
    elif name in ("LIST", "FROZENSET"):
        stack.append(Seq(kind="list" if name == "LIST" else "set", items=_pop_mark(stack)))
    elif name == "EMPTY_DICT":
        stack.append(Dct())
    elif name == "DICT":
        items = _pop_mark(stack)
        dct = Dct()
        dct.update(items[0::2], items[1::2])
        stack.append(dct)
    elif name in ("APPEND", "APPENDS", "ADDITEMS"):
        items = [_pop(stack)] if name == "APPEND" else _pop_mark(stack)
        target = _top(stack)
        if isinstance(target, Seq):
            target.extend(items)
        elif isinstance(target, Ref):
            yield PickleEvent(kind="global_mutation", name=target.name, offset=offset, opcode=name,
                              detail={"how": "append"})
        elif isinstance(target, Obj):
            target.extend(items)
    elif name in ("SETITEM", "SETITEMS"):
        items = [_pop(stack), _pop(stack)][::-1] if name == "SETITEM" else _pop_mark(stack)
        if len(items) % 2:
            raise ValueError(f"{name} with an odd number of items")
        target = _top(stack)
        yield from _setitems(target, items, offset, name)
    elif name in ("PERSID", "BINPERSID"):
        pid = _pop(stack) if name == "BINPERSID" else Const(arg)
        pers = PersId(pid=pid)
        stack.append(pers)
        if pers.storage_key is not None:
            yield PickleEvent(kind="storage", name=pers.storage_key, offset=offset, opcode=name,
                              detail={"numel": pers.numel if pers.numel is not None else -1,
                                      "dtype": pers.dtype})
            if pers.numel is not None and (pers.numel < 0 or pers.numel * 16 >= 2 ** 63):
                yield PickleEvent(kind="torch_hazard", name="storage-numel-overflow", offset=offset,
                                  opcode=name, detail={"numel": str(pers.numel)})
    elif name == "POP":
        if stack and stack[-1] is MARK:
            stack.pop()
        else:
            _pop(stack)
    elif name == "POP_MARK":
        _pop_mark(stack)
    elif name == "DUP":
        stack.append(_top(stack))
    elif name == "MARK":
        stack.append(MARK)
    elif name in ("NONE", "NEWTRUE", "NEWFALSE"):
        stack.append(Const({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[name]))
    elif name in ("FRAME", "PROTO"):
        pass
    else:
        _generic(opcode, stack)


def _import_events(ref: Ref, offset: int, opcode: str) -> Iterator[PickleEvent]:
    yield PickleEvent(kind="import", name=ref.name, offset=offset, opcode=opcode)
    for alias in ref.aliases():
        yield PickleEvent(kind="import", name=alias, offset=offset, opcode=opcode,
                          detail={"alias_of": ref.name})


def _setitems(target: Any, items: list[Any], offset: int, opcode: str) -> Iterator[PickleEvent]:
    if isinstance(target, Dct):
        target.update(items[0::2], items[1::2])
    elif isinstance(target, Ref):
        yield PickleEvent(kind="global_mutation", name=target.name, offset=offset, opcode=opcode,
                          detail={"how": "setitem"})
    elif isinstance(target, Obj):
        if target.origin.startswith("torch.") and "rebuild" in target.origin:
            # The weights_only unpickler once let SETITEM(S) reach tensors (pytorch/pytorch#170085).
            yield PickleEvent(kind="torch_hazard", name="setitem-on-tensor", offset=offset, opcode=opcode,
                              detail={"target": target.origin})
        target.set_items(items[0::2], items[1::2])


def _build(frame: _Frame, offset: int) -> Generator[PickleEvent, None, Any]:
    """BUILD: pop the state, set it on the object below; return that object."""
    state = _pop(frame.stack)
    target = _top(frame.stack)
    if isinstance(target, Ref):
        # BUILD on a global (a module, class or function) sets its attributes: monkey-patching on load.
        yield PickleEvent(kind="global_mutation", name=target.name, offset=offset, opcode="BUILD",
                          detail={"how": "build"})
    elif isinstance(target, Obj):
        target.state = state
        yield PickleEvent(kind="build", name=target.origin, offset=offset, opcode="BUILD")
    return target


def _side_file_event(wrapper: Obj, offset: int) -> PickleEvent:
    """The side file a joblib <= 0.9 record names; it escapes unless it is a plain name beside the pickle."""
    info = wrapper.state if isinstance(wrapper.state, Dct) else None
    name = info.get("filename") if info is not None else None
    text = name.value if isinstance(name, Const) and isinstance(name.value, str) else None
    escapes = text is None or text in ("", ".", "..") or "/" in text or "\\" in text or ":" in text or "\0" in text
    return PickleEvent(kind="joblib_side_file", name=text if text is not None else "<not a literal name>",
                       offset=offset, opcode="BUILD", detail={"wrapper": wrapper.origin, "escapes": escapes})


def _skip_joblib_array(wrapper: Obj, capped: _Capped | BytesIO, size: int, offset: int, *, max_opcodes: int,
                       max_stack: int, state: WalkState, depth: int) -> Iterator[PickleEvent]:
    """joblib writes array bytes (or a nested pickle for object arrays) right after the wrapper's BUILD."""
    info = wrapper.state if isinstance(wrapper.state, Dct) else None
    dtype = info.get("dtype") if info is not None else None
    shape = info.get("shape") if info is not None else None
    itemsize, is_object = _dtype_itemsize(dtype)
    if is_object:
        if depth >= _MAX_INLINE_ARRAYS_DEPTH:
            raise LimitExceeded("max_nesting_depth", _MAX_INLINE_ARRAYS_DEPTH)
        yield PickleEvent(kind="joblib_array", name="object", offset=offset, opcode="BUILD")
        inner = WalkState()
        raw = capped if isinstance(capped, BytesIO) else capped._raw
        yield from walk(raw, size, max_opcodes=max_opcodes - state.opcodes, max_stack=max_stack,
                        state=inner, _depth=depth + 1)
        state.opcodes += inner.opcodes
        capped.seek(inner.end_offset)
        return
    dims = [d.value for d in shape.items] if isinstance(shape, Seq) and \
        all(isinstance(d, Const) and isinstance(d.value, int) for d in shape.items) else None
    if itemsize is None or dims is None or not isinstance(shape, Seq) or shape.dropped:
        raise ValueError("joblib NumpyArrayWrapper with an unknown dtype or shape: cannot find where the "
                         "pickle resumes after the array data")
    count = 1
    for d in dims:
        if d < 0:
            raise ValueError("joblib array with a negative dimension")
        count *= d
    pos = capped.tell()
    if info is not None and info.get("numpy_array_alignment_bytes") is not None:
        pad = capped.read(1)
        if len(pad) != 1:
            raise ValueError("joblib array padding byte missing (truncated)")
        pos += 1 + pad[0]
    end = pos + count * itemsize
    if end > size:
        raise ValueError("joblib array data runs past the end of the file (truncated)")
    yield PickleEvent(kind="joblib_array", name="numeric", offset=offset, opcode="BUILD",
                      detail={"bytes": count * itemsize})
    capped.seek(end)


_KIND_SIZES = {"b": 1, "i": 1, "u": 1, "f": 1, "c": 1, "m": 1, "M": 1, "S": 1, "V": 1, "U": 4, "?": 1}


def _dtype_itemsize(dtype: Any) -> tuple[int | None, bool]:
    """(itemsize, is_object) of a symbolic ``numpy.dtype(...)`` object, parsed from its literal arguments."""
    if not isinstance(dtype, Obj) or not isinstance(dtype.args, Seq) or not dtype.args.items:
        return None, False
    code = dtype.args.items[0]
    if not isinstance(code, Const) or not isinstance(code.value, str):
        return None, False
    text = code.value.lstrip("<>|=")
    if text.startswith("O"):
        return None, True
    st = dtype.state
    if isinstance(st, Seq) and len(st.items) > 5 and isinstance(st.items[5], Const) and \
            isinstance(st.items[5].value, int) and st.items[5].value > 0:
        return int(st.items[5].value), False
    kind, digits = text[:1], text[1:]
    if kind in _KIND_SIZES and digits.isdigit():
        return _KIND_SIZES[kind] * int(digits), False
    if kind == "?" and not digits:
        return 1, False
    return None, False


def _generic(opcode: pickletools.OpcodeInfo, stack: list[Any]) -> None:
    before = list(opcode.stack_before)
    if any(s is pickletools.markobject for s in before):
        _pop_mark(stack)
        before = before[: [s is pickletools.markobject for s in before].index(True)]
    for _ in before:
        _pop(stack)
    for produced in opcode.stack_after:
        stack.append(MARK if produced is pickletools.markobject else OPAQUE)


def _call(name: str, offset: int, stack: list[Any], calls: SymbolicCalls) -> Iterator[PickleEvent]:
    if name in ("REDUCE", "NEWOBJ"):
        args, func = _pop(stack), _pop(stack)
    elif name == "NEWOBJ_EX":
        _pop(stack)
        args, func = _pop(stack), _pop(stack)
    else:  # OBJ: MARK callable args...
        items = _pop_mark(stack)
        if not items:
            raise ValueError("OBJ without a class")
        func, args = items[0], Seq(kind="tuple", items=items[1:])
    yield from calls.call(func, args, offset, name, stack)
