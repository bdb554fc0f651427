"""python -m layers.audit: the shipped data passes it; planted stale facts, mirrors, moved features and gaps fail it."""

import json
import shutil
from pathlib import Path

import pytest

from layers import audit, build
from layers.catalog import BUILTIN_LAYERS_DIR, DATA_DIR, read_layer_file
from layers.sources import NON_CANONICAL, dataset_of, derive_attribution, non_canonical_reason

REVIEW_DAY = "2026-12-01"  # the day the shipped data was checked: the audit is pinned to it, not to the clock


def test_shipped_data_passes_the_audit(capsys):
    assert audit.main(["--today", REVIEW_DAY]) == 0
    out = capsys.readouterr().out
    layers = [read_layer_file(p) for p in sorted(BUILTIN_LAYERS_DIR.glob("*.geojson"))]
    waived = len(audit.load_waivers())
    assert out.splitlines()[-1] == (f"0 open findings, {waived} waived, in {sum(len(lay.gdf) for lay in layers)} "
                                    f"features of {len(layers)} layers")
    assert "cpec:cpec_western_alignment  stale  status 'construction' last confirmed 2022-01-25" in out
    assert "[waived until 2027-06-30: no newer public status found on 2026-12-01" in out


def test_waivers_expire(capsys):
    assert audit.main(["--today", "2027-07-01"]) == 1  # the waivers have ended
    out = capsys.readouterr().out
    assert "cpec:cpec_central_alignment  stale  status 'proposed' last confirmed 2021-05-23" in out
    assert "ports:ormara_port  stale" in out


