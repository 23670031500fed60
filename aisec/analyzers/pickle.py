"""Pickle analyzer: reports what a pickle imports and calls, by walking opcodes (never unpickling)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, BinaryIO

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.pickle_sym import Const
from aisec.analyzers.pickle_walk import PickleEvent, WalkState, walk
from aisec.errors import LimitExceeded
from aisec.model import ArtifactKind, Fact, Scalar
from aisec.source import BytesSource, Source, buffered

MAX_STREAMS = 64
"""Most stacked pickle streams analyzed in one file (legacy torch files hold five)."""
IN_MEMORY_BYTES = 64 * 1024 * 1024
"""Pickles up to this size are decoded from memory (fast); larger ones are streamed through a capped reader."""
MAX_DISTINCT_EVENTS = 20_000
"""Most distinct (kind, name) observations kept per stream; more is itself reported as a limit hit."""
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
"""The first pickle of a legacy (non-zip) ``torch.save`` file."""
_NEW_ONLY = frozenset({"NEWOBJ", "NEWOBJ_EX"})
"""Opcodes that run ``cls.__new__(cls, *args)`` and never ``cls.__init__``: the class is rebuilt, not called."""
_LEGACY_STREAMS = 5  # magic, protocol, sys_info, the object, storage keys; raw storage bytes follow


@dataclass(kw_only=True)
class _Seen:
    event: PickleEvent
    count: int = 1


@dataclass(kw_only=True)
class _Aggregate:
    """One stream's events, deduplicated by (kind, name): memory grows with distinct names, not opcodes."""

    seen: dict[tuple[str, str], _Seen] = field(default_factory=dict)
    called: set[str] = field(default_factory=set)
    called_plain: set[str] = field(default_factory=set)
    """Callables invoked by REDUCE, INST or OBJ, i.e. really called, not only created with ``cls.__new__``."""
    nested: list[PickleEvent] = field(default_factory=list)
    overflow: bool = False

    def add(self, event: PickleEvent) -> None:
        if event.kind == "call":
            self.called.add(event.name)
            if event.opcode not in _NEW_ONLY:
                self.called_plain.add(event.name)
        if event.kind == "nested_pickle":
            if len(self.nested) < 16:
                self.nested.append(event)
            return
        key = (event.kind, event.name)
        if key in self.seen:
            self.seen[key].count += 1
        elif len(self.seen) < MAX_DISTINCT_EVENTS:
            self.seen[key] = _Seen(event=event)
        else:
            self.overflow = True


