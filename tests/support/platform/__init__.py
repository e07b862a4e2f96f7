"""One test platform for the whole suite, behaving like Moodle's and ILIAS' own code.

``Platform(tool_url=…, flavour="moodle" | "ilias" | "generic")`` runs a Flask app on a loopback
port with: the OIDC login initiation and authentication endpoint (resource link and Deep Linking
launches, auto-posted id_token forms), its own RSA key and JWKS (:meth:`Platform.rotate_key`),
the token endpoint (client assertion checked like Moodle's token.php or ILIAS' ltitoken.php),
AGS as Moodle's gradebookservices or ILIAS' grade service, NRPS with pagination quirks, the Deep
Linking return endpoint, LTI Dynamic Registration (OpenID configuration, start page,
registration endpoint), fault knobs and recorders. See platform.py for the knobs, and
``variants.py`` for the launch variants of the 1EdTech certification.

Every test that needs a platform over HTTP uses this one (it replaced the three fakes the suite
had: a launch-only platform on lti1p3platform, an AGS-only Moodle, a Deep Linking/NRPS one, and
the Dynamic Registration platforms built on the first). Where to start:

- Launches: ``Platform(tool_url=…)``, ``register_with(app)`` or ``register_with_tool()``, then
  ``launch(session, person, roles, resource_link_id, custom, with_course=…,
  resource_link_title=…, deep_linking=…, data=…, names=…, email=…, ags=…, nrps=…, claims=…)``
  with a :class:`Person` or a user dict (``{"sub": …, "name": …}``). Recorders: ``paths``
  (every path asked for), ``requests`` (service requests as (method, path)), ``jwks_served``,
  ``last_launch_form``, ``last_claims``; ``bearer_scopes()`` inside a request context of
  ``app``. Generic launches carry the AGS claim unless ``grade_sync="off"``.
- Grades (no launch needed): ``Platform(tool_jwks_url=…, flavour="moodle")``; ``add_link``
  (an activity, ``graded=True`` with its own line item), ``add_line_item``, ``lineitem_url``,
  ``lineitems_url``, ``grade``, ``final_grade``, ``accepted``, ``score_posts``, ``line_items``,
  ``tokens``, ``token_requests``, ``jwks_fetches``; knobs ``allowed_scopes`` or
  ``grade_sync``, ``score_status``, ``page_size``, ``pagination``, ``non_gradable``,
  ``score_delay``, ``fail_next(n, kind)``, ``retry_after``, ``timeout_sleep``. Constants
  ``ALL_SCOPES``, ``GRADE_SYNC_ONLY`` and ``SCOPE_*`` are in ``vocab``. As Moodle does, a score
  that is not FullyGraded is stored without a grade (``final_grade`` None) and a missing
  ``type_id`` is accepted.
- Deep Linking and NRPS: ``received``, ``dl_errors``, ``dl_return_url``, ``nrps_url``,
  ``nrps_requests``; knobs ``nrps``, ``members`` (raw members instead of the enrolments),
  ``nrps_status``; the pages in between with :func:`form_of`, :func:`submit`,
  :func:`token_of` (the tool's launch token in a URL, also ``tests.factories.token_of``).
- Dynamic Registration (``registration.py``): ``start_url(registration_url)`` is where the
  admin's browser goes; ``configuration_url``, ``registration_requests``,
  ``configuration_requests``, ``registration_received``, ``registered``; knobs
  ``configuration_overrides``, ``registration_status``, ``next_client_id``,
  ``hold_registration``, ``next_deployment_id``; a Moodle registration stays pending until
  ``activate()``. After it, launches use what the tool registered.
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
