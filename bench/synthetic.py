"""A synthetic user layer of many short pipelines, for the tiled-map bench: deterministic."""

import json

import numpy as np

__all__ = ["write_big_layer"]


def write_big_layer(folder, n, *, layer_id="big_grid", seed=12):
    """Write ``<folder>/<layer_id>.geojson`` with ``n`` two-vertex gas pipelines scattered over Pakistan."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(61.0, 76.0, n)
    lat = rng.uniform(24.0, 36.5, n)
    dlon, dlat = rng.uniform(-0.05, 0.05, (2, n))
    statuses = np.array(["operating", "construction", "proposed"])[rng.integers(0, 3, n)]
    features = [
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [
            [round(float(x), 5), round(float(y), 5)], [round(float(x + dx), 5), round(float(y + dy), 5)]]},
         "properties": {"id": f"p{i}", "name": f"Pipeline {i}", "kind": "gas_pipeline", "status": str(s),
                        "countries": ["PAK"], "reported_length_km": None, "geometry_quality": "traced",
                        "sources": [{"title": "synthetic test data", "url": "https://example.org/synthetic"}],
                        "licence": "CC0"}}
        for i, (x, y, dx, dy, s) in enumerate(zip(lon, lat, dlon, dlat, statuses))
    ]
    doc = {"type": "FeatureCollection",
           "metadata": {"id": layer_id, "title": f"Synthetic grid ({n:,} pipelines)", "description": "test data",
                        "attribution": "synthetic", "licence": "CC0"},
           "features": features}
    path = folder / f"{layer_id}.geojson"
    path.write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
    return path
