"""The practical ceiling of this stack: Flask returning pre-serialised JSON.

``create_app()`` reads ``BENCH_LAYER_FILE`` and ``BENCH_BBOX`` from the
environment once, serialises the whole FeatureCollection and the bbox
subset to bytes at start-up, and answers ``/full`` and ``/bbox`` with them.
No parsing, filtering or encoding per request.
"""

import json
import os

import shapely
from flask import Flask, Response

__all__ = ["create_app"]


def create_app():
    path = os.environ["BENCH_LAYER_FILE"]
    bbox = [float(v) for v in os.environ["BENCH_BBOX"].split(",")]
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in doc["features"]])
    keep = shapely.intersects(geoms, shapely.box(*bbox))
    subset = {"type": "FeatureCollection", "features": [f for f, k in zip(doc["features"], keep) if k]}
    full_bytes = json.dumps({"type": "FeatureCollection", "features": doc["features"]},
                            separators=(",", ":")).encode()
    bbox_bytes = json.dumps(subset, separators=(",", ":")).encode()
    app = Flask(__name__)

    @app.get("/full")
    def full():
        return Response(full_bytes, mimetype="application/geo+json")

    @app.get("/bbox")
    def in_bbox():
        return Response(bbox_bytes, mimetype="application/geo+json")

    return app