def _rewrite(path, edit):
    """Edit a copied layer file's features; write_layer records true integrity metadata (an honest edit)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    edit({f["properties"]["id"]: f for f in doc["features"]}, doc["metadata"])
    build.write_layer(doc, path)


@pytest.fixture
def planted(tmp_path):
    folder = tmp_path / "layers"
    shutil.copytree(BUILTIN_LAYERS_DIR, folder)

    def ports(feats, meta):
        feats["bandar_abbas_port"]["geometry"]["coordinates"] = [56.20424, 27.14083]  # back on the city harbour
        feats["karachi_port"]["properties"]["sources"].append(
            {"title": "Port of Karachi (a Wikipedia mirror)", "url": "https://wikimili.com/en/Port_of_Karachi"})

    def energy(feats, meta):
        props = feats["tarbela_5th_extension"]["properties"]
        props["as_of"] = "2021-08-12"
        props["facts"] = [{"field": "completion_target", "value": "2024", "as_of": "2021-08-12",
                           "source": props["status_history"][0]["source"]}]
        meta["attribution"] = "facts from the sources cited per feature"  # drops GEM, GeoNames, Wikipedia

    _rewrite(folder / "ports.geojson", ports)
    _rewrite(folder / "energy_projects.geojson", energy)
    return folder


def test_planted_problems_are_found_by_name(planted, capsys):
    assert audit.main(["--today", REVIEW_DAY, "--layers-dir", str(planted)]) == 1
    out = capsys.readouterr().out
    assert "ports:bandar_abbas_port  position  14.8 km from its reference point 27.0958N 56.0636E (tolerance 2 km" in out
    assert ("ports:karachi_port  source  https://wikimili.com/en/Port_of_Karachi is a copy of Wikipedia" in out)
    assert "energy_projects:tarbela_5th_extension  stale  status 'construction' last confirmed 2021-08-12" in out
    assert "energy_projects:tarbela_5th_extension  stale  newest 'completion_target' figure dates from 2021-08-12" in out
    assert ("energy_projects:dasu_hydropower  attribution  cites geonames" in out
            and "does not credit 'GeoNames (geonames.org), CC BY 4.0'" in out)


def test_json_report_and_thresholds(planted, capsys):
    assert audit.main(["--today", REVIEW_DAY, "--layers-dir", str(planted), "--format", "json",
                       "--max-age-days", "99999"]) == 1
    report = json.loads(capsys.readouterr().out)
    checks = {(f["layer"], f["feature"], f["check"]) for f in report["findings"] if not f["waived"]}
    assert ("energy_projects", "tarbela_5th_extension", "stale") not in checks  # a looser limit
    assert ("ports", "bandar_abbas_port", "position") in checks


def test_a_broken_layer_is_an_error_not_a_finding(tmp_path, capsys):
    folder = tmp_path / "layers"
    shutil.copytree(BUILTIN_LAYERS_DIR, folder)
    text = (folder / "tapi.geojson").read_text(encoding="utf-8").replace('"status":"construction"', '"status":"x"', 1)
    (folder / "tapi.geojson").write_text(text, encoding="utf-8")
    assert audit.main(["--today", REVIEW_DAY, "--layers-dir", str(folder)]) == 2
    assert "tapi.geojson" in capsys.readouterr().err


@pytest.mark.parametrize("url, why", [
    ("https://en.wikipedia-on-ipfs.org/wiki/Ormara", "an IPFS mirror of Wikipedia"),
    ("https://kiwix.lema.org/wikipedia_en_all_mini_2024-02/A/Gilgit", "a Kiwix copy of Wikipedia"),
    ("https://hessslslslsls.azureedge.net/wiki/Havelian,_Pakistan", "a copy of Wikipedia"),
    ("http://defence.pk/threads/govt-allocates-rs-25-billion.472293/", "a discussion forum"),
    ("https://en.wikipedia.com/wiki/Keti%20Bandar", "wikipedia.com, not the canonical wikipedia.org"),
    ("https://scribd.com/document/82113991/The-Pakistan-Steel-Mills", "a document-upload site"),
    ("https://en.wikipedia.org/wiki/Hasan_Abdal", None),
    ("https://www.gem.wiki/Pakistan_Steel_Mills", None),
    ("https://www.dawn.com/news/1875894/new-lahore-grid-station-to-start-work-next-month", None),
])
def test_non_canonical_rules(url, why):
    found = non_canonical_reason(url)
    assert (found is None) if why is None else found.startswith(why)
    assert all(isinstance(rule, tuple) and len(rule) == 2 for rule in NON_CANONICAL)  # one readable list


def test_attribution_is_derived_from_the_sources_used():
    ports = json.loads((BUILTIN_LAYERS_DIR / "ports.geojson").read_text(encoding="utf-8"))
    assert ports["metadata"]["attribution"] == derive_attribution(ports["features"])
    assert "GeoNames (geonames.org), CC BY 4.0" in ports["metadata"]["attribution"]  # was missing before 2026-12
    hvdc = json.loads((BUILTIN_LAYERS_DIR / "thar_lahore_hvdc.geojson").read_text(encoding="utf-8"))
    assert "Wikipedia" in hvdc["metadata"]["attribution"]
    assert dataset_of("https://www.gem.wiki/Thar_Block-I_power_station",
                      "Global Energy Monitor, Global Coal Plant Tracker (gem.wiki page): Thar Block I")[0] == "gem_coal"


def test_every_layer_credits_every_dataset_its_features_cite():
    for path in sorted(BUILTIN_LAYERS_DIR.glob("*.geojson")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        for feature in doc["features"]:
            assert audit._attribution(doc["metadata"]["id"], doc["metadata"], feature["properties"]) == [], path.stem


def test_every_raw_input_is_listed_with_licence_and_release():
    assert audit.raw_inputs_missing() == []
    text = (DATA_DIR / "SOURCES.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| `raw/")]
    assert len(rows) == len([p for p in (DATA_DIR / "raw").iterdir() if p.is_file()])
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == 4 and all(cells), row  # file, what, source and release, licence


def test_corrections_changelog_is_complete():
    import csv

    path = DATA_DIR / "corrections_2026-12.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert list(rows[0]) == ["layer", "feature", "field", "old", "new", "as_of", "source_title", "source_url",
                             "moved_km"]
    by = {(r["layer"], r["feature"], r["field"]): r for r in rows}
    assert by[("casa1000", "nowshera_converter", "position")]["moved_km"] == "16.4"
    assert by[("energy_projects", "dasu_hydropower", "position")]["moved_km"] == "9.3"
    assert by[("ports", "bandar_abbas_port", "position")]["moved_km"] == "14.8"
    assert by[("tapi", "tapi_trunk", "status")]["new"] == "construction"
    assert by[("iran_pakistan_pipeline", "iran_pakistan", "feature")]["new"].startswith("removed; now ")
    assert by[("energy_projects", "jamshoro_coal_power_plant", "feature")]["new"] == "added"
    for row in rows:
        if row["new"].startswith("removed"):
            continue
        assert row["source_url"].startswith("http") and row["as_of"], row
    assert Path(path).read_text(encoding="utf-8").count("\n") == len(rows) + 1
