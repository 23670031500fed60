"""Symbolic values of the pickle walker and what known calls (getattr, decoders, loaders) evaluate to."""

from __future__ import annotations

import base64
import binascii
import bz2
import codecs
import lzma
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

MAX_ITEMS = 64
"""Items a symbolic container remembers; later ones are counted, not kept (bounded memory)."""
MAX_CONST_BYTES = 64 * 1024 * 1024
"""Largest string/bytes constant kept as a value (enough for any embedded payload worth decoding)."""
MAX_DECODED_BYTES = 64 * 1024 * 1024
"""Most bytes a symbolic decoder call (base64, hex, zlib …) may produce."""

_MODULE_ALIASES = {"__builtin__": "builtins", "copy_reg": "copyreg", "exceptions": "builtins"}


class Opaque:
    """A value the walker does not track (numbers it does not need, results of unknown operations)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<opaque>"


OPAQUE = Opaque()


@dataclass(eq=False, slots=True)
class Ref:
    """A global, or an attribute chain reached from one: ``module`` then ``attrs``."""

    module: str
    attrs: tuple[str, ...]
    dynamic: bool = False

    @property
    def name(self) -> str:
        """``module.attr.attr``."""
        return ".".join((self.module, *self.attrs)) if self.attrs else self.module

    def child(self, attr: str, *, dynamic: bool = False) -> Ref:
        """``getattr(self, attr)``; dotted ``attr`` is an attribute chain."""
        return Ref(module=self.module, attrs=(*self.attrs, *attr.split(".")), dynamic=self.dynamic or dynamic)

    def aliases(self) -> list[str]:
        """Names this chain may really denote when an attribute is itself a module.

        ``pathlib.os.system`` is ``os.system``: protocol 4 ``find_class`` and ``getattr`` chains walk through
        module attributes, so every suffix of the attribute chain with at least two parts is a candidate.
        Suffixes of the *module* part are not, because ``import a.b`` really imports ``a.b``.
        """
        return [".".join(self.attrs[i:]) for i in range(len(self.attrs) - 1)]


@dataclass(eq=False, slots=True)
class Const:
    """A literal the walker knows: str, bytes, int, float, bool or None."""

    value: Any


@dataclass(eq=False, slots=True)
class Seq:
    """A tuple, list or set; keeps the first ``MAX_ITEMS`` items."""

    kind: str
    items: list[Any]
    dropped: int = 0

    def __post_init__(self) -> None:
        if len(self.items) > MAX_ITEMS:
            self.dropped += len(self.items) - MAX_ITEMS
            del self.items[MAX_ITEMS:]

    def extend(self, more: Sequence[Any]) -> None:
        """Append, dropping beyond the cap."""
        room = MAX_ITEMS - len(self.items)
        self.items.extend(more[:max(0, room)])
        self.dropped += max(0, len(more) - max(0, room))


@dataclass(eq=False, slots=True)
class Dct:
    """A dict; keeps up to ``MAX_ITEMS`` entries with literal keys."""

    items: dict[Any, Any] = field(default_factory=dict)
    dropped: int = 0

    def update(self, keys: Sequence[Any], values: Sequence[Any]) -> None:
        """Set entries, dropping beyond the cap and entries whose key is not a literal."""
        for key, value in zip(keys, values, strict=False):
            literal = key.value if isinstance(key, Const) else None
            if literal is None or not isinstance(literal, (str, int, bytes, float, bool)) or \
                    (literal not in self.items and len(self.items) >= MAX_ITEMS):
                self.dropped += 1
                continue
            self.items[literal] = value

    def get(self, key: Any) -> Any:
        """The symbolic value stored under a literal key (``None`` when unknown)."""
        return self.items.get(key)


@dataclass(eq=False, slots=True)
class Obj:
    """The result of a call: what was called, with which arguments, and the state BUILD gave it."""

    origin: str
    args: Any = None
    state: Any = None
    special: tuple[Any, ...] | None = None
    """Calls that return callables or namespaces: ('attrgetter', chain), ('partial', func, args),
    ('namespace', ref), ('methodcaller', name, args), ('module', name)."""
    count: int = 0

    def extend(self, items: Sequence[Any]) -> None:
        """APPENDS on an object (a list subclass or ``extend``): only counted."""
        self.count += len(items)

    def set_items(self, keys: Sequence[Any], values: Sequence[Any]) -> None:
        """SETITEMS on an object (a dict subclass or ``__setitem__``): only counted."""
        self.count += len(keys)


@dataclass(eq=False, slots=True)
class PersId:
    """A persistent id (PyTorch storages): ``('storage', storage_type, key, location, numel)``."""

    pid: Any
    storage_key: str | None = None
    numel: int | None = None
    dtype: str = ""

    def __post_init__(self) -> None:
        items = self.pid.items if isinstance(self.pid, Seq) else []
        if len(items) >= 5 and isinstance(items[0], Const) and items[0].value == "storage":
            key = items[2].value if isinstance(items[2], Const) else None
            self.storage_key = str(key) if key is not None else None
            numel = items[4].value if isinstance(items[4], Const) else None
            self.numel = numel if isinstance(numel, int) and not isinstance(numel, bool) else None
            self.dtype = items[1].name if isinstance(items[1], Ref) else ""


def ref_from_global(module: str, name: str) -> Ref:
    """The reference a GLOBAL/STACK_GLOBAL/INST loads; dotted names are attribute chains (protocol 4)."""
    module = _MODULE_ALIASES.get(module, module)
    return Ref(module=module, attrs=tuple(name.split(".")) if name else ())


def describe(item: Any) -> str:
    """A short human name for a symbolic value (for dynamic names in reports)."""
    if isinstance(item, Ref):
        return item.name
    if isinstance(item, Const):
        return str(item.value) if isinstance(item.value, str) else f"<{type(item.value).__name__}>"
    if isinstance(item, Obj):
        return f"<result of {item.origin}>"
    return "<computed>"


def _const_str(item: Any) -> str | None:
    return item.value if isinstance(item, Const) and isinstance(item.value, str) else None


def _const_bytes(item: Any) -> bytes | None:
    if isinstance(item, Const) and isinstance(item.value, (bytes, bytearray)):
        return bytes(item.value)
    return None


def _args(args: Any) -> list[Any]:
    if isinstance(args, Seq):
        return list(args.items)
    return []


def _bounded_decompress(data: bytes, make: Callable[[], Any]) -> bytes:
    dec = make()
    out = dec.decompress(data, MAX_DECODED_BYTES + 1)
    if len(out) > MAX_DECODED_BYTES:
        raise ValueError("decoded payload too large")
    return bytes(out)


def _decode(func: str, args: list[Any]) -> bytes | str | None:
    """Evaluate pure decoding functions on literal arguments (bounded); ``None`` when not applicable."""
    first = args[0] if args else None
    raw: bytes | None = _const_bytes(first)
    text = _const_str(first)
    data = raw if raw is not None else (text.encode("latin-1", "replace") if text is not None else None)
    if data is None:
        return None
    simple: dict[str, Callable[[bytes], bytes]] = {
        "base64.b64decode": base64.b64decode, "base64.standard_b64decode": base64.standard_b64decode,
        "base64.urlsafe_b64decode": base64.urlsafe_b64decode, "base64.b32decode": base64.b32decode,
        "base64.b16decode": lambda d: base64.b16decode(d, casefold=True), "base64.a85decode": base64.a85decode,
        "base64.b85decode": base64.b85decode, "base64.decodebytes": base64.decodebytes,
        "binascii.a2b_base64": binascii.a2b_base64, "binascii.unhexlify": binascii.unhexlify,
        "binascii.a2b_hex": binascii.a2b_hex, "builtins.bytes.fromhex": lambda d: bytes.fromhex(d.decode()),
        "builtins.bytearray.fromhex": lambda d: bytes.fromhex(d.decode()),
        "zlib.decompress": lambda d: _bounded_decompress(d, zlib.decompressobj),
        "bz2.decompress": lambda d: _bounded_decompress(d, bz2.BZ2Decompressor),
        "lzma.decompress": lambda d: _bounded_decompress(d, lzma.LZMADecompressor),
        "builtins.bytes": lambda d: d, "builtins.bytearray": lambda d: d, "io.BytesIO": lambda d: d,
        "_io.BytesIO": lambda d: d,
    }
    try:
        if func in simple:
            return simple[func](data)
        if func in ("codecs.decode", "_codecs.decode", "codecs.encode", "_codecs.encode"):
            encoding = (_const_str(args[1]) if len(args) > 1 else "utf-8") or ""
            enc = encoding.lower().replace("-", "_")
            if enc in ("hex", "hex_codec"):
                return binascii.unhexlify(data)
            if enc in ("base64", "base_64", "base64_codec"):
                return base64.b64decode(data)
            if enc in ("zlib", "zip", "zlib_codec"):
                return _bounded_decompress(data, zlib.decompressobj)
            if enc in ("rot13", "rot_13") and text is not None:
                return codecs.decode(text, "rot13")
            if enc in ("latin1", "latin_1", "iso8859_1") and text is not None and func.endswith("encode"):
                return text.encode("latin-1")
            if text is not None and func.endswith("decode") and enc in ("utf_8", "utf8"):
                return text
            return None
        if func == "builtins.str" and raw is not None:
            return None
    except (ValueError, TypeError, binascii.Error, zlib.error, OSError, lzma.LZMAError, UnicodeError):
        return None
    return None


LOADERS = frozenset({"pickle.loads", "_pickle.loads", "pickle._loads", "pickle.load", "_pickle.load",
                     "pickle.Unpickler", "_pickle.Unpickler", "dill.loads", "dill._dill.loads", "cloudpickle.loads",
                     "joblib.load", "torch.load", "torch.serialization.load", "numpy.loads", "marshal.loads",
                     "cPickle.loads"})
"""Callables that deserialize their (embedded) argument."""

LITERAL_LOOKUP = "builtins.getattr"
_RECONSTRUCTORS = frozenset({"copyreg._reconstructor", "copyreg.__newobj__", "copyreg.__newobj_ex__"})
"""Allowlisted helpers that instantiate a class given as their first argument."""
"""Python pickles a classmethod (``ZoneInfo._unpickle``) as ``getattr(<class>, '<name>')`` (protocol 2+)."""

_TENSOR_REBUILDERS = frozenset({"torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
                                "torch._utils._rebuild_tensor_v3", "torch._utils._rebuild_qtensor"})


class SymbolicCalls:
    """Evaluates calls on the symbolic stack and yields the events they imply."""

    def __init__(self) -> None:
        self.literal_lookups = 0
        """REDUCEs of ``builtins.getattr`` on a literal global and a literal name (resolved statically)."""

    def const(self, arg: Any) -> Any:
        """A literal from a string opcode (huge ones become opaque, so memory stays bounded)."""
        if isinstance(arg, (str, bytes, bytearray)) and len(arg) > MAX_CONST_BYTES:
            return OPAQUE
        return Const(arg)

    def call(self, func: Any, args: Any, offset: int, opcode: str, stack: list[Any]) -> Iterator[Any]:
        """Evaluate ``func(*args)``: yield events, push the symbolic result."""
        from aisec.analyzers.pickle_walk import PickleEvent

        result: Any
        if isinstance(func, Obj) and func.special is not None:
            target, result = self._call_special(func, args)
            if target is not None:
                yield PickleEvent(kind="call", name=target.name, offset=offset, opcode=opcode,
                                  detail={"dynamic": target.dynamic, "via": func.origin})
                yield from self._apply(target, args, offset, opcode, stack)
                return
            if isinstance(result, Ref):
                yield from _import_events(result, offset, opcode, func.origin)
            stack.append(result)
            return
        if not isinstance(func, Ref):
            name = describe(func) if isinstance(func, Obj) else "<unknown callable>"
            yield PickleEvent(kind="dynamic_global", name=name, offset=offset, opcode=opcode)
            yield PickleEvent(kind="call", name=name, offset=offset, opcode=opcode, detail={"dynamic": True})
            stack.append(Obj(origin=name, args=args))
            return
        yield PickleEvent(kind="call", name=func.name, offset=offset, opcode=opcode,
                          detail={"dynamic": func.dynamic})
        yield from self._apply(func, args, offset, opcode, stack)

    def _apply(self, func: Ref, args: Any, offset: int, opcode: str, stack: list[Any]) -> Iterator[Any]:
        from aisec.analyzers.pickle_walk import PickleEvent

        name = func.name
        items = _args(args)
        resolved = self._resolve(name, items)
        if resolved is not None:
            if isinstance(resolved, Ref) and name == LITERAL_LOOKUP and opcode == "REDUCE":
                self.literal_lookups += 1
            if isinstance(resolved, Ref):
                yield from _import_events(resolved, offset, opcode, name)
            stack.append(resolved)
            return
        decoded = _decode(name, items)
        if decoded is not None:
            stack.append(Const(decoded))
            return
        if name in LOADERS:
            payload = _const_bytes(items[0]) if items else None
            if payload is None and items and _const_str(items[0]) is not None:
                payload = str(items[0].value).encode("latin-1", "replace")
            detail: dict[str, Any] = {"payload": payload} if payload else {}
            yield PickleEvent(kind="nested_pickle", name=name, offset=offset, opcode=opcode, detail=detail)
        if name in _TENSOR_REBUILDERS:
            yield from _tensor_hazards(name, items, offset, opcode)
        if name in _RECONSTRUCTORS:
            yield from _reconstructed(name, items, offset)
        if name == "torch._tensor._rebuild_from_type_v2" and (len(items) < 2 or not isinstance(items[0], Ref)
                                                             or not isinstance(items[1], Ref)):
            # pytorch/pytorch#169570: a malformed _rebuild_from_type_v2 crashed the TorchScript unpickler.
            yield PickleEvent(kind="torch_hazard", name="rebuild-from-type-malformed", offset=offset,
                              opcode=opcode)
        stack.append(Obj(origin=name, args=args))

    def _resolve(self, name: str, items: list[Any]) -> Any:
        """Calls whose result is another callable or a namespace we can still follow."""
        first = items[0] if items else None
        second = _const_str(items[1]) if len(items) > 1 else None
        if name in ("builtins.getattr", "builtins.object.__getattribute__", "builtins.type.__getattribute__") \
                and second is not None:
            base = _as_ref(first)
            return base.child(second) if base is not None else None
        if name in ("importlib.import_module", "builtins.__import__", "importlib.__import__") and \
                _const_str(first) is not None:
            return Ref(module=str(_const_str(first)), attrs=())
        if name in ("builtins.vars", "builtins.dir", "inspect.getmembers") and _as_ref(first) is not None:
            return Obj(origin=name, special=("namespace", _as_ref(first)))
        if name in ("builtins.dict.get", "operator.getitem", "builtins.dict.__getitem__",
                    "builtins.dict.pop") and second is not None and isinstance(first, Obj) and \
                first.special is not None and first.special[0] == "namespace":
            return first.special[1].child(second)
        if name == "operator.attrgetter" and _const_str(first) is not None:
            return Obj(origin=name, special=("attrgetter", str(_const_str(first))))
        if name == "operator.methodcaller" and _const_str(first) is not None:
            return Obj(origin=name, special=("methodcaller", str(_const_str(first))))
        if name == "functools.partial" and items:
            return Obj(origin=name, special=("partial", first))
        if name == "functools.reduce" and len(items) >= 3 and isinstance(first, Ref) and \
                first.name == "builtins.getattr" and isinstance(items[1], Seq) and _as_ref(items[2]) is not None:
            base = _as_ref(items[2])
            for part in items[1].items:
                text = _const_str(part)
                if text is None or base is None:
                    return None
                base = base.child(text)
            return base
        return None

    def _call_special(self, func: Obj, args: Any) -> tuple[Ref | None, Any]:
        """Calling an attrgetter/methodcaller/partial object: which global really gets called."""
        assert func.special is not None
        kind = func.special[0]
        items = _args(args)
        first = items[0] if items else None
        if kind == "attrgetter":
            base = _as_ref(first)
            return None, base.child(func.special[1]) if base is not None else OPAQUE
        if kind == "methodcaller":
            base = _as_ref(first)
            return (base.child(func.special[1]) if base is not None else
                    Ref(module="<object>", attrs=(func.special[1],), dynamic=True)), None
        if kind == "partial":
            target = func.special[1]
            return (target if isinstance(target, Ref) else Ref(module="<partial>", attrs=(), dynamic=True)), None
        return None, OPAQUE


def _import_events(ref: Ref, offset: int, opcode: str, via: str) -> Iterator[Any]:
    """A global reached by attribute traversal counts as imported (with its module-alias names)."""
    from aisec.analyzers.pickle_walk import PickleEvent

    yield PickleEvent(kind="import", name=ref.name, offset=offset, opcode=opcode, detail={"via": via})
    for alias in ref.aliases():
        yield PickleEvent(kind="import", name=alias, offset=offset, opcode=opcode,
                          detail={"via": via, "alias_of": ref.name})


def _reconstructed(name: str, items: list[Any], offset: int) -> Iterator[Any]:
    """copyreg's helpers build an instance of their first argument: judge that class as NEWOBJ would (protocol 2
    writes the same object with that opcode), and ``_reconstructor``'s base as really called (its ``__new__`` and
    ``__init__`` run with the pickled state)."""
    from aisec.analyzers.pickle_walk import PickleEvent

    cls = _as_ref(items[0]) if items else None
    if cls is not None:
        yield PickleEvent(kind="call", name=cls.name, offset=offset, opcode="NEWOBJ",
                          detail={"dynamic": cls.dynamic, "via": name})
    base = _as_ref(items[1]) if name == "copyreg._reconstructor" and len(items) > 1 else None
    if base is not None and base.name != "builtins.object":
        yield PickleEvent(kind="call", name=base.name, offset=offset, opcode="REDUCE",
                          detail={"dynamic": base.dynamic, "via": name})


def _as_ref(item: Any) -> Ref | None:
    if isinstance(item, Ref):
        return item
    if isinstance(item, Obj) and item.special is not None and item.special[0] == "module":
        return Ref(module=str(item.special[1]), attrs=())
    return None


def _tensor_hazards(name: str, items: list[Any], offset: int, opcode: str) -> Iterator[Any]:
    """A tensor view that reaches past its storage (out-of-bounds read/write on first use)."""
    from aisec.analyzers.pickle_walk import PickleEvent

    if len(items) < 4 or not isinstance(items[0], PersId) or items[0].numel is None:
        return
    storage_offset = items[1].value if isinstance(items[1], Const) else None
    size, stride = items[2], items[3]
    if not isinstance(storage_offset, int) or not isinstance(size, Seq) or not isinstance(stride, Seq):
        return
    dims = [d.value for d in size.items if isinstance(d, Const) and isinstance(d.value, int)]
    steps = [s.value for s in stride.items if isinstance(s, Const) and isinstance(s.value, int)]
    if len(dims) != len(size.items) or len(steps) != len(stride.items) or len(dims) != len(steps) or size.dropped:
        return
    pairs = list(zip(dims, steps, strict=True))
    if storage_offset < 0 or any(d < 0 or s < 0 for d, s in pairs):
        bad = True
    elif any(d == 0 for d in dims):
        bad = False
    else:
        last = storage_offset + sum((d - 1) * s for d, s in pairs)
        bad = last >= items[0].numel
    if bad:
        yield PickleEvent(kind="torch_hazard", name="tensor-out-of-bounds", offset=offset, opcode=opcode,
                          detail={"function": name, "storage": items[0].storage_key or "",
                                  "numel": items[0].numel})
