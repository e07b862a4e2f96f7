"""gunicorn settings for production: ``gunicorn -c config/gunicorn.conf.py wsgi:app``.

The access log shows the path without the query string (``%(U)s``): launch tokens travel as the
``lt`` query parameter and must never reach a log file."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
# A platform may call back (JWKS, token endpoint) while one of our requests waits on it.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = 60
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
