"""A forked child process and a pickle channel to it: what the process executor needs of ``multiprocessing``.

Importing ``multiprocessing`` (its connection, context, reduction and util modules, sockets, selectors,
subprocess, tempfile) was about a tenth of what a one-file scan executes in total, for a fork and two pipes.
Messages are length-prefixed pickles of aisec's own values (tasks one way, results the other), never artifact
bytes; only the parent and the child it forked hold the pipes.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

_HEADER = struct.Struct("!Q")
_READ_CHUNK = 1 << 20


class Channel:
    """Reads from one pipe and writes to another: one end of a parent-child pair."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.closed = False

    def fileno(self) -> int:
        """The descriptor to wait on for incoming messages."""
        return self.read_fd

    def send(self, value: Any) -> None:
        """Write one message (blocks while the pipe is full until the other end reads)."""
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            view = view[os.write(self.write_fd, view):]

    def recv(self) -> Any:
        """Read one whole message; ``EOFError`` when the other end is gone."""
        (size,) = _HEADER.unpack(self._read(_HEADER.size))
        return pickle.loads(self._read(size))

    def poll(self) -> bool:
        """Whether a message (or the end of the channel) is waiting."""
        return bool(select.select([self.read_fd], [], [], 0)[0])

    def close(self) -> None:
        """Close both descriptors (once)."""
        if not self.closed:
            self.closed = True
            for fd in (self.read_fd, self.write_fd):
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _read(self, size: int) -> bytes:
        chunks = []
        while size:
            chunk = os.read(self.read_fd, min(size, _READ_CHUNK))
            if not chunk:
                raise EOFError("the other end of the channel is gone")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)


def wait(channels: Sequence[Channel], timeout: float) -> list[Channel]:
    """The channels with a message (or an end) waiting, after at most ``timeout`` seconds."""
    if not channels:
        time.sleep(timeout)
        return []
    readable = set(select.select([c.read_fd for c in channels], [], [], timeout)[0])
    return [c for c in channels if c.read_fd in readable]


class ForkedProcess:
    """Runs ``target(channel)`` in a forked child; the parent talks to it through :attr:`conn`.

    The child closes ``close_in_child`` first (other workers' pipes: a worker must not keep a sibling's channel
    open, or the sibling never sees its end), and leaves with ``os._exit`` (no atexit handlers, no flushing of
    buffers it inherited): 0 after ``target`` returns, 1 after an exception, whose traceback goes to stderr.
    """

    def __init__(self, target: Callable[[Channel], None], *, close_in_child: Sequence[int] = ()) -> None:
        task_read, task_write = os.pipe()
        result_read, result_write = os.pipe()
        for stream in (sys.stdout, sys.stderr):  # what the parent buffered must not be written twice
            with contextlib.suppress(Exception):
                stream.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child, measured through the executor's tests
            code = 1
            try:
                for fd in (task_write, result_read, *close_in_child):
                    with contextlib.suppress(OSError):
                        os.close(fd)
                target(Channel(task_read, result_write))
                code = 0
            except BaseException:
                with contextlib.suppress(Exception):
                    import traceback  # a worker that crashed only

                    traceback.print_exc()
                    sys.stderr.flush()
            finally:
                os._exit(code)
        os.close(task_read)
        os.close(result_write)
        self.pid = pid
        self.conn = Channel(result_read, task_write)
        self.exitcode: int | None = None
        """The child's exit code once it was reaped (negative: killed by that signal)."""

    def is_alive(self) -> bool:
        """Whether the child is still running (reaps it when it is not)."""
        if self.exitcode is not None:
            return False
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return True
        self.exitcode = os.waitstatus_to_exitcode(status)
        return False

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the child to end."""
        deadline = time.monotonic() + timeout
        while self.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)

    def kill(self) -> None:
        """Stop the child with SIGKILL and reap it."""
        if self.is_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            _pid, status = os.waitpid(self.pid, 0)
            self.exitcode = os.waitstatus_to_exitcode(status)
