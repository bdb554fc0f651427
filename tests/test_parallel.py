"""The Dask engine (geo.parallel) gives the single-process figures exactly: 1 and 2 workers, and by address.

Built-in layers and a synthetic layer of a few thousand lines, points and
polygons across the region's borders; each compared with
:func:`geo.stats.feature_stats` / :func:`geo.corridor.within_corridor` as
floats (``assert_frame_equal``, exact) and as the rounded JSON/CSV output.
Partitions are kept small so that every layer is cut into several.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from geo.__main__ import main as geo_cli
from geo.corridor import build_corridor, within_corridor
from geo.corridor_report import corridor_report, corridor_summary
from geo.countries import boundaries_for
from geo.parallel import DaskEngine, LocalEngine, engine_from_settings, hilbert_order
from geo.stats import feature_stats, format_stats, layer_summary
from geo.topology import dense_lines
from layers.errors import BadParameter
from webapp import create_app
from webapp.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent


def synthetic_layer(n=1500, seed=7):
    """``n`` features over 60-78°E, 23-40°N: lines of 2-5 vertices up to ~3° long (many cross borders),
    a few two-part lines, points and small polygons; some with a reported length."""
    rng = np.random.default_rng(seed)
    geoms, kinds = [], []
    for i in range(n):
        x, y = rng.uniform(60, 78), rng.uniform(23, 40)
        r = i % 10
        if r == 8:
            geoms.append(shapely.Point(x, y))
            kinds.append("port")
        elif r == 9:
            geoms.append(shapely.Point(x, y).buffer(rng.uniform(0.05, 0.4), quad_segs=4))
            kinds.append("gas_field")
        else:
            k = rng.integers(2, 6)
            pts = np.column_stack([x + np.cumsum(rng.uniform(-0.8, 0.8, k)), y + np.cumsum(rng.uniform(-0.8, 0.8, k))])
            line = shapely.LineString(pts)
            geoms.append(shapely.MultiLineString([line, shapely.affinity.translate(line, 0.3, 0.2)])
                         if r == 7 else line)
            kinds.append("gas_pipeline")
    reported = np.where(rng.random(n) < 0.3, rng.uniform(10, 400, n), np.nan)
    return gpd.GeoDataFrame({
        "id": [f"s{i}" for i in range(n)], "name": [f"Synthetic {i}" for i in range(n)], "kind": kinds,
        "status": np.array(["operating", "construction", "proposed"], dtype=object)[rng.integers(0, 3, n)],
        "reported_length_km": reported,
    }, geometry=geoms, crs="EPSG:4326")


@pytest.fixture(scope="module")
def boundaries(catalog):
    return boundaries_for(catalog)


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_layer()


@pytest.fixture(scope="module")
def synthetic_stats(synthetic, boundaries):
    return feature_stats(synthetic, boundaries)


CORRIDOR_ARGS = ("tapi", "tapi_trunk", 100)
CORRIDOR_WITH = "places,ports,energy_projects,pakistan_gas_grid,tapi"


@pytest.fixture(scope="module")
def tapi_corridor(catalog):
    return corridor_report(catalog, *CORRIDOR_ARGS, with_layers=CORRIDOR_WITH)


@pytest.fixture(scope="module", params=[1, 2], ids=["1-worker", "2-workers"])
def engine(request):
    eng = DaskEngine(workers=request.param, partition_features=400)
    assert eng.worker_count() == request.param
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory):
    """A real ``dask scheduler`` and one ``dask worker`` on loopback, started as their own processes."""
    folder = tmp_path_factory.mktemp("dask")
    info = folder / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    dask_cli = Path(sys.executable).with_name("dask")
    procs = [subprocess.Popen([dask_cli, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                               "--scheduler-file", info], cwd=folder, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        procs.append(subprocess.Popen([dask_cli, "worker", address, "--nthreads", "1", "--no-dashboard",
                                       "--host", "127.0.0.1"], cwd=folder, env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


def assert_same_stats(got, want):
    pd.testing.assert_frame_equal(got, want)  # exact: check_exact for floats is the default only for ints
    assert (got.select_dtypes("number").to_numpy(dtype=float).tobytes()
            == want.select_dtypes("number").to_numpy(dtype=float).tobytes())
    for fmt in ("json", "csv", "md"):
        assert format_stats(got, fmt) == format_stats(want, fmt)


def test_statistics_of_every_builtin_layer_equal_the_single_process_ones(engine, catalog, boundaries):
    engine.partition_features = 10  # the gas grid (66 features) in 7 partitions
    try:
        for layer in catalog:
            assert_same_stats(engine.feature_stats(layer.gdf, boundaries), feature_stats(layer.gdf, boundaries))
    finally:
        engine.partition_features = 400


def test_statistics_of_a_many_feature_layer_equal_the_single_process_ones(engine, synthetic, synthetic_stats,
                                                                           boundaries):
    want = synthetic_stats
    got = engine.feature_stats(synthetic, boundaries)
    assert_same_stats(got, want)
    assert layer_summary(got) == layer_summary(want)
    assert sum(len(x) for x in want["border_crossings"]) > 250  # the layer really crosses borders
    assert want["area_km2"].notna().sum() == 150 and want["geodesic_length_km"].notna().sum() == 1200


def test_corridor_of_a_builtin_route_equals_the_single_process_one(engine, catalog, tapi_corridor):
    engine.partition_features = 5
    try:
        got = corridor_report(catalog, *CORRIDOR_ARGS, with_layers=CORRIDOR_WITH, engine=engine)
        want = tapi_corridor
    finally:
        engine.partition_features = 400
    assert len(want["features"]) > 20
    assert_geodataframe_equal(got["features"], want["features"], check_less_precise=False)
    assert got["summary"] == want["summary"]


def test_corridor_membership_in_a_many_feature_layer_equals_the_single_process_one(engine, synthetic, boundaries):
    corridor = build_corridor(shapely.LineString([(62, 26), (67, 31), (71, 35)]), 40)
    want = within_corridor(corridor, synthetic, layer_id="synthetic", exclude_id="s3")
    got = engine.within_corridor(corridor, synthetic, layer_id="synthetic", exclude_id="s3")
    assert len(want) > 50 and "s3" not in set(want["id"])
    assert_geodataframe_equal(got, want)
    assert corridor_summary(corridor, got, boundaries) == corridor_summary(corridor, want, boundaries)


@pytest.mark.parametrize("route", [shapely.LineString([(80, 61.3), (80, 61.7)]),
                                   shapely.LineString([(179.5, 65.2), (-175.0, 65.8)])], ids=["bulge", "dateline"])
def test_partitions_are_pruned_by_where_their_lines_run(engine, synthetic, route):
    # a partition's box of raw lines misses where a sparse geodesic bulges (60-100E along 60N reaches 61.5N) and
    # a line across 180° (raw, it runs the long way round): both meet the route and must not be pruned
    odd = gpd.GeoDataFrame({"id": ["bulge", "dateline"]}, geometry=[shapely.LineString([(60, 60), (100, 60)]),
                           shapely.LineString([(178, 66.5), (-178, 64.5)])], crs="EPSG:4326")
    frame = pd.concat([synthetic, odd], ignore_index=True)
    corridor = build_corridor(route, 20)
    want = within_corridor(corridor, frame, layer_id="synthetic")
    assert set(want["id"]) & {"bulge", "dateline"}
    assert_geodataframe_equal(engine.within_corridor(corridor, frame, layer_id="synthetic"), want)


def test_corridor_far_from_every_feature_finds_nothing(engine, synthetic):
    corridor = build_corridor(shapely.LineString([(100, 0), (101, 1)]), 10)
    got = engine.within_corridor(corridor, synthetic, layer_id="synthetic")
    assert_geodataframe_equal(got, within_corridor(corridor, synthetic.iloc[:0], layer_id="synthetic"))


def test_a_features_figures_do_not_depend_on_what_comes_before_it_in_the_layer(synthetic, boundaries):
    # Partitions see a feature after fewer rows than the whole layer does. Chainage was once a running sum over
    # the whole layer minus its value at the part's start, so 5,000 long lines before these changed their
    # chainage in the last bits (and one of 1,000,000 lengths by 0.001 km between one process and Dask).
    long = gpd.GeoDataFrame({"id": [f"long{i}" for i in range(5000)]},
                            geometry=[shapely.LineString([(-170, -60), (170, 60)])] * 5000, crs="EPSG:4326")
    lines = synthetic[synthetic.geom_type.isin(["LineString", "MultiLineString"])].reset_index(drop=True)
    whole = dense_lines(np.r_[long.geometry.values, lines.geometry.values])
    alone = dense_lines(lines.geometry.values)
    first_vertex, first_piece = len(whole.coords) - len(alone.coords), len(whole.pieces) - len(alone.pieces)
    assert np.array_equal(whole.chain_km[first_vertex:], alone.chain_km)
    assert np.array_equal(whole.part_offset_km[len(whole.part_offset_km) - len(alone.part_offset_km):],
                          alone.part_offset_km)
    along = np.random.default_rng(1).uniform(0, 0.5, len(alone.pieces))
    assert np.array_equal(whole.chain_at(np.arange(first_piece, len(whole.pieces)), along),
                          alone.chain_at(np.arange(len(alone.pieces)), along))
    together = feature_stats(pd.concat([long.iloc[:300], lines], ignore_index=True), boundaries).iloc[300:]
    pd.testing.assert_frame_equal(together.reset_index(drop=True), feature_stats(lines, boundaries), check_exact=True)


def test_hilbert_order_keeps_neighbours_together_and_tolerates_empty_geometry():
    geoms = [shapely.Point(70, 30), shapely.LineString(), shapely.Point(-170, -80), shapely.Point(70.001, 30.001)]
    order = hilbert_order(gpd.GeoSeries(geoms, crs="EPSG:4326"))
    assert sorted(order) == [0, 1, 2, 3]
    assert abs(list(order).index(0) - list(order).index(3)) == 1


def test_statistics_on_a_scheduler_by_address(scheduler_address, synthetic, synthetic_stats, boundaries):
    eng = DaskEngine(scheduler=scheduler_address, partition_features=700)
    try:
        assert eng.describe() == {"engine": "dask", "scheduler": scheduler_address, "workers": 1}
        assert_same_stats(eng.feature_stats(synthetic, boundaries), synthetic_stats)
    finally:
        eng.close()


def test_the_web_app_on_the_dask_engine_serves_the_same_answers(scheduler_address, client):
    app = create_app({"TESTING": True, "ANALYTICS_ENGINE": "dask", "DASK_SCHEDULER": scheduler_address,
                      "DASK_MIN_FEATURES": 0})
    dask_client = app.test_client()
    corridor = "/api/corridor?layer=tapi&feature=tapi_trunk&width_km=100&with=places,ports,pakistan_gas_grid"
    assert dask_client.get("/api/status").get_json()["analytics"] == {"engine": "dask"}
    for url in ("/api/layers/pakistan_gas_grid/stats", "/api/layers/tapi/stats?format=csv", corridor):
        got, want = dask_client.get(url), client.get(url)
        assert got.status_code == want.status_code == 200, url
        assert got.data == want.data, url
    app.extensions["analytics"].close()


def test_cli_stats_and_corridor_on_a_scheduler_print_the_same(scheduler_address, capsys):
    def run(*argv):
        assert geo_cli(list(argv)) == 0
        return capsys.readouterr().out

    assert run("stats", "pakistan_gas_grid", "--format", "json", "--scheduler", scheduler_address) == run(
        "stats", "pakistan_gas_grid", "--format", "json")
    corridor = ("corridor", "tapi", "tapi_trunk", "--width-km", "60", "--with", "places,ports", "--format", "csv")
    assert run(*corridor, "--scheduler", scheduler_address) == run(*corridor)


def test_engine_setting():
    assert isinstance(engine_from_settings(load_settings({})), LocalEngine)
    eng = engine_from_settings(load_settings(environ={"MAPSVC_ANALYTICS_ENGINE": "Dask",
                                                     "MAPSVC_DASK_SCHEDULER": "tcp://127.0.0.1:1",
                                                     "MAPSVC_DASK_MIN_FEATURES": "5"}))
    assert (eng.name, eng.scheduler, eng.min_features) == ("dask", "tcp://127.0.0.1:1", 5)  # connects on first use
    with pytest.raises(BadParameter, match="MAPSVC_ANALYTICS_ENGINE"):
        load_settings(environ={"MAPSVC_ANALYTICS_ENGINE": "spark"})
    with pytest.raises(BadParameter, match="MAPSVC_DASK_WORKERS"):
        load_settings(environ={"MAPSVC_DASK_WORKERS": "0"})
