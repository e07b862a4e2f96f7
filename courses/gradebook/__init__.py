"""Gradebook sync to the LMS through AGS, with no grade ever lost: an outbox written in the
transaction of every progress change, and workers that deliver it.

How it works
------------
* **One outbox row per (column, Navigator)**, updated in place (a column is a placed module,
  or the Praxisprojekt column of a course, :func:`.outbox.enqueue_project_score`). A change of
  the score state writes the new score into the row, bumps ``version``, gives it a new
  timestamp and makes it ``pending`` again. So only the newest state is ever sent, and nothing
  is sent for states that were already replaced before a worker got to them.
  :func:`.outbox.enqueue_score` flushes; the request commits.
* **Timestamps** are whole seconds, strictly increasing per row: Moodle compares them at second
  resolution and refuses a score not newer than the stored one with 409 (lti-notes §6). A 409 to
  a row's own timestamp therefore means "already there", and a re-send is harmless. (A grade a
  teacher set in Moodle later than our state is also answered 409: the teacher's grade stays.)
* **Claiming**: a worker claims due rows by setting ``claimed_by`` and a lease ``claimed_until``.
  PostgreSQL: one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING id``.
  SQLite: a conditional ``UPDATE … WHERE id = ? AND <still claimable>`` per row, checked by
  rowcount. A killed worker's rows come back when the lease ends. Before each row is sent the
  claim is checked, and the lease renewed once a third of it has passed, so a slow batch never
  lets a row be sent by two workers at once; a new version of a row stays with the worker that
  holds it until it lets go.
* **Marking** delivered or failed is conditional on ``version`` and ``claimed_by``: a row whose
  state changed while it was being sent stays pending and is sent again.
* **Failures**: timeouts, connection errors, 5xx and 429 are retried with exponential backoff and
  "equal jitter" (delay = d/2 + random(0, d/2), d = base·2^(attempt−1) capped; 429 waits at
  least its Retry-After, up to a day) up to ``GRADEBOOK_MAX_ATTEMPTS``, then the row is
  ``failed``. A 401 has already been retried once with a new token by
  :func:`lti_tool.services.service_request`. Any
  other 4xx (Moodle's "400 Incorrect score received" for a user who is not gradable) fails the
  row at once. ``last_error`` keeps the platform's message, with the user's ``sub`` blanked out.
  After a transport failure the rest of that platform's rows in the batch wait too.

Settings (``app.config``, all optional): ``GRADEBOOK_BACKGROUND_WORKER`` (False),
``GRADEBOOK_MAX_ATTEMPTS`` (12), ``GRADEBOOK_RETRY_BASE_SECONDS`` (15),
``GRADEBOOK_RETRY_MAX_SECONDS`` (1800), ``GRADEBOOK_LEASE_SECONDS`` (120),
``GRADEBOOK_BATCH_SIZE`` (50), ``GRADEBOOK_POLL_SECONDS`` (2).
"""

from courses.models import GradebookOutbox

from .outbox import enqueue_project_score, enqueue_score, requeue, requeue_all, status
from .score import ScoreState, build_score
from .worker import run_worker, start_background_worker, sync_grade

__all__ = [
    "GradebookOutbox",
    "ScoreState",
    "build_score",
    "enqueue_project_score",
    "enqueue_score",
    "requeue",
    "requeue_all",
    "run_worker",
    "start_background_worker",
    "status",
    "sync_grade",
]
