"""Pickle analyzer: reports what a pickle imports and calls, by walking opcodes (never unpickling)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from aisec.analyzers.base import AnalysisContext
from aisec.analyzers.pickle_walk import PickleEvent, WalkState, walk
from aisec.errors import LimitExceeded
from aisec.model import ArtifactKind, Fact
from aisec.source import BytesSource, Source, buffered

MAX_STREAMS = 64
"""Most stacked pickle streams analyzed in one file (legacy torch files hold five)."""


class PickleAnalyzer:
    """Walks every pickle stream in a file and reports imports, calls and structural anomalies."""

    name = "pickle"
    kinds = frozenset({ArtifactKind.PICKLE})
    provides: Mapping[str, str] = {
        "pickle.import": "a global (module.name) the pickle imports when loaded; detail 'called' says if it is "
                         "invoked",
        "pickle.call": "a callable the pickle invokes when loaded (REDUCE, INST, OBJ, NEWOBJ)",
        "pickle.build": "an object whose __setstate__/attributes BUILD sets from the pickle",
        "pickle.dynamic_global": "a STACK_GLOBAL whose module or name is computed at load time",
        "pickle.extension": "a copyreg extension code (EXT1/2/4) resolved from the loader's registry",
        "pickle.nested_pickle": "a loader (pickle.loads, …) called on an embedded payload",
        "pickle.opcode_count": "number of opcodes decoded across all streams",
        "pickle.streams": "number of pickle streams found in the file",
        "pickle.trailing_bytes": "bytes after the last pickle stream that are not another pickle",
    }

    def analyze(self, source: Source, context: AnalysisContext) -> Iterator[Fact]:
        """Walk stacked streams until the data ends or stops being a pickle."""
        stream = buffered(source)
        total_ops = 0
        streams = 0
        while streams < MAX_STREAMS:
            start = stream.tell()
            if start >= source.size:
                break
            state = WalkState()
            events: list[PickleEvent] = []
            failure: Exception | None = None
            try:
                for event in walk(stream, source.size, max_opcodes=context.limits.max_pickle_opcodes - total_ops,
                                  max_stack=context.limits.max_stack_depth, state=state):
                    events.append(event)
            except (ValueError, LimitExceeded) as exc:
                failure = exc
            total_ops += state.opcodes
            # Events seen before a failure are reported: a call before a truncation is still a call.
            yield from self._facts(events, context, streams)
            if isinstance(failure, LimitExceeded):
                context.error("limit", str(failure), location=context.at(offset=start), limit=failure.limit)
                break
            if failure is not None:
                if streams > 0 and state.opcodes <= 1:
                    yield context.fact("pickle.trailing_bytes", source.size - start, location=context.at(offset=start))
                else:
                    context.error("malformed", f"pickle stream {streams} is malformed at or after byte {start}: "
                                  f"{failure}", location=context.at(offset=start))
                break
            streams += 1
            stream.seek(state.end_offset)
        yield context.fact("pickle.streams", streams)
        yield context.fact("pickle.opcode_count", total_ops)

    def _facts(self, events: list[PickleEvent], context: AnalysisContext, stream_index: int) -> Iterator[Fact]:
        called = {e.name for e in events if e.kind == "call"}
        for event in events:
            location = context.at(offset=event.offset)
            if event.kind == "nested_pickle":
                yield context.fact("pickle.nested_pickle", event.name, location=location, opcode=event.opcode)
                payload = event.detail.get("payload")
                if isinstance(payload, bytes) and payload:
                    source = BytesSource(payload, budget=context.limits.max_read_bytes)
                    yield from context.analyze_member(f"<nested pickle at {event.offset}>", source)
                continue
            detail: dict[str, str | int | float | bool] = {"opcode": event.opcode, "stream": stream_index}
            detail.update({k: v for k, v in event.detail.items() if isinstance(v, (str, int, float, bool))})
            if event.kind == "import":
                detail["called"] = event.name in called
            yield context.fact(f"pickle.{event.kind}", event.name, location=location, **detail)
