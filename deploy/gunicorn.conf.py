"""gunicorn settings of the production stack (``python -m webapp serve --production``, ``deploy/run``).

Threads (gthread) rather than processes per request: the catalogue and its
statistics are loaded once in the master (``preload_app``) and shared by
the forked workers. gunicorn sits behind nginx, which buffers slow clients
(deploy/nginx.conf.template); run alone it still bounds request lines,
headers and connections. Everything can be overridden from the command line
or the ``GUNICORN_*`` variables below.
"""

import logging
import os

import gunicorn

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "gthread"
worker_connections = int(os.environ.get("GUNICORN_CONNECTIONS", "200"))  # per worker, then new ones wait in backlog
backlog = 1024
wsgi_app = "webapp.wsgi:application"
preload_app = True  # load and warm up once, fork after: workers share the catalogue and its statistics
timeout = 120  # a worker whose main loop is stuck this long is replaced
graceful_timeout = 30
keepalive = 5  # seconds an idle keep-alive connection (from nginx) stays open
# bounded requests: a 413/431-style refusal long before memory is at stake
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# recycle workers now and then: bounds what heap fragmentation can keep after bursts of big pages
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = 2000
proc_name = "mapsvc"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None

gunicorn.SERVER = "mapsvc"  # the Server header names no software version


def _quiet_repeats():
    from webapp.logs import RepeatFilter

    repeat = RepeatFilter(60)
    for name in ("gunicorn.error", "webapp", ""):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(repeat)


def when_ready(server):
    _quiet_repeats()


def post_worker_init(worker):
    _quiet_repeats()


def pre_fork(server, worker):
    # The master's store connections must not be shared with a worker (a PostGIS socket used by two processes
    # corrupts both sessions): close them before each fork; every process opens its own when it needs one.
    store = server.app.wsgi().extensions.get("store")
    if store is not None:
        store.close()


def post_fork(server, worker):
    # The big layers' statistics are computed in each worker, after the fork (webapp.wsgi): a warm-up thread in
    # the master held an expensive-work slot at the fork, and every worker inherited it held (each page: 503).
    import threading

    from webapp import wsgi

    if wsgi.warm_up_later is not None:
        threading.Thread(target=wsgi.warm_up_later, name="warm-up", daemon=True).start()
