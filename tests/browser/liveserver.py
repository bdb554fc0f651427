"""Run the real map server (``python -m webapp serve``) as a subprocess on a free loopback port.

Used by the browser tests, the raw-HTTP hostile-path tests and the
production soak test: requests cross a real socket into waitress, with no
test client in between.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["ROOT", "LiveServer", "free_port", "raw_get"]

ROOT = Path(__file__).resolve().parents[2]


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raw_get(port, target, *, headers=None, timeout=30):
    """GET ``target`` exactly as written (no client-side normalisation): (status, headers dict, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        # skip_host/putrequest keep the target byte-for-byte; http.client only refuses control characters
        conn.putrequest("GET", target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


class LiveServer:
    """``python -m webapp serve [extra args]`` on a free port, with ``MAPSVC_*`` settings from ``env``.

    ``start()`` waits until ``/api/layers`` answers; ``stop()`` ends the
    process (SIGTERM, then SIGKILL). The server's output goes to ``log_path``.
    """

    def __init__(self, *, args=(), env=None, log_path):
        self.args = tuple(args)
        self.env = dict(env or {})
        self.log_path = Path(log_path)
        self.port = None
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout_s=240):  # start-up on 2 cores shared with other builds can take minutes
        self.port = free_port()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}
        command = [sys.executable, "-m", "webapp", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                   *self.args]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            try:
                status, _, _ = raw_get(self.port, "/api/layers", timeout=5)
                if status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"server not ready after {timeout_s} s:\n{self.log()}")

    def log(self):
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
