"""A throw-away PostgreSQL + PostGIS cluster for the benches, and a loader of line layers into it.

Debian's PostgreSQL binaries (/usr/lib/postgresql/<v>/bin, PostGIS as an
extension); ``initdb`` refuses root, so as root the cluster belongs to
``nobody`` and lives in a temporary folder it owns. The server listens on
a Unix socket in that folder and on a free 127.0.0.1 port; it is stopped
and removed on exit.
"""

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np
import shapely

from bench.common import free_port

__all__ = ["PG_BIN", "postgis_cluster", "load_lines"]

PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)), "")


def _as_owner(cmd):
    return ["runuser", "-u", "nobody", "--", *cmd] if os.geteuid() == 0 else cmd


@contextlib.contextmanager
def postgis_cluster():
    """Start a cluster with database ``bench`` (PostGIS enabled); yield its psycopg/asyncpg URL."""
    if not PG_BIN:
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql postgis)")
    folder = tempfile.mkdtemp(prefix="bench_pg_")
    os.chmod(folder, 0o755)
    data = os.path.join(folder, "data")
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody")
    port = free_port()
    subprocess.run(_as_owner([f"{PG_BIN}/initdb", "-D", data, "-U", "bench", "--auth=trust", "-E", "UTF8"]),
                   check=True, capture_output=True)
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c shared_buffers=256MB"
    subprocess.run(_as_owner([f"{PG_BIN}/pg_ctl", "-D", data, "-l", os.path.join(folder, "log"), "-o", opts,
                              "-w", "start"]), check=True, capture_output=True)
    url = f"postgresql://bench@127.0.0.1:{port}/bench"
    try:
        subprocess.run([f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "bench", "bench"], check=True)
        subprocess.run(["psql", url, "-q", "-c", "CREATE EXTENSION postgis"], check=True)
        yield url
    finally:
        subprocess.run(_as_owner([f"{PG_BIN}/pg_ctl", "-D", data, "-m", "fast", "-w", "stop"]), capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def load_lines(url, table, gdf):
    """COPY ``gdf`` (id, name, kind, status, LineString geometry in EPSG:4326) into ``table`` with a GiST
    index; returns seconds taken (COPY + index + ANALYZE)."""
    import psycopg

    t0 = time.perf_counter()
    wkb = shapely.to_wkb(shapely.set_srid(np.asarray(gdf.geometry.values), 4326), hex=True, include_srid=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} (id text PRIMARY KEY, name text, kind text, status text, "
                     "geom geometry(LineString, 4326))")
        with conn.cursor().copy(f"COPY {table} (id, name, kind, status, geom) FROM STDIN") as copy:
            for row in zip(gdf["id"], gdf["name"], gdf["kind"], gdf["status"], np.asarray(wkb)):
                copy.write_row(row)
        conn.execute(f"CREATE INDEX ON {table} USING gist (geom)")
        conn.execute(f"ANALYZE {table}")
    return time.perf_counter() - t0
