"""Production serving: gunicorn alone (``serve --production``), or nginx in front of gunicorn (``stack``).

``python -m webapp serve --production`` runs gunicorn with
``deploy/gunicorn.conf.py`` on ``--host``/``--port``. ``python -m webapp
stack`` (``deploy/run``) runs the whole stack as an ordinary user:
gunicorn on a free loopback port (reachable from this machine only, so
``PROXY_COUNT=1`` trusts nothing from outside) and Debian's nginx from
``deploy/nginx.conf.template`` rendered into the same folder, listening on
``--listen``. nginx holds slow clients, bounds headers, bodies and
connections per client; gunicorn's threads only see whole requests.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from webapp.settings import load_settings

__all__ = ["DEPLOY_DIR", "Stack", "find_nginx", "gunicorn_command", "render_nginx_conf"]

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_DIR = ROOT / "deploy"
STATIC_DIR = Path(__file__).resolve().parent / "static"
_TOKEN = re.compile(r"@[A-Z_]+@")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(address):
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def find_nginx():
    """The nginx binary (Debian installs it in /usr/sbin, often not on an ordinary user's PATH), or None."""
    found = shutil.which("nginx")
    if found:
        return found
    return next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)


def render_nginx_conf(*, prefix, listen, upstream, import_max_mb=100, per_client_connections=64,
                      worker_connections=8192, template=DEPLOY_DIR / "nginx.conf.template"):
    """The nginx configuration text: the template with every ``@NAME@`` filled in (all must be)."""
    values = {
        "PREFIX": str(prefix), "LISTEN": str(listen), "UPSTREAM": str(upstream), "STATIC_DIR": str(STATIC_DIR),
        "IMPORT_MAX_MB": str(max(1, math.ceil(import_max_mb))),  # whole MB, never 0 (nginx: no limit)
        "PER_CLIENT_CONNECTIONS": str(int(per_client_connections)),
        "WORKER_CONNECTIONS": str(int(worker_connections)),
    }
    text = Path(template).read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    left = sorted(set(_TOKEN.findall(text)))
    if left:
        raise ValueError(f"{template}: no value for {', '.join(left)}")
    return text


def gunicorn_command(*, bind, workers=None, threads=None):
    """The gunicorn command line of the production app (settings from deploy/gunicorn.conf.py)."""
    command = [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY_DIR / "gunicorn.conf.py"), "--bind", bind]
    if workers:
        command += ["--workers", str(workers)]
    if threads:
        command += ["--threads", str(threads)]
    return command


class Stack:
    """nginx + gunicorn in ``prefix`` (a new temporary folder when None), nginx listening on ``listen``.

    ``env``: extra ``MAPSVC_*``/``GUNICORN_*`` variables for the app.
    ``start()`` returns once nginx answers ``/api/layers``; ``stop()`` ends both.
    """

    def __init__(self, *, listen, prefix=None, workers=None, threads=None, env=None, import_max_mb=None,
                 per_client_connections=64, log=None):
        self.listen = listen
        self.prefix = Path(prefix) if prefix else Path(tempfile.mkdtemp(prefix="mapsvc-stack-"))
        self.workers, self.threads = workers, threads
        self.env = dict(env or {})
        # the app's own IMPORT_MAX_MB (setting default, or the environment the app gets): nginx lets through
        # what the upload endpoint accepts, and the app refuses the rest
        self.import_max_mb = import_max_mb or load_settings(environ={**os.environ, **self.env})["IMPORT_MAX_MB"]
        self.per_client_connections = per_client_connections
        self.log = log
        self.gunicorn = None
        self.nginx = None


    def start(self, *, timeout_s=120):
        nginx = find_nginx()
        if nginx is None:
            raise RuntimeError("nginx is not installed (Debian package nginx; scripts/debian_packages.sh)")
        self.prefix.mkdir(parents=True, exist_ok=True)
        # started as root, nginx's workers run as nobody: they must reach their temp folders
        self.prefix.chmod(0o755)
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / sub).mkdir(exist_ok=True)
            (self.prefix / sub).chmod(0o777 if os.geteuid() == 0 else 0o700)
        self.upstream = f"127.0.0.1:{_free_port()}"  # loopback only: nobody else reaches gunicorn
        conf = self.prefix / "nginx.conf"
        conf.write_text(render_nginx_conf(prefix=self.prefix, listen=self.listen, upstream=self.upstream,
                                          import_max_mb=self.import_max_mb,
                                          per_client_connections=self.per_client_connections), encoding="utf-8")
        out = open(self.log or self.prefix / "stack.log", "ab")  # noqa: SIM115 - kept open for the children
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "MAPSVC_PROXY_COUNT": "1", "MALLOC_ARENA_MAX": "2",
               **self.env}
        self.gunicorn = subprocess.Popen(
            gunicorn_command(bind=self.upstream, workers=self.workers, threads=self.threads),
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while not _listening(self.upstream):
            if self.gunicorn.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"gunicorn did not start; see {out.name}")
            time.sleep(0.2)
        subprocess.run([nginx, "-t", "-q", "-p", str(self.prefix), "-c", str(conf)], check=True,
                       stdout=out, stderr=subprocess.STDOUT)
        self.nginx = subprocess.Popen([nginx, "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"],
                                      stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready(deadline)
        return self

    def _wait_ready(self, deadline):
        import http.client

        host, _, port = self.listen.rpartition(":")
        while time.monotonic() < deadline:
            if self.nginx.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.nginx.returncode}")
            try:
                conn = http.client.HTTPConnection(host or "127.0.0.1", int(port), timeout=5)
                conn.request("GET", "/api/layers")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the stack did not answer /api/layers in time")

    def stop(self):
        for process in (self.nginx, self.gunicorn):
            if process is None or process.poll() is not None:
                continue
            process.send_signal(signal.SIGTERM if process is self.nginx else signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)

    def run_forever(self):
        """Start, then wait until interrupted or either process ends."""
        self.start()
        print(f"serving on http://{self.listen}/ (nginx -> gunicorn, prefix {self.prefix})", file=sys.stderr)
        try:
            while self.nginx.poll() is None and self.gunicorn.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
        return 0
