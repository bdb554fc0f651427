"""Layer file integrity: the feature count and a content hash, written by the build and checked at load.

A file cut short can still be valid JSON (a lost tail of features, a
copy that stopped early): the metadata then disagrees with what is in
the file, and :func:`check_integrity` refuses it by name. Layers written
before these fields existed (user layers from elsewhere) carry neither
and are not checked.
"""

import hashlib
import json

from layers.errors import LayerInvalid

__all__ = ["feature_lines", "content_hash", "integrity_metadata", "check_integrity"]


def feature_lines(features):
    """Each feature as one canonical JSON line (the layer file's own feature lines)."""
    return [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]


def content_hash(lines):
    """``sha256:<hex>`` of the feature lines joined by newlines."""
    return "sha256:" + hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def integrity_metadata(lines):
    """The metadata entries the build records: ``feature_count`` and ``content_sha256``."""
    return {"feature_count": len(lines), "content_sha256": content_hash(lines)}


def check_integrity(meta, features, file):
    """Raise :class:`LayerInvalid` when ``features`` are not what ``meta`` recorded (if it recorded anything)."""
    count = meta.get("feature_count")
    if count is not None and count != len(features):
        raise LayerInvalid(file, None, f"metadata.feature_count is {count} but the file holds {len(features)} "
                                       "features (truncated or edited by hand?); rebuild it")
    expected = meta.get("content_sha256")
    if expected is not None and content_hash(feature_lines(features)) != expected:
        raise LayerInvalid(file, None, "feature content does not match metadata.content_sha256 "
                                       "(truncated or edited by hand?); rebuild it")
