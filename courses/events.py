"""Domain events: who wants to know when a Navigator's progress in a course module changed.

Listeners run synchronously, inside the transaction of the change and before its commit, so that
what they write (e.g. the gradebook sync's outbox row) is committed together with the change or not
at all. A listener must therefore only touch the database session, never the network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

ProgressListener = Callable[[int, int], None]
"""Called as ``listener(user_pk, course_module_pk)``."""

_listeners: list[ProgressListener] = []


def register(listener: ProgressListener) -> ProgressListener:
    """Call ``listener`` on every :func:`progress_changed`. Registering twice is a no-op, so an
    ``init_app`` may run once per application. Returns the listener (usable as a decorator)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def unregister(listener: ProgressListener) -> None:
    """Stop calling ``listener`` (tests)."""
    if listener in _listeners:
        _listeners.remove(listener)


def progress_changed(user_pk: int, course_module_pk: int) -> None:
    """Announce that a unit state of ``user_pk`` in ``course_module_pk`` changed. Call it after
    the change is flushed and before the commit. Without listeners it does nothing."""
    log.debug("progress changed: user=%s course_module=%s", user_pk, course_module_pk)
    for listener in list(_listeners):
        listener(user_pk, course_module_pk)
