"""Declared settings: defaults, environment, overrides, and the README documenting each."""

import subprocess
import sys
from pathlib import Path

import pytest

from layers.errors import BadParameter
from webapp import create_app
from webapp.settings import ENV_PREFIX, SETTINGS, load_settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_has_a_name_default_and_help():
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    for setting in SETTINGS:
        assert setting.name.isupper() and setting.help.strip().endswith(".")


def test_defaults_come_from_the_table():
    config = load_settings(environ={})
    assert config["DEFAULT_BASEMAP"] == "osm"
    assert config["LAYERS_DIRS"] == ()
    assert config["BASEMAP_SIMPLIFY_DEG"] == 0.01
    assert {s.name for s in SETTINGS} <= set(config)


def test_environment_overrides_defaults_and_dict_overrides_environment():
    env = {ENV_PREFIX + "LAYERS_DIRS": "/a:/b", ENV_PREFIX + "MAP_CACHE_MB": "3",
           ENV_PREFIX + "DEFAULT_BASEMAP": "none"}
    config = load_settings({"DEFAULT_BASEMAP": "topo"}, environ=env)
    assert config["LAYERS_DIRS"] == ("/a", "/b")
    assert config["MAP_CACHE_MB"] == 3
    assert config["DEFAULT_BASEMAP"] == "topo"


def test_a_single_folder_string_is_one_folder():
    assert load_settings({"LAYERS_DIRS": "/data/mine"}, environ={})["LAYERS_DIRS"] == ("/data/mine",)


@pytest.mark.parametrize("name, value", [("MAP_CACHE_MB", "many"), ("HEAVY_CONCURRENCY", "0"), ("GZIP_MIN_BYTES", "-1"),
                                         ("BASEMAP_SIMPLIFY_DEG", "nan")])
def test_malformed_environment_value_names_the_variable(name, value):
    with pytest.raises(BadParameter) as err:
        load_settings(environ={ENV_PREFIX + name: value})
    assert err.value.name == ENV_PREFIX + name


def test_create_app_applies_the_settings(monkeypatch):
    monkeypatch.setenv(ENV_PREFIX + "CACHE_MAX_AGE", "42")
    app = create_app({"TESTING": True, "MAP_CACHE_MB": 2})
    assert app.config["CACHE_MAX_AGE"] == 42
    assert app.extensions["map_cache"].max_bytes == 2 * 1024 * 1024
    assert app.testing


def test_importing_the_package_configures_nothing():
    code = ("import folium, webapp, webapp.api.views, webapp.maps.pages, webapp.export.views; "
            "print(folium.Map.default_js[0][1])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.startswith("https://")  # folium untouched until create_app runs assets.init_app


def test_readme_documents_every_setting():
    text = README.read_text(encoding="utf-8") if README.exists() else ""
    missing = [s.name for s in SETTINGS if s.name not in text]
    assert not missing, f"README.md does not document: {', '.join(missing)}"


def test_a_bad_default_basemap_fails_at_start_up():
    with pytest.raises(BadParameter) as err:
        create_app({"TESTING": True, "DEFAULT_BASEMAP": "google"})
    assert err.value.name == "basemap"
