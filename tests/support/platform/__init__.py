"""One test platform for the whole suite, behaving like Moodle's and ILIAS' own code.

``Platform(tool_url=…, flavour="moodle" | "ilias" | "generic")`` runs a Flask app on a loopback
port with: the OIDC login initiation and authentication endpoint (resource link and Deep Linking
launches, auto-posted id_token forms), its own RSA key and JWKS (:meth:`Platform.rotate_key`),
the token endpoint (client assertion checked like Moodle's token.php or ILIAS' ltitoken.php),
AGS as Moodle's gradebookservices or ILIAS' grade service, NRPS with pagination quirks, the Deep
Linking return endpoint, fault knobs and recorders. See platform.py for the knobs, and
``variants.py`` for the launch variants of the 1EdTech certification.

Mapping from the three old fakes (kept until their users are switched):

- tests/support/lti_platform.py ``TestPlatform(tool_url=…)`` → ``Platform(tool_url=…)``
  (generic flavour); ``launch(session, user, roles, resource_link_id, custom,
  resource_link_title=…, with_course=…)`` keeps its signature (a ``Person`` or the old user
  dict); ``register_with(app)``, ``last_launch_form``, ``auth_login_url``, ``auth_token_url``,
  ``key_set_url``, ``tool_*_url`` unchanged; ``requests`` (paths) → ``paths`` (``requests`` now
  lists service requests as (method, path), as AgsPlatform did); ``Course`` → ``add_course()``
  / ``platform.course``; ``bearer_scopes()`` unchanged; ``requests.count("/jwks")`` →
  ``jwks_served`` (the generic flavour keeps the paths ``/auth``, ``/token``, ``/jwks``);
  ``read_form``/``submit_form`` → ``browser.read_form``/``browser.submit_form``;
  ``platform_key(name)`` → ``keys.signing_key(name)``.
- tests/gradebook/ags_platform.py ``AgsPlatform(tool_jwks_url=…)`` →
  ``Platform(tool_jwks_url=…, flavour="moodle")`` (starts at once; ``with`` still works);
  ``client_id``, ``course_id`` → ``course.id``, ``type_id``, ``page_size``, ``score_status``,
  ``allowed_scopes`` (or ``grade_sync="grade_sync_only"``), ``score_delay``, ``timeout_sleep``,
  ``retry_after``, ``non_gradable``, ``fail_next``, ``add_line_item``, ``item_id``, ``grade``,
  ``accepted``, ``line_items``, ``grades``, ``score_posts``, ``tokens``, ``token_requests``,
  ``jwks_fetches``, ``requests``, ``faults``, ``faults_served``, ``in_flight``, ``overlaps``,
  ``lock``, ``token_url``, ``lineitems_url``, ``lineitem_url(id)`` unchanged; the constants
  ``ALL_SCOPES``, ``GRADE_SYNC_ONLY``, ``SCOPE_*`` are in ``vocab``. Differences: scores whose
  ``scoreGiven`` is not FullyGraded are stored without a grade (``final_grade`` None), as Moodle
  does; a missing ``type_id`` is accepted (Moodle 3.7+ finds the type by the token).
- tests/lotse/dl_platform.py ``DLPlatform(tool_url=…, nrps=…, members=…, page_size=…,
  nrps_status=…)`` → ``Platform(tool_url=…, flavour="generic", …)`` with the same knobs;
  ``launch(…, deep_linking=True, data=…)``, ``received``, ``dl_errors``, ``nrps_requests``,
  ``token_requests``, ``nrps_url``, ``register_with_tool()`` unchanged; ``context_id`` →
  ``course.id``; ``/dl/return`` → ``dl_return_url``; ``form_of``, ``submit``, ``token_of`` →
  ``browser.form_of``, ``browser.submit``, ``browser.token_of``. Differences: launches carry
  the AGS claim unless ``grade_sync="off"``; the deployment id is "1" (``deployment_id="7"``
  restores the old one); the login initiation is a GET redirect, pylti1p3's cookie check page
  is followed as its script does (:func:`browser.follow_cookie_check`).
"""

from .browser import follow_cookie_check, form_of, read_form, submit, submit_form, token_of
from .model import DEFAULT, DROP, Course, Link, Member, Person
from .platform import (
    COLUMN_MANAGEMENT,
    ENDPOINTS,
    FLAVOURS,
    GENERIC,
    GRADE_SYNC,
    GRADE_SYNC_OFF,
    ILIAS,
    MOODLE,
    Platform,
)

__all__ = [
    "COLUMN_MANAGEMENT",
    "DEFAULT",
    "DROP",
    "ENDPOINTS",
    "FLAVOURS",
    "GENERIC",
    "GRADE_SYNC",
    "GRADE_SYNC_OFF",
    "ILIAS",
    "MOODLE",
    "Course",
    "Link",
    "Member",
    "Person",
    "Platform",
    "follow_cookie_check",
    "form_of",
    "read_form",
    "submit",
    "submit_form",
    "token_of",
]
