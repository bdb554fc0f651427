"""Which engine computes the analytics (``ANALYTICS_ENGINE``), and the web app's calls through it.

'local' measures in the server process; 'dask' hands big layers to
:class:`geo.parallel.DaskEngine` (a dask.distributed cluster: the one at
``DASK_SCHEDULER``, else a LocalCluster started on the first big
computation, never at start-up). Both give the same figures, so the memoised
results are shared whichever computed them.
"""

from __future__ import annotations

from flask import current_app, has_app_context

from geo.corridor_report import corridor_report as _corridor_report
from geo.stats import layer_stats as _layer_stats

__all__ = ["corridor_report", "engine", "init_app", "layer_stats"]


def init_app(app):
    """Build the engine the settings ask for (dask is imported only when it is asked for)."""
    if app.config["ANALYTICS_ENGINE"] == "dask":
        from geo.parallel import engine_from_settings

        app.extensions["analytics"] = engine_from_settings(app.config)
    else:
        app.extensions["analytics"] = None  # geo's own single-process path


def engine():
    """The app's analytics engine (None: this process, also outside an app, e.g. maps built by a script)."""
    return current_app.extensions.get("analytics") if has_app_context() else None


def layer_stats(catalog, layer_id):
    """:func:`geo.stats.layer_stats` on the app's engine."""
    return _layer_stats(catalog, layer_id, engine=engine())


def corridor_report(catalog, layer_id, feature_id, width_km, **options):
    """:func:`geo.corridor_report.corridor_report` on the app's engine."""
    return _corridor_report(catalog, layer_id, feature_id, width_km, engine=engine(), **options)
