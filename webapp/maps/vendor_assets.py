"""Rebuild ``webapp/static/vendor`` from pinned npm packages.

Run ``python -m webapp.maps.vendor_assets`` to re-download every package below
with ``npm pack``, check each tarball against the sha512 integrity pinned
here, and rewrite the vendor folder and its ``MANIFEST.json``. The output
depends only on the pins, so running it twice gives the same tree.

``python -m webapp.maps.vendor_assets --check`` needs no network: it compares the
committed files with the manifest's sha256 sums.

The committed files are what the app serves; this script exists so that the
tree can be reproduced, audited and upgraded (change a pin, rerun, commit).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from webapp.maps.assets import VENDOR_DIR

__all__ = [
    "GENERATED",
    "MANIFEST_NAME",
    "PACKAGES",
    "VENDOR_DIR",
    "IntegrityError",
    "Package",
    "build",
    "main",
    "rotate_css",
    "verify",
]

MANIFEST_NAME = "MANIFEST.json"


class IntegrityError(RuntimeError):
    """A downloaded tarball does not match its pinned integrity hash."""


@dataclass(frozen=True)
class Package:
    """One pinned npm package and the files of it that we keep.

    ``files`` are paths inside the tarball's ``package/`` folder; they keep
    their relative layout so that CSS ``url(...)`` references still resolve.
    """

    name: str
    version: str
    integrity: str
    license: str
    files: tuple[str, ...]
    note: str = ""

    @property
    def folder(self) -> str:
        """Folder under ``vendor/``: the unscoped name plus the version."""
        return f"{self.name.rsplit('/', 1)[-1]}-{self.version}"

    @property
    def spec(self) -> str:
        """The ``name@version`` string given to ``npm pack``."""
        return f"{self.name}@{self.version}"


_FA_FONTS = tuple(
    f"webfonts/{stem}.{ext}"
    for stem in ("fa-brands-400", "fa-regular-400", "fa-solid-900", "fa-v4compatibility")
    for ext in ("ttf", "woff2")
)
_GLYPH_FONTS = tuple(
    f"dist/fonts/glyphicons-halflings-regular.{ext}"
    for ext in ("eot", "svg", "ttf", "woff", "woff2")
)

# Versions follow folium 0.20.0's own CDN URLs (folium.py, plugins/*.py),
# except where npm has no such release: see each ``note``.
PACKAGES: tuple[Package, ...] = (
    Package(
        "leaflet", "1.9.3",
        "sha512-iB2cR9vAkDOu5l3HAay2obcUHZ7xwUBBjph8+PGtmW/2lYhbLizWtG7nTeYht36WfOslixQF9D/uSIzhZgGMfQ==",
        "BSD-2-Clause",
        ("LICENSE", "dist/leaflet.js", "dist/leaflet.css", "dist/images/layers.png",
         "dist/images/layers-2x.png", "dist/images/marker-icon.png",
         "dist/images/marker-icon-2x.png", "dist/images/marker-shadow.png"),
    ),
    Package(
        "jquery", "3.7.1",
        "sha512-m4avr8yL8kmFN8psrbFFFmB/If14iN5o9nw/NgnnM+kybDJpRsAynV2BsfpTYrTRysYUdADVD7CkUUizgkpLfg==",
        "MIT",
        ("LICENSE.txt", "dist/jquery.min.js"),
    ),
    Package(
        "bootstrap", "5.2.2",
        "sha512-dEtzMTV71n6Fhmbg4fYJzQsw1N29hJKO1js5ackCgIpDcGid2ETMGC6zwSYw09v05Y+oRdQ9loC54zB1La3hHQ==",
        "MIT",
        ("LICENSE", "dist/css/bootstrap.min.css", "dist/js/bootstrap.bundle.min.js"),
    ),
    Package(
        "@neos21/bootstrap3-glyphicons", "1.0.7",
        "sha512-JfvPdx8W2+kVhW+8fj2kIJNS0tesU21hrWF7TBHtYDHpVfcFGU/yn3Eh02sJiNfZABkutP3oU0Ftw8LGF43Jng==",
        "MIT",
        ("LICENSE", "dist/css/bootstrap3-glyphicons.min.css") + _GLYPH_FONTS,
        note="folium links Bootstrap 3.0.0's standalone bootstrap-glyphicons.css, "
        "which npm never carried; this is the glyphicons-only part of Bootstrap "
        "3.3.7 (same class names and font), without the rest of Bootstrap 3, "
        "which would clash with Bootstrap 5.",
    ),
    Package(
        "@fortawesome/fontawesome-free", "6.2.0",
        "sha512-CNR7qRIfCwWHNN7FnKUniva94edPdyQzil/zCwk3v6k4R6rR2Fr8i4s3PM7n/lyfPA6Zfko9z5WDzFxG9SW1uQ==",
        "CC-BY-4.0 AND OFL-1.1 AND MIT",
        ("LICENSE.txt", "css/all.min.css") + _FA_FONTS,
        note="all.min.css plus every webfont it references (the whole webfonts/ folder).",
    ),
    Package(
        "leaflet.awesome-markers", "2.0.5",
        "sha512-Ne/xDjkGyaujwNVVkv2tyXQUV0ZW7gZ0Mo0FuQY4jp2qWrvXi0hwDBvmZyF/8YOvybyMabTMM/mFWCTd1jZIQA==",
        "MIT",
        ("LICENSE", "dist/leaflet.awesome-markers.js", "dist/leaflet.awesome-markers.css",
         "dist/images/markers-soft.png", "dist/images/markers-soft@2x.png",
         "dist/images/markers-shadow.png", "dist/images/markers-shadow@2x.png"),
        note="folium uses 2.0.2, which npm lacks under this name; 2.0.5 has the same "
        "JS byte for byte and adds square markers to the CSS. package.json says "
        "ISC but the LICENSE file shipped is L. Voogdt's MIT text, recorded here.",
    ),
    Package(
        "leaflet.fullscreen", "3.0.0",
        "sha512-81wWSUXz1ZtdneR0v5eJDWXUSx+Zo5J50WXWeydG/UcILfIEAgz/iOjZSi3p00Z9MJ/FC/P5i3CgdYuEAos0yQ==",
        "MIT",
        ("LICENSE", "Control.FullScreen.js", "Control.FullScreen.css", "icon-fullscreen.svg"),
    ),
    Package(
        "leaflet-minimap", "3.6.1",
        "sha512-6px8f6cfv1rKB6ACpL6bbUFGxipZOq4KsntJgBj9nOcW1RYa5+xFp8emOZwks9X+VtVVsQEwWwfgT1kTTL/LzA==",
        "BSD-2-Clause",
        ("LICENSE.txt", "dist/Control.MiniMap.min.js", "dist/Control.MiniMap.min.css",
         "dist/images/toggle.png", "dist/images/toggle.svg"),
    ),
    Package(
        "axe-core", "4.10.3",
        "sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/PbZhideTcEg==",
        "MPL-2.0",
        ("LICENSE", "LICENSE-3RD-PARTY.txt", "axe.min.js"),
        note="Accessibility checker for the browser tests (tests/browser inject it); no page loads it.",
    ),
    Package(
        "leaflet-mouse-position", "1.2.0",
        "sha512-iKS25GZDRdoKZn0O5sjTyNcBYrq/wenLiOidj4jJ5iD4SfhyqVj+bJHgBwuMxOlf8Vc/9B1ZPlqYV4QA97nyFg==",
        "MIT",
        ("MIT-LICENCE.txt", "src/L.Control.MousePosition.js", "src/L.Control.MousePosition.css"),
        note="npm packaging of ardhi/Leaflet.MousePosition, which folium loads "
        "unpinned from GitHub; same L.Control.MousePosition options.",
    ),
    Package(
        "leaflet.vectorgrid", "1.3.0",
        "sha512-kWmj1pKM+MVdo/7Mg5zsB3YrGZvo/uIuiANV9MvWUFOG+Y2xAJzrteDhoIcCgTjHSSRJ36xdeGdIQVhuWjnCZw==",
        "Beerware (bundled pbf, vector-tile: BSD-3-Clause; geojson-vt: ISC)",
        ("README.md", "package.json", "dist/Leaflet.VectorGrid.bundled.min.js"),
        note="Draws the layers' MVT tiles on the web map. The package ships no LICENSE file: its licence "
        "(the Beer-ware notice) and those of the bundled libraries are in README.md, kept here.",
    ),
    Package(
        "swagger-ui-dist", "5.35.0",
        "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==",
        "Apache-2.0",
        ("LICENSE", "NOTICE", "swagger-ui-bundle.js", "swagger-ui-bundle.js.LICENSE.txt", "swagger-ui.css"),
        note="The human-readable API page (/api) over /api/openapi.json.",
    ),
)


def rotate_css(max_angle: int = 359) -> str:
    """Return CSS rotating Font Awesome icons by ``fa-rotate-<deg>`` classes.

    folium's ``Icon(angle=...)`` adds ``fa-rotate-<angle>`` and loads a CSS
    file from folium's GitHub tree for it; npm has no package with that
    file, so we generate the equivalent rules (0-359 degrees) ourselves.
    """
    rules = (
        f".fa-rotate-{deg}{{-webkit-transform:rotate({deg}deg);transform:rotate({deg}deg)}}"
        for deg in range(max_angle + 1)
    )
    header = "/* Generated by webapp/maps/vendor_assets.py: classes used by folium.Icon(angle=...). */"
    return "\n".join((header, *rules)) + "\n"


# Files this project writes itself, keyed by path under vendor/.
GENERATED: dict[str, dict] = {
    "folium-awesome-rotate-0.20.0": {
        "files": {"leaflet.awesome.rotate.css": rotate_css},
        "license": "NOASSERTION",
        "note": "Generated, not downloaded: stands in for folium 0.20.0's "
        "leaflet.awesome.rotate.min.css, which only exists in folium's GitHub tree.",
    },
}


def _sri_sha512(data: bytes) -> str:
    """Subresource-integrity string (the format npm's dist.integrity uses)."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def _npm_pack(pkg: Package, dest: Path) -> bytes:
    """Download ``pkg`` with ``npm pack`` into ``dest`` and return the tarball bytes."""
    out = subprocess.run(
        ["npm", "pack", pkg.spec, "--json", "--silent", "--pack-destination", str(dest)],
        check=True, capture_output=True, text=True,
    ).stdout
    filename = json.loads(out)[0]["filename"]
    # npm names scoped tarballs "scope-name-x.y.z.tgz"; trust its answer, not a guess.
    return (dest / filename).read_bytes()


def _extract(pkg: Package, tarball: bytes, out_dir: Path) -> None:
    """Write ``pkg.files`` from the tarball into ``out_dir/<pkg.folder>``."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "pkg.tgz"
        archive.write_bytes(tarball)
        with tarfile.open(archive) as tar:
            for rel in pkg.files:
                member = tar.extractfile(f"package/{rel}")
                if member is None:
                    raise FileNotFoundError(f"{pkg.spec}: no file package/{rel} in tarball")
                target = out_dir / pkg.folder / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(member.read())


def _file_entries(folder: Path) -> list[dict]:
    """Manifest rows (path, bytes, sha256) for every file under ``folder``."""
    return [
        {
            "path": p.relative_to(folder).as_posix(),
            "bytes": p.stat().st_size,
            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
        }
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    ]


def _manifest(out_dir: Path) -> dict:
    """Describe what ``build`` wrote: one entry per package folder."""
    entries = [
        {
            "package": pkg.name,
            "version": pkg.version,
            "folder": pkg.folder,
            "license": pkg.license,
            "integrity": pkg.integrity,
            "source": "npm",
            "note": pkg.note,
            "files": _file_entries(out_dir / pkg.folder),
        }
        for pkg in PACKAGES
    ]
    for folder, spec in GENERATED.items():
        entries.append({
            "package": folder.rsplit("-", 1)[0],
            "version": folder.rsplit("-", 1)[1],
            "folder": folder,
            "license": spec["license"],
            "integrity": None,
            "source": "generated by webapp/maps/vendor_assets.py",
            "note": spec["note"],
            "files": _file_entries(out_dir / folder),
        })
    return {"generated_by": "python -m webapp.maps.vendor_assets", "packages": entries}


def build(vendor_dir: Path = VENDOR_DIR) -> dict:
    """Download, verify and write every pinned package into ``vendor_dir``.

    The new tree is staged in a temporary folder and only swapped in once
    every download has passed its integrity check, so a failure leaves the
    committed assets untouched. Returns the manifest written.
    """
    with tempfile.TemporaryDirectory() as tmp:
        downloads, staging = Path(tmp, "npm"), Path(tmp, "vendor")
        downloads.mkdir()
        staging.mkdir()
        for pkg in PACKAGES:
            tarball = _npm_pack(pkg, downloads)
            got = _sri_sha512(tarball)
            if got != pkg.integrity:
                raise IntegrityError(f"{pkg.spec}: expected {pkg.integrity}, got {got}")
            _extract(pkg, tarball, staging)
        for folder, spec in GENERATED.items():
            for rel, make in spec["files"].items():
                (staging / folder).mkdir(parents=True, exist_ok=True)
                (staging / folder / rel).write_text(make(), encoding="utf-8")
        manifest = _manifest(staging)
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        (staging / MANIFEST_NAME).write_text(text, encoding="utf-8")
        if vendor_dir.exists():
            shutil.rmtree(vendor_dir)
        shutil.copytree(staging, vendor_dir)
    return manifest


def verify(vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """Compare ``vendor_dir`` with its manifest, offline; return the problems found."""
    manifest = json.loads((vendor_dir / MANIFEST_NAME).read_text(encoding="utf-8"))
    problems, listed = [], {MANIFEST_NAME}
    for entry in manifest["packages"]:
        for row in entry["files"]:
            rel = f"{entry['folder']}/{row['path']}"
            listed.add(rel)
            path = vendor_dir / rel
            if not path.is_file():
                problems.append(f"missing: {rel}")
            elif hashlib.sha256(path.read_bytes()).hexdigest() != row["sha256"]:
                problems.append(f"changed: {rel}")
    on_disk = {p.relative_to(vendor_dir).as_posix() for p in vendor_dir.rglob("*") if p.is_file()}
    problems += [f"not in manifest: {rel}" for rel in sorted(on_disk - listed)]
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m webapp.maps.vendor_assets", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="verify the committed tree, no download")
    parser.add_argument("--vendor-dir", type=Path, default=VENDOR_DIR)
    args = parser.parse_args(argv)
    if args.check:
        problems = verify(args.vendor_dir)
        print("\n".join(problems) or "vendor tree matches manifest")
        return 1 if problems else 0
    manifest = build(args.vendor_dir)
    total = sum(row["bytes"] for e in manifest["packages"] for row in e["files"])
    print(f"wrote {len(manifest['packages'])} packages, {total / 1024:.0f} KB, to {args.vendor_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
