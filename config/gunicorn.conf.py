"""gunicorn settings for production: ``gunicorn -c config/gunicorn.conf.py wsgi:app``.

Sync workers, ``2 x cores + 1`` of them: a launch is short work for one CPU plus database round
trips, and on the 2-core machine ``make bench`` measured no gain from threads and none from fewer
processes (README, "Betrieb und Dimensionierung"). The spare workers keep the tool answering while
some requests wait on a platform (token endpoint, key set); nginx buffers requests and answers,
so a slow client never holds a worker. Overrides: ``GUNICORN_WORKERS``, ``GUNICORN_THREADS``
(more than 1 switches gunicorn to its threaded worker), ``GUNICORN_BIND``, ``GUNICORN_TIMEOUT``.

The access log shows the path without the query string (``%(U)s``): launch tokens travel as the
``lt`` query parameter and must never reach a log file."""

import os


def _cores() -> int:
    # The cores this process may run on (a container's or systemd's CPU set), not the machine's.
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _setting(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


bind = os.environ.get("GUNICORN_BIND", "").strip() or "127.0.0.1:8000"
worker_class = "sync"
workers = _setting("GUNICORN_WORKERS", 2 * _cores() + 1)
threads = _setting("GUNICORN_THREADS", 1)
timeout = _setting("GUNICORN_TIMEOUT", 60)
graceful_timeout = 30
# Workers' heartbeat files in memory, not on a container's overlay file system.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# gunicorn >= 25.1 opens a control socket in $HOME by default: several instances on one host
# would share it, and under systemd's ProtectHome the home is not writable.
control_socket_disable = True
accesslog = "-"
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'
