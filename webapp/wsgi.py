"""The WSGI entry point of production servers: ``webapp.wsgi:application`` (gunicorn, deploy/gunicorn.conf.py).

Builds the app from the ``MAPSVC_*`` environment and computes every
statistic and the overview before the first request.
"""

from webapp import create_app
from webapp.__main__ import warm_up

application = create_app()
if application.debug or application.testing:
    raise RuntimeError("refusing to serve a DEBUG or TESTING app in production")
warm_up(application)