class PickleAnalyzer:
    """Walks every pickle stream in a file and reports imports, calls and structural anomalies."""

    name = "pickle"
    kinds = frozenset({ArtifactKind.PICKLE})
    provides: Mapping[str, str] = {
        "pickle.import": "a global (module.name) the pickle imports when loaded; detail 'called' says if it is "
                         "invoked, 'alias_of' names the attribute chain it was normalised from, "
                         "'literal_lookup_only' that builtins.getattr only ever read a literal attribute of a "
                         "literal global (reported as that global's own import)",
        "pickle.call": "a callable the pickle invokes when loaded (REDUCE, INST, OBJ, NEWOBJ); detail 'dynamic' "
                       "is true when the callable is not a literal global; 'new_instance' (the class name) when "
                       "every invocation is NEWOBJ, i.e. cls.__new__ without __init__",
        "pickle.build": "an object whose __setstate__/attributes BUILD sets from the pickle",
        "pickle.dynamic_global": "a callable computed at load time: STACK_GLOBAL with computed operands, a "
                                 "copyreg extension code, or a call of another call's result",
        "pickle.extension": "a copyreg extension code (EXT1/2/4) resolved from the loader's registry",
        "pickle.nested_pickle": "a loader (pickle.loads, …) called on an embedded payload",
        "pickle.global_mutation": "BUILD, SETITEM or APPEND applied to an imported global (monkey-patching)",
        "pickle.storage": "a PyTorch storage the pickle references by persistent id; detail numel, dtype",
        "pickle.opcode_count": "number of opcodes decoded across all streams",
        "pickle.streams": "number of pickle streams found in the file",
        "pickle.trailing_bytes": "bytes after the last pickle stream that are not another pickle",
        "pickle.format": "a recognised pickle container layout (torch-legacy, joblib)",
        "pickle.frame_mismatch": "a FRAME whose declared length disagrees with the opcodes that follow "
                                 "(frame-ends-inside-an-opcode, frame-inside-a-frame, frame-past-stop, "
                                 "frame-covers-joblib-array-data); detail "
                                 "frame_end",
        "pickle.joblib_side_file": "the file a joblib <= 0.9 NDArrayWrapper makes joblib.load read (np.load with "
                                   "allow_pickle=True); detail 'escapes' is true unless it is a plain file name "
                                   "beside the pickle",
        "torch.weights_only_hazard": "an opcode pattern behind a PyTorch weights_only unpickler bypass or "
                                     "memory-safety bug",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Walk stacked streams until the data ends or stops being a pickle."""
        return self.analyze_streams(source, context, max_streams=MAX_STREAMS)

    def analyze_streams(self, source: Source, context: AnalysisContext, *, max_streams: int) -> Iterator[Fact]:
        """Walk up to ``max_streams`` stacked streams; data after them is not reported when the cap is 1.

        Containers whose loader reads one pickle and then raw bytes (legacy torch tar ``storages``) use 1.
        """
        stream: BinaryIO = BytesIO(source.read_at(0, source.size)) if source.size <= IN_MEMORY_BYTES \
            else buffered(source)
        total_ops = 0
        streams = 0
        legacy = False
        joblib = False
        while True:
            start = stream.tell()
            if start >= source.size or (legacy and streams >= _LEGACY_STREAMS) or \
                    (max_streams < MAX_STREAMS and streams >= max_streams):
                break
            if streams >= MAX_STREAMS:
                context.error("limit", f"more than {MAX_STREAMS} stacked pickle streams; the rest was not "
                              "analyzed", location=context.at(offset=start), limit="max_pickle_opcodes")
                break
            state = WalkState()
            agg = _Aggregate()
            failure: Exception | None = None
            try:
                for event in walk(stream, source.size, max_opcodes=context.limits.max_pickle_opcodes - total_ops,
                                  max_stack=context.limits.max_stack_depth, state=state):
                    agg.add(event)
            except (ValueError, LimitExceeded) as exc:
                failure = exc
            total_ops += state.opcodes
            joblib = joblib or any(k == "joblib_array" for k, _ in agg.seen)
            # Events seen before a failure are reported: a call before a truncation is still a call.
            yield from self._facts(agg, context, streams)
            if agg.overflow:
                context.error("limit", f"pickle stream {streams} references more than {MAX_DISTINCT_EVENTS} "
                              "distinct globals", location=context.at(offset=start), limit="max_pickle_opcodes")
            if isinstance(failure, LimitExceeded):
                context.error("limit", str(failure), location=context.at(offset=start), limit=failure.limit)
                break
            if failure is not None:
                if streams > 0 and not agg.seen and not agg.nested:
                    yield context.fact("pickle.trailing_bytes", source.size - start,
                                       location=context.at(offset=start))
                else:
                    # Where reading stopped, not where the stream began: a truncated file names its real end.
                    stop = stream.tell()
                    context.error("malformed", f"pickle stream {streams} (from byte {start}) is malformed: reading "
                                  f"stopped at byte {stop} of {source.size}: {failure}",
                                  location=context.at(offset=stop))
                break
            if streams == 0 and isinstance(state.result, Const) and state.result.value == TORCH_LEGACY_MAGIC:
                legacy = True
            streams += 1
            stream.seek(state.end_offset)
        if legacy:
            yield context.fact("pickle.format", "torch-legacy")
        if joblib:
            yield context.fact("pickle.format", "joblib")
        yield context.fact("pickle.streams", streams)
        yield context.fact("pickle.opcode_count", total_ops)

    def _facts(self, agg: _Aggregate, context: AnalysisContext, stream_index: int) -> Iterator[Fact]:
        for event in agg.nested:
            location = context.at(offset=event.offset)
            yield context.fact("pickle.nested_pickle", event.name, location=location, opcode=event.opcode)
            payload = event.detail.get("payload")
            if isinstance(payload, bytes) and payload:
                source = BytesSource(payload, budget=context.limits.max_read_bytes)
                yield from context.analyze_member(f"<nested pickle at {event.offset}>", source)
        for (kind, name), seen in sorted(agg.seen.items(), key=lambda kv: (kv[1].event.offset, kv[0])):
            event = seen.event
            if kind in ("joblib_array", "literal_lookup"):
                continue
            location = context.at(offset=event.offset)
            detail: dict[str, Scalar] = {"opcode": event.opcode, "stream": stream_index}
            detail.update({k: v for k, v in event.detail.items() if _scalar(v)})
            if seen.count > 1:
                detail["count"] = seen.count
            if kind == "import":
                detail["called"] = name in agg.called or event.detail.get("alias_of") in agg.called
                if ("literal_lookup", name) in agg.seen or \
                        ("literal_lookup", event.detail.get("alias_of")) in agg.seen:
                    detail["literal_lookup_only"] = True
            if kind == "call" and name not in agg.called_plain:
                detail["new_instance"] = name
            key = "torch.weights_only_hazard" if kind == "torch_hazard" else f"pickle.{kind}"
            yield context.fact(key, name, location=location, **detail)


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))
