"""Symbolic pickle opcode walker: knows what each call would invoke, without unpickling anything."""

from __future__ import annotations

import pickletools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from aisec.errors import LimitExceeded

_MODULE_ALIASES = {"__builtin__": "builtins", "copy_reg": "copyreg", "__main__": "__main__"}
_STRING_OPS = frozenset({"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "SHORT_BINUNICODE",
                         "BINUNICODE", "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8"})
_MEMO_PUT = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_MEMO_GET = frozenset({"GET", "BINGET", "LONG_BINGET"})
_CALL_OPS = frozenset({"REDUCE", "NEWOBJ", "NEWOBJ_EX", "OBJ", "INST"})


class _Mark:
    """The MARK sentinel on the symbolic stack."""


MARK = _Mark()


@dataclass(frozen=True)
class Ref:
    """A callable reference on the symbolic stack: a global, or an attribute reached from one."""

    name: str
    dynamic: bool = False


@dataclass(frozen=True)
class Value:
    """A constant the walker knows (strings, bytes, numbers) or an opaque object."""

    const: Any = None
    origin: str | None = None
    """For call results: the qualified name of what was called."""


@dataclass(frozen=True)
class Tup:
    """A tuple built on the stack; items kept so getattr-style calls can be resolved."""

    items: tuple[Any, ...]


@dataclass(frozen=True, kw_only=True)
class PickleEvent:
    """Something the walker saw that matters to security."""

    kind: str
    """``import``, ``call``, ``build``, ``dynamic_global``, ``extension``, ``nested_pickle``."""
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


def qualify(module: str, name: str) -> str:
    """``module.name`` with legacy module aliases normalised."""
    module = _MODULE_ALIASES.get(module, module)
    return f"{module}.{name}"


class _Capped:
    """A reader whose ``read(n)`` never allocates more than the bytes that actually remain."""

    def __init__(self, raw: BinaryIO, remaining: int) -> None:
        self._raw = raw
        self._remaining = remaining

    def read(self, n: int = -1) -> bytes:
        pos = self._raw.tell()
        left = max(0, self._remaining - pos)
        n = left if n < 0 or n > left else n
        return self._raw.read(n)

    def readline(self, limit: int = -1) -> bytes:
        pos = self._raw.tell()
        return self._raw.readline(max(0, self._remaining - pos))

    def tell(self) -> int:
        return self._raw.tell()


def walk(stream: BinaryIO, size: int, *, max_opcodes: int, max_stack: int,
         state: WalkState) -> Iterator[PickleEvent]:
    """Walk one pickle stream from the stream's current position to STOP, yielding security events.

    Raises ``ValueError`` on malformed input and :class:`LimitExceeded` on a budget hit; events already
    yielded stay valid, so a dangerous call before a truncation is still reported.
    """
    stack: list[Any] = []
    memo: dict[int, Any] = {}
    capped = _Capped(stream, size)
    for opcode, arg, pos in pickletools.genops(capped):  # type: ignore[arg-type]
        state.opcodes += 1
        offset = pos or 0
        if state.opcodes > max_opcodes:
            raise LimitExceeded("max_pickle_opcodes", max_opcodes)
        name = opcode.name
        if name == "PROTO":
            state.protocol = int(arg or 0)
        elif name == "STOP":
            state.finished = True
            state.end_offset = capped.tell()
            return
        yield from _step(name, arg, offset, stack, memo, opcode)
        if len(stack) > max_stack or len(memo) > max_stack:
            raise LimitExceeded("max_stack_depth", max_stack)
    raise ValueError("pickle stream ended without STOP (truncated)")


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
    return stack.pop()


