"""The one interface through which the domain asks a platform for things: where a placement's
scores go, sending a score, changing or deleting a column, the course's members, and the signed
Deep Linking answer. Platform rules (which line item a score goes to, what Moodle and ILIAS
accept) live here, next to the spec rule they bend; the domain never sees AGS JSON or claims."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..context import LaunchContext
from ..extensions import db
from ..models import Deployment, Launch, LtiContext, LtiResourceLink, Registration
from ..vocab import ActivityProgress, GradingProgress, Scope
from .ags import AgsClient
from .deep_linking import DeepLinkingError, LineItem, ResourceLinkItem, response_jwt
from .http import ServiceError, access_token
from .nrps import Member, fetch_members

log = logging.getLogger(__name__)

#: The ``tag`` of line items this tool creates; with ``resourceId`` it finds them again.
LINEITEM_TAG = "lotsen-lti"
#: ``scoreMaximum`` of line items this tool creates when the caller names none.
DEFAULT_SCORE_MAXIMUM = 100.0
#: Answers to a line item POST that mean "this platform does not create columns for tools":
#: Moodle's "grade sync only" answers 401 even with a fresh token (lti-notes §2); ILIAS 8/9
#: answer the container with GET only, so a POST gets 405 (lti-notes §3); others say 403, 404
#: or 501. Remembered per registration, so the next placement does not ask again.
CREATE_REFUSED = frozenset({401, 403, 404, 405, 501})

__all__ = [
    "LINEITEM_TAG",
    "CoursePlatform",
    "DeepLinkingError",
    "LineItem",
    "Member",
    "ResourceLinkItem",
    "Score",
    "ServiceError",
    "deep_linking_answer",
]


@dataclass(frozen=True, slots=True)
class Score:
    """A score as the domain states it; :meth:`to_json` makes the AGS body of it."""

    user_sub: str
    activity_progress: ActivityProgress
    grading_progress: GradingProgress
    score_given: float | None = None
    score_maximum: float | None = None

    def to_json(self, timestamp: datetime | None = None) -> dict[str, Any]:
        """The AGS 2.0 §3.4 score body (lti-notes §6), with ``timestamp`` if given."""
        body: dict[str, Any] = {
            "userId": self.user_sub,
            "activityProgress": ActivityProgress(self.activity_progress).value,
            "gradingProgress": GradingProgress(self.grading_progress).value,
        }
        if self.score_given is not None:
            # scoreGiven only together with scoreMaximum (Moodle refuses it alone).
            body["scoreGiven"] = float(self.score_given)
            body["scoreMaximum"] = float(self.score_maximum or DEFAULT_SCORE_MAXIMUM)
        if timestamp is not None:
            if timestamp.utcoffset() is None:
                # Moodle and ILIAS read a bare timestamp as their server's local time (§6).
                raise ValueError("Der Zeitstempel eines Scores braucht eine Zeitzone.")
            body["timestamp"] = timestamp.isoformat()
        return body


def _snapshot(registration: Registration) -> Registration:
    # A plain copy of what service calls read, unaffected by the commits that follow (the
    # token cache and the outbox commit while a batch is sent).
    return Registration(
        id=registration.id,
        client_id=registration.client_id,
        auth_token_url=registration.auth_token_url,
        audience=registration.audience,
    )


class CoursePlatform:
    """The services of the platform that hosts one LMS course, as the newest launch there
    granted them."""

    def __init__(self, context: LtiContext) -> None:
        registration = context.registration
        self.context_pk = context.id
        self.registration_pk = registration.id
        self._create_refused = registration.line_item_create_refused
        self._product_family = registration.product_family
        self._nrps_url = context.nrps_url
        self._ags = AgsClient(
            _snapshot(registration), context.ags_scopes, context.ags_lineitems_url
        )

    @classmethod
    def of_course(cls, context_pk: int) -> CoursePlatform:
        """The platform of the course ``context_pk``; raises ServiceError if it is gone."""
        context = db.session.get(LtiContext, context_pk)
        if context is None:
            raise ServiceError("Der Kurs ist nicht mehr bekannt.", retryable=False)
        return cls(context)

    # --- gradebook ----------------------------------------------------------------------------

    @property
    def can_send_scores(self) -> bool:
        """Whether the platform granted the score scope in the course's newest launch."""
        return self._ags.granted(Scope.AGS_SCORE)

    def require_scores(self) -> None:
        """Raise ServiceError unless the platform granted the score scope."""
        if not self.can_send_scores:
            # Scopes come from the newest launch; after one with AGS the Lotse can retry.
            raise ServiceError(
                "Die Plattform hat für diesen Kurs keine Notenübertragung (AGS-Scope score) "
                "freigegeben.",
                retryable=False,
            )

    def prepare(self) -> None:
        """Fetch the service token now. It commits (the token cache is shared), so a caller
        that is about to lock a row asks for it first."""
        access_token(self._ags.registration, self._ags.scopes)

    def line_item_for(
        self,
        *,
        resource_link_pk: int | None,
        resource_id: str,
        label: str,
        score_maximum: float = DEFAULT_SCORE_MAXIMUM,
    ) -> str:
        """The line item URL a placement's scores go to. Raises ServiceError when there is none.

        1. The line item the platform made for the placement's own resource link (the AGS
           claim ``lineitem`` of its launch), whatever the scopes say: ILIAS knows only that
           one (lti-notes §3), Moodle's "grade sync only" allows only that one (§2).
        2. Else, with column management, the course's line item with our ``resourceId`` (our
           tag first), or a new one, unless this platform refused creating before."""
        self.require_scores()
        link = db.session.get(LtiResourceLink, resource_link_pk) if resource_link_pk else None
        if link is not None and link.lineitem_url:
            return link.lineitem_url
        ags = self._ags
        if ags.lineitems_url and ags.granted(Scope.AGS_LINEITEM, Scope.AGS_LINEITEM_READONLY):
            found = ags.line_items(resource_id=resource_id)
            link_id = link.resource_link_id if link is not None else None
            # Prefer our own tag, then the one bound to this placement's resource link.
            found.sort(
                key=lambda i: (
                    i.tag != LINEITEM_TAG,
                    bool(link_id and i.resource_link_id != link_id),
                )
            )
            if found:
                return found[0].id
        if not ags.can_manage_line_items or not ags.lineitems_url:
            raise ServiceError(
                "Die Plattform erlaubt nur Notenübertragung, und der Link dieses Moduls hat "
                "keine eigene Bewertungsspalte.",
                retryable=False,
            )
        if self._create_refused is not None:
            raise self._no_column(self._create_refused)
        if _is_ilias(self._product_family):
            # ILIAS knows one line item per LTI object, the link's own (lti-notes §3): 8/9
            # answer a POST to the container with 405, the later variant stores the item apart
            # from the object and refuses its scores with 404 (components/ILIAS/LTIConsumer/
            # classes/class.ilLTIConsumerGradeServiceScores.php checkToolMatchesObject).
            raise self._no_column(None)
        try:
            item = ags.create_line_item(
                label=label,
                score_maximum=score_maximum,
                resource_id=resource_id,
                tag=LINEITEM_TAG,
                resource_link_id=link.resource_link_id if link is not None else None,
            )
        except ServiceError as error:
            if error.status not in CREATE_REFUSED:
                raise
            self._remember_create_refused(error.status)
            raise self._no_column(error.status) from error
        log.info("line item created: context=%s", self.context_pk)
        return item.id

    def _remember_create_refused(self, status: int | None) -> None:
        registration = db.session.get(Registration, self.registration_pk)
        if registration is not None and status is not None:
            registration.line_item_create_refused = status
            self._create_refused = status
            db.session.commit()
            log.info(
                "platform creates no line items: registration=%s status=%s",
                self.registration_pk,
                status,
            )

    @staticmethod
    def _no_column(status: int | None) -> ServiceError:
        answer = f" (Antwort {status})" if status is not None else ""
        return ServiceError(
            f"Die Plattform legt keine Bewertungsspalten für Werkzeuge an{answer}, "
            "und der Link dieses Moduls hat keine eigene Spalte. Platzieren Sie das Modul per "
            "Deep Linking oder als eigenen Link mit Bewertung im Kurs.",
            status=status,
            retryable=False,
        )

    def send_score(self, line_item_url: str, score: dict[str, Any]) -> bool:
        """POST a score body (from :meth:`Score.to_json`). True when the platform took it,
        False when it already had it (a 409 to an unchanged timestamp, lti-notes §6)."""
        return self._ags.post_score(line_item_url, score)

    def update_line_item(
        self, url: str, *, label: str | None = None, score_maximum: float | None = None
    ) -> None:
        """Rename a column or change its maximum."""
        changes: dict[str, Any] = {}
        if label is not None:
            changes["label"] = label
        if score_maximum is not None:
            changes["scoreMaximum"] = score_maximum
        if changes:
            self._ags.update_line_item(url, changes)

    def delete_line_item(self, url: str) -> None:
        """Delete a column (and the platform's grades in it); a 404 counts as deleted."""
        self._ags.delete_line_item(url)

    # --- roster -------------------------------------------------------------------------------

    @property
    def has_roster(self) -> bool:
        """Whether the platform offered Names and Role Provisioning for the course."""
        return bool(self._nrps_url)

    def members(self) -> list[Member]:
        """Every member of the course (NRPS, all pages). Raises ServiceError."""
        if not self._nrps_url:
            raise ServiceError("Die Plattform bietet keine Teilnehmerliste an.", retryable=False)
        return fetch_members(self._ags.registration, self._nrps_url)


def _is_ilias(product_family: str | None) -> bool:
    # The presets say "ilias"; ILIAS' own configuration says "ilias.de" (lti-notes §3).
    return (product_family or "").lower().split(".")[0] == "ilias"


def deep_linking_answer(launch: LaunchContext, items: Sequence[ResourceLinkItem]) -> str:
    """The signed LtiDeepLinkingResponse for ``items`` to a Deep Linking launch. Raises
    :class:`~lti_tool.services.deep_linking.DeepLinkingError` when the request does not allow
    them (the message is for the user)."""
    registration = db.session.get(Registration, launch.registration_pk)
    deployment = db.session.get(Deployment, launch.deployment_pk)
    assert registration is not None and deployment is not None
    stored = db.session.get(Launch, launch.id)
    settings = dict(stored.deep_linking_settings or {}) if stored is not None else {}
    return response_jwt(
        registration=registration,
        deployment_id=deployment.deployment_id,
        settings=settings,
        items=list(items),
    )
