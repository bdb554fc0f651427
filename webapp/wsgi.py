"""The WSGI entry point of production servers: ``webapp.wsgi:application`` (gunicorn, deploy/gunicorn.conf.py).

Builds the app from the ``MAPSVC_*`` environment and computes every
statistic and the overview before the first request; the statistics of big
layers are left in ``warm_up_later`` for each worker to compute after the fork
(deploy/gunicorn.conf.py ``post_fork``), never in a thread of the master.
"""

from webapp import create_app
from webapp.__main__ import warm_up

application = create_app()
if application.debug or application.testing:
    raise RuntimeError("refusing to serve a DEBUG or TESTING app in production")
warm_up_later = warm_up(application, background=False)
