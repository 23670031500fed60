"""Local servers for remote-source tests and benchmarks: moto's real S3 API, and a ranged HTTP file server."""

from __future__ import annotations

import contextlib
import http.server
import logging
import os
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BUCKET = "models"


@contextlib.contextmanager
def moto_s3() -> Iterator[str]:
    """moto's standalone S3 server on 127.0.0.1 (a free port), yielding its endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_env(endpoint: str) -> dict[str, str]:
    """Environment for s3fs/botocore against the local endpoint (dummy credentials: moto accepts any)."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_SESSION_TOKEN": "testing"}


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """GET/HEAD of files under ``root`` with single ``Range: bytes=a-b`` support; counts the body bytes sent."""

    root: Path
    sent: list[int]
    broken: frozenset[str] = frozenset()
    """Names whose GET drops the connection after the headers (a network failure mid-object)."""
    no_ranges: frozenset[str] = frozenset()
    """Names served whole whatever Range asks (a server without range support)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_HEAD(self) -> None:
        self._respond(body=False)

    def do_GET(self) -> None:
        self._respond(body=True)

    def _respond(self, *, body: bool) -> None:
        path = self.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if match and path.name not in self.no_ranges:
            if match.group(1):
                start = int(match.group(1))
                end = min(size - 1, int(match.group(2))) if match.group(2) else size - 1
            else:
                start = max(0, size - int(match.group(2)))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if not body:
            return
        if path.name in self.broken:
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        with open(path, "rb") as handle:
            handle.seek(start)
            left = end - start + 1
            while left > 0:
                chunk = handle.read(min(left, 1024 * 1024))
                if not chunk:
                    break
                try:
                    self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client stopped reading (a server without ranges: aisec refused the body)
                self.sent.append(len(chunk))
                left -= len(chunk)


@contextlib.contextmanager
def range_http(root: Path, *, broken: frozenset[str] = frozenset(),
               no_ranges: frozenset[str] = frozenset()) -> Iterator[tuple[str, list[int]]]:
    """A threaded HTTP server for ``root`` on 127.0.0.1; yields its base URL and the list of body bytes sent."""
    sent: list[int] = []
    handler = type("Handler", (_RangeHandler,), {"root": root, "sent": sent, "broken": broken,
                                                 "no_ranges": no_ranges})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", sent
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def upload(fs: Any, local: Path, uri_path: str) -> None:
    """Put a local file or folder into the bucket at ``uri_path`` (``bucket/prefix``)."""
    if local.is_dir():
        for file in sorted(p for p in local.rglob("*") if p.is_file()):
            fs.pipe_file(f"{uri_path}/{file.relative_to(local).as_posix()}", file.read_bytes())
    else:
        fs.pipe_file(uri_path, local.read_bytes())


def environ_without_aws() -> dict[str, str]:
    """The current environment with every AWS_/FSSPEC_ variable removed (the test sets its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "FSSPEC_"))}


@contextlib.contextmanager
def counting_proxy(upstream: str) -> Iterator[tuple[str, list[int]]]:
    """A TCP proxy on 127.0.0.1 in front of ``upstream`` (``http://host:port``) that counts every byte sent back
    to clients (headers included): what a scan costs on the wire, whichever process made the requests."""
    host, port = upstream.removeprefix("http://").rstrip("/").split(":")
    received = [0]
    lock = threading.Lock()
    listener = socket.create_server(("127.0.0.1", 0))
    stopping = threading.Event()

    def pump(source: socket.socket, sink: socket.socket, counted: bool) -> None:
        try:
            while chunk := source.recv(256 * 1024):
                sink.sendall(chunk)
                if counted:
                    with lock:
                        received[0] += len(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def serve() -> None:
        while not stopping.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection((host, int(port)))
            threading.Thread(target=pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=pump, args=(server, client, True), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", received
    finally:
        stopping.set()
        listener.close()
        thread.join(timeout=5)
