"""Untrusted containers, opened safely: zip archives (zipped Shapefiles, KMZ) and XML (KML).

Zip members are read into memory one by one, never extracted by path: an
entry that is absolute, climbs out with ``..`` (zip-slip), is a symbolic
link or encrypted is refused by name, and decompression stops the moment
the archive unpacks to more than the limit (zip bombs), whatever its
headers claim. XML is parsed by defusedxml with DTDs forbidden before GDAL
sees it, so neither external entities (XXE: ``<!ENTITY x SYSTEM
"file:///etc/passwd">``) nor entity expansion (billion laughs) can happen.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
from pathlib import PurePosixPath

from layers.errors import LayerInvalid, TooLarge

__all__ = ["MAX_MEMBERS", "check_xml", "read_zip"]

MAX_MEMBERS = 500
_CHUNK = 1 << 20


def _member_problem(info):
    name = info.filename
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in re.split(r"[\\/]", name):
        return "climbs out of the archive with '..' (zip-slip)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    if info.flag_bits & 0x1:
        return "is encrypted"
    return None


def read_zip(data, name, *, max_unpacked_bytes):
    """``{member base name: bytes}`` of the files in a zip archive, every member checked first.

    Directories and macOS resource forks are skipped; two members with the
    same base name are refused (the archive is read flat).
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise LayerInvalid(name, None, f"not a readable zip archive: {exc}") from None
    if len(infos) > MAX_MEMBERS:
        raise LayerInvalid(name, None, f"the archive holds {len(infos)} entries; at most {MAX_MEMBERS} are read")
    for info in infos:
        problem = _member_problem(info)
        if problem:
            raise LayerInvalid(name, None, f"archive entry {info.filename!r} {problem}; refused")
    members, total = {}, 0
    limit_mb = max_unpacked_bytes / 2**20
    for info in infos:
        path = PurePosixPath(info.filename.replace("\\", "/"))
        if info.is_dir() or "__MACOSX" in path.parts or path.name.startswith("."):
            continue
        key = path.name.lower()
        if key in members:
            raise LayerInvalid(name, None, f"the archive holds two files named {path.name!r}")
        chunks = []
        try:
            with archive.open(info) as member:
                while chunk := member.read(_CHUNK):
                    total += len(chunk)
                    if total > max_unpacked_bytes:
                        raise TooLarge(name, None, f"the archive unpacks to more than {limit_mb:.3g} MB "
                                                   "(the unpacked-size limit); refused as a possible zip bomb")
                    chunks.append(chunk)
        except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError) as exc:
            raise LayerInvalid(name, None, f"archive entry {info.filename!r} is unreadable: {exc}") from None
        members[key] = (path.name, b"".join(chunks))
    return {original: content for original, content in members.values()}


def check_xml(data, name):
    """Refuse XML that declares a DTD or entities, is not well-formed, or is not KML; return None."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, iterparse

    root = None
    try:
        for event, element in iterparse(io.BytesIO(data), events=("start", "end"), forbid_dtd=True,
                                        forbid_entities=True, forbid_external=True):
            if root is None:
                root = element.tag
            if event == "end":
                element.clear()  # keep memory flat on large files
    except DefusedXmlException as exc:
        raise LayerInvalid(name, None, f"XML with a DTD or entity declarations is refused ({type(exc).__name__}): "
                                       "KML needs neither, and they enable XXE and entity-expansion attacks") from None
    except ParseError as exc:
        raise LayerInvalid(name, None, f"not well-formed XML: {exc}") from None
    if root is None or not str(root).lower().endswith("kml"):
        raise LayerInvalid(name, None, f"XML root element is {root!r}, not <kml>")
