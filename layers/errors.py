"""The error family: each names what was wrong, and carries an HTTP status.

The web layer turns any :class:`MapError` into a 4xx response in one
handler; the CLIs print its message and exit non-zero.
"""

__all__ = [
    "MapError",
    "LayerNotFound",
    "FeatureNotFound",
    "LayerInvalid",
    "BadParameter",
    "ImportFailed",
    "NoPath",
    "TooLarge",
    "Overloaded",
    "ClientGone",
]


class MapError(Exception):
    """Base of every error this project raises on purpose."""

    status = 400

    def to_dict(self):
        """Return the JSON error body: ``{"error": message, ...details}``."""
        return {"error": str(self)}


class LayerNotFound(MapError):
    """No layer with this id in the catalogue."""

    status = 404

    def __init__(self, layer_id, known=()):
        self.layer_id = layer_id
        self.known = list(known)
        hint = f"; known layers: {', '.join(self.known)}" if self.known else ""
        super().__init__(f"unknown layer {layer_id!r}{hint}")

    def to_dict(self):
        return {"error": str(self), "layer": self.layer_id}


class FeatureNotFound(MapError):
    """No feature with this id in the layer."""

    status = 404

    def __init__(self, layer_id, feature_id):
        self.layer_id = layer_id
        self.feature_id = feature_id
        super().__init__(f"layer {layer_id!r} has no feature {feature_id!r}")

    def to_dict(self):
        return {"error": str(self), "layer": self.layer_id, "feature": self.feature_id}


class LayerInvalid(MapError):
    """A layer file breaks the schema: names the file, the feature and the problem."""

    status = 422

    def __init__(self, file, feature, problem):
        self.file = str(file)
        self.feature = feature
        self.problem = problem
        where = f"feature {feature!r}" if feature is not None else "layer"
        super().__init__(f"{self.file}: {where}: {problem}")

    def __reduce__(self):  # crosses process boundaries (layers.sandbox) intact
        return type(self), (self.file, self.feature, self.problem)

    def to_dict(self):
        return {"error": str(self), "file": self.file, "feature": self.feature, "problem": self.problem}


class TooLarge(LayerInvalid):
    """A file (or what it unpacks to) is larger than a size limit allows."""

    status = 413


class BadParameter(MapError):
    """A request or CLI parameter is malformed or out of range."""

    status = 400

    def __init__(self, name, why, suggestions=()):
        self.name = name
        self.why = why
        self.suggestions = list(suggestions)
        hint = f" (did you mean: {', '.join(self.suggestions)}?)" if self.suggestions else ""
        super().__init__(f"parameter {name!r}: {why}{hint}")

    def __reduce__(self):
        return type(self), (self.name, self.why, self.suggestions)

    def to_dict(self):
        body = {"error": str(self), "parameter": self.name}
        if self.suggestions:
            body["suggestions"] = self.suggestions
        return body


class NoPath(MapError):
    """No route exists between two places over the chosen modes."""

    status = 404


class ImportFailed(MapError):
    """The importer met raw data it cannot turn into a trustworthy layer."""

    status = 500

    def __init__(self, what, problem):
        self.what = what
        self.problem = problem
        super().__init__(f"{what}: {problem}")

    def __reduce__(self):
        return type(self), (self.what, self.problem)


class Overloaded(MapError):
    """Too busy to start this work now, or the work ran past its time budget: retry after ``retry_after_s``."""

    status = 503

    def __init__(self, message, *, retry_after_s=5):
        self.retry_after_s = int(retry_after_s)
        super().__init__(message)

    def to_dict(self):
        return {"error": str(self), "retry_after_s": self.retry_after_s}


class ClientGone(Overloaded):
    """The client closed its connection: the work it asked for is abandoned (nobody reads the answer)."""