def _step(name: str, arg: Any, offset: int, stack: list[Any], memo: dict[int, Any],
          opcode: pickletools.OpcodeInfo) -> Iterator[PickleEvent]:
    if name == "GLOBAL" or name == "INST":
        module, _, attr = str(arg).partition(" ")
        ref = Ref(qualify(module, attr))
        yield PickleEvent(kind="import", name=ref.name, offset=offset, opcode=name)
        if name == "GLOBAL":
            stack.append(ref)
        else:
            _pop_mark(stack)
            yield PickleEvent(kind="call", name=ref.name, offset=offset, opcode=name)
            stack.append(Value(origin=ref.name))
    elif name == "STACK_GLOBAL":
        attr, module = _pop(stack), _pop(stack)
        if isinstance(module, Value) and isinstance(attr, Value) and isinstance(module.const, str) \
                and isinstance(attr.const, str):
            ref = Ref(qualify(module.const, attr.const))
            yield PickleEvent(kind="import", name=ref.name, offset=offset, opcode=name)
        else:
            ref = Ref(f"{_describe(module)}.{_describe(attr)}", dynamic=True)
            yield PickleEvent(kind="dynamic_global", name=ref.name, offset=offset, opcode=name)
        stack.append(ref)
    elif name in _STRING_OPS:
        stack.append(Value(const=arg))
    elif name in _MEMO_PUT:
        if not stack:
            raise ValueError("PUT on an empty stack")
        memo[int(arg)] = stack[-1]
    elif name == "MEMOIZE":
        if not stack:
            raise ValueError("MEMOIZE on an empty stack")
        memo[len(memo)] = stack[-1]
    elif name in _MEMO_GET:
        if int(arg) not in memo:
            raise ValueError(f"memo key {arg} read before it was written")
        stack.append(memo[int(arg)])
    elif name in ("EXT1", "EXT2", "EXT4"):
        yield PickleEvent(kind="extension", name=f"copyreg.extension[{arg}]", offset=offset, opcode=name)
        stack.append(Ref(f"copyreg.extension[{arg}]", dynamic=True))
    elif name in _CALL_OPS:
        yield from _call(name, offset, stack)
    elif name == "BUILD":
        _pop(stack)
        target = stack[-1] if stack else None
        if isinstance(target, Value) and target.origin:
            yield PickleEvent(kind="build", name=target.origin, offset=offset, opcode=name)
    elif name in ("TUPLE", "TUPLE1", "TUPLE2", "TUPLE3"):
        count = {"TUPLE1": 1, "TUPLE2": 2, "TUPLE3": 3}.get(name)
        items = _pop_mark(stack) if count is None else [_pop(stack) for _ in range(count)][::-1]
        stack.append(Tup(tuple(items)))
    elif name == "EMPTY_TUPLE":
        stack.append(Tup(()))
    elif name in ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT"):
        stack.append(Value(const=arg))
    else:
        _generic(opcode, stack)


def _generic(opcode: pickletools.OpcodeInfo, stack: list[Any]) -> None:
    before = list(opcode.stack_before)
    if any(s is pickletools.markobject for s in before):
        _pop_mark(stack)
        before = before[: [s is pickletools.markobject for s in before].index(True)]
    for _ in before:
        _pop(stack)
    for produced in opcode.stack_after:
        stack.append(MARK if produced is pickletools.markobject else Value())


def _call(name: str, offset: int, stack: list[Any]) -> Iterator[PickleEvent]:
    if name == "REDUCE" or name == "NEWOBJ":
        args, func = _pop(stack), _pop(stack)
    elif name == "NEWOBJ_EX":
        _pop(stack)
        args, func = _pop(stack), _pop(stack)
    else:  # OBJ: MARK callable args...
        items = _pop_mark(stack)
        if not items:
            raise ValueError("OBJ without a class")
        func, args = items[0], Tup(tuple(items[1:]))
    if isinstance(func, Ref):
        resolved = _resolve_attribute_call(func, args)
        yield PickleEvent(kind="call", name=func.name, offset=offset, opcode=name,
                          detail={"dynamic": func.dynamic})
        if resolved is not None:
            yield PickleEvent(kind="import", name=resolved.name, offset=offset, opcode=name,
                              detail={"via": func.name})
            stack.append(resolved)
            return
        nested = _nested_payload(func, args)
        if nested is not None:
            yield PickleEvent(kind="nested_pickle", name=func.name, offset=offset, opcode=name,
                              detail={"payload": nested})
        stack.append(Value(origin=func.name))
    else:
        origin = getattr(func, "origin", None) or _describe(func)
        yield PickleEvent(kind="call", name=f"<result of {origin}>", offset=offset, opcode=name,
                          detail={"dynamic": True})
        stack.append(Value(origin=f"<result of {origin}>"))


_ATTRIBUTE_GETTERS = frozenset({"builtins.getattr", "operator.attrgetter", "operator.methodcaller",
                                "builtins.vars", "builtins.dict.get", "functools.reduce"})


def _resolve_attribute_call(func: Ref, args: Any) -> Ref | None:
    """``getattr(X, "name")`` where X is a known global resolves to the global ``X.name``."""
    if func.name != "builtins.getattr" or not isinstance(args, Tup) or len(args.items) < 2:
        return None
    target, attr = args.items[0], args.items[1]
    if isinstance(attr, Value) and isinstance(attr.const, str):
        base = target.name if isinstance(target, Ref) else (getattr(target, "origin", None) or "<object>")
        return Ref(f"{base}.{attr.const}", dynamic=not isinstance(target, Ref))
    return None


_LOADERS = frozenset({"pickle.loads", "_pickle.loads", "pickle._loads", "dill.loads", "joblib.load",
                      "cloudpickle.loads", "torch.load", "numpy.loads", "pickle.load", "_pickle.load"})


def _nested_payload(func: Ref, args: Any) -> bytes | None:
    if func.name not in _LOADERS or not isinstance(args, Tup) or not args.items:
        return None
    first = args.items[0]
    if isinstance(first, Value) and isinstance(first.const, (bytes, bytearray)):
        return bytes(first.const)
    if isinstance(first, Value) and isinstance(first.const, str):
        return first.const.encode("latin-1", errors="replace")
    return None


def _describe(item: Any) -> str:
    if isinstance(item, Ref):
        return item.name
    if isinstance(item, Value):
        if isinstance(item.const, str):
            return item.const
        return item.origin or "<computed>"
    return "<computed>"

