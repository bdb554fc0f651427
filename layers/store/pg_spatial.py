"""Spatial queries in PostGIS: the bbox filter on the GiST index, and copies of the fixed layers to run it on.

Every layer the service serves has its geometries in ``mapsvc.features``:
user layers through their versions, built-in and folder layers (read from
files by each instance) through ``mapsvc.fixed_layers``, which
:meth:`PgSpatial.sync_fixed` fills on start-up under the schema's advisory
lock (only layers whose file version changed are written). A query names the
layer *and its version*; a version the database does not hold (an instance
on other files during a rolling upgrade) answers None, and the caller uses
its own in-memory index (:mod:`layers.index`): same answer, only slower.
Lon/lat boxes are filters in degrees, never measurements.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import shapely

from layers.store.pg_schema import ADVISORY_LOCK

__all__ = ["PgSpatial", "PgTree"]

class PgSpatial:
    """Bbox positions of a layer version's features, computed by PostGIS (``&&`` + ``ST_Intersects``)."""

    def __init__(self, store):
        self.store = store
        self._contents = {}  # (layer id, version) -> content id (or None): immutable, so cached for good
        self._lock = threading.Lock()

    def sync_fixed(self, layers):
        """Make ``fixed_layers`` hold each layer's current file version; the ids written."""
        from layers.store.postgis import PostGISStore

        written = []
        with self.store._conn() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (ADVISORY_LOCK,))  # replicas starting together
            held = dict(conn.execute("SELECT layer_id, version FROM fixed_layers").fetchall())
            for layer in layers:
                if held.get(layer.id) == layer.version:
                    continue
                ids = [{"id": str(fid)} for fid in layer.gdf["id"]]
                content_id, _ = PostGISStore.insert_content(conn, ids, layer.gdf.geometry.to_numpy())
                old = conn.execute("DELETE FROM fixed_layers WHERE layer_id = %s RETURNING content_id",
                                   (layer.id,)).fetchone()
                conn.execute("INSERT INTO fixed_layers (layer_id, version, content_id) VALUES (%s, %s, %s)",
                             (layer.id, layer.version, content_id))
                if old is not None:
                    conn.execute("DELETE FROM contents WHERE id = %s", (old[0],))
                written.append(layer.id)
        return written

    def _content_id(self, conn, layer_id, version):
        key = (layer_id, version)
        if key not in self._contents:
            if version.startswith("v") and version[1:].isdigit():
                row = conn.execute("SELECT content_id FROM versions WHERE id = %s AND layer_id = %s",
                                   (int(version[1:]), layer_id)).fetchone()
            else:
                row = conn.execute("SELECT content_id FROM fixed_layers WHERE layer_id = %s AND version = %s",
                                   (layer_id, version)).fetchone()
            with self._lock:
                if len(self._contents) > 10_000:
                    self._contents.clear()
                self._contents[key] = row[0] if row else None
        return self._contents[key]

    def query(self, layer_id, version, geometry, predicate, distance=None):
        """Row positions (sorted) of the layer version's features meeting ``predicate`` with ``geometry``.

        ``intersects`` (``&&`` then ``ST_Intersects``) or ``dwithin`` (``ST_DWithin``, in degrees: a
        candidate filter, the caller measures geodesically); None when the version is not held here.
        """
        wkb = shapely.to_wkb(geometry, output_dimension=2)
        if predicate == "intersects":
            where, args = "geom && g AND ST_Intersects(geom, g)", ()
        elif predicate == "dwithin":
            where, args = "ST_DWithin(geom, g, %s)", (float(distance),)
        else:
            raise ValueError(f"no PostGIS query for predicate {predicate!r}")
        with self.store._conn() as conn:
            content_id = self._content_id(conn, layer_id, version)
            if content_id is None:
                return None
            rows = conn.execute(f"SELECT seq FROM features, ST_GeomFromWKB(%s, 4326) AS g "
                                f"WHERE content_id = %s AND {where} ORDER BY seq",
                                (wkb, content_id, *args)).fetchall()
        return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


    def mvt(self, layer_id, version, positions, rows, tile, *, extent, buffer, max_lat):
        """MVT bytes of one tile encoded by PostGIS (``ST_AsMVTGeom`` + ``ST_AsMVT``), or None if not held.

        ``positions`` are the features to draw (row positions, found by
        :meth:`query`), ``rows`` their tile properties (dicts of text or
        null, ``_s`` an int style index, ``_fid`` the MVT feature id); null
        values are left out, as MVT has no null. ``tile`` is ``(z, y, x)``
        (OGC order). Geometries are clipped to the tile plus ``buffer``
        units and snapped to its ``extent`` grid by PostGIS, after a
        half-pixel ``ST_Simplify`` (skipped for a feature it would make
        vanish); latitudes are cut at Web Mercator's ``max_lat`` first.
        """
        z, y, x = tile
        # simplified to half a pixel of a 256-pixel tile, as the web map's display geometry (geo.simplify); a
        # feature the simplification makes vanish is drawn unsimplified: only the grid snap decides what is drawn
        half_pixel_m = 2 * math.pi * 6378137.0 / 2 ** z / 256 / 2
        names = [k for k in rows[0] if k not in ("_s", "_fid")] if rows else []
        columns = [[row.get(k) for row in rows] for k in names]
        if any(v is not None and not isinstance(v, str) for col in columns for v in col):
            return None  # only text travels as text: anything else is encoded by the caller
        arrays = ", ".join(["%s::int[]"] * 3 + ["%s::text[]"] * len(names))
        aliases = ", ".join(["seq", "_s", "_fid", *(f'"{k}"' for k in names), "ord"])
        props = "".join(f', p."{k}"' for k in names)
        sql = f"""
            SELECT ST_AsMVT(t, %s, %s, 'geom', '_fid') FROM (
                SELECT COALESCE(ST_AsMVTGeom(ST_Simplify(m.geom, %s, true), b.box, %s, %s, true),
                                ST_AsMVTGeom(m.geom, b.box, %s, %s, true)) AS geom,
                       p._s, p._fid{props}
                FROM features f JOIN unnest({arrays}) WITH ORDINALITY AS p({aliases}) ON f.seq = p.seq,
                     ST_TileEnvelope(%s, %s, %s) AS b(box),
                     ST_Transform(ST_ClipByBox2D(f.geom, ST_MakeEnvelope(-180, -%s, 180, %s, 4326)), 3857) AS m(geom)
                WHERE f.content_id = %s ORDER BY p.ord
            ) AS t WHERE geom IS NOT NULL"""
        with self.store._conn() as conn:
            content_id = self._content_id(conn, layer_id, version)
            if content_id is None:
                return None
            body = conn.execute(sql, (layer_id, extent, half_pixel_m, extent, buffer, extent, buffer,
                                      [int(p) for p in positions], [int(r["_s"]) for r in rows],
                                      [int(r["_fid"]) for r in rows], *columns, z, x, y, max_lat, max_lat,
                                      content_id)).fetchone()[0]
        return bytes(body) if body is not None else b""


class PgTree:
    """A layer's spatial index answered by PostGIS, shaped like the ``STRtree`` it stands in for.

    :func:`layers.index.layer_tree` hands it out when the catalogue has a
    PostGIS store: the API's bbox filter, the tiles and the corridor candidates
    all call ``tree.query(geometry, predicate=..., distance=...)``. Anything
    PostGIS does not answer here (another predicate, a version not held) goes
    to an in-memory ``STRtree`` built on first need: same positions.
    """

    def __init__(self, spatial, layer_id, version, fallback):
        self.spatial, self.layer_id, self.version = spatial, layer_id, version
        self._fallback, self._tree = fallback, None

    def query(self, geometry, predicate=None, distance=None):
        if predicate in ("intersects", "dwithin") and not isinstance(geometry, (list, tuple, np.ndarray)):
            found = self.spatial.query(self.layer_id, self.version, geometry, predicate, distance)
            if found is not None:
                return found
        if self._tree is None:
            self._tree = self._fallback()
        return self._tree.query(geometry, predicate=predicate, distance=distance)
