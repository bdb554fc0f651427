"""A throw-away PostgreSQL + PostGIS cluster for the tests, and the ``--store`` switch (pytest plugin).

``pg_cluster`` (session) runs Debian's ``initdb`` in a temporary directory
and starts ``postgres`` listening on a unix socket there only (no TCP port;
``fsync=off``: the data dies with the test run anyway), and stops it at the
end. PostgreSQL refuses to run as root (CI runs as root), so then the cluster
runs as the unprivileged ``nobody`` via ``setpriv``. A template database has
PostGIS and the service's schema with the built-in layers already loaded;
:meth:`Cluster.new_database` clones it (one database per app under test).
Without PostgreSQL the fixture skips with the reason (under ``CI=true`` it
fails instead: CI installs it, scripts/debian_packages.sh).

``--store=postgis`` (or ``MAPSVC_TEST_STORE=postgis``): every app a test
builds without a ``DATABASE_URL`` gets a fresh PostGIS database instead of
the embedded store, one per data directory (an app restarted on the same
``DATA_DIR`` finds the same database). ``./run_tests.sh`` runs the store,
API, OGC, import and accounts tests that way too (the list is in run_tests.sh).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
STORE_ENV = "MAPSVC_TEST_STORE"


def pg_bin():
    """The directory of initdb/pg_ctl/postgres (newest Debian PostgreSQL), or None."""
    for folder in PG_BIN_DIRS:
        if (folder / "initdb").exists() and (folder / "postgres").exists():
            return folder
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def postgis_available():
    share = sorted(Path("/usr/share/postgresql").glob("*/extension/postgis.control"))
    return bool(share)


class Cluster:
    """One running throw-away cluster (unix socket in its own directory)."""

    def __init__(self, bindir):
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="mapsvc-pg-"))
        self.data = self.root / "data"
        self.sock = self.root  # short path: unix socket names are limited to 107 bytes
        self._as_user = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.root, nobody.pw_uid, nobody.pw_gid)
            self._as_user = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        self._names = itertools.count(1)

    def _run(self, *args, **kw):
        return subprocess.run([*self._as_user, *map(str, args)], check=True, capture_output=True, text=True,
                              cwd=self.root, **kw)

    def start(self):
        self._run(self.bindir / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync", "--locale=C")
        options = f"-k {self.sock} -c listen_addresses='' -c fsync=off -c synchronous_commit=off " \
                  "-c full_page_writes=off -c max_connections=200 -c shared_buffers=64MB"
        self._run(self.bindir / "pg_ctl", "-D", self.data, "-o", options, "-l", self.root / "log", "-w",
                  "-t", "60", "start")
        return self

    def url(self, dbname="postgres"):
        return f"postgresql://postgres@/{dbname}?host={self.sock}"

    def sql(self, statement, dbname="postgres"):
        import psycopg

        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            conn.execute(statement)

    def make_template(self):
        """``mapsvc_template``: PostGIS, the store schema and the built-in layers, for fast clones."""
        from layers.catalog import BUILTIN_LAYERS_DIR, read_layer_file
        from layers.store.postgis import PostGISStore

        self.sql("CREATE DATABASE mapsvc_template")
        store = PostGISStore(self.url("mapsvc_template"))
        try:
            store.spatial.sync_fixed([read_layer_file(p) for p in sorted(BUILTIN_LAYERS_DIR.glob("*.geojson"))])
        finally:
            store.close()
        self.sql("ALTER DATABASE mapsvc_template WITH ALLOW_CONNECTIONS false IS_TEMPLATE true")

    def new_database(self, *, empty=False):
        """The URL of a new database: a clone of the template, or (``empty``) one without PostGIS."""
        name = f"t{os.getpid()}_{next(self._names)}"
        self.sql(f"CREATE DATABASE {name}" + ("" if empty else " TEMPLATE mapsvc_template STRATEGY FILE_COPY"))
        return self.url(name)

    def stop(self):
        try:
            self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def pytest_addoption(parser):
    parser.addoption("--store", choices=["embedded", "postgis"], default=os.environ.get(STORE_ENV, "embedded"),
                     help="the store every test app uses when it names none (default: embedded; "
                          f"or {STORE_ENV}=postgis)")


def _start_cluster():
    bindir = pg_bin()
    if bindir is None or not postgis_available():
        why = ("PostgreSQL/PostGIS not installed (Debian: postgresql postgresql-15-postgis-3; "
               "./run_tests.sh installs them as root)")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(why)
        pytest.skip(why)
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root and no setpriv to start PostgreSQL as an unprivileged user")
    started = time.perf_counter()
    cluster = Cluster(bindir).start()
    try:
        cluster.make_template()
    except BaseException:
        cluster.stop()
        raise
    cluster.start_seconds = time.perf_counter() - started
    return cluster


@pytest.fixture(scope="session")
def pg_cluster():
    """A running throw-away PostGIS cluster (skips, with the reason, when PostgreSQL is absent)."""
    cluster = _start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster):
    """A new PostGIS database (template clone: schema and built-in layers there) for one test."""
    return pg_cluster.new_database()


@pytest.fixture(scope="session")
def store_backend(request):
    return request.config.getoption("--store")


@pytest.fixture(scope="session", autouse=True)
def _store_switch(request, store_backend):
    """Under ``--store=postgis``: apps without a DATABASE_URL get a PostGIS database per data directory."""
    if store_backend != "postgis":
        yield
        return
    cluster = request.getfixturevalue("pg_cluster")
    import webapp.catalog as app_catalog
    from layers.store import open_store

    by_dir = {}

    def open_for_tests(database_url="", data_dir=None, **kw):
        if database_url:
            return open_store(database_url, data_dir, **kw)
        key = str(Path(data_dir).resolve())
        if key not in by_dir:
            by_dir[key] = cluster.new_database()
        return open_store(by_dir[key], data_dir, **kw)

    original = app_catalog.open_store
    app_catalog.open_store = open_for_tests
    yield
    app_catalog.open_store = original
